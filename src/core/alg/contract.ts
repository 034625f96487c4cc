/**
 * The protocol-neutral contract between an ALG (FTP, IRC DCC, ...) and what embeds it (the relay,
 * a packet-level NAT, a test). An ALG's translator sits on one control connection, sees both
 * directions of it, and rewrites the endpoints the protocol names; for each endpoint it asks the
 * embedding for a data channel (an "expectation": a connection the gateway must let through, from
 * whom, to where, for how long) and writes the endpoint it gets back into the line.
 *
 * A new ALG is a folder beside `ftp/` that implements `AlgModule` and is registered in
 * builtin.ts; nothing else needs to know it.
 */

import type { AddressFamily, Endpoint } from '../net/ip.js';
import type { Direction, StreamEdit, StreamTranslator } from '../stream/translator.js';

/**
 * Which way a data connection is opened: `active` when the peer on the server's side connects
 * (FTP's PORT/EPRT, an IRC DCC offer from the client), `passive` when the client connects (FTP's
 * PASV/EPSV, a DCC offer to the client).
 */
export type DataChannelMode = 'active' | 'passive';

/**
 * A data connection the ALG needs the gateway to carry: the peer on `connector`'s side will
 * connect to the endpoint the embedding announces; the gateway then connects to `target`.
 */
export interface DataChannelRequest {
  readonly id: number;
  /** The side whose peer will open the connection: the embedding listens facing that side. */
  readonly connector: 'client' | 'server';
  /**
   * The only address allowed to connect, or null for any peer on that side (an IRC DCC offer is
   * for a user the gateway cannot know).
   */
  readonly acceptFrom: string | null;
  /** The endpoint named in the protocol line (where the listening peer said it listens). */
  readonly original: Endpoint;
  /** Where the gateway connects once the connector is in (the ALG's decision, under its policy). */
  readonly target: Endpoint;
  /** Address family of the endpoint to announce: what the line can carry and its reader reaches. */
  readonly family: AddressFamily;
  /** One connection, then the channel is spent. */
  readonly oneShot: boolean;
  /** How long to wait for the connection, in ms; null: the embedding's own default. */
  readonly timeoutMs: number | null;
  /** What asked for it, for logs: `PASV`, `PORT`, `DCC SEND`. */
  readonly label: string;
}

/** Events every ALG reports, in the order things happened. Discriminated on `type`. */
export type AlgEvent =
  | { readonly type: 'data-channel-request'; readonly request: DataChannelRequest }
  /** The mapping is in use (the peer accepted the command, or the rewritten reply went out). */
  | { readonly type: 'data-channel-committed'; readonly id: number }
  /** The mapping is no longer wanted (the peer refused the command, the session was reset). */
  | { readonly type: 'data-channel-released'; readonly id: number; readonly reason: string }
  | {
      readonly type: 'line-translated';
      readonly direction: Direction;
      /** The command or reply code of the line. */
      readonly keyword: string;
      readonly before: string;
      readonly after: string;
      readonly edit: StreamEdit;
    }
  /** A line of a peer was refused by the gateway (not passed on); `reply` went to that peer instead. */
  | { readonly type: 'command-refused'; readonly command: string; readonly reason: string; readonly reply: string }
  /** Bytes removed from or inserted into a stream, each edit once. */
  | { readonly type: 'edit'; readonly edit: StreamEdit }
  | { readonly type: 'protocol-error'; readonly direction: Direction; readonly message: string }
  /** The client has logged in (registered), as far as the gateway can see. */
  | { readonly type: 'logged-in' }
  /** The control channel went encrypted: from here the gateway can neither read nor write it. */
  | { readonly type: 'tls-started' }
  /**
   * The encrypted channel carried application data both ways: its TLS handshake is done (as far
   * as the gateway can tell: a forged record makes the real peer close the connection). The login
   * inside it still cannot be seen.
   */
  | { readonly type: 'tls-established' }
  | { readonly type: 'tls-ended' }
  /** The translator wants the connection closed (it has told the client why, where it could). */
  | { readonly type: 'close'; readonly reason: string };

/** What an ALG's translator offers an embedding beyond the stream contract. */
export interface AlgTranslator extends StreamTranslator<AlgEvent> {
  /** Answer a data-channel request with the endpoint to announce in the line. */
  resolveDataChannel(id: number, announced: Endpoint): void;
  /** Refuse it: the translator tells the peer (or replaces the line) and goes on. */
  refuseDataChannel(id: number, reason?: string): void;
  /** The control channel is encrypted now: the gateway must not write a line of its own into it. */
  readonly opaque: boolean;
}

/** The gateway on one side of a control connection. */
export interface GatewaySide {
  /** The gateway's own address on that side's connection. */
  readonly local: string;
  /**
   * Addresses it announces to that side instead of `local` (a public address, for a gateway
   * behind another NAT); empty when it announces `local`.
   */
  readonly announced: readonly string[];
}

/** The control connection an ALG is created for, as the gateway sees it. */
export interface AlgContext {
  /** The client's endpoint. */
  readonly client: Endpoint;
  /** The server's endpoint, as the gateway reached it. */
  readonly server: Endpoint;
  /**
   * The gateway's own addresses, where the embedding knows them. An ALG needs them for two
   * things no data-channel request covers: refusing a line that would make the gateway connect
   * to itself (an IRC DCC offer from outside naming the gateway), and writing the gateway's
   * address where a line names an endpoint without asking for a connection (a passive DCC
   * offer, port 0, would otherwise carry the client's inside address out).
   */
  readonly gateway?: { readonly client: GatewaySide; readonly server: GatewaySide };
}

/** One ALG: how to make its translator, and what an embedding needs to say on its behalf. */
export interface AlgModule<Options = unknown> {
  /** Registry key and CLI command: `ftp`, `irc`. */
  readonly name: string;
  /** In messages: `FTP`, `IRC`. */
  readonly displayName: string;
  /** The well-known port of its control connections. */
  readonly defaultPort: number;
  /** Check options before any connection (throws NatAlgError naming the option). */
  validate(options: Options | undefined): void;
  /** A translator for one control connection. */
  create(context: AlgContext, options: Options | undefined): AlgTranslator;
  /** The line telling the client why the gateway closes the connection (FTP: `421 ...`), or null. */
  farewell(text: string): Uint8Array | null;
  /** Features on for this connection, for logs (FTP: `ftp64`). */
  features(context: AlgContext, options: Options | undefined): readonly string[];
  /** Data channels a connection may have waiting for their peer at once (FTP: maxPendingDataChannels). */
  maxWaitingChannels(options: Options | undefined): number;
  /**
   * Whether the server speaks first (FTP's 220 greeting; default true). An embedding that waits
   * for the server's first byte before it counts the upstream connection as up (the relay's
   * connect timeout) must not wait where the server says nothing until the client has spoken
   * (IRC: the server answers the client's NICK and USER).
   */
  readonly serverSpeaksFirst?: boolean;
}
