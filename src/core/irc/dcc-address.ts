/**
 * The address of a DCC offer in its three spellings: an IPv4 address as an unsigned 32-bit
 * decimal integer (the original form: 192.0.2.10 is 3221225994), an IPv6 address as text, and an
 * IPv4 address as dotted text (some clients send it; most accept it). The form is reported so that
 * a rewrite can answer in the spelling the peer used.
 *
 * Strict on purpose: the integer has no leading zeros (C clients reading with base 0 would take
 * them as octal), at most 10 digits and no value above 4294967295 (never reduced modulo 2^32);
 * dotted text follows parseIPv4 (no leading zeros, no short forms); IPv6 text follows parseIPv6
 * (no zone id). An IPv4-mapped IPv6 address is reported as the IPv4 address it names, with the
 * form 'ipv6', because that is where a client connecting to it ends up.
 */

import { AddressError } from '../errors.js';
import { canonicalAddress, familyOf, type AddressFamily, formatIPv4, formatIPv6, ipv4ToNumber, isV4Mapped, numberToIPv4, parseIPv4, parseIPv6 } from '../net/ip.js';
import { latin1, readDecimal } from './bytes.js';

export type DccAddressForm = 'integer' | 'ipv4-text' | 'ipv6';

export const MAX_DCC_INTEGER = 4294967295;

/** Longest IPv6 text (RFC 4291 with an embedded dotted quad). */
const MAX_IPV6_TEXT = 45;
/** Longest dotted quad. */
const MAX_IPV4_TEXT = 15;

export interface DccAddress {
  /** Canonical text (dotted quad, or RFC 5952 IPv6). */
  readonly address: string;
  readonly form: DccAddressForm;
}

/** The address in `buf[start, end)`, or null when it is none of the three forms. */
export function readDccAddress(buf: Uint8Array, start: number, end: number): DccAddress | null {
  let colon = false;
  let dot = false;
  for (let i = start; i < end; i++) {
    if (buf[i] === 0x3a) colon = true;
    else if (buf[i] === 0x2e) dot = true;
  }
  if (colon) {
    if (end - start > MAX_IPV6_TEXT) return null;
    const bytes = parseIPv6(latin1(buf, start, end));
    if (!bytes) return null;
    return { address: isV4Mapped(bytes) ? formatIPv4(bytes, 12) : formatIPv6(bytes), form: 'ipv6' };
  }
  if (dot) {
    if (end - start > MAX_IPV4_TEXT) return null;
    const bytes = parseIPv4(latin1(buf, start, end));
    return bytes ? { address: formatIPv4(bytes), form: 'ipv4-text' } : null;
  }
  const n = readDecimal(buf, start, end, MAX_DCC_INTEGER);
  return n < 0 ? null : { address: numberToIPv4(n), form: 'integer' };
}

/** The dotted quad of a DCC integer address (`"3221225994"` is 192.0.2.10), or null. */
export function ipv4FromDccInteger(text: string): string | null {
  if (text.length === 0 || text.length > 10) return null;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return null;
    bytes[i] = c;
  }
  const n = readDecimal(bytes, 0, bytes.length, MAX_DCC_INTEGER);
  return n < 0 ? null : numberToIPv4(n);
}

/** The DCC integer text of a dotted quad (192.0.2.10 is `"3221225994"`). Throws AddressError. */
export function ipv4ToDccInteger(dotted: string): string {
  const n = ipv4ToNumber(dotted);
  if (n < 0) throw new AddressError(dotted, 'not a dotted IPv4 address');
  return String(n);
}

/**
 * `address` spelled in `form`. Throws AddressError when it is not an address or the form cannot
 * carry it (an IPv6 address as an integer or dotted text). An IPv4 address in the form 'ipv6' is
 * written as an IPv4-mapped address.
 */
export function formatDccAddress(address: string, form: DccAddressForm): string {
  return spellCanonical(canonicalAddress(address), form, address);
}

/**
 * formatDccAddress for an address that is canonical text already (canonicalAddress's): a rewrite
 * canonicalizes the announced address once and reads its family and spelling from that text.
 * `given`: the text an error names (the caller's spelling).
 */
export function spellCanonical(canonical: string, form: DccAddressForm, given = canonical): string {
  const v6 = familyOf(canonical) === 6;
  switch (form) {
    case 'integer':
      if (v6) throw new AddressError(given, 'an IPv6 address has no DCC integer form');
      return String(ipv4ToNumber(canonical));
    case 'ipv4-text':
      if (v6) throw new AddressError(given, 'an IPv6 address has no dotted form');
      return canonical;
    case 'ipv6':
      return v6 ? canonical : `::ffff:${canonical}`;
  }
}

/**
 * The form to write `address` in when it replaces an address that was written in `previous`:
 * the same form when it can carry the address, otherwise the form every client reads for its
 * family (the integer for IPv4, text for IPv6).
 */
export function dccAddressFormFor(address: string, previous: DccAddressForm): DccAddressForm {
  return formForFamily(familyOf(canonicalAddress(address)), previous);
}

/** dccAddressFormFor by the new address's family (of its canonical text). */
export function formForFamily(family: AddressFamily, previous: DccAddressForm): DccAddressForm {
  if (family === 6) return 'ipv6';
  return previous === 'ipv6' ? 'integer' : previous;
}
