/**
 * openDataChannel: one data channel carried with sockets, for users of the translator on its own
 * (createFtpTranslatorStreams, an AlgTranslator in a proxy of their own) who get a
 * DataChannelRequest and must answer with an endpoint to announce. It is the relay's own data
 * path (data-sockets.ts: a listener that keeps only the expected peer, the connection onwards,
 * the splice with backpressure, FIN and reset passed on, exact byte counts), decided for one
 * channel by the relay's own plan (core/relay/plan.ts: the listener faces the peer that
 * connects), without a relay session around it.
 */

import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import {
  endpoint,
  NatAlgError,
  sameAddress,
  type DataByteCounts,
  type DataChannelRequest,
  type Endpoint,
} from '../core/index.js';
import { planDataChannel, type ChannelPlan } from '../core/relay/plan.js';
import { DEFAULT_RELAY_TIMEOUTS } from '../core/relay/types.js';
import { DataSockets, type DataChannelDecider } from './data-sockets.js';

/** DataSockets numbers channels; this one has only one. */
const ID = 1;

export interface DataChannelOptions {
  /** The gateway's own address on the client's control connection (`clientSocket.localAddress`). */
  readonly clientLocal: string;
  /** The gateway's own address on the server's control connection (`serverSocket.localAddress`). */
  readonly serverLocal: string;
  /** Announced to the client instead of `clientLocal` when its family is the line's (a gateway behind another NAT). */
  readonly publicAddress?: string;
  /** Announced to the server's side instead of `serverLocal` when its family is the line's. */
  readonly upstreamPublicAddress?: string;
  /** Port to listen on. Default 0: any free port. */
  readonly port?: number;
  /** How long the listener waits for its peer. Default: the request's `timeoutMs`, else 30000. */
  readonly listenTimeoutMs?: number;
  /** The gateway's own connection onwards must be up within this. Default 10000. */
  readonly connectTimeoutMs?: number;
}

export interface DataChannelRejectedEvent {
  /** Who connected, the listener they reached, and the only address it accepts. */
  readonly peer: Endpoint;
  readonly local: Endpoint;
  readonly expected: string;
}

export interface DataChannelOpenEvent {
  /** The peer that connected to the listener, and where the gateway connected to. */
  readonly peer: Endpoint;
  readonly target: Endpoint;
}

export interface DataChannelCloseEvent {
  /** `transfer complete`, a socket error code, `no connection within … ms`, `closed`, … */
  readonly reason: string;
  /** Bytes delivered each way (0 and 0 when no transfer ran). */
  readonly bytes: DataByteCounts;
  /** The peer that connected, or null when nobody did. */
  readonly peer: Endpoint | null;
}

export interface DataChannelEvents {
  /** Someone other than the expected peer connected: reset (data-port theft). The listener waits on. */
  rejected: [DataChannelRejectedEvent];
  /** The peer is in and the gateway's connection onwards is up: bytes flow. */
  open: [DataChannelOpenEvent];
  /** Once, when the channel is over (with or without a transfer). */
  close: [DataChannelCloseEvent];
}

/** One data channel: listening from the moment openDataChannel resolves. */
export interface DataChannel extends EventEmitter<DataChannelEvents> {
  /** The endpoint to write into the line: return it from `resolveDataChannel`. */
  readonly endpoint: Endpoint;
  /** Where the listener is bound. */
  readonly local: Endpoint;
  /** What was decided: who may connect, where the gateway connects onwards, from which address. */
  readonly plan: ChannelPlan;
  /**
   * `listening` (waiting for the peer), `connecting` (the peer is in, the connection onwards is
   * being made), `open` (bytes flow), `closed`.
   */
  readonly state: DataChannelState;
  /** Resolves after the `close` event, once every socket of the channel is closed. Never rejects. */
  readonly closed: Promise<DataChannelCloseEvent>;
  /** End it now (the translator released the request, the control connection ended): a running transfer is cut. */
  close(): void;
}

