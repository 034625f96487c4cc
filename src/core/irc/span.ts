/**
 * Byte spans into an IRC line and their replacement. Every parser in this folder reports where
 * things are as half-open `[start, end)` offsets into the caller's bytes instead of copying them,
 * so that a rewrite can replace exactly the bytes it means to and keep every other byte as it came.
 *
 * Invariant of `applyEdits`: the output is the input with each edited span replaced by its bytes;
 * bytes outside the spans are copied unchanged and in order.
 */

import { NatAlgError } from '../errors.js';

/** Half-open byte range `[start, end)` into a line. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** Replace `span` of a line with `bytes`. */
export interface Edit {
  readonly span: Span;
  readonly bytes: Uint8Array;
}

/** Where the bytes of an edited line go: `length` fresh bytes for the caller to fill. */
export type LineAllocator = (length: number) => Uint8Array;

const newLine: LineAllocator = (length) => new Uint8Array(length);

/**
 * The line with every edit applied, in one pass. Edits may come in any order but must not
 * overlap and must lie inside the line: a violation is the caller's mistake (spans come from the
 * parsers of this folder) and throws NatAlgError. `alloc` gives the output's bytes (a new array by
 * default; the translator cuts them from a direction's copy block, DirectionStream.claim).
 */
export function applyEdits(line: Uint8Array, edits: readonly Edit[], alloc: LineAllocator = newLine): Uint8Array {
  const sorted = byStart(edits);
  let length = line.length;
  let previousEnd = 0;
  for (const e of sorted) {
    const { start, end } = e.span;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < previousEnd || end < start || end > line.length) {
      throw new NatAlgError('invalid-argument', `edit span [${start}, ${end}) overlaps another or lies outside a line of ${line.length} bytes`);
    }
    previousEnd = end;
    length += e.bytes.length - (end - start);
  }
  const out = alloc(length);
  let from = 0;
  let p = 0;
  for (const e of sorted) {
    p = copyInto(out, p, line, from, e.span.start);
    p = copyInto(out, p, e.bytes, 0, e.bytes.length);
    from = e.span.end;
  }
  copyInto(out, p, line, from, line.length);
  return out;
}

/**
 * A copy of `edits` ordered by span start, stable (as Array.prototype.sort). A line has a handful
 * of edits: an insertion sort costs less than a spread and a sort calling a comparator.
 */
function byStart(edits: readonly Edit[]): Edit[] {
  const out = edits.slice();
  for (let k = 1; k < out.length; k++) {
    const e = out[k]!;
    let j = k - 1;
    for (; j >= 0 && out[j]!.span.start > e.span.start; j--) out[j + 1] = out[j]!;
    out[j + 1] = e;
  }
  return out;
}

/**
 * Copy src[from, to) to out at `at`; returns the index after it. A line's pieces are short: a
 * loop costs less than a subarray view and a call to set().
 */
function copyInto(out: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  for (let k = from; k < to; k++) out[at++] = src[k]!;
  return at;
}
