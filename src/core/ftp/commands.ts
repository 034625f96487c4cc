/**
 * Client commands: recognising the verbs that matter from the first bytes of a line, and strict
 * parsers and formatters for the data-address commands PORT (RFC 959), EPRT (RFC 2428) and LPRT
 * (RFC 1639). Parsers take the argument text (after the verb and one space, line ending removed)
 * and return null when it does not parse: the translator then refuses the command rather than
 * forward something it could not read, so the server never sees an address the gateway did not.
 */

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, isV4Mapped, type Endpoint } from '../net/ip.js';
import { isDigit, parseByteField, parsePortNumber } from './text.js';

/** Verbs the translator reacts to; everything else is `VERB_OTHER` and streams through. */
export const VERB_OTHER = 0;
export const VERB_PORT = 1;
export const VERB_EPRT = 2;
export const VERB_LPRT = 3;
export const VERB_PASV = 4;
export const VERB_EPSV = 5;
export const VERB_LPSV = 6;
export const VERB_AUTH = 7;
export const VERB_CCC = 8;
export const VERB_REIN = 9;
export const VERB_QUIT = 10;
export const VERB_ALGS = 11;

export const VERB_NAMES: readonly string[] = [
  'OTHER', 'PORT', 'EPRT', 'LPRT', 'PASV', 'EPSV', 'LPSV', 'AUTH', 'CCC', 'REIN', 'QUIT', 'ALGS',
];

/** Returned by `classifyCommand` when the line's first bytes do not decide yet. */
export const NEED_MORE = -1;

const IAC = 255;

/** Bytes that can start a line carrying one of our verbs: their first letters (any case) and IAC. */
/** Non-zero for the bytes that can start a verb of ours (or a Telnet command). */
export const VERB_START = new Uint8Array(256);
for (const ch of 'PELACRQ') {
  VERB_START[ch.charCodeAt(0)] = 1;
  VERB_START[ch.toLowerCase().charCodeAt(0)] = 1;
}
VERB_START[IAC] = 1;

function key4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

const KEY_PORT = key4(80, 79, 82, 84);
const KEY_EPRT = key4(69, 80, 82, 84);
const KEY_LPRT = key4(76, 80, 82, 84);
const KEY_PASV = key4(80, 65, 83, 86);
const KEY_EPSV = key4(69, 80, 83, 86);
const KEY_LPSV = key4(76, 80, 83, 86);
const KEY_AUTH = key4(65, 85, 84, 72);
const KEY_REIN = key4(82, 69, 73, 78);
const KEY_QUIT = key4(81, 85, 73, 84);
const KEY_ALGS = key4(65, 76, 71, 83);
const KEY_CCC = key4(0, 67, 67, 67);

/**
 * Decide from the first bytes of a client line (buf[from..to), from = line start) which verb it
 * carries. Leading Telnet commands (IAC x, IAC WILL|WONT|DO|DONT x) are skipped because servers
 * strip them: `IAC IP IAC DM PORT ...` is a PORT; so are Telnet commands inside the verb. Verbs are case-insensitive and end at a space,
 * CR or LF; anything else (a longer word, a tab, a doubled IAC) makes the line VERB_OTHER.
 * Returns NEED_MORE when the bytes so far do not decide.
 */
export function classifyCommand(buf: Uint8Array, from: number, to: number): number {
  if (from < to && VERB_START[buf[from]!] === 0) return VERB_OTHER; // the common case, decided at once
  if (to - from >= 5) {
    // Next most common: a plain word of three or four letters (CWD, RETR, PWD), decided from its
    // first five bytes at once; anything unusual (Telnet commands, short words) goes the long way.
    const w = wordAt(buf, from);
    if (w !== NEED_MORE) return w;
  }
  return classifySlowly(buf, from, to);
}

const LETTER = 1;
const END = 2; // space, CR, LF: a verb ends there
/** Byte classes for wordAt: letters, verb ends, and 0 for the rest (IAC included). */
const BYTE_CLASS = new Uint8Array(256);
for (let c = 65; c <= 90; c++) BYTE_CLASS[c] = BYTE_CLASS[c + 32] = LETTER;
BYTE_CLASS[32] = BYTE_CLASS[13] = BYTE_CLASS[10] = END;

/**
 * The verb of buf[from..from+5) when its first three bytes are letters and no Telnet command
 * is among the five; NEED_MORE (not decided here) otherwise. Same answers as classifySlowly.
 */
