/**
 * Address blocks (`addr/len`) for realm rules: strict parsing (no set bits past the length, so
 * a typo does not silently widen a rule) and a containment test on bytes.
 */

import { AddressError } from '../errors.js';
import { formatAddress, parseAddress, type AddressFamily } from './ip.js';

export interface Cidr {
  readonly family: AddressFamily;
  readonly bytes: Uint8Array;
  readonly length: number;
  /** Canonical `addr/len`. */
  readonly text: string;
}

/** Parse `addr/len`; a bare address means a single host (/32 or /128). Throws AddressError. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddress(addrText);
  if (!parsed) throw new AddressError(text, 'not an address block');
  const bits = parsed.bytes.length * 8;
  let length = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > bits) throw new AddressError(text, `length must be 0-${bits}`);
    length = Number(lenText);
  }
  for (let bit = length; bit < bits; bit++) {
    if (parsed.bytes[bit >> 3]! & (0x80 >> (bit & 7))) throw new AddressError(text, `bits after /${length} must be zero`);
  }
  return Object.freeze({ family: parsed.family, bytes: parsed.bytes, length, text: `${formatAddress(parsed.bytes)}/${length}` });
}

/** Whether an address (bytes) lies in the block. Different families never match. */
export function cidrContainsBytes(block: Cidr, bytes: Uint8Array): boolean {
  if (bytes.length !== block.bytes.length) return false;
  const whole = block.length >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== block.bytes[i]) return false;
  const rest = block.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === block.bytes[whole];
}

/** Whether address text lies in the block; false for text that is not an address. */
export function cidrContains(block: Cidr, address: string): boolean {
  const p = parseAddress(address);
  return p !== null && cidrContainsBytes(block, p.bytes);
}

/**
 * The block of `prefixLength` bits holding an address, as canonical `addr/len` text (an address
 * of the other length is taken whole). Used to count one party per block: an IPv6 host usually
 * owns a whole /64 and can pick a new address in it per connection. Throws AddressError.
 */
export function prefixOf(address: string, prefixLength: number): string {
  const parsed = parseAddress(address);
  if (!parsed) throw new AddressError(address, 'not an IPv4 or IPv6 address');
  const bits = parsed.bytes.length * 8;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) {
    throw new AddressError(`${address}/${prefixLength}`, `length must be 0-${bits}`);
  }
  const b = parsed.bytes.slice();
  for (let bit = prefixLength; bit < bits; bit++) b[bit >> 3] = b[bit >> 3]! & ~(0x80 >> (bit & 7));
  return `${formatAddress(b)}/${prefixLength}`;
}

