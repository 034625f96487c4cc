/**
 * One direction of a control connection as bytes: how far input and output have advanced, the
 * output queue, and the one bounded buffer where a line is held while the translator needs it
 * whole (a candidate line, or the first bytes of a line that arrived split across reads).
 *
 * Output chunks are often views (`subarray`) of the caller's input buffers: pass-through bytes are
 * never copied. A caller that reuses input buffers must write out polled output first.
 */

import type { Direction } from '../stream/translator.js';
import { TlsRecordFollower } from './tls-records.js';
import { findBareCR } from '../stream/bare-cr.js';
import { VerbScanner } from './verb.js';

/** What the translator is doing with this direction's bytes (framing.ts; line rules in session.ts). */
export const PHASE_LINE_START = 0; // at a line start, or deciding (first bytes in `hold`)
export const PHASE_PASS = 1; // inside a line that streams through until its LF
export const PHASE_HOLD = 2; // inside a candidate line, collecting it in `hold`
export const PHASE_DISCARD = 3; // inside a refused line, dropping it up to its LF
export const PHASE_BLOCKED = 4; // a held line waits for the embedding; input is not consumed
export const PHASE_TLS = 5; // encrypted: forward untouched, follow record framing
export const PHASE_OPAQUE = 6; // framing lost or connection closing: forward untouched, never parse
export const PHASE_CLOSED = 7; // the translator asked for the connection to be closed: drop input

/** What to do when the current line ends (DirectionStream.lineAction); more in session.ts. */
export const LINE_NONE = 0;
/** A refused line being dropped: report its removal when its LF comes. */
export const LINE_DROP = 3;

/** Server line flags: first / last line of its reply. */
export const LINE_FIRST = 1;
export const LINE_LAST = 2;

export class DirectionStream {
  readonly direction: Direction;
  /** Bytes consumed from the peer so far. */
  inputOffset = 0;
  /** Bytes queued towards the other peer so far. */
  outputOffset = 0;
  phase = PHASE_LINE_START;
  ended = false;

  /** Held bytes: undecided line start, or a candidate line. Capacity maxLineLength (+ slack). */
  hold: Uint8Array | null = null;
  holdLength = 0;
  /** Input offset of the first byte of the current line. */
  lineStart = 0;
  /** Per-line note set when the line's kind was decided (see session.ts LINE_* constants). */
  lineAction = 0;
  /** Client: the verb code. Server: the reply classification (code * 2 + continues). */
  lineCode = 0;
  /** Server: LINE_FIRST / LINE_LAST of the reply the line belongs to. */
  lineFlags = 0;
  /**
   * Server: set by the line rules when a line that does not start with a digit would stream with
   * no line action and nothing else to note (the body of a multi-line reply nobody holds): the
   * framing then passes such lines without asking. Recomputed at every decided line.
   */
  passText = false;
  /** Index in the current chunk where a held line starts, or -1 when its bytes are in `hold`. */
  lineFrom = -1;

  tls = new TlsRecordFollower();
  /**
   * Progress, for the line timeout and for activity (framing.ts noteProgress): the input offset
   * where the unit in progress (a line, or a TLS record) began, or where the last one ended, as
   * seen after the previous call; and since when (caller's clock) a unit has been open, or -1.
   */
  progressKey = 0;
  openSince = -1;
  /** The line being discarded is over-long (its bytes count against maxDiscardedBytes). */
  overlong = false;

  /** Client: reads the verb of a line whose first bytes straddle reads (verb.ts). */
  readonly verb = new VerbScanner();

  // The chunk being processed by handleData: its base input offset and the start of the run of
  // pass-through bytes not yet queued (emitted as one view when something else must be queued).
  chunk: Uint8Array = EMPTY;
  chunkBase = 0;
  runFrom = 0;

  private readonly out: Uint8Array[] = [];
  private outHead = 0;
  private outTail = 0;
  private readonly capacity: number;

  constructor(direction: Direction, capacity: number) {
    this.direction = direction;
    this.capacity = capacity;
  }

