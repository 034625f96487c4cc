/**
 * IPv4-embedded IPv6 addresses (RFC 6052), the address format of NAT64 and FTP64.
 *
 * Layout (section 2.2): the prefix takes the first 32, 40, 48, 56, 64 or 96 bits; the 32 IPv4
 * bits follow it, except that bits 64-71 (the "u" octet) are always zero and skipped, so for
 * prefixes shorter than 96 the IPv4 address is split around byte 8. Remaining bits (the suffix)
 * are zero.
 *
 * Policy (section 3.1): the Well-Known Prefix 64:ff9b::/96 must not carry non-global IPv4
 * addresses (private, loopback, link-local, documentation, ...). `synthesize` refuses them as a
 * value; the raw `embedIPv4` does not judge and exists for tests and network-specific prefixes.
 */

import { AddressError, NatAlgError } from '../errors.js';
import { formatIPv4, formatIPv6, parseAddress, parseIPv4, parseIPv6 } from '../net/ip.js';

export type Nat64PrefixLength = 32 | 40 | 48 | 56 | 64 | 96;
export const NAT64_PREFIX_LENGTHS: readonly Nat64PrefixLength[] = [32, 40, 48, 56, 64, 96];

export interface Nat64Prefix {
  /** 16 bytes, zero after `length` bits. */
  readonly bytes: Uint8Array;
  readonly length: Nat64PrefixLength;
  /** Canonical `addr/len` text. */
  readonly text: string;
  /** True for 64:ff9b::/96, which must not embed non-global IPv4 addresses. */
  readonly wellKnown: boolean;
}

const WKP_BYTES = Uint8Array.of(0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

/** Parse `prefix/len`. Throws AddressError on bad text, a length RFC 6052 does not allow, or set bits past the length. */
export function parseNat64Prefix(text: string): Nat64Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AddressError(text, 'expected IPv6-PREFIX/LENGTH');
  const bytes = parseIPv6(text.slice(0, slash));
  if (!bytes) throw new AddressError(text, 'prefix is not an IPv6 address');
  const lenText = text.slice(slash + 1);
  const length = /^[0-9]{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(NAT64_PREFIX_LENGTHS as readonly number[]).includes(length)) {
    throw new AddressError(text, 'RFC 6052 prefix length must be 32, 40, 48, 56, 64 or 96');
  }
  for (let i = length / 8; i < 16; i++) {
    if (bytes[i] !== 0) throw new AddressError(text, `bits after /${length} must be zero`);
  }
  return makePrefix(bytes, length as Nat64PrefixLength);
}

function makePrefix(bytes: Uint8Array, length: Nat64PrefixLength): Nat64Prefix {
  if (length === 96 && bytes[8] !== 0) throw new AddressError(formatIPv6(bytes), 'bits 64-71 (the u octet) must be zero');
  let wellKnown = length === 96;
  for (let i = 0; i < 16 && wellKnown; i++) if (bytes[i] !== WKP_BYTES[i]) wellKnown = false;
  return Object.freeze({ bytes: Uint8Array.from(bytes), length, text: `${formatIPv6(bytes)}/${length}`, wellKnown });
}

export const WELL_KNOWN_PREFIX: Nat64Prefix = makePrefix(WKP_BYTES, 96);

/** Byte positions of the four IPv4 bytes for each prefix length (byte 8 is the u octet). */
function positions(length: Nat64PrefixLength): readonly number[] {
  switch (length) {
    case 32:
      return [4, 5, 6, 7];
    case 40:
      return [5, 6, 7, 9];
    case 48:
      return [6, 7, 9, 10];
    case 56:
      return [7, 9, 10, 11];
    case 64:
      return [9, 10, 11, 12];
    case 96:
      return [12, 13, 14, 15];
  }
}

/** The IPv4-embedded IPv6 address (16 bytes), without any policy check. */
export function embedIPv4(prefix: Nat64Prefix, ipv4: Uint8Array): Uint8Array {
  if (ipv4.length !== 4) throw new NatAlgError('invalid-argument', 'an IPv4 address is 4 bytes');
  const out = Uint8Array.from(prefix.bytes);
  const pos = positions(prefix.length);
  for (let i = 0; i < 4; i++) out[pos[i]!] = ipv4[i]!;
  return out;
}

