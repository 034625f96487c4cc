/**
 * The protocol-neutral shape of every stream ALG in nat-alg (FTP now; IRC DCC, SIP over TCP,
 * RTSP later). One translator instance sits on one connection and sees both directions of it.
 *
 * Vocabulary (after quinn-proto): push input with `handle…(…, nowMs)`, pull output and events with
 * `poll…()`, ask `pollTimeout()` for the next deadline and call `handleTimeout(nowMs)` then. The
 * translator never performs I/O, never reads a clock, never draws random numbers.
 *
 * Invariants every implementation keeps:
 * - Chunking does not matter: for a given input stream per direction (and the same answers to its
 *   requests) the concatenated output per direction and the sequence of events are identical
 *   however the input is split into chunks.
 * - Bytes are never reordered and never lost: output is the input with edits applied, and each
 *   edit is reported as an `StreamEdit` so that a packet-level NAT can shift TCP sequence numbers.
 * - Bad input from a peer never throws; misuse of the API by the caller does (NatAlgError).
 */

/** The two directions of a connection, named from the client (the side that opened it). */
export type Direction = 'client-to-server' | 'server-to-client';

export const CLIENT_TO_SERVER: Direction = 'client-to-server';
export const SERVER_TO_CLIENT: Direction = 'server-to-client';

export function reverse(direction: Direction): Direction {
  return direction === 'client-to-server' ? 'server-to-client' : 'client-to-server';
}

/**
 * One change to one direction's byte stream. Offsets count bytes since the start of the
 * connection in that direction: `inputOffset` in the bytes received from the peer, `outputOffset`
 * in the bytes emitted towards the other peer. `inputLength` bytes there were replaced by
 * `outputLength` bytes here; an insertion (a locally generated reply) has inputLength 0, a
 * removal (a refused command) outputLength 0. After the edit, every later byte of this direction
 * is shifted by `delta` = outputLength - inputLength (cumulative shifts are the sum of deltas).
 */
export interface StreamEdit {
  readonly direction: Direction;
  readonly inputOffset: number;
  readonly inputLength: number;
  readonly outputOffset: number;
  readonly outputLength: number;
  readonly delta: number;
}

/** What every stream translator offers; an ALG adds its own requests and events on top. */
export interface StreamTranslator<TEvent> {
  /**
   * Feed bytes received in `direction`. Returns how many bytes were consumed: fewer than
   * `bytes.length` only while the translator waits for an answer from the embedding (for
   * example a data-channel mapping); keep the rest and feed it again once answered. Output for
   * the peer is ready in `pollOutput(direction)` (and, for locally generated replies, in the
   * opposite direction).
   */
  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number;
  /** The peer that sends in `direction` closed its side (FIN). Flushes any held partial line. */
  handleEnd(direction: Direction, nowMs: number): void;
  /** Next chunk of bytes to write towards the receiver of `direction`, or null when none. */
  pollOutput(direction: Direction): Uint8Array | null;
  /** Next event, or null. */
  pollEvent(): TEvent | null;
  /** Earliest time (ms, the caller's clock) at which `handleTimeout` must be called, or null. */
  pollTimeout(): number | null;
  handleTimeout(nowMs: number): void;
  /** True while input in `direction` is held for an answer; the embedding should stop reading. */
  isBlocked(direction: Direction): boolean;
  /**
   * When (the caller's clock, as passed to handleData) a protocol unit (a line, a TLS record)
   * last completed in either direction; null before the first. Bytes that complete nothing do
   * not count: an embedding's idle timer reads this, so a peer trickling a byte at a time is idle.
   */
  readonly lastActivityMs: number | null;
}