  /**
   * Chunk index up to which the pending run may be flushed before anything else is queued: set
   * when a line ends, so that a reply generated then (a local reply) lands after that line
   * without cutting the run into one output chunk per line when nothing is generated.
   */
  mark = 0;

  /** The last byte queued ends a line (or nothing was queued yet). */
  endsLine = true;

  /** Queue bytes for the other peer (after the pending run up to `mark`). */
  emit(bytes: Uint8Array): void {
    if (this.mark > this.runFrom) this.flushRun(this.mark);
    if (bytes.length === 0) return;
    this.out[this.outTail++] = bytes;
    this.outputOffset += bytes.length;
    this.endsLine = bytes[bytes.length - 1] === 10;
  }

  /** Output offset at the current point (the pending run up to `mark` queued first). */
  outputPosition(): number {
    if (this.mark > this.runFrom) this.flushRun(this.mark);
    return this.outputOffset;
  }

  /** Queue the pending pass-through run of the current chunk up to index `upto`. */
  flushRun(upto: number): void {
    if (upto > this.runFrom) {
      const c = this.chunk;
      // a whole chunk passing through goes out as it came: no view to make
      this.out[this.outTail++] = this.runFrom === 0 && upto === c.length ? c : c.subarray(this.runFrom, upto);
      this.outputOffset += upto - this.runFrom;
      this.endsLine = c[upto - 1] === 10;
    }
    this.runFrom = upto;
  }

  /** Drop chunk bytes [runFrom, upto) (they are neither queued nor pending any more). */
  skipRun(upto: number): void {
    this.runFrom = upto;
  }

  poll(): Uint8Array | null {
    if (this.outHead >= this.outTail) return null;
    const b = this.out[this.outHead]!;
    this.out[this.outHead++] = EMPTY;
    if (this.outHead === this.outTail) this.outHead = this.outTail = 0;
    return b;
  }

  /** Append to the hold buffer; false (nothing appended) when it would exceed the capacity. */
  append(bytes: Uint8Array, from: number, to: number): boolean {
    const n = to - from;
    if (this.holdLength + n > this.capacity) return false;
    if (this.hold === null) this.hold = new Uint8Array(this.capacity);
    const hold = this.hold;
    let at = this.holdLength;
    // Usually a few bytes of a short line: a loop costs less than a subarray view for set().
    if (n <= 64) for (let k = from; k < to; k++) hold[at++] = bytes[k]!;
    else hold.set(bytes.subarray(from, to), at);
    this.holdLength += n;
    return true;
  }

  /** Whether the held bytes carry a bare CR, `next` being the byte that follows them. */
  holdBareCR(next: number): boolean {
    const h = this.hold;
    const n = this.holdLength;
    if (h === null || n === 0) return false;
    return findBareCR(h, 0, n, n) >= 0 || (h[n - 1] === 13 && next !== 10 && next !== 0);
  }

  /** A copy of the held bytes; the hold buffer is emptied. */
  takeHold(): Uint8Array {
    const b = this.hold ? this.hold.slice(0, this.holdLength) : new Uint8Array(0);
    this.holdLength = 0;
    return b;
  }

  /**
   * Input offset where the line (or TLS record) in progress began, or -1 between them: nothing
   * of an incomplete one consumed, or the direction no longer reads lines (blocked on a complete
   * held line, opaque, closed).
   */
  openUnitStart(): number {
    switch (this.phase) {
      case PHASE_TLS:
        return this.tls.atBoundary ? -1 : this.inputOffset - this.tls.consumedOfRecord;
      case PHASE_LINE_START:
        return this.holdLength > 0 ? this.lineStart : -1;
      case PHASE_PASS:
      case PHASE_HOLD:
      case PHASE_DISCARD:
        return this.lineStart;
      default:
        return -1;
    }
  }

  /** Absolute input offset of index `i` of the current chunk. */
  at(i: number): number {
    return this.chunkBase + i;
  }
}

const EMPTY = new Uint8Array(0);
