/**
 * createAlgProxy / createFtpProxy: a protocol-aware TCP relay in the style of net.Server. Every
 * accepted client gets a RelaySession with the relay's ALG (the core decides), driven by a
 * SessionDriver (sockets only). This file adds what spans sessions: the listener, session limits,
 * the shared data-port range, shutdown, events and the logger.
 */

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import {
  builtinAlgs,
  ClientWaitingBudgets,
  endpoint,
  ftpAlg,
  ircAlg,
  NatAlgError,
  MappedPortSource,
  type DataPortSource,
  type Endpoint,
  type AlgModule,
  type FtpAlgOptions,
  type IrcAlgOptions,
  type RelayEvent,
} from '../core/index.js';
import { prefixOf } from '../core/net/cidr.js';
import { announcedAddresses } from '../core/relay/plan.js';
import { SessionDriver, type HandleCounter } from './session-driver.js';
import { createRelayDataPlane, type DataPlane } from './data-plane.js';
import { createNftablesDataPlane } from './nftables/kernel-plane.js';
import { LogLimiter } from './log-limiter.js';
import { RelayCounters, type RelayMetrics } from './relay-counters.js';
import type {
  AlgProxyOptions,
  IrcProxyOptions,
  FtpProxy,
  FtpProxyEvents,
  FtpProxyLogEntry,
  FtpProxyOptions,
  FtpProxyStats,
  HandleConnectionOptions,
} from './types.js';
import { listenArgs, type ListenOptions } from './listen-args.js';

const DEFAULT_MAX_SESSIONS = 1000;
const DEFAULT_MAX_SESSIONS_PER_CLIENT = 32;
const DEFAULT_MAX_UNAUTHENTICATED_PER_CLIENT = 8;
const DEFAULT_CLIENT_PREFIX6 = 64;
const DEFAULT_GRACE_MS = 10_000;
/**
 * A refused connection is destroyed once its 421 has been handed to the kernel (the kernel still
 * delivers it, then the FIN); a peer whose window stays shut gets this long. A flood of refused
 * connections then holds no file descriptor beyond a moment.
 */
const REFUSE_FLUSH_MS = 250;
/** Data listeners waiting for their peer per client, over all its sessions, at most. */
const DEFAULT_MAX_PENDING_DATA_PER_CLIENT = 32;
/** With a port range: also at most 1/8 of it per client (but at least 4), so that 8 addresses are needed to take it all. */
const PENDING_DATA_SHARE_OF_RANGE = 8;
const MIN_DEFAULT_PENDING_DATA_PER_CLIENT = 4;

/** The default per-client cap of waiting data listeners for a relay with these data ports. */
export function defaultMaxPendingDataChannelsPerClient(dataPorts: AlgProxyOptions['dataPorts']): number {
  if (dataPorts === undefined || 'acquire' in dataPorts) return DEFAULT_MAX_PENDING_DATA_PER_CLIENT;
  const size = dataPorts.max - dataPorts.min + 1;
  const share = Math.max(MIN_DEFAULT_PENDING_DATA_PER_CLIENT, Math.floor(size / PENDING_DATA_SHARE_OF_RANGE));
  return Math.min(DEFAULT_MAX_PENDING_DATA_PER_CLIENT, share);
}

