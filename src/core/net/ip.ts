/**
 * IPv4 and IPv6 addresses: strict parsing of untrusted text and canonical formatting (RFC 5952
 * for IPv6), shared by every ALG and by the mapping table. Addresses travel through the public
 * API as canonical strings (easy to log and compare); the byte form is used where bytes matter.
 *
 * Parsing is strict on purpose: a lenient parser is how a gateway ends up reading one address
 * while the server reads another. No leading zeros in dotted quads (ambiguous: octal to some
 * parsers), no zone ids, no surrounding white space.
 */

import { AddressError } from '../errors.js';

export type AddressFamily = 4 | 6;

/** A transport endpoint. `address` is canonical text (see `canonicalAddress`). */
export interface Endpoint {
  readonly family: AddressFamily;
  readonly address: string;
  readonly port: number;
}

/** Parse a dotted quad into 4 bytes, or null. Each field is 0-255, decimal, no leading zero. */
export function parseIPv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  return readIPv4(text, out) ? out : null;
}

/** Whether `text` is a dotted quad by parseIPv4's rule; its bytes go to `out` when one is given. */
function readIPv4(text: string, out: Uint8Array | null): boolean {
  let field = 0;
  let value = -1; // -1: no digit yet in this field
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = (value < 0 ? 0 : value * 10) + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 46 /* . */) {
      if (value < 0 || field === 3) return false;
      if (out !== null) out[field] = value;
      field++;
      value = -1;
      digits = 0;
    } else {
      return false;
    }
  }
  if (field !== 3 || value < 0) return false;
  if (out !== null) out[3] = value;
  return true;
}

/** Parse IPv6 text (RFC 4291 section 2.2, including an embedded dotted quad) into 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const out = new Uint8Array(16);
  const head: number[] = [];
  const tail: number[] = [];
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return null;
  let parts: string[] = [];
  let tailParts: string[] = [];
  if (dbl >= 0) {
    const left = text.slice(0, dbl);
    const right = text.slice(dbl + 2);
    if (left.length > 0) parts = left.split(':');
    if (right.length > 0) tailParts = right.split(':');
  } else {
    parts = text.split(':');
  }
  const pushGroups = (groups: string[], into: number[], allowV4Last: boolean): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4Last && i === groups.length - 1 && g.indexOf('.') >= 0) {
        const v4 = parseIPv4(g);
        if (!v4) return false;
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (g.length === 0 || g.length > 4) return false;
      let v = 0;
      for (let j = 0; j < g.length; j++) {
        const c = g.charCodeAt(j);
        let d: number;
        if (c >= 48 && c <= 57) d = c - 48;
        else if (c >= 97 && c <= 102) d = c - 87;
        else if (c >= 65 && c <= 70) d = c - 55;
        else return false;
        v = (v << 4) | d;
      }
      into.push(v);
    }
    return true;
  };
  if (dbl >= 0) {
    // A dotted quad may only end the address: never before the `::` ("1.2.3.4::" is not IPv6).
    if (!pushGroups(parts, head, false)) return null;
    if (!pushGroups(tailParts, tail, true)) return null;
    if (head.length + tail.length > 7) return null;
  } else {
    if (!pushGroups(parts, head, true)) return null;
    if (head.length !== 8) return null;
  }
  for (let i = 0; i < head.length; i++) {
    out[i * 2] = head[i]! >> 8;
    out[i * 2 + 1] = head[i]! & 0xff;
  }
  const off = 8 - tail.length;
  for (let i = 0; i < tail.length; i++) {
    out[(off + i) * 2] = tail[i]! >> 8;
    out[(off + i) * 2 + 1] = tail[i]! & 0xff;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest run (>1) of zero groups as `::`. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = new Array(8);
  for (let i = 0; i < 8; i++) groups[i] = (bytes[offset + i * 2]! << 8) | bytes[offset + i * 2 + 1]!;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Family and bytes of any textual address, or null. */
export function parseAddress(text: string): { family: AddressFamily; bytes: Uint8Array } | null {
  if (text.indexOf(':') >= 0) {
    const b = parseIPv6(text);
    return b ? { family: 6, bytes: b } : null;
  }
  const b = parseIPv4(text);
  return b ? { family: 4, bytes: b } : null;
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIPv4(bytes);
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new AddressError(`<${bytes.length} bytes>`, 'an address is 4 or 16 bytes');
}

/** The family of a textual address, or null when it is not an address. */
export function addressFamily(text: string): AddressFamily | null {
  return parseAddress(text)?.family ?? null;
}

/**
 * Canonical text of an address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d), as node reports
 * IPv4 peers on dual-stack sockets, is returned as plain IPv4 so that both spellings compare equal.
 * Throws AddressError on text that is not an address.
 */
export function canonicalAddress(text: string): string {
  // A dotted quad that parses is canonical already (decimal fields without leading zeros): it is
  // checked without making its bytes. (A String object or the like from plain JavaScript is
  // still made a string below.)
  if (typeof text === 'string' && readIPv4(text, null)) return text; // a ':' fails it at once
  const p = parseAddress(text);
  if (!p) throw new AddressError(text, 'not an IPv4 or IPv6 address');
  if (p.family === 6 && isV4Mapped(p.bytes)) return formatIPv4(p.bytes, 12);
  return p.family === 4 ? formatIPv4(p.bytes) : formatIPv6(p.bytes);
}

/** Family of canonical text (after `canonicalAddress`): 6 when it contains a colon. */
export function familyOf(canonical: string): AddressFamily {
  return canonical.indexOf(':') >= 0 ? 6 : 4;
}

export function isV4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Build a validated endpoint. Throws AddressError on a bad address or port. */
export function endpoint(address: string, port: number): Endpoint {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AddressError(`${address} port ${port}`, 'port must be an integer 0-65535');
  }
  const canonical = canonicalAddress(address);
  return { family: familyOf(canonical), address: canonical, port };
}

/** `a.b.c.d:p` or `[v6]:p`, the form used in logs and on the CLI. */
export function formatEndpoint(e: Endpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Parse `HOST:PORT` / `[V6]:PORT`. Throws AddressError. */
export function parseEndpoint(text: string): Endpoint {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw new AddressError(text, 'expected [IPv6]:PORT');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new AddressError(text, 'expected HOST:PORT');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.indexOf(':') >= 0) throw new AddressError(text, 'IPv6 addresses go in brackets: [V6]:PORT');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw new AddressError(text, 'port must be a decimal number');
  return endpoint(host, Number(portText));
}

export function sameAddress(a: string, b: string): boolean {
  return a === b || canonicalAddress(a) === canonicalAddress(b);
}

/**
 * IPv4 text to an unsigned 32-bit number, or -1 when it is not a dotted quad. Same strictness as
 * `parseIPv4` but allocates nothing: the mapping table calls it on every packet.
 */
export function ipv4ToNumber(text: string): number {
  let result = 0;
  let field = 0;
  let value = -1;
  let digits = 0;
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return -1;
      value = (value < 0 ? 0 : value * 10) + (c - 48);
      if (++digits > 3 || value > 255) return -1;
    } else if (c === 46) {
      if (value < 0 || field === 3) return -1;
      result = result * 256 + value;
      field++;
      value = -1;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (field !== 3 || value < 0) return -1;
  return result * 256 + value;
}

/** Dotted quad of an unsigned 32-bit number (0 to 2^32-1). */
export function numberToIPv4(n: number): string {
  return `${Math.floor(n / 16777216) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
