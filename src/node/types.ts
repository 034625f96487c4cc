/**
 * Public API of the node:net relays (`nat-alg/node`): options, events, log entries. The session
 * logic is the core's `RelaySession` with an ALG module (FTP, IRC); this package only moves
 * bytes for it.
 */

import type { EventEmitter } from 'node:events';
import type { DataPlane } from './data-plane.js';
import type { AddressInfo, Socket } from 'node:net';
import type {
  AlgModule,
  DataByteCounts,
  DataChannelMode,
  DataPortSource,
  Direction,
  Endpoint,
  FtpPolicy,
  IrcPolicy,
  SessionByteCounts,
} from '../core/index.js';

/** What every relay takes, whatever its ALG. */
export interface RelayProxyOptions {
  /** The server every client is relayed to. `host` may be an address or a name. */
  readonly upstream: { readonly host: string; readonly port: number };
  /**
   * Address written into lines read by the client (FTP's 227/229) instead of the relay's own
   * local address, for a relay behind another NAT (a container, a cloud instance with a private
   * address).
   */
  readonly publicAddress?: string;
  /**
   * Address written into lines read by the server's side (FTP's PORT, an IRC DCC offer) instead
   * of the relay's own address on its upstream connection, for a relay whose upstream side is
   * behind another NAT.
   */
  readonly upstreamPublicAddress?: string;
  /** Data listener ports are taken from this range. Default: any free port the system gives. */
  readonly dataPorts?: { readonly min: number; readonly max: number } | DataPortSource;
  /** Sessions at once; beyond it a client gets `421 Too many connections`. Default 1000. */
  readonly maxSessions?: number;
  /**
   * Sessions at once per client: per IPv4 address, per IPv6 block (below). Default 32, so that
   * 16 addresses cannot hold every one of the default 1000 sessions (16 x 32 = 512).
   */
  readonly maxSessionsPerClient?: number;
  /**
   * Of those, sessions not logged in yet (no 230 from the server, no TLS). Default 8: a client
   * that connects and never logs in, or trickles its login, holds few slots, and each only for
   * `loginTimeoutMs`.
   */
  readonly maxUnauthenticatedPerClient?: number;
  /**
   * IPv6 clients are counted per block of this many leading bits: a host usually owns a whole
   * /64 and could otherwise open its sessions from as many addresses. 128 counts each address.
   * Default 64.
   */
  readonly clientPrefixLength6?: number;
  /**
   * Data listeners waiting for their peer (a PASV/EPSV/PORT/EPRT not yet connected to) per client,
   * over all its sessions: without it one address could open session after session, each with
   * `policy.maxPendingDataChannels` waiting, and take every port of the shared `dataPorts` range.
   * Over it the data command gets `425 Cannot open data connection (too many data connections
   * waiting from your address).`, a `data-limit` event and a warn log entry. Default: 32, and with
   * a `dataPorts` range at most an eighth of it (at least 4): 12 for a range of 100 ports.
   */
  readonly maxPendingDataChannelsPerClient?: number;
  /** No control traffic and no transfer for this long closes a session. Default 600000 (10 min). */
  readonly idleTimeoutMs?: number;
  /** A data listener nobody connects to is closed after this long. Default 30000. */
  readonly dataListenTimeoutMs?: number;
  /** Upstream connect plus greeting, and the relay's data connections, within this. Default 10000. */
  readonly upstreamConnectTimeoutMs?: number;
  /** From a client's connection to its login, at most this long, else `421`. Default 60000. */
  readonly loginTimeoutMs?: number;
  /** Receives one structured entry per event. Nothing is printed by the library itself. */
  readonly logger?: (entry: FtpProxyLogEntry) => void;
  /**
   * What carries the data channels (data-plane.ts). `relay` (default): sockets in this process,
   * no privileges. `nftables`: the Linux kernel's NAT, one rule per channel (needs nft,
   * CAP_NET_ADMIN and forwarding on; docs/relay.md); `createNftablesDataPlane(options)` for its
   * options; or a plane of your own. A plane that cannot start is an 'error' event from listen(),
   * and nothing listens.
   */
  readonly dataPlane?: 'relay' | 'nftables' | DataPlane;
}

