/**
 * Checks of arguments given by the programmer (not by the network): a byte range outside its
 * buffer or a field value out of range is a bug in the caller and throws NatAlgError. Some of
 * these run per packet, so each is a few comparisons with the throw in a separate cold function:
 * small enough for the JIT to inline into the per-packet paths.
 */

import { NatAlgError } from '../errors.js';

export function assertRange(bytes: Uint8Array, start: number, end: number): void {
  // `>>> 0` equality rejects fractions, NaN and negatives in one comparison each.
  if (start >>> 0 !== start || end >>> 0 !== end || start > end || end > bytes.length) badRange(bytes, start, end);
}

function badRange(bytes: Uint8Array, start: number, end: number): never {
  throw new NatAlgError('invalid-argument', `byte range [${start}, ${end}) is not within 0-${bytes.length}`);
}

export function assertU8(value: number, what: string): void {
  if (value >>> 0 !== value || value > 0xff) badUint(value, 0xff, what);
}
export function assertU16(value: number, what: string): void {
  if (value >>> 0 !== value || value > 0xffff) badUint(value, 0xffff, what);
}
export function assertU32(value: number, what: string): void {
  if (value >>> 0 !== value) badUint(value, 0xffffffff, what);
}

function badUint(value: number, max: number, what: string): never {
  throw new NatAlgError('invalid-argument', `${what} must be an integer 0-${max}, got ${value}`);
}
