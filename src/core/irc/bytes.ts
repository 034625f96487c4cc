/**
 * Small readers over IRC line bytes shared by the parsers of this folder: strict decimal numbers,
 * case-insensitive ASCII words, and text decoding of short spans. IRC has no declared character
 * set (most clients send UTF-8, some Latin-1); the parsers therefore work on bytes and only the
 * values a caller asks for (a filename, a verb) are decoded.
 */

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

/** More digits than any field of this folder may have (a file size below 2^53 has 16). */
const MAX_DECIMAL_DIGITS = 16;

/**
 * The value of `buf[start, end)` as a canonical decimal number no larger than `max`, or -1.
 * Canonical: only digits, at least one, no leading zero unless the number is 0. Leading zeros
 * are refused rather than ignored because C clients reading with `strtoul(s, 0, 0)` take them as
 * octal: `010` would be 10 to one reader and 8 to another.
 */
export function readDecimal(buf: Uint8Array, start: number, end: number, max: number): number {
  const n = end - start;
  if (n <= 0 || n > MAX_DECIMAL_DIGITS) return -1;
  if (n > 1 && buf[start] === 0x30) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v <= max ? v : -1;
}

function upper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/** Whether `buf[start, end)` equals the upper-case ASCII `word`, ignoring ASCII case. */
export function equalsIgnoreCase(buf: Uint8Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (upper(buf[start + k]!) !== word.charCodeAt(k)) return false;
  return true;
}

/** Whether every byte of `buf[start, end)` is an ASCII letter. */
export function allLetters(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = upper(buf[i]!);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}

/** `buf[start, end)` as upper-case ASCII text (callers pass short, checked spans). */
export function upperAscii(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(upper(buf[i]!));
  return s;
}

/** `buf[start, end)` as Latin-1 text: one byte, one character (for short tokens). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** `buf[start, end)` decoded as UTF-8; invalid sequences become U+FFFD. */
export function utf8(buf: Uint8Array, start: number, end: number): string {
  return utf8Decoder.decode(buf.subarray(start, end));
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** ASCII text (every character below 0x80, checked by the caller) as bytes. */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