/**
 * Listen for the request's peer and carry its one connection to `request.target`. Resolves once
 * listening (announce `channel.endpoint`); rejects when no listener can be had (`EADDRINUSE`,
 * ...) or, with NatAlgError `invalid-argument`, when the addresses given cannot serve the
 * request (no address of the line's family on that side). Only `request.acceptFrom` may connect
 * (any peer when it is null); others are reset and reported. One connection per channel.
 */
export function openDataChannel(request: DataChannelRequest, options: DataChannelOptions): Promise<DataChannel> {
  let plan: ChannelPlan | string;
  let port: number;
  try {
    port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NatAlgError('invalid-argument', `port must be 0-65535, got ${port}`);
    for (const key of ['listenTimeoutMs', 'connectTimeoutMs'] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new NatAlgError('invalid-argument', `${key} must be a positive number, got ${v}`);
    }
    plan = planDataChannel(request, {
      clientLocal: endpoint(options.clientLocal, 0).address,
      serverLocal: endpoint(options.serverLocal, 0).address,
      ...(options.publicAddress !== undefined ? { publicAddress: endpoint(options.publicAddress, 0).address } : {}),
      ...(options.upstreamPublicAddress !== undefined ? { upstreamPublicAddress: endpoint(options.upstreamPublicAddress, 0).address } : {}),
    });
  } catch (err) {
    return Promise.reject(err);
  }
  if (typeof plan === 'string') return Promise.reject(new NatAlgError('invalid-argument', `cannot serve the request: ${plan}`));
  const listenTimeoutMs = options.listenTimeoutMs ?? request.timeoutMs ?? DEFAULT_RELAY_TIMEOUTS.dataListenTimeoutMs; // the relay's: RFC 6384 asks for >= 30 s
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_RELAY_TIMEOUTS.upstreamConnectTimeoutMs;
  const validPlan = plan;
  return new Promise((resolve, reject) => {
    new SocketDataChannel(validPlan, port, listenTimeoutMs, connectTimeoutMs, resolve, reject);
  });
}

export type DataChannelState = 'listening' | 'connecting' | 'open' | 'closed';

/** Before the listener is bound: openDataChannel has not resolved yet. */
type State = 'binding' | DataChannelState;

const NO_BYTES: DataByteCounts = { toClient: 0, toServer: 0 };

class SocketDataChannel extends EventEmitter<DataChannelEvents> implements DataChannel, DataChannelDecider {
  readonly plan: ChannelPlan;
  readonly closed: Promise<DataChannelCloseEvent>;
  private readonly sockets: DataSockets;
  private readonly connectTimeoutMs: number;
  private readonly listenTimeoutMs: number;
  private readonly resolveOpen: (channel: DataChannel) => void;
  private readonly rejectOpen: (err: Error) => void;
  private resolveClosed!: (e: DataChannelCloseEvent) => void;
  private current: State = 'binding';
  private bound: Endpoint | null = null;
  private peer: Endpoint | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Sockets and the listener not yet closed. */
  private handles = 0;
  private result: DataChannelCloseEvent | null = null;
  /** Work asked for while a socket event is being handled, done right after it (as the relay's actions). */
  private readonly pending: Array<() => void> = [];
  private stepping = false;
  /** Why the channel is being ended by us, for the count the splice reports on the way out. */
  private ending: string | null = null;

  constructor(
    plan: ChannelPlan,
    port: number,
    listenTimeoutMs: number,
    connectTimeoutMs: number,
    resolve: (channel: DataChannel) => void,
    reject: (err: Error) => void,
  ) {
    super();
    this.plan = plan;
    this.listenTimeoutMs = listenTimeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.resolveOpen = resolve;
    this.rejectOpen = reject;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.sockets = new DataSockets({
      session: this,
      handles: {
        socketOpened: (s) => this.count(s),
        listenerOpened: (srv) => this.countListener(srv),
      },
      step: (fn) => this.step(fn),
      adopt: (s) => this.count(s),
    });
    this.step(() => this.sockets.listen(ID, plan.listenSide, endpoint(plan.bindAddress, port)));
  }

  get state(): DataChannelState {
    return this.current === 'binding' ? 'listening' : this.current;
  }

