/**
 * Carries out one FtpRelaySession's actions with node:net sockets, and reports socket events
 * back to it. No FTP decision is made here: this file only knows sockets, backpressure and time.
 */

import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  endpoint,
  RelaySession,
  type Endpoint,
  type RelayAction,
  type RelayEvent,
  type RelaySessionOptions,
  type Side,
} from '../core/index.js';
import { type HandleCounter } from './data-sockets.js';
import { createRelayDataPlane, type DataPlane, type PlaneLogEntry, type SessionDataPlane } from './data-plane.js';

export type { HandleCounter };

/** How long a control connection we ended may take to flush its last reply before it is destroyed. */
const CLOSE_LINGER_MS = 2000;

export interface DriverHooks {
  /** `plane`: for events about a data channel, the plane that carries it (`relay`, `nftables`). */
  onEvent(event: RelayEvent, plane?: string): void;
  /** A data plane's own log entry about this session's channels. */
  onLog?(entry: PlaneLogEntry): void;
  /** A bug (ours or a listener's) surfaced while driving: the session has been torn down. */
  onFailure(error: unknown): void;
  /** Every socket of the session is closed. */
  onGone(): void;
}

function now(): number {
  return performance.now();
}

function remoteEndpoint(socket: net.Socket): Endpoint | null {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return null;
  return endpoint(socket.remoteAddress, socket.remotePort);
}

