/**
 * Byte/text helpers for control lines. FTP control text is treated as Latin-1: one byte is one
 * UTF-16 code unit, so offsets found in a decoded string are byte offsets in the line. Only held
 * (candidate) lines are ever decoded; pass-through bytes are never turned into strings.
 */

export function latin1(bytes: Uint8Array, from = 0, to = bytes.length): string {
  // Text of ASCII bytes only (almost every control line) reads the same in UTF-8 and in Latin-1,
  // and the platform's UTF-8 decoder is the fastest way to a string. (Its 'latin1' is no use:
  // that is windows-1252, which maps 0x80-0x9f elsewhere.)
  if (isAscii(bytes, from, to)) return utf8.decode(bytes.subarray(from, to));
  // fromCharCode over slices: several times faster than concatenating characters.
  let s = '';
  for (let i = from; i < to; i += CHUNK) {
    const slice = bytes.subarray(i, Math.min(to, i + CHUNK));
    s += String.fromCharCode.apply(null, slice as unknown as number[]);
  }
  return s;
}

/** Decodes ASCII only (latin1); holds no state between calls. */
const utf8 = new TextDecoder();

function isAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Decode in slices small enough for an argument list (lines are bounded by maxLineLength). */
const CHUNK = 4096;

export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** `text` and a line ending of `eol` bytes (1: LF; 0 or 2: CRLF) as bytes. */
export function asciiLine(text: string, eol: number): Uint8Array {
  const n = text.length;
  const out = new Uint8Array(n + (eol === 1 ? 1 : 2));
  for (let i = 0; i < n; i++) out[i] = text.charCodeAt(i) & 0xff;
  if (eol === 1) out[n] = 10;
  else {
    out[n] = 13;
    out[n + 1] = 10;
  }
  return out;
}

/** Length of the line ending of buf[from..to): 2 for CRLF, 1 for LF, 0 when there is none. */
export function lineEndingLength(buf: Uint8Array, from = 0, to = buf.length): number {
  if (to === from || buf[to - 1] !== 10) return 0;
  return to - from >= 2 && buf[to - 2] === 13 ? 2 : 1;
}

/** The line's text without its line ending. */
export function lineBody(line: Uint8Array): string {
  return latin1(line, 0, line.length - lineEndingLength(line));
}

/** The line ending to reuse for a replacement of `line` (CRLF when the line had none). */
export function lineEnding(line: Uint8Array): string {
  const n = lineEndingLength(line);
  return n === 1 ? '\n' : '\r\n';
}

/** Parse 1-3 decimal digits (leading zeros allowed, as servers zero-pad 227 fields) as 0-255. */
export function parseByteField(text: string): number | null {
  if (text.length < 1 || text.length > 3) return null;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    v = v * 10 + (c - 48);
  }
  return v <= 255 ? v : null;
}

/** Parse 1-5 decimal digits as a port 0-65535. */
export function parsePortNumber(text: string): number | null {
  if (text.length < 1 || text.length > 5) return null;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    v = v * 10 + (c - 48);
  }
  return v <= 65535 ? v : null;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Text safe to put inside a reply line: printable ASCII, no parentheses, at most 80 characters. */
export function replyText(reason: string): string {
  let out = '';
  for (let i = 0; i < reason.length && out.length < 80; i++) {
    const c = reason.charCodeAt(i);
    out += c >= 32 && c < 127 && c !== 40 && c !== 41 ? reason[i] : ' ';
  }
  return out.trim() || 'refused';
}