/** Data ports must not be guessable by a third party: draw them from the system's CSPRNG. */
function secureRandom(): number {
  return randomBytes(4).readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * A relay for any ALG module (FTP, IRC, one of your own), given as a module or by the name of a
 * built-in one (`'ftp'`, `'irc'`).
 */
export function createAlgProxy<O>(options: AlgProxyOptions<O>): FtpProxy {
  const alg = options.alg;
  if (typeof alg === 'string') {
    const found = builtinAlgs.find(alg);
    if (found === null) throw new NatAlgError('invalid-argument', `no built-in ALG named ${JSON.stringify(alg)} (known: ${builtinAlgs.names.join(', ')})`);
    return new ProxyServer<O>({ ...options, alg: found as AlgModule<O> });
  }
  return new ProxyServer<O>({ ...options, alg });
}

/** A relay for FTP: createAlgProxy with the FTP module. */
export function createFtpProxy(options: FtpProxyOptions): FtpProxy {
  const { policy, ftp64, ...rest } = options;
  const algOptions: FtpAlgOptions = { ...(policy !== undefined ? { policy } : {}), ...(ftp64 !== undefined ? { ftp64 } : {}) };
  return new ProxyServer<FtpAlgOptions>({ ...rest, alg: ftpAlg, algOptions });
}

/** A relay for IRC with DCC: createAlgProxy with the IRC module. */
export function createIrcProxy(options: IrcProxyOptions): FtpProxy {
  const { policy, ...rest } = options;
  const algOptions: IrcAlgOptions = policy !== undefined ? { policy } : {};
  return new ProxyServer<IrcAlgOptions>({ ...rest, alg: ircAlg, algOptions });
}

/** The plane an option names. */
function dataPlaneOf(option: AlgProxyOptions<unknown>['dataPlane']): DataPlane {
  if (option === undefined || option === 'relay') return createRelayDataPlane();
  if (option === 'nftables') return createNftablesDataPlane();
  if (typeof option === 'object' && option !== null && typeof option.forSession === 'function' && typeof option.start === 'function') return option;
  throw new NatAlgError('invalid-argument', `dataPlane must be 'relay', 'nftables' or a DataPlane, got ${JSON.stringify(option)}`);
}

/**
 * Address families a host may have: an address has its own (a listening `::` takes IPv4 clients
 * too), a name or nothing may be either.
 */
function familiesOf(host: string | undefined, listening: boolean): (4 | 6)[] {
  if (host === undefined || host === '') return [4, 6];
  let ep: Endpoint;
  try {
    ep = endpoint(host, 0);
  } catch {
    return [4, 6];
  }
  if (ep.family === 6 && listening && ep.address === '::') return [4, 6];
  return [ep.family];
}

/** What maxSessionsPerClient counts by: the IPv4 address, or the IPv6 block. */
export function clientKey(client: Endpoint, prefixLength6 = DEFAULT_CLIENT_PREFIX6): string {
  return client.family === 6 ? prefixOf(client.address, prefixLength6) : client.address;
}

/** Proxy options with the ALG resolved to its module. */
type ResolvedProxyOptions<O> = AlgProxyOptions<O> & { readonly alg: AlgModule<O> };

function checkUpstream(u: { readonly host: string; readonly port: number } | undefined): void {
  if (!u || typeof u.host !== 'string' || u.host.length === 0) {
    throw new NatAlgError('invalid-argument', 'upstream.host is required');
  }
  if (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535) {
    throw new NatAlgError('invalid-argument', `upstream.port ${u.port} is not 1-65535`);
  }
}

/** Where a handed-over connection goes: the configured upstream, another one, or a socket given. */
interface ConnectionRoute {
  readonly upstream?: { readonly host: string; readonly port: number };
  readonly upstreamSocket?: net.Socket;
}

/** handleConnection's arguments, checked before anything is touched (misuse throws, as elsewhere). */
function checkRoute(socket: net.Socket, options: HandleConnectionOptions): ConnectionRoute {
  if (!(socket instanceof net.Socket)) throw new NatAlgError('invalid-argument', 'handleConnection needs a net.Socket');
  if (typeof options !== 'object' || options === null) throw new NatAlgError('invalid-argument', 'handleConnection options must be an object');
  const { upstream, upstreamSocket } = options;
  if (upstream !== undefined && upstreamSocket !== undefined) {
    throw new NatAlgError('invalid-argument', 'give upstream or upstreamSocket, not both');
  }
  if (upstream !== undefined) {
    checkUpstream(upstream);
    return { upstream: { host: upstream.host, port: upstream.port } };
  }
  if (upstreamSocket !== undefined) {
    if (!(upstreamSocket instanceof net.Socket)) throw new NatAlgError('invalid-argument', 'upstreamSocket must be a net.Socket');
    if (upstreamSocket === socket) throw new NatAlgError('invalid-argument', 'upstreamSocket is the client socket itself');
    return { upstreamSocket };
  }
  return {};
}

function validate<O>(options: ResolvedProxyOptions<O>): void {
  checkUpstream(options.upstream);
  announcedAddresses(options.publicAddress, 'publicAddress'); // throws NatAlgError / AddressError
  announcedAddresses(options.upstreamPublicAddress, 'upstreamPublicAddress');
  options.alg.validate(options.algOptions);
  const p6 = options.clientPrefixLength6;
  if (p6 !== undefined && (!Number.isInteger(p6) || p6 < 1 || p6 > 128)) {
    throw new NatAlgError('invalid-argument', `clientPrefixLength6 must be an integer 1-128, got ${p6}`);
  }
  for (const key of [
    'maxSessions', 'maxSessionsPerClient', 'maxUnauthenticatedPerClient', 'idleTimeoutMs', 'dataListenTimeoutMs',
    'upstreamConnectTimeoutMs', 'loginTimeoutMs', 'maxPendingDataChannelsPerClient',
  ] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) {
      throw new NatAlgError('invalid-argument', `${key} must be a positive number, got ${v}`);
    }
  }
  const pd = options.maxPendingDataChannelsPerClient;
  if (pd !== undefined && !Number.isInteger(pd)) {
    throw new NatAlgError('invalid-argument', `maxPendingDataChannelsPerClient must be a whole number, got ${pd}`);
  }
}

