/**
 * The common data-address shape `h1,h2,h3,h4,p1,p2` (PORT and 227), read from and written to
 * bytes directly, and the text pieces of a held line. This is the rewrite fast path: a PORT or
 * 227 line in its usual shape is parsed and rebuilt without decoding the line into a string or
 * encoding a string back into bytes. The strict string parsers (commands.ts, replies.ts) remain
 * the reference; anything this file does not recognise goes to them.
 */

/** Result of the last `scanSextet` (valid until the next call). */
export const scanned = {
  fields: new Int32Array(6),
  /** Index just after the sixth field. */
  end: 0,
  /** Every field written without zero padding, so the text can be rebuilt from the numbers. */
  canonical: true,
};

/**
 * Read exactly six comma-separated fields of 1-3 decimal digits (0-255) at buf[from..to), as
 * `scanBytes` does on text: a fourth digit or a value above 255 fails the scan. True on success.
 */
export function scanSextet(buf: Uint8Array, from: number, to: number): boolean {
  const f = scanned.fields;
  let p = from;
  let canonical = true;
  for (let k = 0; k < 6; k++) {
    if (k > 0) {
      if (p >= to || buf[p] !== 44) return false;
      p++;
    }
    const start = p;
    let v = 0;
    while (p < to && p - start < 4) {
      const c = buf[p]!;
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      p++;
    }
    const n = p - start;
    if (n === 0 || n > 3 || v > 255) return false;
    if (n > 1 && buf[start] === 48) canonical = false;
    f[k] = v;
  }
  scanned.end = p;
  scanned.canonical = canonical;
  return true;
}

/** An IPv4 address as four numbers with its dotted and comma-separated texts. */
export interface Quad {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  /** `a.b.c.d`, canonical. */
  readonly dotted: string;
  /** `a,b,c,d`, as in a sextet. */
  readonly commas: string;
}

function makeQuad(a: number, b: number, c: number, d: number): Quad {
  return { a, b, c, d, dotted: `${a}.${b}.${c}.${d}`, commas: `${a},${b},${c},${d}` };
}

// Small caches: a connection names the same few addresses over and over (the client's own
// address in PORT, the server's in 227, the gateway's in every replacement).
const byFields: Quad[] = [makeQuad(0, 0, 0, 0), makeQuad(0, 0, 0, 0)];
let lastByText: Quad = byFields[0]!;

/** The quad of the scanned fields 0-3. */
export function quadOfFields(f: Int32Array): Quad {
  const a = f[0]!;
  const b = f[1]!;
  const c = f[2]!;
  const d = f[3]!;
  let q = byFields[0]!;
  if (q.d === d && q.c === c && q.b === b && q.a === a) return q;
  q = byFields[1]!;
  if (q.d === d && q.c === c && q.b === b && q.a === a) {
    byFields[1] = byFields[0]!;
    byFields[0] = q;
    return q;
  }
  byFields[1] = byFields[0]!;
  return (byFields[0] = makeQuad(a, b, c, d));
}

/** The quad of a strict canonical dotted quad (as parseIPv4 accepts it), or null. */
export function quadOfText(text: string): Quad | null {
  if (text === lastByText.dotted) return lastByText;
  const v = [0, 0, 0, 0];
  let fields = 0;
  let value = -1;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (value < 0 || fields >= 4) return null;
      v[fields++] = value;
      value = -1;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return null; // leading zero
      value = (value < 0 ? 0 : value * 10) + (c - 48);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  if (fields !== 4) return null;
  return (lastByText = makeQuad(v[0]!, v[1]!, v[2]!, v[3]!));
}

/** `h1,h2,h3,h4,p1,p2` text. */
export function sextetText(q: Quad, port: number): string {
  return q.commas + ',' + (port >> 8) + ',' + (port & 255);
}

function decimalLength(v: number): number {
  return v < 10 ? 1 : v < 100 ? 2 : 3;
}

/** Bytes `sextetText` would take. */
export function sextetLength(q: Quad, port: number): number {
  return (
    decimalLength(q.a) + decimalLength(q.b) + decimalLength(q.c) + decimalLength(q.d) +
    decimalLength(port >> 8) + decimalLength(port & 255) + 5
  );
}

function writeDecimal(out: Uint8Array, p: number, v: number): number {
  if (v >= 100) out[p++] = 48 + ((v / 100) | 0);
  if (v >= 10) out[p++] = 48 + (((v / 10) | 0) % 10);
  out[p++] = 48 + (v % 10);
  return p;
}

/** Write the sextet at out[p..]; returns the index after it. */
export function writeSextet(out: Uint8Array, p: number, q: Quad, port: number): number {
  p = writeDecimal(out, p, q.a);
  out[p++] = 44;
  p = writeDecimal(out, p, q.b);
  out[p++] = 44;
  p = writeDecimal(out, p, q.c);
  out[p++] = 44;
  p = writeDecimal(out, p, q.d);
  out[p++] = 44;
  p = writeDecimal(out, p, port >> 8);
  out[p++] = 44;
  return writeDecimal(out, p, port & 255);
}

/** Write a line ending of `eol` bytes (1: LF, otherwise CRLF); returns the index after it. */
export function writeEol(out: Uint8Array, p: number, eol: number): number {
  if (eol !== 1) out[p++] = 13;
  out[p++] = 10;
  return p;
}

/** A piece of a held line (the text around its address), as text and as bytes. Immutable. */
export interface Piece {
  readonly text: string;
  readonly bytes: Uint8Array;
}

export const EMPTY_PIECE: Piece = Object.freeze({ text: '', bytes: new Uint8Array(0) });

/**
 * Remembers the last piece seen in one position (say, the text before the address in a 227):
 * servers repeat the same words every time, so the piece is decoded and copied once and then
 * recognised by comparing bytes.
 */
export class PieceCache {
  private last: Piece = EMPTY_PIECE;

  constructor(private readonly decode: (bytes: Uint8Array, from: number, to: number) => string) {}

  /**
   * The last piece, if buf[from..) starts with it and a digit follows (the address of the usual
   * reply comes right after the same words every time): one pass instead of a search for the
   * first digit and a comparison.
   */
  before(buf: Uint8Array, from: number, to: number): Piece | null {
    const last = this.last.bytes;
    const n = last.length;
    if (n === 0 || from + n >= to) return null;
    const d = buf[from + n]!;
    if (d < 48 || d > 57) return null;
    for (let k = 0; k < n; k++) if (last[k] !== buf[from + k]) return null;
    return this.last;
  }

  get(buf: Uint8Array, from: number, to: number): Piece {
    const n = to - from;
    if (n === 0) return EMPTY_PIECE;
    const last = this.last.bytes;
    if (last.length === n) {
      let k = 0;
      while (k < n && last[k] === buf[from + k]) k++;
      if (k === n) return this.last;
    }
    return (this.last = { text: this.decode(buf, from, to), bytes: buf.slice(from, to) });
  }
}
