/**
 * A small keyed, non-cryptographic hash over 32-bit words, and the secrets it is keyed with.
 *
 * Two uses: the RFC 6056 port-selection functions F and G (an outside observer must not predict
 * the next port without the secret), and the bucket index of the internal-endpoint hash table
 * (a host that cannot predict buckets cannot force long probe chains). Neither needs a MAC; both
 * need good avalanche and a secret, which a multiply-xorshift mix keyed by random words gives.
 */

import { NatAlgError } from '../errors.js';
import type { RandomSource } from './types.js';

/** A 32-bit word from a source of uniform numbers in [0, 1). */
export function randomWord(random: () => number): number {
  const r = random();
  if (!(r >= 0 && r < 1)) throw new NatAlgError('invalid-argument', `random() returned ${r}, expected [0, 1)`);
  return Math.floor(r * 4294967296) >>> 0;
}

export function toRandomFunction(source: RandomSource | (() => number)): () => number {
  if (typeof source === 'function') return source;
  if (source && typeof source.random === 'function') return () => source.random();
  throw new NatAlgError('invalid-argument', 'random must be a function or a RandomSource');
}

/** Final avalanche of a 32-bit state (every input bit affects every output bit). */
export function finalize32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Absorb one 32-bit word into the state. */
export function absorb(h: number, word: number): number {
  h ^= finalize32((word >>> 0) ^ 0x9e3779b9);
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  return h | 0;
}

/**
 * Keyed hash of up to five words: the key is mixed in first and last, so equal inputs under
 * different keys are unrelated.
 */
export function keyedHash5(key: number, a: number, b: number, c: number, d: number, e: number): number {
  let h = key | 0;
  h = absorb(h, a);
  h = absorb(h, b);
  h = absorb(h, c);
  h = absorb(h, d);
  h = absorb(h, e);
  return finalize32(h ^ Math.imul(key, 0x2c1b3c6d));
}

/**
 * The RFC 6056 pair F and G for one tuple, in one pass: the words are mixed into a state keyed by
 * `keyF`, then finalised once with each key. Knowing F does not give G without `keyG`.
 * Writes [F, G] into `out`.
 */
export function keyedPair(keyF: number, keyG: number, a: number, b: number, c: number, d: number, e: number, out: Uint32Array): void {
  let h = keyF ^ 0x27d4eb2f;
  h = Math.imul(h ^ a, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ b, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ c, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16) ^ d, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ e, 0x165667b1);
  out[0] = finalize32(h ^ keyF);
  out[1] = finalize32((h + keyG) ^ Math.imul(keyG, 0x9e3779b1));
}

/** High and low 32-bit words of a non-negative integer below 2^53 (address keys may exceed 2^32). */
export function highWord(n: number): number {
  return Math.floor(n / 4294967296) >>> 0;
}