  get endpoint(): Endpoint {
    return endpoint(this.plan.advertiseAddress, this.local.port);
  }

  get local(): Endpoint {
    if (!this.bound) throw new NatAlgError('invalid-state', 'the channel is not listening yet');
    return this.bound;
  }

  close(): void {
    this.step(() => this.end('closed'));
  }

  // ---- what the sockets report (DataChannelDecider) -----------------------------------------

  handleDataListening(_id: number, local: Endpoint): void {
    if (this.current !== 'binding') return;
    this.current = 'listening';
    this.bound = local;
    this.arm(this.listenTimeoutMs, `no connection within ${this.listenTimeoutMs} ms`);
    this.resolveOpen(this);
  }

  handleDataListenFailed(_id: number, reason: string): void {
    if (this.current !== 'binding') return;
    this.current = 'closed';
    this.rejectOpen(Object.assign(new Error(`cannot listen on ${this.plan.bindAddress}: ${reason}`), { code: reason }));
    this.finish({ reason: `listen failed: ${reason}`, bytes: NO_BYTES, peer: null });
  }

  handleDataIncoming(_id: number, remote: Endpoint): boolean {
    if (this.current !== 'listening') return false;
    const expected = this.plan.expectedPeer;
    if (expected !== null && !sameAddress(remote.address, expected)) {
      this.emit('rejected', { peer: remote, local: this.bound!, expected });
      return false;
    }
    this.current = 'connecting';
    this.peer = remote;
    this.arm(this.connectTimeoutMs, `connection to ${this.plan.connectTarget.address} not up within ${this.connectTimeoutMs} ms`);
    this.pending.push(() => {
      this.sockets.closeListener(ID);
      this.sockets.connect(ID, this.plan.connectTarget, this.plan.connectFrom);
    });
    return true;
  }

  handleDataConnected(): void {
    if (this.current !== 'connecting') return;
    this.current = 'open';
    this.disarm();
    this.pending.push(() => this.sockets.splice(ID));
    this.emit('open', { peer: this.peer!, target: this.plan.connectTarget });
  }

  handleDataConnectFailed(_id: number, reason: string): void {
    if (this.current !== 'connecting') return;
    this.end(`connect failed: ${reason}`);
  }

  handleDataClosed(_id: number, bytes: DataByteCounts, reason: string): void {
    this.current = 'closed';
    this.finish({ reason: this.ending ?? reason, bytes, peer: this.peer });
  }

  // ---- inside ---------------------------------------------------------------------------------

  /** Ends the channel; a spliced one reports its counts (handleDataClosed) from destroy(). */
  private end(reason: string): void {
    if (this.current === 'closed' || this.result !== null) return;
    const spliced = this.current === 'open';
    this.current = 'closed';
    this.ending = reason;
    this.sockets.destroy(ID);
    if (!spliced) this.finish({ reason, bytes: NO_BYTES, peer: this.peer });
  }

  private finish(result: DataChannelCloseEvent): void {
    if (this.result !== null) return;
    this.result = result;
    this.disarm();
    this.emit('close', result);
    this.settle();
  }

  private settle(): void {
    if (this.result !== null && this.handles === 0) this.resolveClosed(this.result);
  }

  private step(fn: () => void): void {
    if (this.stepping) {
      fn();
      return;
    }
    this.stepping = true;
    try {
      fn();
      for (let next = this.pending.shift(); next; next = this.pending.shift()) next();
    } finally {
      this.stepping = false;
    }
  }

  private arm(ms: number, reason: string): void {
    this.disarm();
    this.timer = setTimeout(() => this.step(() => this.end(reason)), ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private count(socket: net.Socket): void {
    this.handles++;
    socket.once('close', () => {
      this.handles--;
      this.settle();
    });
  }

  private countListener(srv: net.Server): void {
    this.handles++;
    let done = false;
    const gone = (): void => {
      if (done) return;
      done = true;
      this.handles--;
      this.settle();
    };
    srv.once('close', gone);
    srv.once('error', () => (srv.listening ? undefined : gone()));
  }
}
