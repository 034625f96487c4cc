/**
 * createMetricsServer: an HTTP endpoint (node:http, no packages) for operators and balancers.
 * - `GET /metrics`: the relays' counters in the Prometheus text format (metrics.ts).
 * - `GET /healthz`: `200 ready`, or `503 draining` once the instance is leaving rotation: after
 *   `setDraining()`, or once any of its relays began `shutdown()`/`close()`. A balancer that
 *   checks it stops sending new clients before the relay stops accepting (docs/scale-out.md).
 *
 * It is a network surface like the relay, so it is bounded: only GET and HEAD (else 405), small
 * request heads (`maxHeaderSize`), a deadline for the head and for the whole request, few
 * connections at once, no request body read. It never changes a relay: it only reads them.
 */

import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { NatAlgError } from '../core/errors.js';
import { EventLoopLag } from './event-loop-lag.js';
import { formatPrometheusMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import type { RelayMetrics } from './relay-counters.js';
import { listenArgs, type ListenOptions } from './listen-args.js';

/** Anything with `metrics()`: a relay made by createFtpProxy, createIrcProxy, createAlgProxy. */
export interface MetricsSource {
  metrics(): RelayMetrics;
}

export interface MetricsServerOptions {
  /**
   * The relays to report, each a relay or `{ proxy, name }`; the name is the `relay` label.
   * Default names: the ALG's name (`ftp`), or `ftp-0`, `ftp-1`, ... when several share one.
   */
  readonly proxies: ReadonlyArray<MetricsSource | { readonly proxy: MetricsSource; readonly name: string }>;
  /** Measure the process's event-loop lag (perf_hooks). Default true. */
  readonly eventLoopLag?: boolean;
  /**
   * Connections at once. Default 16 (a scraper and a few checkers). A connection beyond it takes
   * the place of the oldest one that is not being answered (a slow or idle one: a balancer's check
   * sends its request at once and is answered before it grows old); when every one is being
   * answered, the new one is closed at once.
   */
  readonly maxConnections?: number;
  /**
   * Connections at once from one address; more are closed at once. Default 4: one address that
   * holds slow connections cannot take every slot and fail the balancer's health checks.
   */
  readonly maxConnectionsPerAddress?: number;
  /** A request's head must be complete within this long. Default 5000. */
  readonly headersTimeoutMs?: number;
  /** The whole request within this long. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Largest request head, in bytes; larger gets 431. Default 4096. */
  readonly maxHeaderSize?: number;
}

export type HealthState = 'ready' | 'draining';

export interface MetricsServerEvents {
  listening: [];
  close: [];
  error: [Error];
}

export interface MetricsServer extends EventEmitter<MetricsServerEvents> {
  listen(port: number, host?: string, callback?: () => void): this;
  listen(options: { port: number; host?: string }, callback?: () => void): this;
  /** Stop listening and close every open connection; `callback` once closed. */
  close(callback?: (err?: Error) => void): this;
  address(): AddressInfo | string | null;
  /**
   * Mark the instance draining (`/healthz` answers 503) without stopping anything: balancers take
   * it out of rotation, its relays go on serving whoever still comes. `false` makes it ready again
   * unless a relay is shutting down.
   */
  setDraining(draining?: boolean): void;
  /** What `/healthz` answers now. */
  health(): HealthState;
  /** The `/metrics` text now (the same as a scrape, without HTTP). */
  render(): string;
}

const DEFAULTS = {
  maxConnections: 16,
  maxConnectionsPerAddress: 4,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  maxHeaderSize: 4096,
} as const;
/** Idle keep-alive connections go after this long: a scraper reconnects at its next interval. */
const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** How often Node checks the head and request deadlines (its default of 30 s would make them loose). */
const DEADLINE_CHECK_MS = 1000;

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0) throw new NatAlgError('invalid-argument', `${name} must be a positive whole number, got ${v}`);
  return v;
}

