/**
 * The passive-address reader as it was before it read a plain 227 sextet once for both readings
 * (src/core/ftp/passive-address.ts at 28753fa, unchanged but for this comment and its imports):
 * the oracle of the differential test in passive-address.test.ts. Not used by the library.
 */

import type { AddressFamily } from '../../../src/core/net/ip.js';
import { find227, find228, find229, MALFORMED, type FindResult, type FoundAddress } from '../../../src/core/ftp/replies.js';
import type { PassiveFormat } from '../../../src/core/ftp/rules.js';
import { isDigit } from '../../../src/core/ftp/text.js';

/** A lenient reading: where it starts and ends, and the numbers read (NaN when not an integer a client would accept). */
interface Lenient {
  readonly start: number;
  readonly end: number;
  readonly values: readonly number[];
}

/** C's isspace() but LF, which never occurs inside a line. */
function isBlank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Values beyond this are all "too large" alike; the cap keeps the arithmetic exact. */
const NUMBER_CAP = 1_000_000;

/**
 * `count` numbers separated by commas, each `%d`-style (blanks, optional sign, digits), from `i`.
 * Returns the numbers and the end of the last digit, or null.
 */
function scanfNumbers(text: string, i: number, count: number): Lenient | null {
  const values: number[] = [];
  let p = i;
  for (let k = 0; k < count; k++) {
    if (k > 0) {
      if (text.charCodeAt(p) !== 44 /* , */) return null;
      p++;
    }
    while (p < text.length && isBlank(text.charCodeAt(p))) p++;
    let sign = 1;
    const c = text.charCodeAt(p);
    if (c === 43 /* + */ || c === 45 /* - */) {
      if (c === 45) sign = -1;
      p++;
    }
    const digits = p;
    let v = 0;
    while (p < text.length && isDigit(text.charCodeAt(p))) {
      v = Math.min(NUMBER_CAP, v * 10 + (text.charCodeAt(p) - 48));
      p++;
    }
    if (p === digits) return null;
    values.push(sign * v);
  }
  return { start: i, end: p, values };
}

/** The first `%d,%d,...` reading of `count` numbers at or after `from`, trying every position. */
function firstScanf(text: string, from: number, count: number): Lenient | null {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A reading can only start at a blank, a sign or a digit.
    if (!isDigit(c) && !isBlank(c) && c !== 43 && c !== 45) continue;
    const r = scanfNumbers(text, i, count);
    if (r !== null) return r;
  }
  return null;
}

/** Python's int() of a field: blanks around, an optional sign, digits with single `_` between them. */
function lenientInteger(field: string): number {
  const t = field.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
  if (!/^[+-]?[0-9](?:_?[0-9])*$/.test(t)) return Number.NaN;
  const v = Number(t.replace(/_/g, ''));
  return Number.isFinite(v) ? v : Number.NaN;
}

/**
 * The `(dddPORTd)` reading at the `(` at `open`, or null when no client would read one there:
 * split at the delimiter, the fourth field converted (ftplib), or three delimiters, strtoul (which
 * skips blanks, even when the delimiter is one) and the delimiter (C clients).
 */
function epsvAt(text: string, open: number): Lenient | null {
  const close = text.indexOf(')', open + 1);
  const end = close < 0 ? text.length : close + 1;
  const body = text.slice(open + 1, close < 0 ? text.length : close);
  if (body.length === 0) return null;
  const d = body.charCodeAt(0);
  const fields = body.split(body.charAt(0));
  const split = fields.length >= 4 ? lenientInteger(fields[3]!) : Number.NaN;
  if (!Number.isNaN(split)) return { start: open, end, values: [split] };
  if (body.charCodeAt(1) !== d || body.charCodeAt(2) !== d) return null;
  const r = scanfNumbers(body, 3, 1);
  if (r === null || body.charCodeAt(r.end) !== d) return null;
  return { start: open, end, values: r.values };
}

/** The first `(` reading at or after `from`. */
function firstEpsv(text: string, from: number): Lenient | null {
  for (let i = text.indexOf('(', from); i >= 0; i = text.indexOf('(', i + 1)) {
    const r = epsvAt(text, i);
    if (r !== null) return r;
  }
  return null;
}

function firstLenient(format: PassiveFormat, text: string, from: number): Lenient | null {
  switch (format) {
    case 'pasv':
    case 'epsv-as-pasv':
      return firstScanf(text, from, 6);
    case 'lpsv':
      return firstScanf(text, from, 9);
    case 'epsv':
      return firstEpsv(text, from);
  }
}

function strictFind(format: PassiveFormat, text: string, from: number, host: string, family: AddressFamily): FindResult {
  switch (format) {
    case 'pasv':
    case 'epsv-as-pasv':
      return find227(text, from);
    case 'lpsv':
      return find228(text, from);
    case 'epsv':
      return find229(text, host, family, from);
  }
}

/** The strict reading agrees with the lenient one: same place, same numbers. */
function agrees(format: PassiveFormat, f: FoundAddress, text: string, l: Lenient): boolean {
  switch (format) {
    case 'pasv':
    case 'epsv-as-pasv': {
      const v = l.values;
      return f.start >= l.start && f.end === l.end && v.every((n) => n >= 0 && n <= 255) && f.endpoint.port === v[4]! * 256 + v[5]! && f.endpoint.address === `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
    }
    case 'lpsv':
      // Variable length: the strict reading must start where the lenient one does.
      return f.start >= l.start && text.slice(l.start, f.start).trim() === '';
    case 'epsv':
      return l.start === f.start - 4 && l.values[0] === f.endpoint.port;
  }
}

/**
 * The address of a passive reply line read in `format` from `from` (after the reply code):
 * the strict finding when every lenient reading agrees with it, `malformed` when a client could
 * read something else, null when neither finds anything. `host`/`family`: the server's, for 229.
 */
export function findPassiveAddress(format: PassiveFormat, text: string, from: number, host: string, family: AddressFamily): FindResult {
  const strict = strictFind(format, text, from, host, family);
  const lenient = firstLenient(format, text, from);
  // A reading in the other format (a 229's `(|||port|)` in a 227, or a sextet in a 229): some
  // client asking the other command, or taking any 2xx, may read it.
  if (lenient === null) return strict === null && mentionsAddress(text, from) ? MALFORMED : strict;
  if (strict === null || strict === MALFORMED) return MALFORMED;
  if (!agrees(format, strict, text, lenient)) return MALFORMED;
  // Another reading before the address (in the other format) or after it: a client may take that one.
  if (mentionsAddress(text.slice(0, lenient.start), from)) return MALFORMED;
  return mentionsAddress(text, Math.max(strict.end, lenient.end)) ? MALFORMED : strict;
}

/** Whether any client could read a data address (in any passive format) in `text` from `from` on. */
export function mentionsAddress(text: string, from: number): boolean {
  return firstScanf(text, from, 6) !== null || firstEpsv(text, from) !== null;
}
