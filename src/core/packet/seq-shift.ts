/**
 * One direction's sequence-number corrections: where an ALG changed the length of the byte stream,
 * and so how a position in the stream that entered the NAT (the sender's sequence space, "input")
 * maps to the stream that leaves it (the receiver's, "output") and back.
 *
 * Each correction is one edit of the stream: input [inStart, inEnd) became output
 * [outStart, outEnd) (an insertion has inStart = inEnd, a removal outStart = outEnd). Edits come
 * in stream order and never overlap, so both their input and their output ranges ascend. Any
 * number may be outstanding (Linux keeps one per direction, libalias three): a retransmission of
 * any segment maps through whatever edits lie before it. Edits wholly acknowledged on both sides
 * are folded into one base offset (`prune`); positions before the base are not asked for, because
 * the caller clamps to what is acknowledged.
 *
 * Mapping rules, each chosen so that no acknowledgement claims a byte that was not delivered:
 * - `outStart(i)`: where input byte i is in the output; a byte inside an edited range maps to the
 *   start of its replacement (a retransmission that touches a rewritten line resends all of it);
 * - `outEnd(i)`: where the output of input [.., i) ends; inside an edited range, at the end of
 *   its replacement;
 * - `inCovered(o)`: the input an acknowledgement of output [.., o) covers: an edit whose output is
 *   only partly acknowledged covers none of its input; a removal next to acknowledged output is
 *   covered (its bytes will never be delivered, and need not be);
 * - `inAfter(o)`: the first input byte whose whole output starts at or after o (a SACK block's
 *   left edge).
 * An insertion at input position i sits before byte i: `outStart(i)` is past it.
 */

import { NatAlgError } from '../errors.js';

export interface Correction {
  readonly inStart: number;
  readonly inEnd: number;
  readonly outStart: number;
  readonly outEnd: number;
}

/** Fold the array's consumed head away once it is this long and at least half the array. */
const COMPACT_AT = 64;

export class SeqShift {
  private edits: Correction[] = [];
  private head = 0;
  /** Output minus input before the first kept edit (the sum of pruned deltas). */
  private base = 0;

  /** Edits not yet pruned. */
  get outstanding(): number {
    return this.edits.length - this.head;
  }

  /** The total shift after every edit so far: output offset minus input offset at the end. */
  get delta(): number {
    const n = this.edits.length;
    if (n === this.head) return this.base;
    const last = this.edits[n - 1]!;
    return last.outEnd - last.inEnd;
  }

  /**
   * Record the next edit. It must start where the stream stands (at or after the previous edit in
   * both spaces, consistent with the shift so far); anything else is a bug in the translator or
   * its embedding.
   */
  add(inStart: number, inLength: number, outStart: number, outLength: number): void {
    const n = this.edits.length;
    const prev = n > this.head ? this.edits[n - 1]! : null;
    const expected = inStart + (prev ? prev.outEnd - prev.inEnd : this.base);
    if (inLength < 0 || outLength < 0 || (prev && (inStart < prev.inEnd || outStart < prev.outEnd)) || outStart !== expected) {
      throw new NatAlgError('invalid-state', `edit at input ${inStart} (output ${outStart}) does not follow the stream's corrections (expected output ${expected})`);
    }
    // A same-length edit shifts nothing but is kept: a partly acknowledged rewritten line still
    // covers none of its input.
    this.edits.push({ inStart, inEnd: inStart + inLength, outStart, outEnd: outStart + outLength });
  }

  /** Index of the last kept edit with inEnd <= i, or head - 1. */
  private lastInEndAtMost(i: number): number {
    let lo = this.head;
    let hi = this.edits.length - 1;
    let found = this.head - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.edits[mid]!.inEnd <= i) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Index of the last kept edit with outEnd <= o, or head - 1. */
  private lastOutEndAtMost(o: number): number {
    let lo = this.head;
    let hi = this.edits.length - 1;
    let found = this.head - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.edits[mid]!.outEnd <= o) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private shiftAfter(k: number): number {
    if (k < this.head) return this.base;
    const e = this.edits[k]!;
    return e.outEnd - e.inEnd;
  }

  /** The edit after k when input i lies strictly inside its input range, else null. */
  private enclosingIn(k: number, i: number): Correction | null {
    const n = this.edits[k + 1];
    return n !== undefined && n.inStart < i && i < n.inEnd ? n : null;
  }

  outStart(i: number): number {
    const k = this.lastInEndAtMost(i);
    const e = this.enclosingIn(k, i);
    return e ? e.outStart : i + this.shiftAfter(k);
  }

  outEnd(i: number): number {
    const k = this.lastInEndAtMost(i);
    const e = this.enclosingIn(k, i);
    return e ? e.outEnd : i + this.shiftAfter(k);
  }

  inCovered(o: number): number {
    const k = this.lastOutEndAtMost(o);
    const n = this.edits[k + 1];
    if (n !== undefined && n.outStart < o) return n.inStart;
    return o - this.shiftAfter(k);
  }

  inAfter(o: number): number {
    const k = this.lastOutEndAtMost(o);
    const n = this.edits[k + 1];
    if (n !== undefined && n.outStart < o) return n.inEnd;
    return o - this.shiftAfter(k);
  }

  /**
   * Forget edits that lie wholly before input `inLimit` and output `outLimit` (both sides have
   * acknowledged them); their shifts fold into the base.
   */
  prune(inLimit: number, outLimit: number): void {
    while (this.head < this.edits.length) {
      const e = this.edits[this.head]!;
      if (e.inEnd > inLimit || e.outEnd > outLimit) break;
      this.base = e.outEnd - e.inEnd;
      this.head++;
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= this.edits.length) {
      this.edits = this.edits.slice(this.head);
      this.head = 0;
    }
  }
}