class ProxyServer<O> extends EventEmitter<FtpProxyEvents> implements FtpProxy {
  private readonly options: ResolvedProxyOptions<O>;
  private readonly server: net.Server;
  private readonly ports: DataPortSource | undefined;
  private readonly drivers = new Set<SessionDriver>();
  /**
   * Sockets handed over by handleConnection, as client or upstream: handing one again would run
   * two sessions on one connection (interleaved bytes, a double count), so it is refused as misuse.
   */
  private readonly handed = new WeakSet<net.Socket>();
  private readonly perClient = new Map<string, number>();
  /** Sessions per client key that have not logged in yet. */
  private readonly unauthenticated = new Map<string, number>();
  private unauthenticatedCount = 0;
  /** What happened since the start (relay-counters.ts): the one source of stats() and metrics() counts. */
  private readonly counters: RelayCounters;
  /** Waiting data listeners per client key, over all its sessions. */
  private readonly waitingBudgets: ClientWaitingBudgets;
  /** Log lines a peer can cause at will (refusals) go through this. */
  private readonly limitedLog: LogLimiter;
  private readonly counter: HandleCounter;
  private socketCount = 0;
  /** Sessions accepted and not yet gone (every socket closed). */
  private sessionCount = 0;
  private dataListenerCount = 0;
  private nextSession = 1;
  private accepting = true;
  private waiters: Array<() => void> = [];
  private readonly plane: DataPlane;
  private readonly builtinRelay: boolean;
  /** The plane's start() (resolved: started), null while it was never asked to start. */
  private planeStart: Promise<void> | null = null;
  /** The plane has started (and not stopped): handed-over connections may become sessions. */
  private planeReady = false;

