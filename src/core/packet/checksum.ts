/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
 * the 16-bit big-endian words of the data, a trailing odd byte padded with a zero low byte.
 *
 * Vocabulary used throughout this folder:
 * - a *sum* is a non-negative integer whose value mod 0xFFFF is the one's complement sum; sums
 *   can be added with `+` and folded once at the end (`foldSum`). Every sum produced here is
 *   below 2^53, so plain numbers stay exact.
 * - a *checksum* is the 16-bit value stored in a header: `~fold(sum) & 0xFFFF`.
 *
 * Incremental updates follow RFC 1624 equation 3, HC' = ~(~HC + ~m + m'), which never turns a
 * correct non-0xFFFF checksum into 0xFFFF (the RFC 1141 form, HC' = HC + m - m', gives 0xFFFF
 * where a full recomputation gives 0x0000). Starting from a checksum that a full computation
 * produced, the updated checksum equals a full recomputation bit for bit whenever the covered
 * data has a non-zero word, which TCP, UDP, ICMPv6 (pseudo-header protocol) and IPv4 headers
 * (version nibble) always have.
 *
 * UDP (RFC 768) transmits a computed checksum of 0 as 0xFFFF, and over IPv4 a checksum field of
 * 0 means "no checksum": `updateUdpChecksum*` keep 0 as 0 and never produce 0.
 *
 * A changed field that starts an odd number of bytes after the start of the checksummed data
 * contributes its words byte-swapped (RFC 1071 section 2(B)); `swapBytes16` of the old and new
 * words before the update handles it.
 *
 * Speed: the full sum reads 32-bit big-endian words through a DataView (one allocation-free
 * DataView is kept per ArrayBuffer last seen) into four accumulators and folds carries once.
 */

import { NatAlgError } from '../errors.js';
import { assertRange } from './range.js';

// One DataView per ArrayBuffer, re-made only when a different buffer comes by. Packets usually
// live in one pool buffer, so the full sum allocates nothing per packet. The cache holds one
// buffer alive until another is summed.
let cachedBuffer: ArrayBufferLike | null = null;
let cachedView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

function dataViewOf(bytes: Uint8Array): DataView {
  if (bytes.buffer !== cachedBuffer) {
    cachedView = new DataView(bytes.buffer);
    cachedBuffer = bytes.buffer;
  }
  return cachedView;
}

/** Fold a sum to 16 bits (1-0xFFFF for a non-zero sum, 0 only for 0). 2^16 = 1 mod 0xFFFF. */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = Math.floor(s / 65536) + (s % 65536);
  return s;
}

/** The checksum field value for a sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/**
 * One's complement sum of bytes[start, end) as 16-bit big-endian words counted from `start`,
 * plus `initial` (another sum, e.g. a pseudo-header's). Returns a folded sum (0-0xFFFF).
 * Throws NatAlgError when the range is not within `bytes` (a programming error).
 */
export function onesComplementSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  assertRange(bytes, start, end);
  const dv = dataViewOf(bytes);
  // Absolute positions in the ArrayBuffer: the DataView spans all of it.
  let i = bytes.byteOffset + start;
  const stop = bytes.byteOffset + end;
  // Four independent accumulators of 32-bit words (so the adds need not wait on each other);
  // 16384 words of at most 2^32 stay below 2^47: exact in a double, carries folded once.
  let a = initial;
  let b = 0;
  let c = 0;
  let d = 0;
  for (; i + 32 <= stop; i += 32) {
    a += dv.getUint32(i) + dv.getUint32(i + 16);
    b += dv.getUint32(i + 4) + dv.getUint32(i + 20);
    c += dv.getUint32(i + 8) + dv.getUint32(i + 24);
    d += dv.getUint32(i + 12) + dv.getUint32(i + 28);
  }
  for (; i + 4 <= stop; i += 4) a += dv.getUint32(i);
  if (i + 2 <= stop) {
    a += dv.getUint16(i);
    i += 2;
  }
  if (i < stop) a += dv.getUint8(i) << 8;
  // A 32-bit word w = hi * 2^16 + lo is hi + lo mod 0xFFFF, so the word sum folds to the same value.
  return foldSum(a + b + c + d);
}

/** The Internet checksum of bytes[start, end), with an optional initial sum (pseudo-header). */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  return finishChecksum(onesComplementSum(bytes, start, end, initial));
}