function localEndpoint(socket: net.Socket): Endpoint | null {
  if (socket.localAddress === undefined || socket.localPort === undefined) return null;
  return endpoint(socket.localAddress, socket.localPort);
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

export class SessionDriver<O = unknown> {
  readonly session: RelaySession<O>;
  private readonly hooks: DriverHooks;
  private readonly handles: HandleCounter;
  private readonly sockets: Record<Side, net.Socket | null>;
  private readonly data: SessionDataPlane;
  /**
   * Control input (and timer expiries) waiting while the data plane settles (see
   * SessionDataPlane.settle): run in arrival order once it has. Null when nothing waits.
   */
  private waitingInput: (() => void)[] | null = null;
  /** Reading of a side stops when the session says so or when the other side's writes back up. */
  private readonly sessionPaused: Record<Side, boolean> = { client: true, server: false };
  private readonly congested: Record<Side, boolean> = { client: false, server: false };
  /** The peer's FIN arrived: a later 'close' of that socket is the normal end, not a failure. */
  private readonly peerEnded: Record<Side, boolean> = { client: false, server: false };
  private timer: NodeJS.Timeout | null = null;
  private timerAt: number | null = null;
  private open = 0;
  private goneReported = false;
  private driving = false;
  private failed = false;
  /** An upstream connection the embedder opened (handleConnection): used instead of dialling. */
  private givenUpstream: net.Socket | null;

  constructor(
    client: net.Socket,
    options: Omit<RelaySessionOptions<O>, 'client' | 'clientLocal'>,
    hooks: DriverHooks,
    handles: HandleCounter,
    plane: DataPlane = createRelayDataPlane(),
    upstreamSocket: net.Socket | null = null,
  ) {
    this.hooks = hooks;
    this.handles = handles;
    this.givenUpstream = upstreamSocket;
    this.sockets = { client, server: null };
    const driver = this;
    this.data = plane.forSession({
      get session() {
        return driver.session;
      },
      handles,
      step: (fn) => this.step(fn),
      adopt: (socket) => this.adopt(socket),
      report: (event) => this.hooks.onEvent(event, 'channel' in event ? this.data.planeOf(event.channel) : undefined),
      log: (entry) => this.hooks.onLog?.(entry),
    });
    const clientEp = remoteEndpoint(client);
    const clientLocal = localEndpoint(client);
    this.adopt(client);
    if (!clientEp || !clientLocal) {
      // Already gone between accept and here.
      this.session = new RelaySession<O>(
        { ...options, client: endpoint('::', 0), clientLocal: endpoint('::', 0) },
        now(),
      );
      this.session.close('client vanished', now());
      client.destroy();
      this.drive();
      return;
    }
    this.session = new RelaySession<O>({ ...options, client: clientEp, clientLocal }, now());
    // Control lines are small and answered one by one: Nagle would hold a reply written right
    // after another (150 then 226 of a short transfer) until the peer's delayed ACK, ~40 ms.
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.input(() => this.session.handleControlData('client', chunk, now())));
    client.on('end', () => {
      this.peerEnded.client = true;
      this.input(() => this.session.handleControlEnd('client', now()));
    });
    client.on('error', (err) => this.input(() => this.session.handleControlError('client', errorText(err), now())));
    // Closed after both FINs is the normal end (a transfer may still be finishing); without the
    // peer's FIN it is a failure.
    client.on('close', () => {
      if (!this.peerEnded.client) this.input(() => this.session.handleControlError('client', 'closed', now()));
    });
    client.on('drain', () => this.setCongested('client', false));
    this.drive();
  }

  /** Graceful shutdown: the session ends once its transfers are done. */
  shutdown(): void {
    this.step(() => this.session.handleShutdown(now()));
  }

  /** Close now, telling the client why. */
  close(reason: string): void {
    this.step(() => this.session.close(reason, now()));
  }

  get hasSockets(): boolean {
    return this.open > 0;
  }

  private step(fn: () => void): void {
    try {
      fn();
      this.drive();
    } catch (err) {
      // One broken session must not take the process down: tear it down and report.
      this.abort(err);
    }
  }

  /**
   * Control input and timers reach the session only once the data plane's view is current: a
   * control line may depend on a data connection made just before it (a client sends RETR once
   * its data connection is up), and a plane that learns of connections by polling must report
   * that connection first. While it settles, both control connections stop reading.
   */
  private input(fn: () => void): void {
    if (this.waitingInput) {
      this.waitingInput.push(fn);
      return;
    }
    const settling = this.failed || this.session.isClosed ? null : this.data.settle();
    if (!settling) {
      this.step(fn);
      return;
    }
    this.waitingInput = [fn];
    this.applyReading('client');
    this.applyReading('server');
    const resume = (): void => {
      const queued = this.waitingInput ?? [];
      this.waitingInput = null;
      for (const f of queued) this.step(f);
      // A closed session's sockets are being ended or destroyed: their reading is closeControl's.
      if (this.session.isClosed) return;
      this.applyReading('client');
      this.applyReading('server');
    };
    settling.then(resume, resume);
  }

  private abort(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.data.destroyAll();
    this.sockets.client?.destroy();
    this.sockets.server?.destroy();
    this.dropGivenUpstream();
    if (!this.session.isClosed) this.session.handleControlError('client', 'internal error', now());
    this.hooks.onFailure(err);
  }

  private adopt(socket: net.Socket): void {
    this.open++;
    this.handles.socketOpened(socket);
    socket.once('close', () => {
      this.open--;
      this.checkGone();
    });
  }

  private checkGone(): void {
    if (this.open === 0 && (this.session?.isClosed || this.failed) && !this.goneReported) {
      this.goneReported = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.hooks.onGone();
    }
  }

  /** Carry out every queued action, report events, re-arm the timer. Re-entrant calls queue up. */
  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    try {
      for (;;) {
        const action = this.session.pollAction();
        const event = action ? null : this.session.pollEvent();
        if (action) this.perform(action);
        else if (event) this.hooks.onEvent(event, 'channel' in event ? this.data.planeOf(event.channel) : undefined);
        else break;
      }
    } finally {
      this.driving = false;
    }
    this.arm();
    this.checkGone();
  }

  private arm(): void {
    const at = this.session.pollTimeout();
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = null;
      this.input(() => this.session.handleTimeout(now()));
    }, Math.max(0, Math.ceil(at - now())));
    this.timer.unref();
  }

  private perform(a: RelayAction): void {
    switch (a.type) {
      case 'connect-upstream':
        return this.connectUpstream(a.host, a.port);
      case 'write': {
        const s = this.sockets[a.side];
        if (s && !s.destroyed && s.writable && !s.write(a.bytes)) this.setCongested(a.side, true);
        return;
      }
      case 'end':
        this.sockets[a.side]?.end();
        return;
      case 'pause':
      case 'resume':
        this.sessionPaused[a.side] = a.type === 'pause';
        this.applyReading(a.side);
        return;
      case 'listen':
        return this.data.listen(a.channel, a.side, a.local, { request: a.request, plan: a.plan, timeoutMs: a.timeoutMs });
      case 'close-listener':
        return this.data.closeListener(a.channel);
      case 'connect-data':
        return this.data.connect(a.channel, a.target, a.localAddress);
      case 'splice':
        return this.data.splice(a.channel);
      case 'close-data':
        return this.data.destroy(a.channel);
      case 'close':
        this.data.destroyAll();
        for (const side of ['client', 'server'] as const) this.closeControl(side, a.graceful);
        // Closed before it asked for the upstream connection: a given one is the relay's to close.
        this.dropGivenUpstream();
        return;
    }
  }

  private setCongested(side: Side, value: boolean): void {
    // Bytes for `side` come from the other side's input: stop reading there while `side` is full.
    this.congested[side] = value;
    this.applyReading(side === 'client' ? 'server' : 'client');
  }

  private applyReading(side: Side): void {
    const s = this.sockets[side];
    if (!s || s.destroyed) return;
    const other = side === 'client' ? 'server' : 'client';
    if (this.sessionPaused[side] || this.congested[other] || this.waitingInput !== null) s.pause();
    else s.resume();
  }

  private closeControl(side: Side, graceful: boolean): void {
    const s = this.sockets[side];
    if (!s || s.destroyed) return;
    if (!graceful || s.connecting) {
      s.destroy();
      return;
    }
    // Let the last reply (a 421) reach the peer; read and drop whatever still comes meanwhile.
    s.removeAllListeners('data');
    s.on('data', () => {});
    s.resume();
    s.end();
    const t = setTimeout(() => s.destroy(), CLOSE_LINGER_MS);
    t.unref();
    s.once('close', () => clearTimeout(t));
  }

  /** A given upstream socket the session never took (it closed first): destroyed, as the relay owns it. */
  private dropGivenUpstream(): void {
    const given = this.givenUpstream;
    this.givenUpstream = null;
    given?.destroy();
  }

  private connectUpstream(host: string, port: number): void {
    // Closed before its first action ran (the client vanished on arrival): nothing to dial.
    if (this.session.isClosed) {
      this.dropGivenUpstream();
      return;
    }
    const given = this.givenUpstream;
    this.givenUpstream = null;
    if (given !== null && given.destroyed) {
      // Closed or failed before it was handed over: its 'close' may be long gone, so it is not
      // counted; the session fails as if the connect had (the client gets the ALG's farewell).
      setImmediate(() => this.input(() => this.session.handleUpstreamFailed('upstream socket already closed', now())));
      return;
    }
    const s = given ?? net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    this.sockets.server = s;
    this.adopt(s);
    let connected = false;
    const onConnect = (): void => {
      connected = true;
      const local = localEndpoint(s);
      const remote = remoteEndpoint(s);
      this.step(() => {
        if (local && remote) this.session.handleUpstreamConnected(local, remote, now());
        else this.session.handleUpstreamFailed('connection lost', now());
      });
      this.applyReading('server');
    };
    if (given === null) {
      s.on('connect', onConnect);
    } else {
      // As a socket of our own: a server's FIN must not end our side, lines go out at once, and
      // nothing is read before the session knows the connection (its greeting may be waiting).
      given.allowHalfOpen = true;
      given.setNoDelay(true);
      given.pause();
      if (given.connecting) given.once('connect', onConnect);
      // Connected already: reported on the next turn, as net.connect's 'connect' would be.
      else setImmediate(() => (given.destroyed || this.session.isClosed ? undefined : onConnect()));
    }
    s.on('data', (chunk: Buffer) => this.input(() => this.session.handleControlData('server', chunk, now())));
    s.on('end', () => {
      this.peerEnded.server = true;
      this.input(() => this.session.handleControlEnd('server', now()));
    });
    s.on('error', (err) =>
      this.input(() =>
        connected
          ? this.session.handleControlError('server', errorText(err), now())
          : this.session.handleUpstreamFailed(errorText(err), now()),
      ),
    );
    s.on('close', () => {
      if (this.peerEnded.server) return; // the normal end, after its FIN
      this.input(() =>
        connected
          ? this.session.handleControlError('server', 'closed', now())
          : this.session.handleUpstreamFailed('closed', now()),
      );
    });
    s.on('drain', () => this.setCongested('server', false));
  }


}
