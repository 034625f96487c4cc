/**
 * How the most lenient real client could read a line, so that the translator never passes a line
 * such a client would take for an offer it did not check. The translator reads offers strictly
 * (dcc.ts); these readings only decide whether a strictly read line is safe to pass:
 *
 * - Where a DCC is: a \x01, any blanks (space, tab), `DCC` in any case, then anything but a
 *   letter or digit (countDccMarkers). Old clients and nf_conntrack_irc look for `\x01DCC`
 *   anywhere, not only where a text begins, and split words at any blank. Every such place must
 *   be an offer the strict reader read in a PRIVMSG or NOTICE text, or the line is refused.
 * - How its words are split: at blanks, with or without double quotes around a filename, the
 *   fields taken from the left (`%s %s %s`, as sscanf-based clients do) or from the right (as
 *   WeeChat does).
 * - How numbers are read: as C's strtoul with base 0 reads them (a leading 0x is hex, a leading 0
 *   octal, reading stops at the first byte that is no digit: `22"` is 22), an address modulo
 *   2^32, a port modulo 2^16; a dotted address as inet_aton reads it (`127.1` is 127.0.0.1).
 *
 * A reading names an endpoint a client would connect to unless its port is 0 or its address lies
 * in 0.0.0.0/8 other than 0.0.0.0 itself (unroutable; 0.0.0.0 and :: reach the client's own host
 * on Linux). An offer with a reading that names an endpoint in other words than the strict
 * address and port is ambiguous. Readings that take the address from inside the filename count;
 * readings that only shift the strict fields (the port read as an address because a client
 * expects no token) do not: that is the offer format itself, the same with or without a gateway.
 */

import { parseIPv6 } from '../net/ip.js';
import { latin1 } from './bytes.js';
import type { DccChatOffer, DccSendOffer } from './dcc.js';
import type { Span } from './span.js';

function isBlank(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

function isAlnum(c: number | undefined): boolean {
  if (c === undefined) return false;
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function upper(c: number | undefined): number {
  return c !== undefined && c >= 0x61 && c <= 0x7a ? c - 0x20 : (c ?? -1);
}

/** How many places in line[from, to) a lenient client could take for the start of a DCC. */
export function countDccMarkers(line: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let i = line.indexOf(1, from); i >= 0 && i < to; i = line.indexOf(1, i + 1)) {
    let p = i + 1;
    while (p < to && isBlank(line[p])) p++;
    if (p + 3 <= to && upper(line[p]) === 0x44 && upper(line[p + 1]) === 0x43 && upper(line[p + 2]) === 0x43 && (p + 3 === to || !isAlnum(line[p + 3]))) {
      count++;
    }
  }
  return count;
}

/** Word spans of line[from, to) split at blanks. */
function blankWords(line: Uint8Array, from: number, to: number): Span[] {
  const out: Span[] = [];
  let p = from;
  for (;;) {
    while (p < to && isBlank(line[p])) p++;
    if (p >= to) return out;
    const start = p;
    while (p < to && !isBlank(line[p])) p++;
    out.push({ start, end: p });
  }
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

/**
 * Whether a lenient client could read `offer` (parsed strictly from `line`, its CTCP body ending
 * at `bodyEnd`) as an endpoint in other words than the strict reading's address and port. Those
 * are the only words the gateway rewrites: an endpoint read anywhere else would reach the other
 * side as the offerer wrote it.
 */
export function isAmbiguous(line: Uint8Array, offer: DccSendOffer | DccChatOffer, bodyEnd: number): boolean {
  // The words after the verb, split at blanks and ignoring quotes.
  const words = blankWords(line, offer.verbSpan.end, bodyEnd);
  const candidates: [Span, Span][] = [];
  // From the left: the filename (or CHAT's protocol) is one word, the address and port follow.
  if (words.length >= 3) candidates.push([words[1]!, words[2]!]);
  // From the right: the address and port followed by 0, 1 or 2 optional fields, where that puts
  // the address inside the filename (a reading that only shifts the strict fields, taking the
  // port for an address, is how the offer format is with or without a gateway: not counted).
  const strictAt = words.findIndex((w) => w.start === offer.addressSpan.start);
  for (let extra = 0; extra <= 2; extra++) {
    const k = words.length - 2 - extra;
    if (k >= 1 && k < strictAt) candidates.push([words[k]!, words[k + 1]!]);
  }
  // Quote-aware from the left: the words after the closing quote (the strict reading's, unless
  // the quote closes inside a word).
  if (offer.kind === 'send' && offer.filenameForm === 'quoted') {
    const after = blankWords(line, offer.filenameSpan.end + 1, bodyEnd);
    if (after.length >= 2) candidates.push([after[0]!, after[1]!]);
  }
  for (const [aw, pw] of candidates) {
    if (aw.start === offer.addressSpan.start && aw.end === offer.addressSpan.end && pw.start === offer.portSpan.start && pw.end === offer.portSpan.end) continue;
    const a = readAddress(line, aw);
    if (a === null || !reachable(a)) continue;
    if (readPort(line, pw) !== 0) return true;
  }
  return false;
}
