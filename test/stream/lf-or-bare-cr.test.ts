/**
 * findLFOrBareCR (src/core/stream/bare-cr.ts), the one-pass search a command line's framing uses,
 * against its definition byte by byte: with and without a view, from every start, over dense
 * CR/LF/NUL input and over long lines (past the 256 bytes it searches itself).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { findLFOrBareCR } from '../../src/core/stream/bare-cr.js';
import { NO_VIEW } from '../../src/core/stream/lf-scan.js';

/** The first LF, or CR followed by neither LF nor NUL, in b[i, n); a CR at n - 1 is not judged. */
function reference(b: Uint8Array, i: number, n: number): number {
  for (let k = i; k < n; k++) {
    if (b[k] === 10) return k;
    if (b[k] === 13 && k + 1 < n && b[k + 1] !== 10 && b[k + 1] !== 0) return k;
  }
  return -1;
}

function check(b: Uint8Array, x: number, y: number): void {
  const n = y % (b.length + 1);
  const i = n === 0 ? 0 : x % (n + 1);
  const want = reference(b, i, n);
  // the view covers the whole array, as chunkView's does; n may end before it (the searches stop at n)
  expect(findLFOrBareCR(b, NO_VIEW, i, n)).toBe(want);
  expect(findLFOrBareCR(b, new DataView(b.buffer, b.byteOffset, b.byteLength), i, n)).toBe(want);
}

describe('findLFOrBareCR', () => {
  it('is its definition over dense CR, LF and NUL bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(13, 13, 10, 0, 65, 12, 14, 0x8d, 0x8a), { maxLength: 100 }), fc.nat(), fc.nat(), (raw, x, y) => {
        check(Uint8Array.from(raw), x, y);
      }),
      { numRuns: 20000 },
    );
  });

  it('is its definition over long lines (the search beyond 256 bytes)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 60, arbitrary: fc.constant(65) }, { weight: 1, arbitrary: fc.constantFrom(13, 10, 0) }), { minLength: 200, maxLength: 700 }),
        fc.nat(),
        fc.nat(),
        (raw, x, y) => check(Uint8Array.from(raw), x % 64, y),
      ),
      { numRuns: 3000 },
    );
  });

  it('finds what a command line carries', () => {
    const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
    const find = (s: string) => findLFOrBareCR(b(s), NO_VIEW, 0, s.length);
    expect(find('NOOP\r\n')).toBe(5);
    expect(find('STOR a\r\0b\r\n')).toBe(10);
    expect(find('NOOP\rPORT\r\n')).toBe(4);
    expect(find('NOOP\r')).toBe(-1);
    expect(find('NOOP')).toBe(-1);
  });
});
