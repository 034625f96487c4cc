/**
 * One direction of a connection as bytes, for a line-based ALG: how far input and output have
 * advanced, the output queue, the one bounded buffer where a line is kept while it must be whole
 * (a line to read, or one that arrives split across reads), and where the current line began.
 * The line framer (line-framer.ts) moves the bytes; this is its bookkeeping.
 *
 * Output chunks are often views (`subarray`) of the caller's input buffers: pass-through bytes
 * are never copied. A caller that reuses input buffers must write out polled output first.
 */

import type { Direction } from './translator.js';
import { TlsRecordFollower } from './tls-records.js';
import { chunkView } from './lf-scan.js';
import type { LineReader } from './line-framer.js';

/**
 * What the framer is doing with this direction's bytes.
 * - `line-start`: between lines; the first bytes of the next one may be kept undecided.
 * - `stream`: inside a line that goes out as it arrives (it may be of any length).
 * - `whole`: inside a line that goes out unchanged, but only once it is complete and within the
 *   line length: no part of an over-long line is ever forwarded.
 * - `hold`: inside a line the owner reads whole at its end.
 * - `discard`: inside a refused or over-long line, dropped up to its end.
 * - `blocked`: a complete held line waits for an answer from the embedding; no input is taken.
 * - `tls`: encrypted; bytes go out unread while TLS records are followed.
 * - `opaque`: framing is lost; bytes go out unread for good.
 * - `closed`: the connection is being given up; input is dropped.
 */
export type FramerMode = 'line-start' | 'stream' | 'whole' | 'hold' | 'discard' | 'blocked' | 'tls' | 'opaque' | 'closed';

/** The modes a line can be given when its first bytes are decided. */
export type LineMode = 'stream' | 'whole' | 'hold' | 'discard' | 'closed';

const EMPTY = new Uint8Array(0);

/** Size of the blocks that copies of held bytes are cut from (takeHold). */
const COPY_BLOCK_BYTES = 4096;

export class DirectionStream<Note> {
  readonly direction: Direction;
  /** Bytes consumed from the peer so far. */
  inputOffset = 0;
  /** Bytes queued towards the other peer so far. */
  outputOffset = 0;
  mode: FramerMode = 'line-start';
  ended = false;

  /** Kept bytes: undecided first bytes of a line, or a line that must be whole. */
  hold: Uint8Array | null = null;
  holdLength = 0;
  /** Input offset of the first byte of the current line. */
  lineStart = 0;
  /** Index in the current chunk where the current line starts, or -1 when its bytes are in `hold`. */
  lineFrom = -1;
  /**
   * What the owner wants done when the current line ends (`none`: nothing to tell; `drop`: the
   * framer reports the line's removal); anything else is the owner's and is handed back to it.
   */
  lineEnd: Note | 'none' | 'drop' = 'none';
  /** The line being discarded is over-long (its bytes count against the discard bound). */
  overlong = false;

  /** Follows record framing while the direction is encrypted. */
  tls = new TlsRecordFollower();

  /**
   * Progress, for the line timeout and for activity (line-framer.ts noteProgress): the input
   * offset where the unit in progress (a line, or a TLS record) began, or where the last one
   * ended, as seen after the previous call; and since when (caller's clock) a unit has been
   * open, or -1.
   */
  progressKey = 0;
  openSince = -1;

  // The chunk being processed by handleData: its base input offset and the start of the run of
  // pass-through bytes not yet queued (emitted as one view when something else must be queued).
  chunk: Uint8Array = EMPTY;
  chunkBase = 0;
  runFrom = 0;
  /**
   * Chunk index up to which the pending run may be flushed before anything else is queued: set
   * when a line ends, so that a line generated then (a local reply) lands after that line
   * without cutting the run into one output chunk per line when nothing is generated.
   */
  mark = 0;
  /** The last byte queued ends a line (or nothing was queued yet). */
  endsLine = true;
  /**
   * The finders' view of `chunk` (lf-scan.ts chunkView), made at the first search in the chunk
   * (`chunkView()`) and shared by every later one: making one costs as much as scanning a hundred
   * bytes, so once per search (per line run, per reply) was a cost of its own. Null until then.
   */
  view: DataView | null = null;