function wordAt(buf: Uint8Array, from: number): number {
  const c0 = buf[from]!;
  const c1 = buf[from + 1]!;
  const c2 = buf[from + 2]!;
  const c3 = buf[from + 3]!;
  if ((BYTE_CLASS[c0]! & BYTE_CLASS[c1]! & BYTE_CLASS[c2]!) !== LETTER || c3 === IAC) return NEED_MORE;
  const k3 = ((c0 & 0xdf) << 16) | ((c1 & 0xdf) << 8) | (c2 & 0xdf);
  const t3 = BYTE_CLASS[c3]!;
  if (t3 === END) return k3 === KEY_CCC ? VERB_CCC : VERB_OTHER;
  if (t3 !== LETTER) return VERB_OTHER; // a word of ours ends at a space, CR or LF only
  const c4 = buf[from + 4]!;
  if (c4 === IAC) return NEED_MORE;
  if (BYTE_CLASS[c4] !== END) return VERB_OTHER;
  return verbOfKey(((k3 << 8) | (c3 & 0xdf)) >>> 0);
}

function verbOfKey(k: number): number {
  switch (k) {
    case KEY_PORT: return VERB_PORT;
    case KEY_EPRT: return VERB_EPRT;
    case KEY_LPRT: return VERB_LPRT;
    case KEY_PASV: return VERB_PASV;
    case KEY_EPSV: return VERB_EPSV;
    case KEY_LPSV: return VERB_LPSV;
    case KEY_AUTH: return VERB_AUTH;
    case KEY_REIN: return VERB_REIN;
    case KEY_QUIT: return VERB_QUIT;
    case KEY_ALGS: return VERB_ALGS;
    case KEY_CCC: return VERB_CCC;
    default: return VERB_OTHER;
  }
}

/** classifyCommand the long way: Telnet commands anywhere in the verb, short input. */
export function classifySlowly(buf: Uint8Array, from: number, to: number): number {
  let p = from;
  while (p < to && buf[p] === IAC) {
    if (p + 1 >= to) return NEED_MORE;
    const c = buf[p + 1]!;
    if (c === IAC || c === 10) return VERB_OTHER; // an escaped data byte 255, or the line ended
    if (c >= 251 && c <= 254) {
      if (p + 2 >= to) return NEED_MORE;
      if (buf[p + 2] === 10) return VERB_OTHER;
      p += 3;
    } else {
      p += 2;
    }
  }
  let letters = 0;
  let k = 0;
  while (p < to) {
    if (buf[p] === IAC) {
      // A Telnet command inside the verb or before its end: servers that strip Telnet commands
      // anywhere in a line (ProFTPD does) read `PO IAC NOP RT` as PORT, so it is one here too.
      if (p + 1 >= to) return NEED_MORE;
      const c = buf[p + 1]!;
      if (c === IAC || c === 10) return VERB_OTHER; // a data byte 255: the word is no verb
      if (c >= 251 && c <= 254) {
        if (p + 2 >= to) return NEED_MORE;
        if (buf[p + 2] === 10) return VERB_OTHER;
        p += 3;
      } else {
        p += 2;
      }
      continue;
    }
    const c = buf[p]! & 0xdf; // ASCII upper case
    if (c < 65 || c > 90 || buf[p]! > 122) break;
    if (letters === 4) return VERB_OTHER; // five letters: no verb of ours
    k = ((k << 8) | c) >>> 0;
    letters++;
    p++;
  }
  if (p >= to) return NEED_MORE;
  const d = buf[p];
  if (d !== 32 && d !== 13 && d !== 10) return VERB_OTHER;
  return verbOfKey(k);
}

/**
 * The argument of a held command line (line ending removed): what follows the first space after
 * the verb, leading Telnet commands skipped like `classifyCommand` does; null without a space.
 */
export function commandArgument(text: string): string | null {
  let p = 0;
  while (text.charCodeAt(p) === IAC) {
    const c = text.charCodeAt(p + 1);
    p += c >= 251 && c <= 254 ? 3 : 2;
  }
  const sp = text.indexOf(' ', p);
  return sp < 0 ? null : text.slice(sp + 1);
}

/** Why a data-address argument was not accepted. */
export type AddressParseError = 'bad-syntax' | 'unsupported-family';

export type AddressParseResult = { ok: true; endpoint: Endpoint } | { ok: false; error: AddressParseError };

const bad: AddressParseResult = Object.freeze({ ok: false, error: 'bad-syntax' }) as AddressParseResult;
const unsupported: AddressParseResult = Object.freeze({ ok: false, error: 'unsupported-family' }) as AddressParseResult;

/** `h1,h2,h3,h4,p1,p2`: six decimal fields 0-255 (zero padding allowed), nothing else. */
export function parsePort(argument: string): Endpoint | null {
  const v = scanBytes(argument, 0, 6);
  if (v === null || v.end !== argument.length) return null;
  const f = v.fields;
  return { family: 4, address: `${f[0]}.${f[1]}.${f[2]}.${f[3]}`, port: f[4]! * 256 + f[5]! };
}

const scratch: number[] = [0, 0, 0, 0, 0, 0];
const scanned = { fields: scratch, end: 0 };

/**
 * Read exactly `count` comma-separated fields of 1-3 decimal digits (0-255) from text[from..].
 * Returns a shared result object (valid until the next call) or null.
 */
