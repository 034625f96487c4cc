/**
 * A packet gateway in Node: a PacketNat (the pure core) between two links that carry one IP
 * packet per UDP datagram, as `socat TUN:... UDP-DATAGRAM:...` provides, so two TUN devices can be
 * joined with no native code. The driver only moves datagrams and time: each datagram that
 * arrives on a link is handed to the NAT with the clock; what the NAT forwards or sends of its own
 * goes to the other link's peer (the address that last sent on that link, or the one configured
 * for it); its timer is a single setTimeout kept at `pollTimeout()`.
 */

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { formatEndpoint, type Endpoint } from '../core/net/ip.js';
import { PacketNat, type NatSide, type PacketNatEvent, type PacketNatOptions, type PacketNatStats } from '../core/packet/index.js';
import type { LogLevel } from './types.js';

export interface PacketLinkOptions {
  /** Where to bind the link's UDP socket (port 0: any free port). */
  readonly local: Endpoint;
  /** Where to send before anyone has sent on the link (then: to whoever last sent). */
  readonly peer?: Endpoint;
}

export interface PacketGatewayLogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly sessionId?: number;
  readonly [field: string]: unknown;
}

export interface PacketGatewayOptions {
  /** The NAT, or its options. */
  readonly nat: PacketNat | PacketNatOptions;
  readonly inside: PacketLinkOptions;
  readonly outside: PacketLinkOptions;
  readonly logger?: (entry: PacketGatewayLogEntry) => void;
  /** Monotonic milliseconds. Default performance.now. */
  readonly now?: () => number;
}

export interface PacketGatewayStats extends PacketNatStats {
  readonly received: Readonly<Record<NatSide, number>>;
  readonly sent: Readonly<Record<NatSide, number>>;
  /** Packets with nowhere to go: no peer known on their link yet. */
  readonly unroutable: number;
}

interface Link {
  readonly side: NatSide;
  readonly socket: Socket;
  peer: { address: string; port: number } | null;
}

/** The gateway: `start()` binds both links, `close()` stops. Emits 'error' for socket errors. */
export class PacketGateway extends EventEmitter {
  readonly nat: PacketNat;
  private readonly links: Record<NatSide, Link>;
  private readonly now: () => number;
  private readonly log: (entry: PacketGatewayLogEntry) => void;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly received: Record<NatSide, number> = { inside: 0, outside: 0 };
  private readonly sent: Record<NatSide, number> = { inside: 0, outside: 0 };
  private unroutable = 0;
  private closed = false;

  constructor(private readonly options: PacketGatewayOptions) {
    super();
    this.nat = options.nat instanceof PacketNat ? options.nat : new PacketNat(options.nat);
    this.now = options.now ?? (() => performance.now());
    this.log = options.logger ?? (() => {});
    const link = (side: NatSide, o: PacketLinkOptions): Link => ({
      side,
      socket: createSocket({ type: o.local.family === 6 ? 'udp6' : 'udp4', reuseAddr: false }),
      peer: o.peer ? { address: o.peer.address, port: o.peer.port } : null,
    });
    this.links = { inside: link('inside', options.inside), outside: link('outside', options.outside) };
  }

  /** Bind both links; resolves with the bound endpoints. */
  async start(): Promise<Record<NatSide, Endpoint>> {
    const bind = (l: Link, o: PacketLinkOptions): Promise<Endpoint> =>
      new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        l.socket.once('error', onError);
        l.socket.bind(o.local.port, o.local.address, () => {
          l.socket.off('error', onError);
          l.socket.on('error', (err) => this.emit('error', err));
          l.socket.on('message', (msg, rinfo) => this.onMessage(l, msg, rinfo));
          const a = l.socket.address();
          resolve({ family: o.local.family, address: o.local.address, port: a.port });
        });
      });
    const inside = await bind(this.links.inside, this.options.inside);
    const outside = await bind(this.links.outside, this.options.outside);
    return { inside, outside };
  }

  private onMessage(l: Link, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    if (l.peer === null || l.peer.port !== rinfo.port || l.peer.address !== rinfo.address) l.peer = { address: rinfo.address, port: rinfo.port };
    this.received[l.side]++;
    // A view of the datagram's own bytes: the NAT rewrites them in place and they go out as they are.
    const packet = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    const now = this.now();
    const v = this.nat.handle(l.side, packet, now);
    if (v.ok && v.action === 'forward') this.send(v.to, msg);
    this.flush();
  }

  private send(to: NatSide, bytes: Uint8Array): void {
    const l = this.links[to];
    if (l.peer === null) {
      this.unroutable++;
      return;
    }
    this.sent[to]++;
    l.socket.send(bytes, l.peer.port, l.peer.address);
  }

  /** Send what the NAT queued, report its events, and keep the timer at its next deadline. */
  private flush(): void {
    for (let t = this.nat.pollTransmit(); t !== null; t = this.nat.pollTransmit()) this.send(t.to, t.packet);
    for (let e = this.nat.pollEvent(); e !== null; e = this.nat.pollEvent()) this.report(e);
    const at = this.nat.pollTimeout();
    if (at === null || this.closed) return;
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(at - this.now())));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    this.nat.handleTimeout(this.now());
    this.flush();
  }

  private report(e: PacketNatEvent): void {
    switch (e.type) {
      case 'session-created':
        this.log({
          level: e.alg !== null || e.expectedBy !== null ? 'info' : 'debug',
          event: 'session-created',
          sessionId: e.session,
          protocol: e.protocol,
          from: e.from,
          client: formatEndpoint(e.client),
          server: formatEndpoint(e.server),
          translated: `${formatEndpoint(e.clientTranslated)} -> ${formatEndpoint(e.serverTranslated)}`,
          via: e.via,
          ...(e.alg !== null ? { alg: e.alg } : {}),
          ...(e.expectedBy !== null ? { expectedBy: e.expectedBy } : {}),
        });
        return;
      case 'session-closed':
        this.log({ level: 'debug', event: 'session-closed', sessionId: e.session, reason: e.reason });
        return;
      case 'data-channel':
        this.log({
          level: e.refused ? 'warn' : 'info',
          event: e.refused ? 'data-channel-refused' : 'data-channel',
          sessionId: e.session,
          label: e.request.label,
          original: formatEndpoint(e.request.original),
          ...(e.announced ? { announced: formatEndpoint(e.announced) } : {}),
          ...(e.refused ? { reason: e.refused } : {}),
        });
        return;
      case 'alg': {
        const a = e.event;
        if (a.type === 'line-translated') this.log({ level: 'debug', event: 'line-translated', sessionId: e.session, direction: a.direction, before: a.before, after: a.after });
        else if (a.type === 'command-refused') this.log({ level: 'warn', event: 'command-refused', sessionId: e.session, command: a.command, reason: a.reason });
        else if (a.type === 'close' || a.type === 'protocol-error' || a.type === 'tls-started') this.log({ level: 'warn', event: a.type, sessionId: e.session, ...('reason' in a ? { reason: a.reason } : {}), ...('message' in a ? { message: a.message } : {}) });
        return;
      }
      case 'reassembly-timeout':
        this.log({ level: 'debug', event: 'reassembly-timeout', version: e.version });
        return;
    }
  }

  stats(): PacketGatewayStats {
    return { ...this.nat.stats(), received: { ...this.received }, sent: { ...this.sent }, unroutable: this.unroutable };
  }

  /** Stop: close both sockets and the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all([this.links.inside.socket, this.links.outside.socket].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** A gateway from options; call `start()`. */
export function createPacketGateway(options: PacketGatewayOptions): PacketGateway {
  return new PacketGateway(options);
}
