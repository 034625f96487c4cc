/**
 * Public types of the FTP control-channel translator: options, policy, data-channel requests and
 * events. The translator itself is in `translator.ts`; these types are the contract with the
 * embedding (a relay, a packet-level NAT, a test) and change only with care.
 */

import type { AlgEvent, DataChannelMode, DataChannelRequest } from '../alg/contract.js';

export type DataCommand = 'PORT' | 'EPRT' | 'LPRT' | 'PASV' | 'EPSV' | 'LPSV';

/**
 * The translator asks the embedding for the endpoint that replaces `original` in the line, as the
 * receiving side must see it (the ALG contract's request, alg/contract.ts, with FTP's words for
 * it). A relay binds a listener first and answers later; a pure NAT answers from its mapping table
 * at once. Answer with `resolveDataChannel` or `refuseDataChannel`.
 * - `connector` is the server for active modes, the client for passive ones; `acceptFrom` is that
 *   peer's address.
 * - `original` is the endpoint named in the line (for a 229 reply: the server's control address
 *   and the port).
 * - `target`: for active modes the client's endpoint; for passive ones the server's own address
 *   with the port from the reply, unless `allowForeignDataAddress` lets the reply name another
 *   host (never the gateway itself, loopback, a group or link-local: `namesNoRemoteHost`).
 * - `label` is `command`; FTP data channels are one-shot and take the embedding's timeout.
 */
export interface FtpDataChannelRequest extends DataChannelRequest {
  /**
   * `active`: the client named its own endpoint (PORT/EPRT/LPRT) and the server will connect to
   * it. `passive`: the server named its endpoint (227/229/228 reply to PASV/EPSV/LPSV) and the
   * client will connect to it.
   */
  readonly mode: DataChannelMode;
  /** The command that set up the channel (for passive: the client's command that was answered). */
  readonly command: DataCommand;
}

/** Why the translator refused a client command instead of forwarding it. */
export type RefusalReason =
  | 'foreign-address' // PORT/EPRT naming another host than the client (FTP bounce)
  | 'low-port' // data port below 1024
  | 'bad-syntax' // a data command whose argument does not parse
  | 'unsupported-family' // an address family the gateway cannot serve
  | 'too-many-data-channels' // maxPendingDataChannels reached
  | 'line-too-long' // longer than maxLineLength
  | 'bare-cr' // a CR inside the line not followed by LF or NUL (some servers end a command there)
  | 'mapping-refused' // the embedding refused the data-channel request
  | 'epsv-all' // PORT/PASV/EPRT/LPRT/LPSV after EPSV ALL
  | 'tls-refused' // AUTH under policy tls: 'refuse'
  | 'local-command'; // answered by the gateway itself (FTP64: EPSV ALL, ALGS)

export interface FtpPolicy {
  /** Allow PORT/EPRT/LPRT naming an address other than the client's own. Default false (bounce). */
  readonly allowForeignDataAddress: boolean;
  /** Allow data ports below 1024 (in commands and in passive replies). Default false. */
  readonly allowLowDataPorts: boolean;
  /**
   * Longest line, line end included, that the translator will hold. Default 2048: pyftpdlib
   * answers a line longer than its 2048-byte buffer with a 500 and runs the rest of it as a new
   * command, so a longer line could carry a command the gateway never saw.
   */
  readonly maxLineLength: number;
  /** What to do with a longer line: refuse the command (client side) / replace the reply, or close. */
  readonly overlongLine: 'refuse' | 'close';
  /** Data-channel requests outstanding (asked and not yet committed or released). Default 8. */
  readonly maxPendingDataChannels: number;
  /**
   * A line (or, inside TLS, a record) must be complete within this many ms of its first byte,
   * else the translator gives up on the connection (`421`, then `close`), like a web server's
   * header timeout: a peer trickling a byte every few seconds cannot hold a session. Default
   * 30000. Only lines that have started count: a quiet connection is the embedding's idle timer's.
   */
  readonly lineTimeoutMs: number;
  /**
   * Bytes of over-long lines dropped (policy `refuse`) over the whole connection before the
   * translator gives up on it (`421`, then `close`): an endless line costs a bounded amount of
   * work. Default 65536.
   */
  readonly maxDiscardedBytes: number;
  /**
   * `AUTH` (TLS on the control channel, RFC 4217). `'pass'` (default): forwarded; once the server
   * answers 234 the control channel is encrypted and nothing in it can be translated any more, so
   * data channels work only where client and server reach each other directly (the translator
   * reports `tls-started`). `'refuse'`: answered `534` by the gateway and not forwarded, so a
   * client that may go without TLS stays in plain text and its data channels are translated.
   */
  readonly tls: 'pass' | 'refuse';
}

export const DEFAULT_FTP_POLICY: FtpPolicy = Object.freeze({
  allowForeignDataAddress: false,
  allowLowDataPorts: false,
  maxLineLength: 2048,
  overlongLine: 'refuse',
  maxPendingDataChannels: 8,
  lineTimeoutMs: 30_000,
  maxDiscardedBytes: 65_536,
  tls: 'pass',
});

export interface FtpTranslatorOptions {
  /** The client's address as the gateway sees it (for the bounce check and EPRT/EPSV replies). */
  readonly clientAddress: string;
  /** The server's address as the gateway sees it (a 229 reply names only a port: this is the host). */
  readonly serverAddress: string;
  /**
   * FTP64 (RFC 6384): an IPv6 client and an IPv4 server. EPSV becomes PASV and its 227 answer a
   * 229, EPRT becomes PORT, EPSV ALL is answered 504 and ALGS by the gateway. Default false.
   */
  readonly ftp64?: boolean;
  readonly policy?: Partial<FtpPolicy>;
}

/**
 * Events, in the order things happened: the ALG contract's (alg/contract.ts), with FTP's request
 * and refusal reasons. Discriminated on `type`.
 * - `data-channel-committed`: the server accepted the PORT/EPRT (2xx), or the passive reply was
 *   sent on: the mapping is in use. `data-channel-released`: the server refused the command, a
 *   REIN, the server's stream ended.
 * - `line-translated`: `keyword` is the verb (upper case) or the reply code of the line.
 * - `command-refused`: `reply` is the line (without CRLF) the client gets instead.
 * - `edit`: every byte removed or inserted, each edit once, including those of the events above.
 * - `logged-in`: a final 230 or 232 (seen only while the channel is in plain text).
 * - `tls-started` / `tls-ended`: AUTH TLS answered 234 / both directions back to plain text (CCC).
 *   `tls-established`: in between, the first application-data record has gone each way (the TLS
 *   handshake is over; the login, if any, is inside and unseen).
 * - `close`: the translator wants the connection closed (policy `overlongLine: 'close'`, hostile
 *   input, the line timeout); it has told the client with a 421 where it could.
 */
export type FtpEvent =
  | { readonly type: 'data-channel-request'; readonly request: FtpDataChannelRequest }
  | { readonly type: 'command-refused'; readonly command: string; readonly reason: RefusalReason; readonly reply: string }
  | Exclude<AlgEvent, { readonly type: 'data-channel-request' } | { readonly type: 'command-refused' }>;
