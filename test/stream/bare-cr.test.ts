/**
 * findBareCR (src/core/stream/bare-cr.ts) against its definition, byte by byte: with and without a
 * view of the whole buffer, for every range and successor bound, over dense CR/LF/NUL input.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { findBareCR } from '../../src/core/stream/bare-cr.js';
import { NO_VIEW } from '../../src/core/stream/lf-scan.js';

/** The first CR in b[from, to) followed by neither LF nor NUL, its successor read below `end`. */
function reference(b: Uint8Array, from: number, to: number, end: number): number {
  for (let k = from; k < to; k++) {
    if (b[k] !== 13) continue;
    if (k + 1 >= end) return -1;
    if (b[k + 1] !== 10 && b[k + 1] !== 0) return k;
  }
  return -1;
}

describe('findBareCR', () => {
  it('is its definition for every range, bound and view', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(13, 13, 10, 0, 65, 12, 14), { maxLength: 100 }), fc.nat(), fc.nat(), fc.nat(), (raw, x, y, z) => {
        const b = Uint8Array.from(raw);
        const end = b.length === 0 ? 0 : z % (b.length + 1);
        const to = end === 0 ? 0 : y % (end + 1);
        const from = to === 0 ? 0 : x % (to + 1);
        const want = reference(b, from, to, end);
        expect(findBareCR(b, from, to, end)).toBe(want);
        expect(findBareCR(b, from, to, end, NO_VIEW)).toBe(want);
        expect(findBareCR(b, from, to, end, new DataView(b.buffer, b.byteOffset, b.byteLength))).toBe(want);
      }),
      { numRuns: 20000 },
    );
  });

  it('sees a CR at the end of the range as ended by what follows it', () => {
    const b = Uint8Array.from('NOOP\r\nPORT\rX\r\n', (c) => c.charCodeAt(0));
    const view = new DataView(b.buffer);
    expect(findBareCR(b, 0, 6, b.length, view)).toBe(-1);
    expect(findBareCR(b, 6, 14, b.length, view)).toBe(10);
    expect(findBareCR(b, 0, 5, b.length, view)).toBe(-1); // CR at 4, LF after it
    expect(findBareCR(b, 6, 11, 11, view)).toBe(-1); // CR at 10, successor unknown
  });
});
