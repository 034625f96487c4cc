/**
 * RelaySession: one client served through the relay, as a sans-I/O state machine, for any ALG
 * (alg/contract.ts); FtpRelaySession is the same with FTP.
 *
 * The embedding owns the sockets. It tells the session what happened (`handle…(…, nowMs)`) and
 * carries out what the session asks (`pollAction()`), in order; it reads `pollEvent()` for logs
 * and `pollTimeout()` for the next deadline. The session decides which side a data listener faces,
 * which peer may connect to it, where the relay connects next, when to give up, and that the
 * client is told why (the ALG's farewell line, FTP's `421 ...`). State rules are in `states.ts`.
 *
 * Data channels follow the translator's data-channel requests. A request names the peer that
 * will connect (`connector`): the listener faces that peer, on the relay's own address of that
 * peer's control connection (or the public address of that side), and only the request's
 * `acceptFrom` address may connect (any, when the ALG cannot know it). The relay then connects to
 * the request's `target`, from its address on the other side, and the two connections are
 * spliced (`plan.ts`).
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import { reverse, type Direction } from '../stream/translator.js';
import type { AlgContext, AlgEvent, AlgModule, AlgTranslator, DataChannelRequest } from '../alg/contract.js';
import { ftpAlg, type FtpAlgOptions } from '../ftp/module.js';
import type { DataPortSource } from './ports.js';
import { planDataChannel } from './plan.js';
import { DataChannels } from './channels.js';
import {
  LOGIN_DEADLINE_RUNS,
  LOGIN_TRANSITIONS,
  SESSION_TRANSITIONS,
  transition,
  type LoginState,
  type SessionState,
} from './states.js';
import {
  DEFAULT_RELAY_TIMEOUTS,
  directionFrom,
  otherSide,
  type DataByteCounts,
  type FtpRelaySessionOptions,
  type RelayAction,
  type RelayEvent,
  type RelaySessionOptions,
  type RelayTimeouts,
  type SessionByteCounts,
  type Side,
} from './types.js';

/**
 * Input kept for the translator while it waits for a data-channel answer is one socket read; an
 * embedding that keeps delivering after `pause` gets this much slack before the session is closed.
 */
export const MAX_HELD_BYTES = 1 << 20;

/**
 * Shutting down, a session without a transfer closes once its control channel has been quiet this
 * long: the server's `226` usually arrives a moment after the data connection closes, and the
 * client should see it before the `421`.
 */
export const DRAIN_QUIET_MS = 200;

/**
 * Once the client has closed its side and no transfer runs, the server gets this long to close
 * too (its `221` and FIN usually follow at once); then the session ends whatever the server does.
 */
export const CLIENT_GONE_GRACE_MS = 5000;

export class RelaySession<O = unknown> {
  private readonly options: RelaySessionOptions<O>;
  private readonly alg: AlgModule<O>;
  private readonly timeouts: RelayTimeouts;
  private readonly ports: DataPortSource | null;
  private state: SessionState = 'connecting';
  private translator: AlgTranslator | null = null;
  private upstreamLocal: Endpoint | null = null;
  private upstreamRemote: Endpoint | null = null;

  private readonly actions: RelayAction[] = [];
  private readonly events: RelayEvent[] = [];
  private readonly channels: DataChannels;

  /**
   * Input the translator did not take yet (it waits for a data-channel answer), per side, in
   * arrival order: a list, so that input arriving while paused is never joined into ever larger
   * copies. What outlives the call that brought it is a copy (the embedding may reuse its buffer).
   */
  private readonly held: Record<Side, Uint8Array[]> = { client: [], server: [] };
  private readonly heldBytes: Record<Side, number> = { client: 0, server: 0 };
  private readonly paused: Record<Side, boolean> = { client: true, server: false };
  private readonly ended: Record<Side, boolean> = { client: false, server: false };
  /** Input of this side fully through the translator and its FIN passed on. */
  private readonly finished: Record<Side, boolean> = { client: false, server: false };
  /** The last byte written to this side was not a line end (a server line cut short). */
  private readonly lineOpen: Record<Side, boolean> = { client: false, server: false };
  /** Our FIN went to this side's peer: nothing more may be written to it. */
  private readonly finSent: Record<Side, boolean> = { client: false, server: false };
  private connectDeadline: number;
  /** The session's start, or the latest data-channel activity (control activity: the translator's). */
  private lastActivity: number;
  private readonly loginDeadline: number;
  private login: LoginState = 'awaiting';
  /** When the client's input was finished and its FIN passed on, or null. */
  private clientGoneAt: number | null = null;
  private draining = false;
  private closeReason = '';
  /** The `session-close` event waits for the byte counts of channels closed with the session. */
  private closedEventPending = false;

