/**
 * Checks of arguments given by the programmer (not by the network): a byte range outside its
 * buffer or a field value out of range is a bug in the caller and throws NatAlgError. Kept to a
 * few comparisons, since some of these run per packet.
 */

import { NatAlgError } from '../errors.js';

export function assertRange(bytes: Uint8Array, start: number, end: number): void {
  // `>>> 0` equality rejects fractions, NaN and negatives in one comparison each.
  if (start >>> 0 !== start || end >>> 0 !== end || start > end || end > bytes.length) {
    throw new NatAlgError('invalid-argument', `byte range [${start}, ${end}) is not within 0-${bytes.length}`);
  }
}

export function assertUint(value: number, bits: 8 | 16 | 32, what: string): void {
  const max = bits === 32 ? 0xffffffff : bits === 16 ? 0xffff : 0xff;
  if (value >>> 0 !== value || value > max) {
    throw new NatAlgError('invalid-argument', `${what} must be an integer 0-${max}, got ${value}`);
  }
}
