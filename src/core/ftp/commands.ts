/**
 * Strict parsers and formatters for the data-address commands PORT (RFC 959), EPRT (RFC 2428)
 * and LPRT (RFC 1639); the verbs themselves are read by verb.ts. Parsers take the argument text
 * (after the verb and the blank ending it, line ending removed) and return null when it does not
 * parse: the translator then refuses the command rather than forward something it could not
 * read, so the server never sees an address the gateway did not.
 */

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, isV4Mapped, type Endpoint } from '../net/ip.js';
import { ascii, isDigit, parseByteField, parsePortNumber } from './text.js';
import { argumentStart } from './verb.js';

/**
 * The argument of a held command line (line ending removed): what follows the verb and the
 * blanks after it (verb.ts reads the verb); null when there is none. `bytes`: the line's bytes
 * when at hand (its first `text.length` are the text's), read instead of encoding the text again.
 */
export function commandArgument(text: string, bytes: Uint8Array = ascii(text)): string | null {
  const n = text.length;
  const p = argumentStart(bytes, 0, n);
  return p < 0 || p >= n ? null : text.slice(p);
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
  return sextetEndpoint(v.fields);
}

/** The endpoint of the six numbers of a 227 (each 0-255: the callers have checked). */
export function sextetEndpoint(f: readonly number[]): Endpoint {
  return { family: 4, address: `${f[0]}.${f[1]}.${f[2]}.${f[3]}`, port: f[4]! * 256 + f[5]! };
}

/**
 * Read exactly `count` comma-separated fields of 1-3 decimal digits (0-255) from text[from..]:
 * the fields and the index after the last, or null.
 */
export function scanBytes(text: string, from: number, count: number): { fields: number[]; end: number } | null {
  const fields: number[] = [];
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
    fields.push(v);
  }
  return { fields, end: p };
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