/** Sum of the 16-bit big-endian word at bytes[at]. */
function word(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/**
 * Sum of the IPv4 pseudo-header (RFC 793 / RFC 768): source and destination addresses (4 bytes
 * each, at the given offsets in `bytes`), zero, protocol, upper-layer length. Unfolded, < 2^20.
 */
export function ipv4PseudoHeaderSum(bytes: Uint8Array, sourceAt: number, destinationAt: number, protocol: number, length: number): number {
  return (
    word(bytes, sourceAt) +
    word(bytes, sourceAt + 2) +
    word(bytes, destinationAt) +
    word(bytes, destinationAt + 2) +
    (protocol & 0xff) +
    (length & 0xffff)
  );
}

/**
 * Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source and destination (16 bytes each),
 * 32-bit upper-layer length, next header of the upper layer. Unfolded, < 2^21.
 */
export function ipv6PseudoHeaderSum(bytes: Uint8Array, sourceAt: number, destinationAt: number, nextHeader: number, length: number): number {
  let s = (nextHeader & 0xff) + (length >>> 16) + (length & 0xffff);
  for (let k = 0; k < 16; k += 2) s += word(bytes, sourceAt + k) + word(bytes, destinationAt + k);
  return s;
}

/** Swap the two bytes of a 16-bit value: the contribution of a word at an odd position. */
export function swapBytes16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** RFC 1624 eqn 3 for one changed 16-bit word (aligned on the checksummed data). */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  let s = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** RFC 1624 eqn 3 for two changed 16-bit words (aligned), e.g. the halves of a 32-bit value. */
export function updateChecksum16Pair(checksum: number, oldHigh: number, oldLow: number, newHigh: number, newLow: number): number {
  let s = (~checksum & 0xffff) + (~oldHigh & 0xffff) + (~oldLow & 0xffff) + (newHigh & 0xffff) + (newLow & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * RFC 1624 eqn 3 for a changed 32-bit value (IPv4 address, TCP sequence number), aligned.
 * Kept tiny on purpose: an unsigned 32-bit value above 2^30 is a heap number in V8 when it
 * crosses a call the JIT did not inline, so this splits it at once into 16-bit halves.
 */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  return updateChecksum16Pair(checksum, oldValue >>> 16, oldValue & 0xffff, newValue >>> 16, newValue & 0xffff);
}

/**
 * RFC 1624 eqn 3 for a changed run of `length` bytes (even) that starts at an even position of
 * the checksummed data: the old bytes at oldBytes[oldStart...], the new at newBytes[newStart...].
 * Call it before overwriting when old and new share a buffer.
 */
export function updateChecksumBytes(
  checksum: number,
  oldBytes: Uint8Array,
  oldStart: number,
  newBytes: Uint8Array,
  newStart: number,
  length: number,
): number {
  if ((length & 1) !== 0) throw new NatAlgError('invalid-argument', 'updateChecksumBytes: length must be even');
  assertRange(oldBytes, oldStart, oldStart + length);
  assertRange(newBytes, newStart, newStart + length);
  let s = ~checksum & 0xffff;
  for (let k = 0; k < length; k += 2) {
    s += (~word(oldBytes, oldStart + k) & 0xffff) + word(newBytes, newStart + k);
  }
  s = foldSum(s);
  return ~s & 0xffff;
}

/** `updateChecksumBytes` for a 16-byte IPv6 address. */
export function updateChecksumIpv6Address(checksum: number, oldBytes: Uint8Array, oldStart: number, newBytes: Uint8Array, newStart: number): number {
  return updateChecksumBytes(checksum, oldBytes, oldStart, newBytes, newStart, 16);
}

/**
 * UDP flavour of `updateChecksum16`: a field of 0 (no checksum, IPv4) stays 0, and a result of
 * 0 is sent as 0xFFFF (RFC 768), which is the same value in one's complement.
 */
export function updateUdpChecksum16(checksum: number, oldWord: number, newWord: number): number {
  if (checksum === 0) return 0;
  const c = updateChecksum16(checksum, oldWord, newWord);
  return c === 0 ? 0xffff : c;
}

/** UDP flavour of `updateChecksum32` (see `updateUdpChecksum16`). */
export function updateUdpChecksum32(checksum: number, oldValue: number, newValue: number): number {
  return udpPair(checksum, oldValue >>> 16, oldValue & 0xffff, newValue >>> 16, newValue & 0xffff);
}

function udpPair(checksum: number, oldHigh: number, oldLow: number, newHigh: number, newLow: number): number {
  if (checksum === 0) return 0;
  const c = updateChecksum16Pair(checksum, oldHigh, oldLow, newHigh, newLow);
  return c === 0 ? 0xffff : c;
}

/** UDP flavour of `updateChecksumBytes` (see `updateUdpChecksum16`). */
export function updateUdpChecksumBytes(
  checksum: number,
  oldBytes: Uint8Array,
  oldStart: number,
  newBytes: Uint8Array,
  newStart: number,
  length: number,
): number {
  if (checksum === 0) return 0;
  const c = updateChecksumBytes(checksum, oldBytes, oldStart, newBytes, newStart, length);
  return c === 0 ? 0xffff : c;
}

/** A UDP checksum field value for a sum: a computed 0 is transmitted as 0xFFFF (RFC 768). */
export function finishUdpChecksum(sum: number): number {
  const c = finishChecksum(sum);
  return c === 0 ? 0xffff : c;
}