/**
 * The IPv4 address embedded in `ipv6` under `prefix`, or null when the address is not under the
 * prefix or its u octet is not zero. Suffix bits are ignored (reserved for future use).
 */
export function extractIPv4(prefix: Nat64Prefix, ipv6: Uint8Array): Uint8Array | null {
  if (ipv6.length !== 16) return null;
  const whole = prefix.length >> 3;
  for (let i = 0; i < whole; i++) if (ipv6[i] !== prefix.bytes[i]) return null;
  if (ipv6[8] !== 0) return null;
  const pos = positions(prefix.length);
  return Uint8Array.of(ipv6[pos[0]!]!, ipv6[pos[1]!]!, ipv6[pos[2]!]!, ipv6[pos[3]!]!);
}

/** CIDR blocks that are not globally reachable (RFC 6890 registry, RFC 6052 section 3.1). */
const NON_GLOBAL_V4: readonly (readonly [number, number, number, number, number])[] = [
  [0, 0, 0, 0, 8], // "this network"
  [10, 0, 0, 0, 8], // private (RFC 1918)
  [100, 64, 0, 0, 10], // shared address space (RFC 6598)
  [127, 0, 0, 0, 8], // loopback
  [169, 254, 0, 0, 16], // link-local
  [172, 16, 0, 0, 12], // private
  [192, 0, 0, 0, 24], // IETF protocol assignments
  [192, 0, 2, 0, 24], // TEST-NET-1 (documentation)
  [192, 88, 99, 0, 24], // 6to4 relay anycast (deprecated)
  [192, 168, 0, 0, 16], // private
  [198, 18, 0, 0, 15], // benchmarking
  [198, 51, 100, 0, 24], // TEST-NET-2
  [203, 0, 113, 0, 24], // TEST-NET-3
  [224, 0, 0, 0, 4], // multicast
  [240, 0, 0, 0, 4], // reserved, and the limited broadcast address
];

export function isGlobalIPv4(ipv4: Uint8Array): boolean {
  const v = ((ipv4[0]! << 24) | (ipv4[1]! << 16) | (ipv4[2]! << 8) | ipv4[3]!) >>> 0;
  for (const [a, b, c, d, len] of NON_GLOBAL_V4) {
    const net = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if (((v & mask) >>> 0) === net) return false;
  }
  return true;
}

export type SynthesizeResult =
  | { readonly ok: true; readonly address: string }
  | { readonly ok: false; readonly reason: 'non-global' };

/**
 * The IPv6 address an IPv6-only host uses for an IPv4 address (canonical RFC 5952 text).
 * Refuses non-global IPv4 addresses under the Well-Known Prefix. Throws AddressError when
 * `ipv4` is not IPv4 text (the caller's mistake).
 */
export function synthesizeIPv6(prefix: Nat64Prefix, ipv4: string): SynthesizeResult {
  const bytes = parseIPv4(ipv4);
  if (!bytes) throw new AddressError(ipv4, 'not an IPv4 address');
  if (prefix.wellKnown && !isGlobalIPv4(bytes)) return { ok: false, reason: 'non-global' };
  return { ok: true, address: formatIPv6(embedIPv4(prefix, bytes)) };
}

/**
 * The IPv4 address inside an IPv6 address under `prefix`, as text, or null when it is not an
 * IPv4-embedded address of this prefix, or a non-global one under the Well-Known Prefix.
 */
export function extractIPv4Text(prefix: Nat64Prefix, ipv6: string): string | null {
  const parsed = parseAddress(ipv6);
  if (!parsed || parsed.family !== 6) return null;
  const v4 = extractIPv4(prefix, parsed.bytes);
  if (!v4) return null;
  if (prefix.wellKnown && !isGlobalIPv4(v4)) return null;
  return formatIPv4(v4);
}
