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
  endpoint,
  ftpAlg,
  NatAlgError,
  MappedPortSource,
  prefixOf,
  type DataPortSource,
  type Endpoint,
  type FtpAlgOptions,
  type RelayEvent,
} from '../core/index.js';
import { SessionDriver, type HandleCounter } from './session-driver.js';
import type {
  AlgProxyOptions,
  FtpProxy,
  FtpProxyEvents,
  FtpProxyLogEntry,
  FtpProxyOptions,
  FtpProxyStats,
} from './types.js';

const DEFAULT_MAX_SESSIONS = 1000;
const DEFAULT_MAX_SESSIONS_PER_CLIENT = 32;
const DEFAULT_MAX_UNAUTHENTICATED_PER_CLIENT = 8;
const DEFAULT_CLIENT_PREFIX6 = 64;
const DEFAULT_GRACE_MS = 10_000;
const REFUSE_LINGER_MS = 2000;

/** Data ports must not be guessable by a third party: draw them from the system's CSPRNG. */
function secureRandom(): number {
  return randomBytes(4).readUInt32BE(0) / 0x1_0000_0000;
}

/** A relay for any ALG module (FTP, IRC, one of your own). */
export function createAlgProxy<O>(options: AlgProxyOptions<O>): FtpProxy {
  return new ProxyServer<O>(options);
}

/** A relay for FTP: createAlgProxy with the FTP module. */
export function createFtpProxy(options: FtpProxyOptions): FtpProxy {
  const { policy, ftp64, ...rest } = options;
  const algOptions: FtpAlgOptions = { ...(policy !== undefined ? { policy } : {}), ...(ftp64 !== undefined ? { ftp64 } : {}) };
  return new ProxyServer<FtpAlgOptions>({ ...rest, alg: ftpAlg, algOptions });
}

/** What maxSessionsPerClient counts by: the IPv4 address, or the IPv6 block. */
export function clientKey(client: Endpoint, prefixLength6 = DEFAULT_CLIENT_PREFIX6): string {
  return client.family === 6 ? prefixOf(client.address, prefixLength6) : client.address;
}

function validate<O>(options: AlgProxyOptions<O>): void {
  const u = options.upstream;
  if (!u || typeof u.host !== 'string' || u.host.length === 0) {
    throw new NatAlgError('invalid-argument', 'upstream.host is required');
  }
  if (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535) {
    throw new NatAlgError('invalid-argument', `upstream.port ${u.port} is not 1-65535`);
  }
  if (options.publicAddress !== undefined) endpoint(options.publicAddress, 0); // throws AddressError
  if (options.upstreamPublicAddress !== undefined) endpoint(options.upstreamPublicAddress, 0);
  options.alg.validate(options.algOptions);
  const p6 = options.clientPrefixLength6;
  if (p6 !== undefined && (!Number.isInteger(p6) || p6 < 1 || p6 > 128)) {
    throw new NatAlgError('invalid-argument', `clientPrefixLength6 must be an integer 1-128, got ${p6}`);
  }
  for (const key of [
    'maxSessions', 'maxSessionsPerClient', 'maxUnauthenticatedPerClient', 'idleTimeoutMs', 'dataListenTimeoutMs',
    'upstreamConnectTimeoutMs', 'loginTimeoutMs',
  ] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) {
      throw new NatAlgError('invalid-argument', `${key} must be a positive number, got ${v}`);
    }
  }
}

class ProxyServer<O> extends EventEmitter<FtpProxyEvents> implements FtpProxy {
  private readonly options: AlgProxyOptions<O>;
  private readonly server: net.Server;
  private readonly ports: DataPortSource | undefined;
  private readonly drivers = new Set<SessionDriver>();
  private readonly perClient = new Map<string, number>();
  /** Sessions per client key that have not logged in yet. */
  private readonly unauthenticated = new Map<string, number>();
  private unauthenticatedCount = 0;
  private dataRejected = 0;
  private readonly counter: HandleCounter;
  private socketCount = 0;
  /** Sessions accepted and not yet gone (every socket closed). */
  private sessionCount = 0;
  private dataListenerCount = 0;
  private nextSession = 1;
  private accepting = true;
  private waiters: Array<() => void> = [];

