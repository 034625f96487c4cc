/**
 * TCP sequence numbers: 32-bit values compared and moved with wraparound (RFC 9293 section 3.4,
 * serial number arithmetic in the manner of RFC 1982). A `SeqNumber` is a plain number branded
 * so that a port or a length cannot be passed where a sequence number is meant; `toSeq` is the
 * one way in and normalises any integer into 0 to 2^32-1.
 *
 * Comparison is by the signed 32-bit distance: `a` is before `b` when (b - a) mod 2^32 is in
 * 1 to 2^31-1. RFC 1982 leaves a distance of exactly 2^31 undefined, and the sign of the int32
 * difference (as in most TCP stacks) would put each of the two before the other; here the
 * numerically smaller one is before, so that for a != b exactly one of seqLt(a, b) and
 * seqLt(b, a) holds.
 */

declare const seqBrand: unique symbol;
export type SeqNumber = number & { readonly [seqBrand]: true };

/** Any integer, taken mod 2^32. */
export function toSeq(n: number): SeqNumber {
  // The one cast: `>>> 0` establishes the invariant the brand promises.
  return (n >>> 0) as SeqNumber;
}

/** a + n mod 2^32 (n may be negative). */
export function seqAdd(a: SeqNumber, n: number): SeqNumber {
  return toSeq(a + n);
}

/** Signed distance from b to a: a - b as an int32 (in -2^31 to 2^31-1). */
export function seqDiff(a: SeqNumber, b: SeqNumber): number {
  return (a - b) | 0;
}

const HALF = -0x80000000;

/** a is before b. */
export function seqLt(a: SeqNumber, b: SeqNumber): boolean {
  const d = (a - b) | 0;
  return d < 0 && (d !== HALF || a < b);
}
export function seqLe(a: SeqNumber, b: SeqNumber): boolean {
  return a === b || seqLt(a, b);
}
export function seqGt(a: SeqNumber, b: SeqNumber): boolean {
  return seqLt(b, a);
}
export function seqGe(a: SeqNumber, b: SeqNumber): boolean {
  return a === b || seqLt(b, a);
}

/** x in [start, start + length) mod 2^32; length 0 to 2^32-1. */
export function seqInWindow(x: SeqNumber, start: SeqNumber, length: number): boolean {
  return ((x - start) >>> 0) < length;
}

/** The later of two sequence numbers. */
export function seqMax(a: SeqNumber, b: SeqNumber): SeqNumber {
  return seqLt(a, b) ? b : a;
}
export function seqMin(a: SeqNumber, b: SeqNumber): SeqNumber {
  return seqLt(a, b) ? a : b;
}