/** A relay for any ALG: its module (or a built-in one's name: `'ftp'`, `'irc'`) and the module's options. */
export interface AlgProxyOptions<O = unknown> extends RelayProxyOptions {
  readonly alg: AlgModule<O> | string;
  readonly algOptions?: O;
}

/** A relay for IRC with DCC: `createIrcProxy`. */
export interface IrcProxyOptions extends RelayProxyOptions {
  readonly policy?: Partial<IrcPolicy>;
}

/** A relay for FTP: `createFtpProxy`. */
export interface FtpProxyOptions extends RelayProxyOptions {
  readonly policy?: Partial<FtpPolicy>;
  /** FTP64 (IPv6 client, IPv4 server). Default `'auto'`: on exactly when that is the case. */
  readonly ftp64?: 'auto' | boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface FtpProxyLogEntry {
  readonly level: LogLevel;
  /** The event name: 'session-open', 'data-close', 'line-translated', … */
  readonly event: string;
  readonly sessionId?: number;
  readonly [field: string]: unknown;
}

export interface SessionOpenEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
}

export interface SessionCloseEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
  readonly reason: string;
  readonly bytes: SessionByteCounts;
}

export interface SessionRefusedEvent {
  readonly client: Endpoint;
  readonly reason: string;
}

export interface DataOpenEvent {
  readonly sessionId: number;
  readonly channel: number;
  readonly mode: DataChannelMode;
  /** What asked for it: FTP's data command (`PASV`, `PORT`, ...), `DCC SEND`. */
  readonly command: string;
  /** The peer that connected to the relay's listener, and where the relay connected to. */
  readonly peer: Endpoint;
  readonly target: Endpoint;
  /** What carries the channel: `relay` (this process) or `nftables` (the kernel). */
  readonly plane: string;
}

export interface DataCloseEvent {
  readonly sessionId: number;
  readonly channel: number;
  readonly reason: string;
  /** `bytes.measure` says what was counted: payload (relay), IP packets (nftables), or unknown. */
  readonly bytes: DataByteCounts;
  readonly plane: string;
}

/** A connection to a data listener from an address other than the peer it was opened for. */
export interface DataRejectedEvent {
  readonly sessionId: number;
  readonly channel: number;
  /** Who connected, and the listener (the announced data endpoint) they reached. */
  readonly peer: Endpoint;
  readonly local: Endpoint;
  /** The only address the listener accepts. */
  readonly expected: string;
}

/** A data channel refused: the client had `limit` data listeners waiting over all its sessions. */
export interface DataLimitEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
  /** The data command refused (`PASV`, `PORT`, ...). */
  readonly command: string;
  readonly limit: number;
}

export interface CommandRefusedEvent {
  readonly sessionId: number;
  readonly command: string;
  /** The ALG's reason: for FTP a `RefusalReason`. */
  readonly reason: string;
  readonly reply: string;
}

/**
 * Where a connection handed to `handleConnection` goes. Neither: the relay's `upstream`. At most
 * one of the two.
 */
export interface HandleConnectionOptions {
  /** Dial this server instead of the relay's `upstream` (same checks: `host` non-empty, `port` 1-65535). */
  readonly upstream?: { readonly host: string; readonly port: number };
  /**
   * A connection to the server the embedder opened (connected, or still connecting): the relay
   * dials nothing. Its remote endpoint is the server the ALG's policy knows (FTP: where passive
   * data connections go). It must not have been read from (bytes read are not replayed; put them
   * back with `socket.unshift()`). One already closed or failed fails the session as a refused
   * connect would: the client gets the ALG's farewell (FTP `421`), `upstream-failed` is emitted.
   */
  readonly upstreamSocket?: Socket;
}

export interface SessionFailedEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
  /** What was thrown: a bug of the relay's, or an event listener of yours that threw. */
  readonly error: Error;
}

export interface UpstreamFailedEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
  /** Why (refused, timed out, closed before its greeting...), as said to the client. */
  readonly reason: string;
  /** The farewell line the client got (FTP: `421 ...`), or '' when the ALG has none. */
  readonly reply: string;
}

export interface ProtocolErrorEvent {
  readonly sessionId: number;
  readonly client: Endpoint;
  /** Whose bytes: `client-to-server` or `server-to-client`. */
  readonly direction: Direction;
  readonly message: string;
}

