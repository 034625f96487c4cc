/**
 * How the most lenient real client could read a line, so that the translator never passes a line
 * such a client would take for an offer the gateway did not check. The translator reads offers
 * strictly (dcc.ts); these readings only decide whether a line is safe to pass:
 *
 * - Where a DCC is (findDccPlaces): a \x01, any blanks, then a tag of rules.ts DCC_TAG_RULES, in
 *   any case, anywhere in the line (not only where a text begins: old clients and
 *   nf_conntrack_irc look for `\x01DCC` anywhere). A place tagged `DCC` must be an offer the
 *   strict reader read; a place under another tag a client reads as DCC (KVIrc's TDCC and XDCC,
 *   HexChat's DCC-anything) must name no endpoint in any reading.
 * - How its words give an address and port: every reading of rules.ts LENIENT_READINGS (each a
 *   real client's: sscanf from the left, after a quoted filename, from the right, irssi's
 *   leftmost triple, KVIrc's escaped blanks, WeeChat's CTCP to the last \x01 read from the right).
 * - How numbers are read: lenient-numbers.ts.
 *
 * An offer with a reading that names an endpoint in other words than the strict address and port
 * (of this offer or another the line's strict reading found, which the gateway checks and
 * rewrites too) is ambiguous. Readings that only shift the strict fields (the strict port taken
 * for an address, an address from the right after the strict one) do not count: that is the
 * offer format itself, the same with or without a gateway; the port word as an address is at
 * most 65535, in 0.0.0.0/8.
 */

import { equalsIgnoreCase, upperAscii } from './bytes.js';
import { findByte, findLastByte, NO_VIEW } from '../stream/lf-scan.js';
import type { DccChatOffer, DccSendOffer } from './dcc.js';
import { dccLayoutOf } from './dcc-layout.js';
import { readsAsEndpoint } from './lenient-numbers.js';
import { DCC_RULES, DCC_TAG_RULES, LENIENT_READINGS, PASSING_OTHER_VERBS, type DccTagAction, type LenientReading } from './rules.js';
import type { Span } from './span.js';

