/**
 * Public types of the sans-I/O relay session: its options, the actions it asks the embedding to
 * carry out, and the events it reports. The session relays one control connection of any ALG
 * (alg/contract.ts: FTP, IRC DCC); these types are the contract between it and any transport that
 * drives it (node:net in `nat-alg/node`, a userspace TCP stack, a test).
 */

import type { Endpoint } from '../net/ip.js';
import type { Direction } from '../stream/translator.js';
import type { AlgEvent, AlgModule, DataChannelMode, DataChannelRequest } from '../alg/contract.js';
import type { ChannelPlan } from './plan.js';
import type { FtpAlgOptions } from '../ftp/module.js';
import type { DataPortSource } from './ports.js';
import type { WaitingChannelBudget } from './client-budget.js';

/** The two peers of a relay session: the client and the upstream server. */
export type Side = 'client' | 'server';


export interface RelayTimeouts {
  /** No control byte either way and no data connection open for this long: `421`, close. */
  readonly idleTimeoutMs: number;
  /** A data listener that no (acceptable) peer connected to within this long is closed. */
  readonly dataListenTimeoutMs: number;
  /** Upstream connect plus its greeting must take at most this long, else `421` to the client. */
  readonly upstreamConnectTimeoutMs: number;
  /**
   * From the client's connection to its login (the server's 230): at most this long, else `421`
   * and close. A client that never logs in cannot hold a session slot for longer than this. When
   * TLS starts first (the login is then invisible), the deadline holds until the TLS handshake is
   * over (application data both ways); the session still never counts as logged in.
   */
  readonly loginTimeoutMs: number;
}

export const DEFAULT_RELAY_TIMEOUTS: RelayTimeouts = Object.freeze({
  idleTimeoutMs: 600_000,
  // RFC 6384 asks an FTP ALG to keep a data mapping at least 30 s.
  dataListenTimeoutMs: 30_000,
  upstreamConnectTimeoutMs: 10_000,
  loginTimeoutMs: 60_000,
});

/** An address the relay announces instead of its own: one, or at most one per family. */
export type AnnouncedAddress = string | readonly string[];

/** Where and how one control connection is relayed, whatever its ALG. */
export interface RelayBaseOptions extends Partial<RelayTimeouts> {
  /** The client's endpoint as the relay sees it (remote end of the accepted control connection). */
  readonly client: Endpoint;
  /** The relay's own endpoint of the accepted control connection (where the client reached it). */
  readonly clientLocal: Endpoint;
  /** Where the upstream server is; `host` is whatever the embedding can connect to. */
  readonly upstream: { readonly host: string; readonly port: number };
  /**
   * Address announced to clients (FTP passive replies) instead of `clientLocal.address`, for a
   * relay that sits behind another NAT (a container, a cloud instance). One address, or one per
   * family (`['203.0.113.10', '2001:db8::10']`): a line gets the one of its family, if any.
   */
  readonly publicAddress?: AnnouncedAddress;
  /**
   * Address announced to the server's side (FTP PORT, an IRC DCC offer) instead of the relay's own
   * address on the upstream connection, for a relay whose upstream side is behind another NAT.
   * One address, or one per family, like `publicAddress`.
   */
  readonly upstreamPublicAddress?: AnnouncedAddress;
  /** Ports for data listeners. Without one, listeners ask for port 0 (any free port). */
  readonly dataPorts?: DataPortSource;
  /**
   * The client's budget of data listeners waiting for their peer, shared by all its sessions
   * (ClientWaitingBudgets.forSession). Over it, a data command is refused (FTP: `425`) and a
   * `data-limit` event is reported. Without one, only the per-session cap applies.
   */
  readonly waitingChannelBudget?: WaitingChannelBudget;
}

/** A relay session for any ALG: the module and its options. */
export interface RelaySessionOptions<O = unknown> extends RelayBaseOptions {
  readonly alg: AlgModule<O>;
  readonly algOptions?: O;
}

/** A relay session for FTP: the FTP module's options (policy, FTP64, a translator of your own) inline. */
export interface FtpRelaySessionOptions extends RelayBaseOptions, FtpAlgOptions {}

/**
 * What the embedding must do, in order. Data channels are numbered by the session (`channel`);
 * each has at most one listener, one accepted connection (on `listenSide`) and one outgoing
 * connection (on the other side).
 */