export function scanBytes(text: string, from: number, count: number): { fields: number[]; end: number } | null {
  let p = from;
  for (let k = 0; k < count; k++) {
    if (k > 0) {
      if (text.charCodeAt(p) !== 44) return null;
      p++;
    }
    const start = p;
    let v = 0;
    while (p < text.length && p - start < 4) {
      const c = text.charCodeAt(p);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      p++;
    }
    if (p === start || p - start > 3 || v > 255) return null;
    scratch[k] = v;
  }
  scanned.end = p;
  return scanned;
}

/** `<d><af><d><address><d><port><d>` with d any of ASCII 33-126; af 1 (IPv4) or 2 (IPv6). */
export function parseEprt(argument: string): AddressParseResult {
  if (argument.length < 7) return bad;
  const d = argument.charCodeAt(0);
  if (d < 33 || d > 126 || isDigit(d)) return bad;
  const parts = argument.split(argument[0]!);
  // "", af, address, port, "" : the argument starts and ends with the delimiter.
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return bad;
  const af = parts[1]!;
  const port = parsePortNumber(parts[3]!);
  if (port === null) return bad;
  if (af === '1') {
    const b = parseIPv4(parts[2]!);
    return b ? { ok: true, endpoint: { family: 4, address: formatIPv4(b), port } } : bad;
  }
  if (af === '2') {
    const b = parseIPv6(parts[2]!);
    if (!b) return bad;
    const endpoint: Endpoint = isV4Mapped(b)
      ? { family: 4, address: formatIPv4(b, 12), port }
      : { family: 6, address: formatIPv6(b), port };
    return { ok: true, endpoint };
  }
  return /^[0-9]{1,3}$/.test(af) ? unsupported : bad;
}

/** `af,hal,h1,...,hN,pal,p1,p2` (RFC 1639) with af=4,hal=4 or af=6,hal=16 and pal=2. */
export function parseLprt(argument: string): AddressParseResult {
  const f = argument.split(',');
  const v: number[] = [];
  for (const t of f) {
    const n = parseByteField(t);
    if (n === null) return bad;
    v.push(n);
  }
  return lprtFields(v);
}

/** Interpret LPRT/228 numbers (already parsed). */
export function lprtFields(v: readonly number[]): AddressParseResult {
  if (v.length < 2) return bad;
  const af = v[0]!;
  const hal = v[1]!;
  if (!((af === 4 && hal === 4) || (af === 6 && hal === 16))) {
    return af === 4 || af === 6 ? bad : unsupported;
  }
  if (v.length !== 2 + hal + 3 || v[2 + hal] !== 2) return bad;
  const bytes = Uint8Array.from(v.slice(2, 2 + hal));
  const port = v[3 + hal]! * 256 + v[4 + hal]!;
  if (af === 4) return { ok: true, endpoint: { family: 4, address: formatIPv4(bytes), port } };
  const endpoint: Endpoint = isV4Mapped(bytes)
    ? { family: 4, address: formatIPv4(bytes, 12), port }
    : { family: 6, address: formatIPv6(bytes), port };
  return { ok: true, endpoint };
}

function addressBytes(e: Endpoint): Uint8Array {
  const b = e.family === 4 ? parseIPv4(e.address) : parseIPv6(e.address);
  if (!b) throw new TypeError(`not a canonical address: ${e.address}`);
  return b;
}

/** `h1,h2,h3,h4,p1,p2` for an IPv4 endpoint (used in PORT and 227). */
export function formatSextet(e: Endpoint): string {
  if (e.family !== 4) throw new TypeError('a sextet carries IPv4 only');
  // Canonical dotted-quad text is already decimal bytes without leading zeros.
  const a = e.address;
  const i = a.indexOf('.');
  const j = a.indexOf('.', i + 1);
  const k = a.indexOf('.', j + 1);
  return `${a.slice(0, i)},${a.slice(i + 1, j)},${a.slice(j + 1, k)},${a.slice(k + 1)},${e.port >> 8},${e.port & 0xff}`;
}

/** `af,hal,h...,2,p1,p2` (used in LPRT and 228). */
export function formatLongAddress(e: Endpoint): string {
  const b = addressBytes(e);
  return `${e.family === 4 ? 4 : 6},${b.length},${Array.from(b).join(',')},2,${e.port >> 8},${e.port & 0xff}`;
}

/** `PORT h1,h2,h3,h4,p1,p2` (IPv4 only). */
export function formatPort(e: Endpoint): string {
  if (e.family !== 4) throw new TypeError('PORT carries IPv4 only');
  return `PORT ${formatSextet(e)}`;
}

/** `EPRT |1|a.b.c.d|port|` or `EPRT |2|v6|port|`. */
export function formatEprt(e: Endpoint, delimiter = '|'): string {
  const d = delimiter;
  return `EPRT ${d}${e.family === 4 ? 1 : 2}${d}${e.address}${d}${e.port}${d}`;
}

/** `LPRT af,hal,...` */
export function formatLprt(e: Endpoint): string {
  return `LPRT ${formatLongAddress(e)}`;
}
