/**
 * Strict finders and formatters for the passive replies 227 (PASV), 229 (EPSV, RFC 2428) and 228
 * (LPSV, RFC 1639); how a reply line begins is read by reply-start.ts.
 *
 * The 227 text is not standardised and clients scan it for the first run of six numbers, so the
 * finder does the same: the first position where `h,h,h,h,p,p` matches, fields range-checked
 * (0-255, zero padding allowed) and never masked. Finders return the span of the address in the
 * line so that a rewrite replaces only that span and keeps the server's text and punctuation.
 */

import { lprtFields, formatSextet, formatLongAddress, scanBytes, sextetEndpoint, type AddressParseResult } from './commands.js';
import type { Endpoint } from '../net/ip.js';
import { isDigit, parsePortNumber } from './text.js';

/** An address found in a reply line: the endpoint and the span [start, end) of its text. */
export interface FoundAddress {
  readonly endpoint: Endpoint;
  readonly start: number;
  readonly end: number;
}

/** A numeric run that looks like an address but is out of range: the reply must not be trusted. */
export const MALFORMED = 'malformed';

/** What a finder found in a reply line. */
export type FindResult = FoundAddress | typeof MALFORMED | null;

/** Read a comma-separated list of 1-3 digit numbers starting at `i`. */
function numberList(text: string, i: number, max: number): { values: number[]; end: number; overflow: boolean } {
  const values: number[] = [];
  let overflow = false;
  let p = i;
  for (;;) {
    let q = p;
    let v = 0;
    while (q < text.length && isDigit(text.charCodeAt(q)) && q - p < 4) {
      v = v * 10 + (text.charCodeAt(q) - 48);
      q++;
    }
    if (q === p) break;
    if (q - p > 3 || v > 255) overflow = true;
    values.push(v);
    p = q;
    if (values.length >= max || text.charCodeAt(p) !== 44 /* , */ || !isDigit(text.charCodeAt(p + 1))) break;
    p++;
  }
  return { values, end: p, overflow };
}

/**
 * Find `h1,h2,h3,h4,p1,p2` in a 227 line, from `from` on (skip the reply code). Returns the
 * address, MALFORMED when a six-number run is out of range, or null when there is none.
 */
export function find227(text: string, from = 0): FindResult {
  for (let i = from; i < text.length; i++) {
    if (!isDigit(text.charCodeAt(i)) || (i > from && isDigit(text.charCodeAt(i - 1)))) continue;
    const q = scanBytes(text, i, 6); // the common, well-formed case
    if (q !== null && !isDigit(text.charCodeAt(q.end))) {
      return { endpoint: sextetEndpoint(q.fields), start: i, end: q.end };
    }
    const r = numberList(text, i, 6);
    if (r.values.length < 6) continue;
    if (r.overflow) return MALFORMED;
    return { endpoint: sextetEndpoint(r.values), start: i, end: r.end };
  }
  return null;
}

/**
 * Find `(<d><d><d>port<d>)` in a 229 line. The span is that of the port digits; `host` is the
 * server address the client will connect to (the reply names only a port).
 */
export function find229(text: string, host: Endpoint['address'], family: Endpoint['family'], from = 0): FindResult {
  for (let i = text.indexOf('(', from); i >= 0; i = text.indexOf('(', i + 1)) {
    const d = text.charCodeAt(i + 1);
    if (d < 33 || d > 126 || isDigit(d)) continue;
    if (text.charCodeAt(i + 2) !== d || text.charCodeAt(i + 3) !== d) continue;
    let q = i + 4;
    while (q < text.length && isDigit(text.charCodeAt(q))) q++;
    if (q === i + 4 || text.charCodeAt(q) !== d || text.charCodeAt(q + 1) !== 41 /* ) */) continue;
    const port = parsePortNumber(text.slice(i + 4, q));
    if (port === null) return MALFORMED;
    return { endpoint: { family, address: host, port }, start: i + 4, end: q };
  }
  return null;
}

/** Find `af,hal,h...,pal,p1,p2` in a 228 line. */
export function find228(text: string, from = 0): FindResult {
  for (let i = from; i < text.length; i++) {
    if (!isDigit(text.charCodeAt(i)) || (i > from && isDigit(text.charCodeAt(i - 1)))) continue;
    const r = numberList(text, i, 21);
    if (r.values.length < 9) continue;
    if (r.overflow) return MALFORMED;
    const parsed: AddressParseResult = lprtFields(r.values);
    if (!parsed.ok) return MALFORMED;
    return { endpoint: parsed.endpoint, start: i, end: r.end };
  }
  return null;
}

/** Convenience parsers over a whole reply line (`227 Entering Passive Mode (...)`). */
export function parse227(line: string): Endpoint | null {
  const f = find227(line, 4);
  return f && f !== MALFORMED ? f.endpoint : null;
}

export function parse229(line: string, host: string, family: Endpoint['family'] = 4): Endpoint | null {
  const f = find229(line, host, family, 4);
  return f && f !== MALFORMED ? f.endpoint : null;
}

export function parse228(line: string): Endpoint | null {
  const f = find228(line, 4);
  return f && f !== MALFORMED ? f.endpoint : null;
}

export function format227(e: Endpoint): string {
  return `227 Entering Passive Mode (${formatSextet(e)}).`;
}

export function format229(port: number, delimiter = '|'): string {
  const d = delimiter;
  return `229 Entering Extended Passive Mode (${d}${d}${d}${port}${d})`;
}

export function format228(e: Endpoint): string {
  return `228 Entering Long Passive Mode (${formatLongAddress(e)})`;
}
