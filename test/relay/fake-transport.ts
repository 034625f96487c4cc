/**
 * A transport for FtpRelaySession made of plain objects and a virtual clock: no sockets, no
 * timers. It carries out the session's actions the way a real embedding would, records what each
 * peer received, and answers listens and connects at once unless a test wants to step in. This is
 * all another transport (a userspace TCP stack, WebSockets) has to write to drive the session.
 */

import { endpoint, FtpRelaySession, type Endpoint, type FtpRelaySessionOptions, type RelayAction, type RelayEvent, type Side } from '../../src/core/index.js';

const latin1 = new TextDecoder('latin1');
const encoder = new TextEncoder();

export interface FakeChannel {
  side: Side;
  local: Endpoint;
  listening: boolean;
  accepted: Endpoint | null;
  connect: { side: Side; target: Endpoint; localAddress: string } | null;
  spliced: boolean;
  closed: string | null;
}

export class FakeTransport {
  now = 0;
  readonly session: FtpRelaySession;
  readonly actions: RelayAction[] = [];
  readonly events: RelayEvent[] = [];
  readonly received: Record<Side, string> = { client: '', server: '' };
  readonly gotFin: Record<Side, boolean> = { client: false, server: false };
  readonly paused: Record<Side, boolean> = { client: false, server: false };
  readonly channels = new Map<number, FakeChannel>();
  closed: { reason: string; graceful: boolean } | null = null;
  upstreamTarget: { host: string; port: number } | null = null;
  /** Answer `listen` at once (port 0 becomes the next free fake port). */
  autoListen = true;
  /** Answer `connect-data` at once as connected. */
  autoConnect = true;
  private nextPort = 61000;

  constructor(options: FtpRelaySessionOptions) {
    this.session = new FtpRelaySession(options, this.now);
    this.run();
  }

  /** Carry out every queued action, collect events. */
  run(): void {
    for (;;) {
      const a = this.session.pollAction();
      if (!a) break;
      this.actions.push(a);
      this.perform(a);
    }
    for (let e = this.session.pollEvent(); e; e = this.session.pollEvent()) this.events.push(e);
  }

  private perform(a: RelayAction): void {
    switch (a.type) {
      case 'connect-upstream':
        this.upstreamTarget = { host: a.host, port: a.port };
        break;
      case 'write':
        this.received[a.side] += latin1.decode(a.bytes);
        break;
      case 'end':
        this.gotFin[a.side] = true;
        break;
      case 'pause':
      case 'resume':
        this.paused[a.side] = a.type === 'pause';
        break;
      case 'listen': {
        const ch: FakeChannel = { side: a.side, local: a.local, listening: false, accepted: null, connect: null, spliced: false, closed: null };
        this.channels.set(a.channel, ch);
        if (this.autoListen) {
          const port = a.local.port === 0 ? this.nextPort++ : a.local.port;
          ch.listening = true;
          ch.local = endpoint(a.local.address, port);
          this.session.handleDataListening(a.channel, ch.local, this.now);
        }
        break;
      }
      case 'close-listener':
        this.channel(a.channel).listening = false;
        break;
      case 'connect-data': {
        const ch = this.channel(a.channel);
        ch.connect = { side: a.side, target: a.target, localAddress: a.localAddress };
        if (this.autoConnect) this.session.handleDataConnected(a.channel, this.now);
        break;
      }
      case 'splice':
        this.channel(a.channel).spliced = true;
        break;
      case 'close-data': {
        const ch = this.channels.get(a.channel);
        if (ch) {
          ch.closed = a.reason;
          ch.listening = false;
        }
        break;
      }
      case 'close':
        this.closed = { reason: a.reason, graceful: a.graceful };
        for (const ch of this.channels.values()) ch.listening = false;
        break;
    }
  }

  channel(id: number): FakeChannel {
    const ch = this.channels.get(id);
    if (!ch) throw new Error(`no channel ${id}`);
    return ch;
  }

  /** The most recently opened channel. */
  lastChannel(): [number, FakeChannel] {
    const all = [...this.channels.entries()];
    const last = all[all.length - 1];
    if (!last) throw new Error('no channel opened');
    return last;
  }

  connectUpstream(local: Endpoint, remote: Endpoint): void {
    this.session.handleUpstreamConnected(local, remote, this.now);
    this.run();
  }

  /** Send control text from a peer, in chunks of `chunk` bytes (default: all at once). */
  send(side: Side, text: string, chunk = Infinity): void {
    const bytes = encoder.encode(text);
    for (let i = 0; i < bytes.length; i += chunk) {
      this.session.handleControlData(side, bytes.subarray(i, Math.min(bytes.length, i + chunk)), this.now);
      this.run();
    }
  }

  /** Send raw bytes from a peer (TLS records), in chunks of `chunk` bytes. */
  sendBytes(side: Side, bytes: Uint8Array, chunk = Infinity): void {
    for (let i = 0; i < bytes.length; i += chunk) {
      this.session.handleControlData(side, bytes.subarray(i, Math.min(bytes.length, i + chunk)), this.now);
      this.run();
    }
  }

  end(side: Side): void {
    this.session.handleControlEnd(side, this.now);
    this.run();
  }

  /** A connection reaches the listener of `channel` from `from`; returns the session's verdict. */
  incoming(channel: number, from: Endpoint): boolean {
    const keep = this.session.handleDataIncoming(channel, from, this.now);
    if (keep) this.channel(channel).accepted = from;
    this.run();
    return keep;
  }

  /** Move the virtual clock, firing every deadline on the way, in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const t = this.session.pollTimeout();
      if (t === null || t > end) break;
      this.now = Math.max(this.now, t);
      this.session.handleTimeout(this.now);
      this.run();
    }
    this.now = end;
  }

  /** Lines a peer received, without line ends. */
  lines(side: Side): string[] {
    return this.received[side].split('\r\n').filter((l) => l.length > 0);
  }

  eventsOf<T extends RelayEvent['type']>(type: T): Extract<RelayEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<RelayEvent, { type: T }> => e.type === type);
  }
}
