/**
 * How the most lenient real client reads the numbers of a DCC offer (lenient.ts says where it
 * looks for them): as C's strtoul with base 0 (a leading 0x is hex, a leading 0 octal, reading
 * stops at the first byte that is no digit: `22"` is 22), an address modulo 2^32, a port modulo
 * 2^16; a dotted address as inet_aton (`127.1` is 127.0.0.1); IPv6 as inet_pton, with or without
 * trailing junk cut first.
 *
 * A pair of words names an endpoint a client would connect to unless the port reads as 0 or the
 * address lies in 0.0.0.0/8 other than 0.0.0.0 itself (unroutable; 0.0.0.0 and :: reach the
 * client's own host on Linux).
 */

import { parseIPv6 } from '../net/ip.js';
import { latin1 } from './bytes.js';
import type { Span } from './span.js';

function upper(c: number | undefined): number {
  return c !== undefined && c >= 0x61 && c <= 0x7a ? c - 0x20 : (c ?? -1);
}

/** strtoul(s, NULL, base) of the span: its value (exact below 2^53), or -1 without digits. */
function strtoul(line: Uint8Array, start: number, end: number, base: 0 | 10): { value: number; next: number } | null {
  let p = start;
  let radix = 10;
  if (base === 0 && line[p] === 0x30) {
    if (upper(line[p + 1]) === 0x58 && p + 2 < end && hexDigit(line[p + 2]!) >= 0) {
      radix = 16;
      p += 2;
    } else {
      radix = 8;
    }
  }
  let value = 0;
  let digits = 0;
  for (; p < end; p++) {
    const d = radix === 16 ? hexDigit(line[p]!) : decimalDigit(line[p]!);
    if (d < 0 || d >= radix) break;
    // Beyond 2^53 only the value modulo 2^32 matters to a client; keep it exact there.
    value = value * radix + d;
    if (value > 2 ** 52) value = value % 2 ** 32;
    digits++;
  }
  return digits === 0 ? null : { value, next: p };
}

function decimalDigit(c: number): number {
  return c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const u = upper(c);
  return u >= 0x41 && u <= 0x46 ? u - 0x41 + 10 : -1;
}

/** A lenient reading of an address token: a 32-bit number, or IPv6 text; null for none. */
type LenientAddress = { readonly v4: number } | { readonly v6: string };

function readAddress(line: Uint8Array, w: Span): LenientAddress | null {
  let colon = false;
  let dot = false;
  for (let i = w.start; i < w.end; i++) {
    if (line[i] === 0x3a) colon = true;
    else if (line[i] === 0x2e) dot = true;
  }
  if (colon) {
    // inet_pton wants the whole token; a client may have cut trailing junk first.
    let e = w.start;
    while (e < w.end && (hexDigit(line[e]!) >= 0 || line[e] === 0x3a || line[e] === 0x2e)) e++;
    for (const end of [w.end, e]) {
      const bytes = parseIPv6(latin1(line, w.start, end));
      if (bytes) return { v6: latin1(line, w.start, end) };
    }
    return null;
  }
  if (dot) {
    const v = inetAton(line, w.start, w.end);
    if (v !== null) return { v4: v };
  }
  const n = strtoul(line, w.start, w.end, 0);
  return n === null ? null : { v4: n.value % 2 ** 32 };
}

/** inet_aton: one to four parts, each strtoul base 0, the last filling the remaining bytes. */
function inetAton(line: Uint8Array, start: number, end: number): number | null {
  const parts: number[] = [];
  let p = start;
  for (;;) {
    const n = strtoul(line, p, end, 0);
    if (n === null) return null;
    parts.push(n.value);
    p = n.next;
    if (p < end && line[p] === 0x2e && parts.length < 4) {
      p++;
      continue;
    }
    break;
  }
  const last = parts.length - 1;
  let v = 0;
  for (let k = 0; k < last; k++) {
    if (parts[k]! > 255) return null;
    v = v * 256 + parts[k]!;
  }
  const room = 2 ** (8 * (4 - last));
  if (parts[last]! >= room) return null;
  return v * room + parts[last]!;
}

function readPort(line: Uint8Array, w: Span): number {
  const n = strtoul(line, w.start, w.end, 10);
  return n === null ? 0 : n.value % 65536;
}

/** Whether a client connecting to this address would reach anything. */
function reachable(a: LenientAddress): boolean {
  if ('v6' in a) return true;
  return a.v4 === 0 || a.v4 >= 2 ** 24;
}

/** Whether a client reading `address` and `port` as an offer's endpoint would connect somewhere. */
export function readsAsEndpoint(line: Uint8Array, address: Span, port: Span): boolean {
  if (readPort(line, port) === 0) return false;
  const a = readAddress(line, address);
  if (a !== null && reachable(a)) return true;
  // Clients reading the address with base 10 (irssi, HexChat) take `0177...` as decimal.
  const decimal = strtoul(line, address.start, address.end, 10);
  return decimal !== null && reachable({ v4: decimal.value % 2 ** 32 });
}