  constructor(options: ResolvedProxyOptions<O>) {
    super();
    validate(options);
    this.options = options;
    this.counters = new RelayCounters(options.alg.name);
    this.plane = dataPlaneOf(options.dataPlane);
    this.builtinRelay = options.dataPlane === undefined || options.dataPlane === 'relay';
    const dp = options.dataPorts;
    this.ports = dp === undefined ? undefined : 'acquire' in dp ? dp : new MappedPortSource({ range: dp, random: secureRandom });
    this.waitingBudgets = new ClientWaitingBudgets(options.maxPendingDataChannelsPerClient ?? defaultMaxPendingDataChannelsPerClient(dp));
    this.limitedLog = new LogLimiter((entry) => this.log(entry));
    this.counter = {
      socketOpened: (s) => {
        this.socketCount++;
        s.once('close', () => {
          this.socketCount--;
          this.settle();
        });
      },
      listenerOpened: (srv) => {
        this.dataListenerCount++;
        let done = false;
        const gone = () => {
          if (done) return;
          done = true;
          this.dataListenerCount--;
          this.settle();
        };
        srv.once('close', gone);
        srv.once('error', () => (srv.listening ? undefined : gone()));
      },
    };
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.accept(s, null));
    this.server.on('listening', () => this.emit('listening'));
    this.server.on('error', (err) => this.emit('error', err));
    this.server.on('close', () => {
      this.limitedLog.flush();
      this.emit('close');
    });
  }

  listen(portOrOptions: number | ListenOptions, hostOrCb?: string | (() => void), cb?: () => void): this {
    const { options: opts, callback } = listenArgs(portOrOptions, hostOrCb, cb);
    if (callback) this.once('listening', callback);
    // The relay's own plane has nothing to prepare: listen at once, as net.Server does.
    if (this.builtinRelay) {
      this.server.listen(opts);
      return this;
    }
    this.startPlane(opts.host).then(
      () => {
        if (this.accepting) this.server.listen(opts);
      },
      (err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))),
    );
    return this;
  }

  /**
   * Starts the data plane without listening, for a relay that is handed its connections
   * (handleConnection). The relay's own plane needs nothing; any other must have started before a
   * handed-over connection can become a session. Idempotent; rejects with the plane's error.
   */
  start(options: { host?: string } = {}): Promise<void> {
    if (!this.accepting) return Promise.reject(new NatAlgError('invalid-state', 'the relay is closed or shutting down: it cannot start again'));
    return this.startPlane(options.host);
  }

  /** Starts the data plane once, with the families the relay's sessions can have. */
  private startPlane(host: string | undefined): Promise<void> {
    if (this.planeStart) return this.planeStart;
    const u = this.options.upstream.host;
    const started = this.plane.start({
      clientFamilies: familiesOf(host, true),
      serverFamilies: familiesOf(u, false),
      log: (entry) => this.log(entry),
      fail: (error) => {
        this.log({ level: 'error', event: 'data-plane-failed', plane: this.plane.name, error: error.message });
        this.emit('error', error);
      },
    });
    this.planeStart = started;
    // A plane that could not start has nothing to stop; one that did is stopped after the sessions.
    started.then(
      () => {
        if (this.planeStart === started) this.planeReady = true;
      },
      () => {
        if (this.planeStart === started) this.planeStart = null;
      },
    );
    return started;
  }

  /** Stops the data plane if it was started (after the last session: their rules go with it). */
  private async stopPlane(): Promise<void> {
    const started = this.planeStart;
    this.planeStart = null;
    this.planeReady = false;
    if (!started) return;
    try {
      await started;
    } catch {
      return;
    }
    await this.plane.stop();
  }

  address(): net.AddressInfo | string | null {
    return this.server.address();
  }

  close(callback?: (err?: Error) => void): this {
    this.accepting = false;
    this.server.close((err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') return callback?.(err);
      this.whenIdle()
        .then(() => this.stopPlane())
        .then(() => callback?.(), callback);
    });
    return this;
  }

  async shutdown(options: { graceMs?: number } = {}): Promise<void> {
    const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.accepting = false;
    if (this.server.listening) this.server.close();
    for (const d of this.drivers) d.shutdown();
    let timer: NodeJS.Timeout | null = null;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.whenIdle(), deadline]);
    if (timer) clearTimeout(timer);
    for (const d of this.drivers) d.close('Service shutting down');
    await this.whenIdle();
    await this.stopPlane();
  }

  stats(): FtpProxyStats {
    return {
      sessions: this.sessionCount,
      sockets: this.socketCount,
      listeners: this.dataListenerCount,
      unauthenticated: this.unauthenticatedCount,
      dataRejected: this.counters.dataRejected,
      dataLimited: this.counters.dataLimited,
      sessionsRefused: this.counters.refused,
    };
  }

  metrics(): RelayMetrics {
    return this.counters.snapshot({
      sessions: this.sessionCount,
      unauthenticated: this.unauthenticatedCount,
      sockets: this.socketCount,
      listeners: this.dataListenerCount,
      draining: !this.accepting,
    });
  }

  private whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.sessionCount === 0 && this.socketCount === 0 && this.dataListenerCount === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private log(entry: FtpProxyLogEntry): void {
    const logger = this.options.logger;
    if (!logger) return;
    try {
      logger(entry);
    } catch {
      // A failing logger must not take a session down.
    }
  }

  /**
   * A client connection the embedder accepted itself, as if this relay's listener had: the same
   * limits, events, logs, stats and shutdown. Invalid arguments throw before anything is touched
   * (the sockets are still the caller's); from then on both sockets are the relay's, and it never
   * throws: a socket already gone, a refusal, a failed upstream are events and logs.
   */
  handleConnection(socket: net.Socket, options: HandleConnectionOptions = {}): void {
    const route = checkRoute(socket, options);
    for (const s of [socket, route.upstreamSocket]) {
      if (s !== undefined && this.handed.has(s)) {
        throw new NatAlgError('invalid-argument', 'this socket was already handed to this relay (handleConnection takes each socket once)');
      }
    }
    this.handed.add(socket);
    if (route.upstreamSocket !== undefined) this.handed.add(route.upstreamSocket);
    if (socket.destroyed) {
      // Gone before it got here: no session, nothing to count (its 'close' may be long gone).
      route.upstreamSocket?.destroy();
      this.log({ level: 'debug', event: 'connection-gone', reason: 'client socket already closed when handed over' });
      return;
    }
    // As the relay's own listener makes them: a client's FIN must not end the relay's side before
    // the server's last reply (a 221 after QUIT) has gone out.
    socket.allowHalfOpen = true;
    this.accept(socket, route);
  }

  /** `route`: what handleConnection was given (null: the relay's own listener accepted it). */
  private accept(socket: net.Socket, route: ConnectionRoute | null): void {
    this.counter.socketOpened(socket);
    socket.on('error', () => {});
    let client: Endpoint;
    try {
      client = endpoint(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    } catch {
      socket.destroy();
      route?.upstreamSocket?.destroy();
      return;
    }
    const maxTotal = this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    const maxPer = this.options.maxSessionsPerClient ?? DEFAULT_MAX_SESSIONS_PER_CLIENT;
    const maxUnauth = this.options.maxUnauthenticatedPerClient ?? DEFAULT_MAX_UNAUTHENTICATED_PER_CLIENT;
    const who = clientKey(client, this.options.clientPrefixLength6);
    const mine = this.perClient.get(who) ?? 0;
    const mineUnauth = this.unauthenticated.get(who) ?? 0;
    const refusal: { reason: string; reply: string; level?: 'error' } | null = !this.accepting
      ? { reason: 'shutting down', reply: 'Service shutting down' }
      : // Handed over (handleConnection): a plane other than the relay's own must have started
        // (start(), or listen()); the relay's own listener accepts only once it has.
        route !== null && !this.builtinRelay && !this.planeReady
        ? { reason: 'data plane not started', reply: 'Service not available', level: 'error' }
        : this.sessionCount >= maxTotal
        ? { reason: 'too many sessions', reply: 'Too many connections' }
        : mine >= maxPer
          ? { reason: 'too many sessions from this client', reply: 'Too many connections from your address' }
          : mineUnauth >= maxUnauth
            ? { reason: 'too many sessions from this client not logged in', reply: 'Too many connections from your address not logged in' }
            : null;
    if (refusal !== null) {
      route?.upstreamSocket?.destroy();
      this.refuse(socket, client, refusal.reason, refusal.reply, refusal.level);
      return;
    }
    const sessionId = this.nextSession++;
    const waitingBudget = this.waitingBudgets.forSession(who);
    this.perClient.set(who, mine + 1);
    this.adjustUnauthenticated(who, +1);
    let loggedIn = false;
    /** `session-close` is emitted once per session, whatever way it ends (see onGone). */
    let closeReported = false;
    let driver: SessionDriver | null = null;
    const onEvent = (e: RelayEvent, plane?: string) => {
      if (e.type === 'logged-in' && !loggedIn) {
        loggedIn = true;
        this.adjustUnauthenticated(who, -1);
      }
      if (e.type === 'session-close') {
        if (closeReported) return;
        closeReported = true;
      }
      this.onSessionEvent(sessionId, client, e, plane ?? this.plane.name);
    };
    const onGone = () => {
      // A session torn down by a failure (session-failed) may not have reported its end: every
      // 'session-open' gets its 'session-close', so that counts of open sessions stay right.
      if (!closeReported && driver) {
        closeReported = true;
        const d = driver.session;
        try {
          this.onSessionEvent(sessionId, client, { type: 'session-close', reason: d.reason || 'internal error', bytes: d.byteCounts }, this.plane.name);
        } catch (listenerError) {
          // Called from a socket's 'close': a throwing listener must not escape, nor skip the count below.
          const text = listenerError instanceof Error ? (listenerError.stack ?? listenerError.message) : String(listenerError);
          this.log({ level: 'error', event: 'listener-failed', sessionId, listener: 'session-close', error: text });
        }
      }
      if (driver) this.drivers.delete(driver);
      this.counters.sessionGone(sessionId);
      this.sessionCount--;
      const left = (this.perClient.get(who) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(who);
      else this.perClient.set(who, left);
      if (!loggedIn) this.adjustUnauthenticated(who, -1);
      waitingBudget.releaseAll(); // the session gave back every slot on closing; this guards a failed one
      this.settle();
    };
    // Counted from here, so that a 'session-open' listener already sees this session in stats().
    this.sessionCount++;
    this.counters.sessionOpened(sessionId, () => driver!.session.byteCounts);
    this.emit('session-open', { sessionId, client });
    this.log({ level: 'info', event: 'session-open', sessionId, client });
    const o = this.options;
    const given = route?.upstreamSocket ?? null;
    // With a socket of its own, `upstream` only names it (the driver dials nothing).
    const upstream = given !== null
      ? { host: given.remoteAddress ?? o.upstream.host, port: given.remotePort ?? o.upstream.port }
      : (route?.upstream ?? o.upstream);
    driver = new SessionDriver(
      socket,
      {
        alg: o.alg,
        ...(o.algOptions !== undefined ? { algOptions: o.algOptions } : {}),
        upstream,
        ...(o.publicAddress !== undefined ? { publicAddress: o.publicAddress } : {}),
        ...(o.upstreamPublicAddress !== undefined ? { upstreamPublicAddress: o.upstreamPublicAddress } : {}),
        ...(this.ports !== undefined ? { dataPorts: this.ports } : {}),
        waitingChannelBudget: waitingBudget,
        ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
        ...(o.dataListenTimeoutMs !== undefined ? { dataListenTimeoutMs: o.dataListenTimeoutMs } : {}),
        ...(o.upstreamConnectTimeoutMs !== undefined ? { upstreamConnectTimeoutMs: o.upstreamConnectTimeoutMs } : {}),
        ...(o.loginTimeoutMs !== undefined ? { loginTimeoutMs: o.loginTimeoutMs } : {}),
      },
      {
        onEvent,
        onGone,
        onFailure: (err) => this.onSessionFailed(sessionId, client, err),
        onLog: (entry) => this.log({ ...entry, sessionId }),
      },
      this.counter,
      this.plane,
      given,
    );
    this.drivers.add(driver);
  }

  /**
   * A bug surfaced while driving a session (ours, or an event listener of the embedder's that
   * threw): the session is torn down, the rest go on. Emitted and logged; a listener of
   * 'session-failed' that throws too is only logged, since nothing is left to catch it.
   */
  private onSessionFailed(sessionId: number, client: Endpoint, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.counters.sessionFailed();
    this.log({ level: 'error', event: 'session-failed', sessionId, error: error.stack ?? error.message });
    try {
      this.emit('session-failed', { sessionId, client, error });
    } catch (listenerError) {
      const text = listenerError instanceof Error ? (listenerError.stack ?? listenerError.message) : String(listenerError);
      this.log({ level: 'error', event: 'listener-failed', sessionId, listener: 'session-failed', error: text });
    }
  }

  /**
   * Over a limit or shutting down: the 421, then the socket goes as soon as the kernel has it (or
   * after REFUSE_FLUSH_MS if the peer does not read). Input is read and dropped meanwhile: unread
   * input would turn the close into a reset that may overtake the 421. The log line is limited.
   */
  private refuse(socket: net.Socket, client: Endpoint, reason: string, reply: string, level: 'warn' | 'error' = 'warn'): void {
    this.counters.sessionRefused(reason);
    this.emit('session-refused', { client, reason });
    this.limitedLog.log({ level, event: 'session-refused', client, reason });
    socket.on('data', () => {});
    socket.resume();
    const t = setTimeout(() => socket.destroy(), REFUSE_FLUSH_MS);
    t.unref();
    socket.once('close', () => clearTimeout(t));
    // The ALG's goodbye line (FTP: `421 ...`, IRC: `ERROR :...`), then the socket goes.
    const farewell = this.options.alg.farewell(reply);
    if (farewell !== null) socket.end(farewell, () => socket.destroy());
    else socket.end(() => socket.destroy());
  }

  /** A data channel refused over maxPendingDataChannelsPerClient: counted, emitted, logged (limited). */
  private onDataLimit(sessionId: number, client: Endpoint, command: string, limit: number): void {
    this.emit('data-limit', { sessionId, client, command, limit });
    this.limitedLog.log({ level: 'warn', event: 'data-limit', sessionId, client, command, limit });
  }

  private adjustUnauthenticated(who: string, by: 1 | -1): void {
    const n = (this.unauthenticated.get(who) ?? 0) + by;
    if (n <= 0) this.unauthenticated.delete(who);
    else this.unauthenticated.set(who, n);
    this.unauthenticatedCount += by;
  }

  private onSessionEvent(sessionId: number, client: Endpoint, e: RelayEvent, plane: string): void {
    this.counters.observe(sessionId, e, plane);
    switch (e.type) {
      case 'data-rejected': {
        const { type: _t, ...rest } = e;
        this.emit('data-rejected', { sessionId, ...rest });
        this.log({ level: 'warn', event: 'data-rejected', sessionId, ...rest });
        return;
      }
      case 'data-limit':
        this.onDataLimit(sessionId, client, e.command, e.limit);
        return;
      case 'logged-in':
        this.log({ level: 'debug', event: 'logged-in', sessionId });
        return;
      case 'session-close':
        this.emit('session-close', { sessionId, client, reason: e.reason, bytes: e.bytes });
        this.log({ level: 'info', event: 'session-close', sessionId, reason: e.reason, bytes: e.bytes });
        return;
      case 'data-open': {
        const { type: _t, ...rest } = e;
        this.emit('data-open', { sessionId, ...rest, plane });
        this.log({ level: 'info', event: 'data-open', sessionId, ...rest, plane });
        return;
      }
      case 'data-close': {
        const { type: _t, ...rest } = e;
        this.emit('data-close', { sessionId, ...rest, plane });
        this.log({ level: 'info', event: 'data-close', sessionId, ...rest, plane });
        return;
      }
      case 'command-refused': {
        const { type: _t, ...rest } = e;
        this.emit('command-refused', { sessionId, ...rest });
        this.log({ level: 'warn', event: 'command-refused', sessionId, ...rest });
        return;
      }
      case 'alg': {
        const f = e.event;
        if (f.type === 'line-translated') {
          this.log({ level: 'debug', event: 'line-translated', sessionId, direction: f.direction, before: f.before, after: f.after });
        } else if (f.type === 'protocol-error') {
          this.emit('protocol-error', { sessionId, client, direction: f.direction, message: f.message });
          this.log({ level: 'warn', event: 'protocol-error', sessionId, direction: f.direction, message: f.message });
        } else if (f.type === 'tls-started') {
          // Everything from here is encrypted: passive replies reach the client as the server
          // wrote them, and data connections work only where the two peers reach each other.
          this.log({
            level: 'warn', event: f.type, sessionId,
            message: 'control channel encrypted: data connections can no longer be translated (FTP: --tls refuse keeps clients in plain text)',
          });
        } else if (f.type === 'tls-established') {
          // The handshake is over: the login deadline stops, the session still counts as not logged in.
          this.log({ level: 'debug', event: f.type, sessionId });
        } else if (f.type === 'tls-ended') {
          this.log({ level: 'info', event: f.type, sessionId });
        }
        return;
      }
      case 'upstream-failed':
        this.emit('upstream-failed', { sessionId, client, reason: e.reason, reply: e.reply });
        this.log({ level: 'warn', event: 'upstream-failed', sessionId, reason: e.reason });
        return;
      case 'upstream-connected': {
        const { type, ...rest } = e;
        this.log({ level: 'debug', event: type, sessionId, ...rest });
        return;
      }
      case 'data-listening': {
        const { type, ...rest } = e;
        this.log({ level: 'debug', event: type, sessionId, ...rest, plane });
        return;
      }
    }
  }
}