function named(proxies: MetricsServerOptions['proxies']): { name: string; source: MetricsSource }[] {
  if (!Array.isArray(proxies) || proxies.length === 0) throw new NatAlgError('invalid-argument', 'proxies must list at least one relay');
  const entries = proxies.map((p) => {
    if (p && typeof p === 'object' && 'proxy' in p && typeof p.proxy?.metrics === 'function') {
      if (typeof p.name !== 'string' || p.name.length === 0) throw new NatAlgError('invalid-argument', 'a relay\'s name must be a non-empty string');
      return { name: p.name as string | null, source: p.proxy };
    }
    if (!p || typeof (p as MetricsSource).metrics !== 'function') throw new NatAlgError('invalid-argument', 'proxies must be relays (with metrics()) or { proxy, name }');
    return { name: null, source: p as MetricsSource };
  });
  const algs = entries.map((e) => e.source.metrics().alg);
  const out = entries.map((e, i) => ({
    name: e.name ?? (algs.filter((a) => a === algs[i]).length === 1 ? algs[i]! : `${algs[i]!}-${i}`),
    source: e.source,
  }));
  const seen = new Set<string>();
  for (const { name } of out) {
    if (seen.has(name)) throw new NatAlgError('invalid-argument', `two relays named ${JSON.stringify(name)}: names must differ`);
    seen.add(name);
  }
  return out;
}

/** An HTTP endpoint for /metrics and /healthz over these relays; call listen() to start it. */
export function createMetricsServer(options: MetricsServerOptions): MetricsServer {
  return new MetricsHttpServer(options);
}

class MetricsHttpServer extends EventEmitter<MetricsServerEvents> implements MetricsServer {
  private readonly relays: { name: string; source: MetricsSource }[];
  private readonly server: http.Server;
  private readonly measureLag: boolean;
  private lag: EventLoopLag | null = null;
  private drainingFlag = false;
  /** Open connections per remote address (maxConnectionsPerAddress). */
  private readonly perAddress = new Map<string, number>();
  /**
   * Open connections, oldest first (a Map keeps insertion order), each with how many of its
   * requests are being answered: a full server evicts the oldest that has none.
   */
  private readonly open = new Map<Socket, { readonly who: string; answering: number }>();
  private readonly maxConnections: number;

