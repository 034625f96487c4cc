/**
 * Public types of the IRC DCC translator: its options, its policy with defaults, and why it
 * refuses a line. Its events are the ALG contract's (alg/contract.ts `AlgEvent`): IRC adds none.
 */

import type { AlgEvent, GatewaySide } from '../alg/contract.js';

/**
 * Longest line held, line end included: the IRCv3 tags section (at most 8191 bytes with its `@`
 * and the space after it) plus a message of 512 bytes with its CR LF (RFC 1459/2812). A line
 * longer than that is no IRC a server or client should send.
 */
export const DEFAULT_IRC_MAX_LINE_LENGTH = 8191 + 512;

export interface IrcPolicy {
  /**
   * Offers from the client may name another host than the client (never loopback, unspecified,
   * multicast, link-local or the gateway). Default false: an offer must name the client itself.
   */
  readonly allowForeignDccAddress: boolean;
  /** Offers may name ports below 1024. Default false. */
  readonly allowLowDccPorts: boolean;
  /** Longest line held, line end included (512-65536). Default DEFAULT_IRC_MAX_LINE_LENGTH. */
  readonly maxLineLength: number;
  /**
   * A longer line: dropped to its end with a NOTICE to the client (`refuse`), or the connection
   * closed with an ERROR line (`close`). Default `refuse`.
   */
  readonly overlongLine: 'refuse' | 'close';
  /** Bytes of over-long lines dropped per connection before it is closed. Default 65536. */
  readonly maxDiscardedBytes: number;
  /** A line must be complete within this long of its first byte, else ERROR and close. Default 30000. */
  readonly lineTimeoutMs: number;
  /**
   * Offers with a data channel waiting for their peer at once, per connection (1-256): a newer
   * offer retires the oldest. Also the most offers one line may carry. Default 16.
   */
  readonly maxWaitingOffers: number;
  /**
   * How long the gateway keeps an offer's data channel open for the peer (ms). A person accepts
   * an offer by hand: clients wait about five minutes (irssi's dcc_timeout). Default 300000.
   */
  readonly offerTimeoutMs: number;
  /** The sender of the gateway's NOTICEs (a server-like name, no spaces). Default `nat-alg`. */
  readonly noticeSender: string;
}

export const DEFAULT_IRC_POLICY: IrcPolicy = Object.freeze({
  allowForeignDccAddress: false,
  allowLowDccPorts: false,
  maxLineLength: DEFAULT_IRC_MAX_LINE_LENGTH,
  overlongLine: 'refuse',
  maxDiscardedBytes: 65536,
  lineTimeoutMs: 30_000,
  maxWaitingOffers: 16,
  offerTimeoutMs: 300_000,
  noticeSender: 'nat-alg',
});

export interface IrcTranslatorOptions {
  /** The client's address as the gateway sees it (offers from the client must name it). */
  readonly clientAddress: string;
  /** The server's address as the gateway reached it. */
  readonly serverAddress: string;
  /**
   * The gateway's own addresses (alg/contract.ts AlgContext.gateway): offers from outside may
   * not name them, and a passive offer from the client gets the announced server-side address.
   */
  readonly gateway?: { readonly client: GatewaySide; readonly server: GatewaySide };
  readonly policy?: Partial<IrcPolicy>;
}

/**
 * Why a line was refused (`command-refused` events carry it as `reason`).
 * - `foreign-address`: an offer from the client names another host than the client.
 * - `forbidden-address`: an offer from outside names an address the gateway never connects to
 *   (loopback, unspecified, multicast, link-local, broadcast, reserved, the gateway itself).
 * - `low-port`: an offer names a port below 1024 (or port 0 without a passive token).
 * - `unreadable-offer`: a `DCC` in the line that the strict reader cannot read as an offer in a
 *   PRIVMSG or NOTICE text (bad numbers, a tab, NUL or CR, a DCC outside the text, ...).
 * - `ambiguous-offer`: a filename that a lenient client could split into another endpoint.
 * - `unsupported-dcc`: a DCC verb the gateway does not translate (XMIT, VOICE, RSEND, ...).
 * - `too-many-offers`: more offers in one line than maxWaitingOffers.
 * - `mapping-refused`: the embedding refused the data channel (no port, no address of the family).
 * - `line-too-long`: a line longer than maxLineLength, dropped.
 * - `starttls`: STARTTLS, answered 691 by the gateway (it must read the connection to translate).
 */
export type IrcRefusalReason =
  | 'foreign-address'
  | 'forbidden-address'
  | 'low-port'
  | 'unreadable-offer'
  | 'ambiguous-offer'
  | 'unsupported-dcc'
  | 'too-many-offers'
  | 'mapping-refused'
  | 'line-too-long'
  | 'bare-cr'
  | 'starttls';

/** The IRC translator's events: the contract's, nothing more. */
export type IrcEvent = AlgEvent;