  private bytes = {
    controlFromClient: 0,
    controlFromServer: 0,
    controlToClient: 0,
    controlToServer: 0,
    dataToClient: 0,
    dataToServer: 0,
    dataChannels: 0,
  };

  constructor(options: RelaySessionOptions<O>, nowMs: number) {
    this.options = options;
    this.alg = options.alg;
    this.alg.validate(options.algOptions);
    this.timeouts = {
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_RELAY_TIMEOUTS.idleTimeoutMs,
      dataListenTimeoutMs: options.dataListenTimeoutMs ?? DEFAULT_RELAY_TIMEOUTS.dataListenTimeoutMs,
      upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs ?? DEFAULT_RELAY_TIMEOUTS.upstreamConnectTimeoutMs,
      loginTimeoutMs: options.loginTimeoutMs ?? DEFAULT_RELAY_TIMEOUTS.loginTimeoutMs,
    };
    this.loginDeadline = nowMs + this.timeouts.loginTimeoutMs;
    this.ports = options.dataPorts ?? null;
    this.channels = new DataChannels({
      actions: this.actions,
      events: this.events,
      timeouts: this.timeouts,
      ports: this.ports,
      maxWaiting: Math.max(1, this.alg.maxWaitingChannels(options.algOptions)),
      budget: options.waitingChannelBudget ?? null,
      resolve: (id, replacement) => this.translator?.resolveDataChannel(id, replacement),
      refuse: (id, reason) => {
        if (!this.isClosed) this.translator?.refuseDataChannel(id, oneLine(reason));
      },
    });
    this.connectDeadline = nowMs + this.timeouts.upstreamConnectTimeoutMs;
    this.lastActivity = nowMs;
    // Nothing the client sends can go anywhere before upstream answers: hold it in its socket.
    this.actions.push({ type: 'pause', side: 'client' });
    this.actions.push({ type: 'connect-upstream', host: options.upstream.host, port: options.upstream.port });
  }

  // ---- what the embedding reads --------------------------------------------------------------

  pollAction(): RelayAction | null {
    return this.actions.shift() ?? null;
  }