export type RelayAction =
  /** Open the upstream control connection; answer with handleUpstreamConnected/-Failed. */
  | { readonly type: 'connect-upstream'; readonly host: string; readonly port: number }
  /** Write these bytes on the control connection of `side` (they may alias input: write now). */
  | { readonly type: 'write'; readonly side: Side; readonly bytes: Uint8Array }
  /** Half-close (FIN) the control connection of `side` once its pending writes are out. */
  | { readonly type: 'end'; readonly side: Side }
  /** Stop / start reading the control connection of `side`. The client side starts paused. */
  | { readonly type: 'pause'; readonly side: Side }
  | { readonly type: 'resume'; readonly side: Side }
  /**
   * Open a data listener facing `side` on `local` (port 0: any free port); answer with
   * handleDataListening or handleDataListenFailed. Hold accepted connections unread until `splice`.
   * `request` and `plan` say the rest of what the session decided (who may connect, where the
   * relay connects next, from which address) and `timeoutMs` how long the listener waits: an
   * embedding that carries the channel by other means than two sockets (a kernel NAT rule) needs
   * all of it before anyone connects.
   */
  | {
      readonly type: 'listen';
      readonly channel: number;
      readonly side: Side;
      readonly local: Endpoint;
      readonly request: DataChannelRequest;
      readonly plan: ChannelPlan;
      readonly timeoutMs: number;
    }
  | { readonly type: 'close-listener'; readonly channel: number }
  /** Connect to `target` on `side`, from `localAddress`; answer with handleDataConnected/-ConnectFailed. */
  | {
      readonly type: 'connect-data';
      readonly channel: number;
      readonly side: Side;
      readonly target: Endpoint;
      readonly localAddress: string;
    }
  /**
   * Join the channel's two connections both ways with backpressure; propagate FIN as FIN and a
   * reset as a reset; report handleDataClosed when both are gone.
   */
  | { readonly type: 'splice'; readonly channel: number }
  /**
   * Destroy every socket and listener of the channel. For a channel that was spliced, then report
   * the bytes it moved with handleDataClosed (its `data-close` event waits for them).
   */
  | { readonly type: 'close-data'; readonly channel: number; readonly reason: string }
  /**
   * Close the whole session. `graceful`: end both control connections after their pending writes
   * (a final `421` may be among them); otherwise destroy them. Data channels each get their own
   * `close-data` first.
   */
  | { readonly type: 'close'; readonly reason: string; readonly graceful: boolean };

/** Bytes per data channel, as reported by the embedding when the channel closes. */
export interface DataByteCounts {
  readonly toClient: number;
  readonly toServer: number;
  /**
   * What was counted: `payload` (the bytes of the transfer, as a relay moving them sees them; the
   * meaning when absent), `ip` (whole IP packets, headers included, as a kernel data plane's
   * counters see them: a little more than the payload), or `unknown` (nothing could be counted;
   * both numbers are 0).
   */
  readonly measure?: 'payload' | 'ip' | 'unknown';
}

export interface SessionByteCounts {
  /** Control bytes received from the client / server, and written to each. */
  readonly controlFromClient: number;
  readonly controlFromServer: number;
  readonly controlToClient: number;
  readonly controlToServer: number;
  /** Data bytes over all channels, as reported by the embedding. */
  readonly dataToClient: number;
  readonly dataToServer: number;
  readonly dataChannels: number;
}

/** What happened, for logs and counters. Discriminated on `type`. */
export type RelayEvent =
  /** `features`: what the ALG turned on for this connection (FTP: `ftp64`). */
  | { readonly type: 'upstream-connected'; readonly local: Endpoint; readonly remote: Endpoint; readonly features: readonly string[] }
  | { readonly type: 'upstream-failed'; readonly reason: string; readonly reply: string }
  | {
      readonly type: 'data-listening';
      readonly channel: number;
      readonly mode: DataChannelMode;
      /** What asked for it (the request's label: FTP's data command, `DCC SEND`). */
      readonly command: string;
      readonly side: Side;
      /** Where the listener is bound, and the endpoint written in the line. */
      readonly local: Endpoint;
      readonly advertised: Endpoint;
    }
  | {
      readonly type: 'data-open';
      readonly channel: number;
      readonly mode: DataChannelMode;
      readonly command: string;
      /** The peer that connected to the listener, and the endpoint the relay connected to. */
      readonly peer: Endpoint;
      readonly target: Endpoint;
    }
  | {
      readonly type: 'data-close';
      readonly channel: number;
      readonly reason: string;
      readonly bytes: DataByteCounts;
    }
  /**
   * A connection to a data listener from an address other than the expected peer: refused (a
   * third party trying to take the data connection). `local` is the listener it reached.
   */
  | { readonly type: 'data-rejected'; readonly channel: number; readonly peer: Endpoint; readonly local: Endpoint; readonly expected: string }
  /**
   * A data channel refused because the client already has `limit` listeners waiting for their
   * peer over all its sessions (`waitingChannelBudget`); the client got the ALG's refusal (FTP: 425).
   */
  | { readonly type: 'data-limit'; readonly command: string; readonly limit: number }
  /** The client logged in, as the ALG saw it (never for a login inside TLS, which cannot be seen). */
  | { readonly type: 'logged-in' }
  | {
      readonly type: 'command-refused';
      readonly command: string;
      /** The ALG's reason (FTP: a RefusalReason). */
      readonly reason: string;
      readonly reply: string;
    }
  /** Every event of the ALG's translator, as it came. */
  | { readonly type: 'alg'; readonly event: AlgEvent }
  | { readonly type: 'session-close'; readonly reason: string; readonly bytes: SessionByteCounts };

export function directionFrom(side: Side): Direction {
  return side === 'client' ? 'client-to-server' : 'server-to-client';
}

export function otherSide(side: Side): Side {
  return side === 'client' ? 'server' : 'client';
}
