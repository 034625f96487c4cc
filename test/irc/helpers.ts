/** Byte helpers for the IRC tests: Latin-1 text to bytes and back, UTF-8 for filenames. */

export function b(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new Error(`b(): ${JSON.stringify(text)} is not Latin-1; use utf8()`);
    out[i] = c;
  }
  return out;
}

export function t(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The text of a span. */
export function at(bytes: Uint8Array, span: { start: number; end: number } | null | undefined): string | null {
  return span ? t(bytes, span.start, span.end) : null;
}