function isBlank(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

function isAlnum(c: number | undefined): boolean {
  if (c === undefined) return false;
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** A byte where a lenient client may end the line (CR, LF, NUL). */
function endsLine(c: number | undefined): boolean {
  return c === 0x0d || c === 0x0a || c === 0x00;
}

/** A place a lenient client could take for the start of a DCC. */
export interface DccPlace {
  /** Index of its \x01. */
  readonly at: number;
  readonly action: DccTagAction;
  /** Where the words after its tag begin. */
  readonly wordsFrom: number;
}

/** Every place in line[from, to) a lenient client could take for the start of a DCC (one per \x01 at most). */
export function findDccPlaces(line: Uint8Array, from: number, to: number): DccPlace[] {
  const out: DccPlace[] = [];
  // A held line is short: a loop costs less than a call to indexOf per \x01.
  for (let i = findByte(line, NO_VIEW, 1, from, to); i >= 0; i = findByte(line, NO_VIEW, 1, i + 1, to)) {
    let p = i + 1;
    while (p < to && isBlank(line[p])) p++;
    let tagEnd = p;
    while (tagEnd < to && !isBlank(line[tagEnd]) && line[tagEnd] !== 1 && !endsLine(line[tagEnd])) tagEnd++;
    for (const rule of DCC_TAG_RULES) {
      const end = p + rule.tag.length;
      if (end > to || !equalsIgnoreCase(line, p, end, rule.tag)) continue;
      if (rule.followedBy === 'no-alnum' && end < to && isAlnum(line[end])) continue;
      out.push({ at: i, action: rule.action, wordsFrom: tagEnd });
      break;
    }
  }
  return out;
}

/**
 * Word spans of line[from, to) split at blanks; with `escapes`, at blanks that no backslash
 * escapes (a backslash takes the next byte into its word, as KVIrc reads them).
 */
function splitWords(line: Uint8Array, from: number, to: number, escapes = false): Span[] {
  const out: Span[] = [];
  let p = from;
  for (;;) {
    while (p < to && isBlank(line[p])) p++;
    if (p >= to) return out;
    const start = p;
    while (p < to && !isBlank(line[p])) p += escapes && line[p] === 0x5c ? 2 : 1;
    out.push({ start, end: Math.min(p, to) });
  }
}

/** Word spans of line[from, to) split at blanks. */
function blankWords(line: Uint8Array, from: number, to: number): Span[] {
  return splitWords(line, from, to);
}

/** Fields of line[from, to) split at each single space (empty fields kept), as strrchr(' ') finds them. */
function spaceFields(line: Uint8Array, from: number, to: number): Span[] {
  const out: Span[] = [];
  let start = from;
  for (let p = from; p < to; p++) {
    if (line[p] === 0x20) {
      out.push({ start, end: p });
      start = p + 1;
    }
  }
  out.push({ start, end: to });
  return out;
}

function allDigits(line: Uint8Array, w: Span): boolean {
  if (w.end <= w.start) return false;
  for (let i = w.start; i < w.end; i++) if (line[i]! < 0x30 || line[i]! > 0x39) return false;
  return true;
}

function hasByte(line: Uint8Array, w: Span, byte: number): boolean {
  for (let i = w.start; i < w.end; i++) if (line[i] === byte) return true;
  return false;
}

/** Whether words a, b, c are what irssi takes for address, port and size. */
function irssiTriple(line: Uint8Array, a: Span, b: Span, c: Span): boolean {
  if (!(allDigits(line, a) || hasByte(line, a, 0x3a))) return false;
  if (!allDigits(line, b) || !allDigits(line, c)) return false;
  let port = 0;
  for (let i = b.start; i < b.end && port < 65536; i++) port = port * 10 + line[i]! - 0x30;
  return port < 65536;
}

/** What a DCC's verb makes of its words: SEND's and CHAT's fields differ from the right. */
type VerbShape = 'send' | 'chat' | 'either';

/** One reading's address and port words; `opaque`: words a client decodes in ways not modelled. */
interface Reading {
  readonly reading: LenientReading;
  readonly address: Span;
  readonly port: Span;
  readonly opaque: boolean;
}

/** Add a reading that found both words (a function, not a closure made per call). */
function push(out: Reading[], reading: LenientReading, address: Span | undefined, port: Span | undefined, opaque = false): void {
  if (address !== undefined && port !== undefined) out.push({ reading, address, port, opaque });
}

/**
 * Every reading of the words in line[from, bodyEnd) (after the verb; WeeChat's reading runs on to
 * the line's last \x01 or its end).
 */
function readingsOf(line: Uint8Array, from: number, bodyEnd: number, shape: VerbShape): Reading[] {
  const out: Reading[] = [];
  const words = blankWords(line, from, bodyEnd);
  const n = words.length;
  for (const reading of LENIENT_READINGS) {
    switch (reading) {
      case 'left':
        push(out, reading, words[1], words[2]);
        break;
      case 'after-quote': {
        const open = findByte(line, NO_VIEW, 0x22, from, bodyEnd);
        const close = open < 0 ? -1 : findByte(line, NO_VIEW, 0x22, open + 1, bodyEnd);
        if (close >= 0) {
          const after = blankWords(line, close + 1, bodyEnd);
          push(out, reading, after[0], after[1]);
        }
        break;
      }
      case 'right':
        for (let extra = 0; extra <= 2; extra++) {
          const k = n - 2 - extra;
          if (k >= 1) push(out, reading, words[k], words[k + 1]);
        }
        break;
      case 'leftmost-triple':
        // irssi's first parameter is the filename's first word; an empty one (two blanks after
        // the verb) moves the triple's start to the first word: both starts.
        for (let first = 0; first <= 1; first++) {
          for (let k = first; k + 2 < n; k++) {
            if (irssiTriple(line, words[k]!, words[k + 1]!, words[k + 2]!)) {
              push(out, reading, words[k], words[k + 1]);
              break;
            }
          }
        }
        break;
      case 'escaped-blanks': {
        const v = splitWords(line, from, bodyEnd, true);
        if (v.length >= 3) push(out, reading, v[1], v[2], hasByte(line, v[1]!, 0x5c) || hasByte(line, v[2]!, 0x5c));
        break;
      }
      case 'to-last-ctcp-byte': {
        let end = bodyEnd;
        while (end < line.length && !endsLine(line[end])) end++;
        const last = findLastByte(line, NO_VIEW, 1, from, end);
        const f = spaceFields(line, from, last >= 0 ? last : end);
        const m = f.length;
        if (shape !== 'chat') push(out, reading, f[m - 3], f[m - 2]);
        if (shape !== 'send') push(out, reading, f[m - 2], f[m - 1]);
        break;
      }
    }
  }
  return out;
}

function sameSpan(a: Span, b: Span): boolean {
  return a.start === b.start && a.end === b.end;
}

/** Whether `r` reads the address and port words of one of the `strict` offers. */
function isStrictPair(strict: readonly EndpointWords[], r: Reading): boolean {
  for (const s of strict) if (sameSpan(s.address, r.address) && sameSpan(s.port, r.port)) return true;
  return false;
}

/** Whether `word` starts where the port of one of the `strict` offers starts. */
function isStrictPort(strict: readonly EndpointWords[], word: Span): boolean {
  for (const s of strict) if (s.port.start === word.start) return true;
  return false;
}

/** The address and port words of an offer the gateway reads strictly, checks and rewrites. */
export interface EndpointWords {
  readonly address: Span;
  readonly port: Span;
}

/**
 * Whether a lenient client could read `offer` (parsed strictly from `line`, its CTCP body ending
 * at `bodyEnd`) as an endpoint in other words than the strict ones: `strict` holds the address
 * and port words of every offer the line's strict reading found (this one included). An endpoint
 * read anywhere else would reach the other side as the offerer wrote it.
 */
export function isAmbiguous(line: Uint8Array, offer: DccSendOffer | DccChatOffer, bodyEnd: number, strict: readonly EndpointWords[]): boolean {
  for (const r of readingsOf(line, offer.verbSpan.end, bodyEnd, offer.kind)) {
    if (isStrictPair(strict, r)) continue;
    if (isStrictPort(strict, r.address)) continue; // the port read as an address
    if (r.reading === 'right' && r.address.start >= offer.addressSpan.start) continue; // fewer optional fields
    if (r.opaque || readsAsEndpoint(line, r.address, r.port)) return true;
  }
  return false;
}

/** Whether any lenient reading of the place's words names an endpoint (for `refuse-endpoint` places). */
export function namesAnyEndpoint(line: Uint8Array, place: DccPlace): boolean {
  let bodyEnd = place.wordsFrom;
  while (bodyEnd < line.length && line[bodyEnd] !== 1 && !endsLine(line[bodyEnd])) bodyEnd++;
  const verb = blankWords(line, place.wordsFrom, bodyEnd)[0];
  if (verb === undefined) return false;
  const name = upperAscii(line, verb.start, verb.end);
  const kind = dccLayoutOf(name)?.kind ?? 'other';
  // RESUME and ACCEPT name a port and a position, REJECT nothing: no address to connect to.
  if (DCC_RULES[kind] === 'port-of-their-offer' || DCC_RULES[kind] === 'port-of-own-offer' || PASSING_OTHER_VERBS.has(name)) return false;
  const shape: VerbShape = kind === 'send' ? 'send' : kind === 'chat' ? 'chat' : 'either';
  return readingsOf(line, verb.end, bodyEnd, shape).some((r) => r.opaque || readsAsEndpoint(line, r.address, r.port));
}