export interface FtpProxyEvents {
  listening: [];
  close: [];
  'session-open': [SessionOpenEvent];
  /** Exactly once per `session-open`, however the session ended (the core's `session-close`). */
  'session-close': [SessionCloseEvent];
  'session-refused': [SessionRefusedEvent];
  /**
   * The session was torn down by an exception while it was driven (a bug, or one of your event
   * listeners that threw): logged at error; its `session-close` follows. Other sessions go on.
   */
  'session-failed': [SessionFailedEvent];
  /** The upstream connection could not be made or lost before its greeting: the client got `reply`. */
  'upstream-failed': [UpstreamFailedEvent];
  /** The ALG found a peer's bytes malformed (an incomplete line at the end, ...): also logged at warn. */
  'protocol-error': [ProtocolErrorEvent];
  'data-open': [DataOpenEvent];
  'data-close': [DataCloseEvent];
  'command-refused': [CommandRefusedEvent];
  /** Someone else tried to take a data connection (data-port theft): refused, logged at warn. */
  'data-rejected': [DataRejectedEvent];
  /** A client over maxPendingDataChannelsPerClient: its data command got 425 (warn log, limited). */
  'data-limit': [DataLimitEvent];
  /** Server-level trouble only (the control listener failed); session trouble is in the events above. */
  error: [Error];
}

/** What is open right now, for monitoring and for leak checks in tests. */
export interface FtpProxyStats {
  readonly sessions: number;
  /** Sockets of this proxy still open: control and data, accepted and outgoing. */
  readonly sockets: number;
  /** Data listeners still open (the control listener is not counted). */
  readonly listeners: number;
  /** Sessions open that have not logged in yet. */
  readonly unauthenticated: number;
  /** Connections to data listeners refused since the start: from a peer other than the expected one. */
  readonly dataRejected: number;
  /** Data channels refused since the start because their client had maxPendingDataChannelsPerClient waiting. */
  readonly dataLimited: number;
  /** Connections refused since the start (over a session limit, or shutting down): each got a 421. */
  readonly sessionsRefused: number;
}

/** A relay of any ALG (`createAlgProxy`, `createFtpProxy`). */
export interface FtpProxy extends EventEmitter<FtpProxyEvents> {
  listen(port: number, host?: string, callback?: () => void): this;
  listen(options: { port: number; host?: string }, callback?: () => void): this;
  /** Stop accepting (like net.Server): running sessions go on; `callback` once all are gone. */
  close(callback?: (err?: Error) => void): this;
  /**
   * Stop accepting, close idle sessions with `421`, let running transfers finish for up to
   * `graceMs` (default 10000), then close whatever is left. Resolves when every socket is closed.
   */
  shutdown(options?: { graceMs?: number }): Promise<void>;
  address(): AddressInfo | string | null;
  stats(): FtpProxyStats;
  /**
   * Relay a connection the embedder accepted itself (after its own TLS sniffing, PROXY protocol,
   * access control), as if `listen()` had accepted it: the same limits, events, logs, stats and
   * shutdown. Works without `listen()`. With the default data plane nothing else is needed; with
   * another (`nftables`, your own), `await start()` first: until it has started, connections are
   * refused (`421 Service not available`, `session-refused` with reason `data plane not started`).
   * After `close()`/`shutdown()` a connection gets the ALG's farewell (`421 Service shutting
   * down`). Throws NatAlgError only for invalid arguments, before touching either socket; from
   * then on both are the relay's, and it closes them.
   */
  handleConnection(socket: Socket, options?: HandleConnectionOptions): void;
  /**
   * Start the data plane without listening (for handleConnection). `host`: the address clients
   * come to, for the families the plane serves (default both). Idempotent; rejects with the
   * plane's error (`DataPlaneUnavailableError`), or NatAlgError `invalid-state` after close/shutdown.
   * `listen()` starts it itself.
   */
  start(options?: { host?: string }): Promise<void>;
}

export type { AddressInfo };

/** The same relay, by its protocol-neutral name. */
export type AlgProxy = FtpProxy;
export type AlgProxyEvents = FtpProxyEvents;