  /** The block copies of held bytes are cut from, and how much of it is handed out. */
  private copies: Uint8Array | null = null;
  private copiesUsed = 0;

  private readonly out: Uint8Array[] = [];
  private outHead = 0;
  private outTail = 0;
  private readonly capacity: number;

  /** What reads this direction's lines (the owner's). */
  readonly reader: LineReader<Note>;

  constructor(direction: Direction, capacity: number, reader: LineReader<Note>) {
    this.direction = direction;
    this.capacity = capacity;
    this.reader = reader;
  }

  /** The view for a search of `chunk` from index `from` on (see `view`). */
  chunkView(from: number): DataView {
    return (this.view ??= chunkView(this.chunk, this.chunk.length - from));
  }

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

  /** Whether `n` more bytes fit in the hold buffer. */
  fits(n: number): boolean {
    return this.holdLength + n <= this.capacity;
  }

  /** Append to the hold buffer; false (nothing appended) when it would exceed the capacity. */
  append(bytes: Uint8Array, from: number, to: number): boolean {
    const n = to - from;
    if (!this.fits(n)) return false;
    if (this.hold === null) this.hold = new Uint8Array(this.capacity);
    const hold = this.hold;
    let at = this.holdLength;
    // Usually a few bytes of a short line: a loop costs less than a subarray view for set().
    if (n <= 64) for (let k = from; k < to; k++) hold[at++] = bytes[k]!;
    else hold.set(bytes.subarray(from, to), at);
    this.holdLength += n;
    return true;
  }

  /**
   * A copy of the held bytes; the hold buffer is emptied. The copy is a view into a small block
   * shared by later copies (a new block once it is full; a region handed out is never written
   * again), so that a line carried over a chunk boundary, once per chunk, costs no allocation of
   * its own.
   */
  takeHold(): Uint8Array {
    const n = this.holdLength;
    this.holdLength = 0;
    return n === 0 ? EMPTY : this.copyOf(this.hold!, 0, n);
  }

  /**
   * A copy of bytes[from, to) that outlives the call (a line the owner keeps or queues), cut from
   * the block takeHold's copies come from: no allocation of its own (a typed array's own memory
   * costs more than copying a line).
   */
  copyOf(bytes: Uint8Array, from: number, to: number): Uint8Array {
    const n = to - from;
    const out = this.claim(n);
    if (n <= 64) for (let k = 0; k < n; k++) out[k] = bytes[from + k]!;
    else out.set(bytes.subarray(from, to));
    return out;
  }

  /** `n` bytes of the copy block for the caller to fill (a line it makes); never handed out again. */
  claim(n: number): Uint8Array {
    let block = this.copies;
    if (block === null || this.copiesUsed + n > block.length) {
      block = new Uint8Array(n > COPY_BLOCK_BYTES ? n : COPY_BLOCK_BYTES);
      this.copies = block;
      this.copiesUsed = 0;
    }
    const at = this.copiesUsed;
    this.copiesUsed = at + n;
    return block.subarray(at, at + n);
  }

  /** Absolute input offset of index `i` of the current chunk. */
  at(i: number): number {
    return this.chunkBase + i;
  }

  /**
   * Input offset where the line (or TLS record) in progress began, or -1 between them: nothing
   * of an incomplete one consumed, or the direction no longer reads lines (blocked on a complete
   * held line, opaque, closed).
   */
  openUnitStart(): number {
    switch (this.mode) {
      case 'tls':
        return this.tls.atBoundary ? -1 : this.inputOffset - this.tls.consumedOfRecord;
      case 'line-start':
        return this.holdLength > 0 ? this.lineStart : -1;
      case 'stream':
      case 'whole':
      case 'hold':
      case 'discard':
        return this.lineStart;
      case 'blocked':
      case 'opaque':
      case 'closed':
        return -1;
    }
  }
}