  pollEvent(): RelayEvent | null {
    return this.events.shift() ?? null;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get sessionState(): SessionState {
    return this.state;
  }

  /** What the relay has seen of the login (`logged-in` only when the ALG saw it). */
  get loginState(): LoginState {
    return this.login;
  }

  /** Data channels not yet closed. */
  get openChannels(): number {
    return this.channels.size;
  }

  get byteCounts(): SessionByteCounts {
    return { ...this.bytes };
  }

  pollTimeout(): number | null {
    if (this.state === 'closed') return null;
    let next: number | null = null;
    const take = (t: number | null) => {
      if (t !== null && (next === null || t < next)) next = t;
    };
    if (this.state !== 'open') take(this.connectDeadline);
    else if (!this.isBusy()) {
      const active = this.activity();
      take(active + this.timeouts.idleTimeoutMs);
      if (this.draining) take(active + DRAIN_QUIET_MS);
      if (this.clientGoneAt !== null) take(this.clientGoneAt + CLIENT_GONE_GRACE_MS);
    }
    if (LOGIN_DEADLINE_RUNS.has(this.login)) take(this.loginDeadline);
    take(this.channels.nextDeadline());
    if (this.translator) take(this.translator.pollTimeout());
    return next;
  }

  // ---- control connections ------------------------------------------------------------------

  handleUpstreamConnected(local: Endpoint, remote: Endpoint, nowMs: number): void {
    if (this.state !== 'connecting') return;
    this.state = transition(SESSION_TRANSITIONS, 'session', this.state, 'greeting');
    this.upstreamLocal = local;
    this.upstreamRemote = remote;
    const o = this.options;
    const context: AlgContext = {
      client: o.client,
      server: remote,
      gateway: {
        client: { local: o.clientLocal.address, announced: o.publicAddress !== undefined ? [o.publicAddress] : [] },
        server: { local: local.address, announced: o.upstreamPublicAddress !== undefined ? [o.upstreamPublicAddress] : [] },
      },
    };
    this.translator = this.alg.create(context, o.algOptions);
    this.events.push({ type: 'upstream-connected', local, remote, features: this.alg.features(context, o.algOptions) });
    // A server that waits for the client (IRC) has no greeting to wait for: the connection is up.
    if (this.alg.serverSpeaksFirst === false) this.state = transition(SESSION_TRANSITIONS, 'session', this.state, 'open');
    this.lastActivity = nowMs;
    this.pump(nowMs);
  }

  /** The upstream control connection could not be opened (refused, unreachable, …). */
  handleUpstreamFailed(reason: string, nowMs: number): void {
    if (this.state !== 'connecting') return;
    this.failUpstream(`Upstream ${this.alg.displayName} server unavailable (${oneLine(reason)})`, nowMs);
  }

  handleControlData(side: Side, bytes: Uint8Array, nowMs: number): void {
    if (this.state === 'closed' || bytes.length === 0) return;
    const translator = this.translator;
    if (!translator) {
      throw new NatAlgError('invalid-state', `control data from the ${side} before the upstream connection`);
    }
    if (this.ended[side]) {
      // Checked before anything changes: kept, these bytes would fail every later pump.
      throw new NatAlgError('invalid-state', `control data from the ${side} after its end`);
    }
    const held = this.held[side];
    // Held input means the embedding should have paused this side: keep the order, up to a bound.
    if (held.length > 0 && this.heldBytes[side] + bytes.length > MAX_HELD_BYTES) {
      this.closeSession(`more than ${MAX_HELD_BYTES} bytes from the ${side} while paused`, false, nowMs);
      return;
    }
    held.push(bytes);
    this.heldBytes[side] += bytes.length;
    if (side === 'client') this.bytes.controlFromClient += bytes.length;
    else this.bytes.controlFromServer += bytes.length;
    // Not activity by itself: only a line that completes is (the translator's lastActivityMs).
    if (side === 'server' && this.state === 'greeting') {
      this.state = transition(SESSION_TRANSITIONS, 'session', this.state, 'open');
    }
    this.pump(nowMs);
    // What is left of `bytes` is the last entry (if any): keep a copy, not the caller's buffer.
    const last = held.length > 0 ? held[held.length - 1]! : null;
    if (last !== null && last.buffer === bytes.buffer) held[held.length - 1] = last.slice();
  }

  /** The peer on `side` half-closed its control connection (FIN). */
  handleControlEnd(side: Side, nowMs: number): void {
    if (this.state === 'closed' || this.ended[side]) return;
    this.ended[side] = true;
    if (side === 'server' && this.state !== 'open') {
      this.failUpstream(`Upstream ${this.alg.displayName} server closed the connection without a greeting`, nowMs);
      return;
    }
    if (!this.translator) {
      this.closeSession('client left before the upstream connection', false, nowMs);
      return;
    }
    this.pump(nowMs); // passes the FIN on once all input of that side went through
  }

  /** The control connection of `side` failed (reset, error): everything is torn down. */
  handleControlError(side: Side, reason: string, nowMs: number): void {
    if (this.state === 'closed') return;
    if (side === 'server' && this.state !== 'open') {
      this.failUpstream(`Upstream ${this.alg.displayName} server connection failed (${oneLine(reason)})`, nowMs);
      return;
    }
    this.closeSession(`${side} control connection failed: ${oneLine(reason)}`, false, nowMs);
  }

  // ---- data channels ------------------------------------------------------------------------

  handleDataListening(channel: number, local: Endpoint, nowMs: number): void {
    this.channels.listening(channel, local, nowMs);
    this.pump(nowMs);
  }

  /** The listener could not be bound. `portInUse`: another port may work. */
  handleDataListenFailed(channel: number, reason: string, portInUse: boolean, nowMs: number): void {
    this.channels.listenFailed(channel, oneLine(reason), portInUse, nowMs);
    this.pump(nowMs);
  }

  /**
   * A connection arrived at the channel's listener from `remote`. Returns true when the embedding
   * keeps it (unread until `splice`), false when it must destroy it at once: only the peer named
   * by the channel's plan may connect (the client for passive modes, the server for active ones).
   */
  handleDataIncoming(channel: number, remote: Endpoint, nowMs: number): boolean {
    return this.channels.incoming(channel, remote, nowMs);
  }

  handleDataConnected(channel: number, nowMs: number): void {
    if (!this.channels.connected(channel)) return;
    this.bytes.dataChannels++;
    this.lastActivity = nowMs;
  }

  handleDataConnectFailed(channel: number, reason: string, nowMs: number): void {
    this.channels.connectFailed(channel, oneLine(reason), nowMs);
    this.afterChannelChange(nowMs);
  }

  /** Both connections of a spliced channel are gone (or one failed and the other was destroyed). */
  handleDataClosed(channel: number, bytes: DataByteCounts, reason: string, nowMs: number): void {
    if (!this.channels.closed(channel, bytes, oneLine(reason), nowMs)) return;
    this.bytes.dataToClient += bytes.toClient;
    this.bytes.dataToServer += bytes.toServer;
    this.lastActivity = nowMs;
    if (this.state === 'closed') this.reportClosed();
    else this.afterChannelChange(nowMs);
  }

  // ---- the embedding's own decisions --------------------------------------------------------

  /** Stop when the running transfers are done (graceful shutdown of the relay). */
  handleShutdown(nowMs: number): void {
    if (this.state === 'closed') return;
    this.draining = true;
    this.afterChannelChange(nowMs);
  }

  /** Close now; tell the client why (FTP: `421 <reason>`) when the control channel is in plain text. */
  close(reason: string, nowMs: number): void {
    if (this.state === 'closed') return;
    this.sayToClient(oneLine(reason));
    this.closeSession(reason, true, nowMs);
  }

  handleTimeout(nowMs: number): void {
    if (this.state === 'closed') return;
    if (this.state !== 'open' && nowMs >= this.connectDeadline) {
      const seconds = Math.round(this.timeouts.upstreamConnectTimeoutMs / 100) / 10;
      this.failUpstream(`Upstream ${this.alg.displayName} server did not answer within ${seconds} s`, nowMs);
      return;
    }
    if (LOGIN_DEADLINE_RUNS.has(this.login) && nowMs >= this.loginDeadline) {
      // Encrypted, the client cannot be told (sayToClient stays out of TLS): the reason is for the log.
      this.close(this.login === 'handshaking' ? 'Login timeout (TLS handshake not complete), closing control connection' : 'Login timeout, closing control connection', nowMs);
      return;
    }
    if (this.state === 'open' && !this.isBusy() && nowMs >= this.activity() + this.timeouts.idleTimeoutMs) {
      this.close('Idle timeout, closing control connection', nowMs);
      return;
    }
    if (this.clientGoneAt !== null && !this.isBusy() && nowMs >= this.clientGoneAt + CLIENT_GONE_GRACE_MS) {
      this.closeSession('client closed the connection; the server did not', true, nowMs);
      return;
    }
    this.channels.expire(nowMs);
    const t = this.translator?.pollTimeout();
    if (this.translator && t !== null && t !== undefined && nowMs >= t) this.translator.handleTimeout(nowMs);
    this.pump(nowMs);
    this.afterChannelChange(nowMs);
  }

  // ---- internals ----------------------------------------------------------------------------

  private isBusy(): boolean {
    return this.channels.busy;
  }

  /** The latest activity: a control line that completed (either way), a data channel event, or the start. */
  private activity(): number {
    const control = this.translator?.lastActivityMs ?? null;
    return control !== null && control > this.lastActivity ? control : this.lastActivity;
  }

  /** Move bytes and events through the translator until nothing more happens. */
  private pump(nowMs: number): void {
    const t = this.translator;
    if (!t) return;
    for (;;) {
      if (this.state === 'closed') return;
      let moved = false;
      for (let e = t.pollEvent(); e; e = t.pollEvent()) {
        moved = true;
        this.onTranslatorEvent(e, nowMs);
        if (this.isClosed) return;
      }
      moved = this.flushOutput(t, 'client-to-server') || moved;
      moved = this.flushOutput(t, 'server-to-client') || moved;
      for (const side of ['client', 'server'] as const) {
        const held = this.held[side];
        const dir = directionFrom(side);
        // A blocked direction still owes a line (a data-channel answer, the reply to AUTH): its
        // FIN waits for it, or the peer would get the line after the end of its stream.
        if (t.isBlocked(dir)) continue;
        if (held.length > 0) {
          const input = held[0]!;
          const used = t.handleData(dir, input, nowMs);
          if (used > 0) moved = true;
          this.heldBytes[side] -= used;
          if (used >= input.length) held.shift();
          else held[0] = input.subarray(used);
        }
        if (held.length === 0 && this.ended[side] && !this.finished[side] && !t.isBlocked(dir)) {
          this.finishInput(side, nowMs);
          moved = true;
        }
      }
      if (!moved) break;
    }
    this.updatePause();
  }

  private flushOutput(t: AlgTranslator, dir: Direction): boolean {
    let moved = false;
    for (let out = t.pollOutput(dir); out; out = t.pollOutput(dir)) {
      if (out.length === 0) continue;
      moved = true;
      this.write(dir === 'client-to-server' ? 'server' : 'client', out);
    }
    return moved;
  }

  private write(side: Side, bytes: Uint8Array): void {
    // That peer has had our FIN (its counterpart closed): a local reply the translator still
    // makes (a refusal of a later command) can no longer reach it, and writing after the end
    // is an error on most transports.
    if (this.finSent[side]) return;
    if (bytes.length > 0) this.lineOpen[side] = bytes[bytes.length - 1] !== 10;
    if (side === 'client') this.bytes.controlToClient += bytes.length;
    else this.bytes.controlToServer += bytes.length;
    this.actions.push({ type: 'write', side, bytes });
  }

  private updatePause(): void {
    for (const side of ['client', 'server'] as const) {
      const blocked = this.translator?.isBlocked(directionFrom(side)) ?? false;
      const want = this.held[side].length > 0 || blocked || (side === 'client' && this.state === 'connecting');
      if (want !== this.paused[side]) {
        this.paused[side] = want;
        this.actions.push({ type: want ? 'pause' : 'resume', side });
      }
    }
  }

  /** All input of `side` went through: pass its FIN on; both gone means the session is over. */
  private finishInput(side: Side, nowMs: number): void {
    const t = this.translator;
    if (!t || this.finished[side] || this.state === 'closed') return;
    this.finished[side] = true;
    t.handleEnd(directionFrom(side), nowMs);
    this.flushOutput(t, directionFrom(side));
    this.flushOutput(t, reverse(directionFrom(side)));
    this.actions.push({ type: 'end', side: otherSide(side) });
    this.finSent[otherSide(side)] = true;
    if (side === 'client') this.clientGoneAt = nowMs;
    this.afterChannelChange(nowMs);
  }

  private afterChannelChange(nowMs: number): void {
    if (this.state === 'closed') return;
    const bothEnded = this.ended.client && this.ended.server && this.held.client.length === 0 && this.held.server.length === 0;
    if (bothEnded && !this.isBusy()) {
      this.closeSession('both control connections closed', true, nowMs);
    } else if (this.draining && !this.isBusy() && nowMs >= this.activity() + DRAIN_QUIET_MS) {
      this.close('Service shutting down', nowMs);
    }
  }

  private onTranslatorEvent(e: AlgEvent, nowMs: number): void {
    this.events.push({ type: 'alg', event: e });
    switch (e.type) {
      case 'data-channel-request':
        this.openChannel(e.request, nowMs);
        break;
      case 'data-channel-released':
        // Only a channel still waiting for its peer goes: a running transfer is left to finish.
        this.channels.released(e.id, e.reason, nowMs);
        break;
      case 'command-refused':
        this.events.push({ type: 'command-refused', command: e.command, reason: e.reason, reply: e.reply });
        break;
      case 'logged-in':
        if (this.login !== 'logged-in') {
          this.login = transition(LOGIN_TRANSITIONS, 'login', this.login, 'logged-in');
          this.events.push({ type: 'logged-in' });
        }
        break;
      case 'tls-started':
        // A login inside TLS cannot be seen: TLS is no login. Until its handshake is over the
        // session stays on the login deadline (AUTH TLS followed by nothing, or by a trickled
        // ClientHello, ends there); after it, it is still never counted as logged in.
        if (this.login === 'awaiting') this.login = transition(LOGIN_TRANSITIONS, 'login', this.login, 'handshaking');
        break;
      case 'tls-established':
        if (this.login === 'handshaking') this.login = transition(LOGIN_TRANSITIONS, 'login', this.login, 'encrypted');
        break;
      case 'close':
        this.flushOutput(this.translator!, 'server-to-client');
        this.closeSession(`translator: ${e.reason}`, true, nowMs);
        break;
      default:
        break;
    }
  }

  private openChannel(request: DataChannelRequest, nowMs: number): void {
    if (!request.oneShot) {
      // The relay's channels take one connection; none of the built-in ALGs asks for more.
      this.translator!.refuseDataChannel(request.id, 'the relay carries one-shot data channels only');
      return;
    }
    const plan = planDataChannel(request, {
      clientLocal: this.options.clientLocal.address,
      serverLocal: this.upstreamLocal!.address,
      ...(this.options.publicAddress !== undefined ? { publicAddress: this.options.publicAddress } : {}),
      ...(this.options.upstreamPublicAddress !== undefined ? { upstreamPublicAddress: this.options.upstreamPublicAddress } : {}),
    });
    if (typeof plan === 'string') this.translator!.refuseDataChannel(request.id, plan);
    else this.channels.open(request, plan, nowMs);
  }

  private failUpstream(reason: string, nowMs: number): void {
    const farewell = this.alg.farewell(reason);
    this.events.push({ type: 'upstream-failed', reason, reply: farewell === null ? '' : lineText(farewell) });
    if (farewell !== null) this.write('client', farewell);
    this.closeSession(reason, true, nowMs);
  }

  /** The ALG's farewell to the client, only where it cannot land inside a TLS stream. */
  private sayToClient(text: string): void {
    if (this.translator?.opaque) return;
    if (this.finished.server) return; // the client has had our FIN already
    const farewell = this.alg.farewell(text);
    if (farewell === null) return;
    // After a server line cut short, end it first: the farewell must start a line to be read as one.
    if (this.lineOpen.client) this.write('client', CRLF);
    this.write('client', farewell);
  }

  private closeSession(reason: string, graceful: boolean, nowMs: number): void {
    if (this.state === 'closed') return;
    this.channels.closeAll(`session closed: ${reason}`, nowMs);
    this.state = transition(SESSION_TRANSITIONS, 'session', this.state, 'closed');
    this.closeReason = reason;
    this.held.client.length = 0;
    this.held.server.length = 0;
    this.heldBytes.client = this.heldBytes.server = 0;
    this.actions.push({ type: 'close', reason, graceful });
    this.closedEventPending = true;
    this.reportClosed();
  }

  /** `session-close`, once the byte counts of every channel closed with the session are in. */
  private reportClosed(): void {
    if (!this.closedEventPending || this.channels.awaitingCounts > 0) return;
    this.closedEventPending = false;
    this.events.push({ type: 'session-close', reason: this.closeReason, bytes: this.byteCounts });
  }

  /** Why the session closed ('' while open). */
  get reason(): string {
    return this.closeReason;
  }
}

const CRLF = Uint8Array.of(13, 10);

/** A farewell line as text, without its line ending (for the event). */
function lineText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 10 || bytes[end - 1] === 13)) end--;
  let s = '';
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** The relay session for FTP: RelaySession with the FTP module and its options inline. */
export class FtpRelaySession extends RelaySession<FtpAlgOptions> {
  constructor(options: FtpRelaySessionOptions, nowMs: number) {
    const { policy, ftp64, createTranslator, ...base } = options;
    super(
      {
        ...base,
        alg: ftpAlg,
        algOptions: {
          ...(policy !== undefined ? { policy } : {}),
          ...(ftp64 !== undefined ? { ftp64 } : {}),
          ...(createTranslator !== undefined ? { createTranslator } : {}),
        },
      },
      nowMs,
    );
  }
}

function oneLine(text: string): string {
  // A reason goes into a reply line: no line breaks, no control bytes, bounded.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200);
}