  constructor(options: MetricsServerOptions) {
    super();
    this.relays = named(options.proxies);
    this.measureLag = options.eventLoopLag ?? true;
    const headersTimeout = positive('headersTimeoutMs', options.headersTimeoutMs, DEFAULTS.headersTimeoutMs);
    const requestTimeout = Math.max(headersTimeout, positive('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs));
    this.server = http.createServer(
      {
        maxHeaderSize: positive('maxHeaderSize', options.maxHeaderSize, DEFAULTS.maxHeaderSize),
        headersTimeout,
        requestTimeout,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        connectionsCheckingInterval: DEADLINE_CHECK_MS,
        // Health checkers often send HTTP/1.1 without a Host; nothing here depends on it.
        requireHostHeader: false,
      },
      (req, res) => this.handle(req, res),
    );
    // Not server.maxConnections: it closes the newest connection, so whoever holds every slot with
    // slow heads (from enough addresses) keeps the balancer's check out; admit() evicts instead.
    this.maxConnections = positive('maxConnections', options.maxConnections, DEFAULTS.maxConnections);
    this.server.maxRequestsPerSocket = 100;
    const perAddress = positive('maxConnectionsPerAddress', options.maxConnectionsPerAddress, DEFAULTS.maxConnectionsPerAddress);
    this.server.on('connection', (socket: Socket) => this.admit(socket, perAddress));
    this.server.on('clientError', (err, socket) => this.clientError(err, socket as Socket));
    this.server.on('listening', () => {
      if (this.measureLag && this.lag === null) this.lag = new EventLoopLag();
      this.emit('listening');
    });
    this.server.on('error', (err) => this.emit('error', err));
    this.server.on('close', () => {
      this.lag?.stop();
      this.lag = null;
      this.emit('close');
    });
  }

  listen(portOrOptions: number | ListenOptions, hostOrCb?: string | (() => void), cb?: () => void): this {
    const { options: opts, callback } = listenArgs(portOrOptions, hostOrCb, cb);
    if (callback) this.once('listening', callback);
    this.server.listen(opts);
    return this;
  }

  close(callback?: (err?: Error) => void): this {
    this.server.close((err) => callback?.(err));
    this.server.closeAllConnections();
    return this;
  }

  address(): AddressInfo | string | null {
    return this.server.address();
  }

  setDraining(draining = true): void {
    this.drainingFlag = draining;
  }

  health(): HealthState {
    if (this.drainingFlag) return 'draining';
    return this.relays.some((r) => r.source.metrics().draining) ? 'draining' : 'ready';
  }

  render(): string {
    const relays = this.relays.map((r) => ({ name: r.name, metrics: r.source.metrics() }));
    const draining = this.drainingFlag || relays.some((r) => r.metrics.draining);
    return formatPrometheusMetrics({ relays, draining, ...(this.lag ? { eventLoopLag: this.lag.sample() } : {}) });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const entry = this.open.get(req.socket as Socket);
    if (entry) {
      entry.answering++;
      res.once('close', () => entry.answering--);
    }
    // A body is never read: a request that has one ends its connection after the answer.
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) res.shouldKeepAlive = false;
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.shouldKeepAlive = false;
      return this.reply(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    }
    const url = req.url ?? '';
    const path = url.split('?', 1)[0];
    if (path === '/metrics') {
      let text: string;
      try {
        text = this.render();
      } catch (err) {
        // A relay's metrics() should not throw; if one does, say so rather than drop the connection.
        return this.reply(res, 500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      return this.reply(res, 200, text, { 'content-type': PROMETHEUS_CONTENT_TYPE });
    }
    if (path === '/healthz') {
      const state = this.health();
      return this.reply(res, state === 'ready' ? 200 : 503, `${state}\n`);
    }
    res.shouldKeepAlive = false;
    return this.reply(res, 404, 'not found (try /metrics or /healthz)\n');
  }

  private reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  }

  /**
   * Count a connection against its address's share (over it, the connection goes at once), then
   * against the total: a full server makes room by closing its oldest connection that is not
   * being answered, so that connections held open with slow heads, from however many addresses,
   * cannot keep a fresh health check out; they only push each other out.
   */
  private admit(socket: Socket, limit: number): void {
    const who = socket.remoteAddress ?? '';
    const mine = this.perAddress.get(who) ?? 0;
    if (mine >= limit) {
      socket.destroy();
      return;
    }
    if (this.open.size >= this.maxConnections) {
      let oldest: Socket | null = null;
      for (const [s, e] of this.open) {
        if (e.answering === 0) {
          oldest = s;
          break;
        }
      }
      if (oldest === null) {
        socket.destroy();
        return;
      }
      this.forget(oldest);
      oldest.destroy();
    }
    // Re-read: the connection evicted may have been this address's own.
    this.perAddress.set(who, (this.perAddress.get(who) ?? 0) + 1);
    this.open.set(socket, { who, answering: 0 });
    socket.once('close', () => this.forget(socket));
  }

  /** A connection no longer counts (closed, or evicted and about to close); safe to call twice. */
  private forget(socket: Socket): void {
    const entry = this.open.get(socket);
    if (!entry) return;
    this.open.delete(socket);
    const who = entry.who;
    const n = (this.perAddress.get(who) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(who);
    else this.perAddress.set(who, n);
  }

  /** A malformed, oversized or too slow request head: a short answer if the socket still takes one, then it goes. */
  private clientError(err: Error & { code?: string }, socket: Socket): void {
    if (!socket.writable || (err.code === 'ECONNRESET')) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    socket.destroySoon();
  }
}