  constructor(options: AlgProxyOptions<O>) {
    super();
    validate(options);
    this.options = options;
    const dp = options.dataPorts;
    this.ports = dp === undefined ? undefined : 'acquire' in dp ? dp : new MappedPortSource({ range: dp, random: secureRandom });
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
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.accept(s));
    this.server.on('listening', () => this.emit('listening'));
    this.server.on('error', (err) => this.emit('error', err));
    this.server.on('close', () => this.emit('close'));
  }

  listen(portOrOptions: number | { port: number; host?: string }, hostOrCb?: string | (() => void), cb?: () => void): this {
    const opts = typeof portOrOptions === 'number' ? { port: portOrOptions } : { ...portOrOptions };
    let callback = cb;
    if (typeof hostOrCb === 'string') Object.assign(opts, { host: hostOrCb });
    else if (typeof hostOrCb === 'function') callback = hostOrCb;
    if (callback) this.once('listening', callback);
    this.server.listen(opts);
    return this;
  }

  address(): net.AddressInfo | string | null {
    return this.server.address();
  }

  close(callback?: (err?: Error) => void): this {
    this.accepting = false;
    this.server.close((err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') return callback?.(err);
      this.whenIdle().then(() => callback?.(), callback);
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
  }

  stats(): FtpProxyStats {
    return {
      sessions: this.sessionCount,
      sockets: this.socketCount,
      listeners: this.dataListenerCount,
      unauthenticated: this.unauthenticatedCount,
      dataRejected: this.dataRejected,
    };
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

  private accept(socket: net.Socket): void {
    this.counter.socketOpened(socket);
    socket.on('error', () => {});
    let client: Endpoint;
    try {
      client = endpoint(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    } catch {
      socket.destroy();
      return;
    }
    const maxTotal = this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    const maxPer = this.options.maxSessionsPerClient ?? DEFAULT_MAX_SESSIONS_PER_CLIENT;
    const maxUnauth = this.options.maxUnauthenticatedPerClient ?? DEFAULT_MAX_UNAUTHENTICATED_PER_CLIENT;
    const who = clientKey(client, this.options.clientPrefixLength6);
    const mine = this.perClient.get(who) ?? 0;
    const mineUnauth = this.unauthenticated.get(who) ?? 0;
    const refusal = !this.accepting
      ? { reason: 'shutting down', reply: '421 Service shutting down' }
      : this.sessionCount >= maxTotal
        ? { reason: 'too many sessions', reply: '421 Too many connections' }
        : mine >= maxPer
          ? { reason: 'too many sessions from this client', reply: '421 Too many connections from your address' }
          : mineUnauth >= maxUnauth
            ? { reason: 'too many sessions from this client not logged in', reply: '421 Too many connections from your address not logged in' }
            : null;
    if (refusal !== null) {
      this.emit('session-refused', { client, reason: refusal.reason });
      this.log({ level: 'warn', event: 'session-refused', client, reason: refusal.reason });
      socket.resume();
      socket.end(`${refusal.reply}\r\n`);
      const t = setTimeout(() => socket.destroy(), REFUSE_LINGER_MS);
      t.unref();
      socket.once('close', () => clearTimeout(t));
      return;
    }
    const sessionId = this.nextSession++;
    this.perClient.set(who, mine + 1);
    this.adjustUnauthenticated(who, +1);
    let loggedIn = false;
    let driver: SessionDriver | null = null;
    const onEvent = (e: RelayEvent) => {
      if (e.type === 'logged-in' && !loggedIn) {
        loggedIn = true;
        this.adjustUnauthenticated(who, -1);
      }
      this.onSessionEvent(sessionId, client, e);
    };
    const onGone = () => {
      if (driver) this.drivers.delete(driver);
      this.sessionCount--;
      const left = (this.perClient.get(who) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(who);
      else this.perClient.set(who, left);
      if (!loggedIn) this.adjustUnauthenticated(who, -1);
      this.settle();
    };
    // Counted from here, so that a 'session-open' listener already sees this session in stats().
    this.sessionCount++;
    this.emit('session-open', { sessionId, client });
    this.log({ level: 'info', event: 'session-open', sessionId, client });
    const o = this.options;
    driver = new SessionDriver(
      socket,
      {
        alg: o.alg,
        ...(o.algOptions !== undefined ? { algOptions: o.algOptions } : {}),
        upstream: o.upstream,
        ...(o.publicAddress !== undefined ? { publicAddress: o.publicAddress } : {}),
        ...(o.upstreamPublicAddress !== undefined ? { upstreamPublicAddress: o.upstreamPublicAddress } : {}),
        ...(this.ports !== undefined ? { dataPorts: this.ports } : {}),
        ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
        ...(o.dataListenTimeoutMs !== undefined ? { dataListenTimeoutMs: o.dataListenTimeoutMs } : {}),
        ...(o.upstreamConnectTimeoutMs !== undefined ? { upstreamConnectTimeoutMs: o.upstreamConnectTimeoutMs } : {}),
        ...(o.loginTimeoutMs !== undefined ? { loginTimeoutMs: o.loginTimeoutMs } : {}),
      },
      {
        onEvent,
        onGone,
        onFailure: (err) =>
          this.log({ level: 'error', event: 'session-failed', sessionId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      },
      this.counter,
    );
    this.drivers.add(driver);
  }

  private adjustUnauthenticated(who: string, by: 1 | -1): void {
    const n = (this.unauthenticated.get(who) ?? 0) + by;
    if (n <= 0) this.unauthenticated.delete(who);
    else this.unauthenticated.set(who, n);
    this.unauthenticatedCount += by;
  }

  private onSessionEvent(sessionId: number, client: Endpoint, e: RelayEvent): void {
    switch (e.type) {
      case 'data-rejected': {
        this.dataRejected++;
        const { type: _t, ...rest } = e;
        this.emit('data-rejected', { sessionId, ...rest });
        this.log({ level: 'warn', event: 'data-rejected', sessionId, ...rest });
        return;
      }
      case 'logged-in':
        this.log({ level: 'debug', event: 'logged-in', sessionId });
        return;
      case 'session-closed':
        this.emit('session-close', { sessionId, client, reason: e.reason, bytes: e.bytes });
        this.log({ level: 'info', event: 'session-close', sessionId, reason: e.reason, bytes: e.bytes });
        return;
      case 'data-open': {
        const { type: _t, ...rest } = e;
        this.emit('data-open', { sessionId, ...rest });
        this.log({ level: 'info', event: 'data-open', sessionId, ...rest });
        return;
      }
      case 'data-close': {
        const { type: _t, ...rest } = e;
        this.emit('data-close', { sessionId, ...rest });
        this.log({ level: 'info', event: 'data-close', sessionId, ...rest });
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
          this.log({ level: 'warn', event: 'protocol-error', sessionId, direction: f.direction, message: f.message });
        } else if (f.type === 'tls-started') {
          // Everything from here is encrypted: passive replies reach the client as the server
          // wrote them, and data connections work only where the two peers reach each other.
          this.log({
            level: 'warn', event: f.type, sessionId,
            message: 'control channel encrypted: data connections can no longer be translated (FTP: --tls refuse keeps clients in plain text)',
          });
        } else if (f.type === 'tls-ended') {
          this.log({ level: 'info', event: f.type, sessionId });
        }
        return;
      }
      case 'upstream-failed':
        this.log({ level: 'warn', event: 'upstream-failed', sessionId, reason: e.reason });
        return;
      case 'upstream-connected':
      case 'data-listening': {
        const { type, ...rest } = e;
        this.log({ level: 'debug', event: type, sessionId, ...rest });
        return;
      }
    }
  }
}
