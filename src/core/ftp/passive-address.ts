/**
 * The data address in a passive reply line, read twice: strictly (replies.ts: the span the
 * gateway rewrites) and the way the most lenient clients read it, so that nothing a client could
 * take for an address passes unchecked.
 *
 * Lenient readings, as real clients make them:
 * - 227/228: C clients try `sscanf(p, "%d,%d,%d,%d,%d,%d")` at every position of the text, so each
 *   number may have blanks and a sign before it (`( 10, 9, 8, 7, 0, 22)`); Python's ftplib takes
 *   the first run of `\d+,` six times anywhere in the whole (multi-line) reply.
 * - 229: clients take the first `(`, split what follows up to `)` at the character after it and
 *   convert the fourth field with a lenient integer parser (blanks, a sign, `_` between digits in
 *   Python), so `(||| 22 |)` and `(1112221)` name a port.
 *
 * A line is accepted only when the first lenient reading is the strict one (same numbers, same
 * place) and no other lenient reading, in either format, is on the line; anything else is `malformed` and
 * the line is refused. Lines after the first address of a reply are refused when they hold any
 * lenient reading at all (`mentionsAddress`).
 */

import type { AddressFamily } from '../net/ip.js';
import { sextetEndpoint } from './commands.js';
import { find227, find228, find229, MALFORMED, type FindResult, type FoundAddress } from './replies.js';
import type { PassiveFormat } from './rules.js';
import { isDigit } from './text.js';

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
  // Made at the first number: most positions tried (every blank of a line) have none.
  let values: number[] | null = null;
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
    (values ??= []).push(sign * v);
  }
  return { start: i, end: p, values: values ?? [] };
}

/** The first `%d,%d,...` reading of `count` numbers at or after `from`, trying every position. */
function firstScanf(text: string, from: number, count: number): Lenient | null {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A reading can only start at a blank, a sign or a digit: all below ':' (58), as no letter is.
    if (c > 57 || (!isDigit(c) && !isBlank(c) && c !== 43 && c !== 45)) continue;
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
 * The strict 227 finding read off the first lenient reading `l` when that reading is a plain
 * sextet (six fields of one to three digits, each 0-255, between single commas, nothing else), so
 * that a well-formed 227 is searched once; null for any other reading (find227 then searches).
 * find227 would find just this: no strict reading starts before `l` (it would be a lenient one
 * before the first), none at `l`'s first digit is preceded by a digit (the lenient reading would
 * start there), and `l` takes every digit after its last comma.
 */
function plainSextet(text: string, l: Lenient): FoundAddress | null {
  let digits = 0;
  for (let p = l.start; p < l.end; p++) {
    const c = text.charCodeAt(p);
    if (c === 44 /* , */) digits = 0;
    else if (!isDigit(c) || ++digits > 3) return null;
  }
  const v = l.values;
  for (let k = 0; k < 6; k++) if (v[k]! > 255) return null;
  return { endpoint: sextetEndpoint(v), start: l.start, end: l.end };
}

/** The strict finding when it agrees with the first lenient reading `l`, else null. */
function agreedFinding(format: PassiveFormat, text: string, from: number, host: string, family: AddressFamily, l: Lenient): FoundAddress | null {
  if (format === 'pasv' || format === 'epsv-as-pasv') {
    const plain = plainSextet(text, l);
    if (plain !== null) return plain; // the same place and numbers: it agrees
  }
  const strict = strictFind(format, text, from, host, family);
  return strict !== null && strict !== MALFORMED && agrees(format, strict, text, l) ? strict : null;
}

/**
 * Whether a client could read an address in the text before `start`, where the first lenient
 * reading begins. In a 227 that reading is the first sextet in the whole line (one within the text
 * before it would be one in the whole line too), so only a 229's `(|||port|)` is looked for there.
 */
function readingBefore(format: PassiveFormat, text: string, start: number, from: number): boolean {
  const before = text.slice(0, start);
  if (format === 'pasv' || format === 'epsv-as-pasv') return firstEpsv(before, from) !== null;
  return mentionsAddress(before, from);
}

/**
 * The address of a passive reply line read in `format` from `from` (after the reply code):
 * the strict finding when every lenient reading agrees with it, `malformed` when a client could
 * read something else, null when neither finds anything. `host`/`family`: the server's, for 229.
 */
export function findPassiveAddress(format: PassiveFormat, text: string, from: number, host: string, family: AddressFamily): FindResult {
  const lenient = firstLenient(format, text, from);
  if (lenient === null) {
    // A reading in the other format (a 229's `(|||port|)` in a 227, or a sextet in a 229): some
    // client asking the other command, or taking any 2xx, may read it.
    const strict = strictFind(format, text, from, host, family);
    return strict === null && mentionsAddress(text, from) ? MALFORMED : strict;
  }
  const strict = agreedFinding(format, text, from, host, family, lenient);
  if (strict === null) return MALFORMED;
  // Another reading before the address (in the other format) or after it: a client may take that one.
  if (readingBefore(format, text, lenient.start, from)) return MALFORMED;
  return mentionsAddress(text, Math.max(strict.end, lenient.end)) ? MALFORMED : strict;
}

/** Whether any client could read a data address (in any passive format) in `text` from `from` on. */
export function mentionsAddress(text: string, from: number): boolean {
  return firstScanf(text, from, 6) !== null || firstEpsv(text, from) !== null;
}
