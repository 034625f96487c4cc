import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { findLF, NO_VIEW } from '../../src/core/ftp/framing.js';

const find = (b: Uint8Array, i: number, n: number) => findLF(b, new DataView(b.buffer, b.byteOffset, b.byteLength), i, n);
const naive = (b: Uint8Array, i: number, n: number) => {
  for (let k = i; k < n; k++) if (b[k] === 10) return k;
  return -1;
};

describe('findLF', () => {
  it('finds the first LF at every position of a word, not a later or a look-alike byte', () => {
    for (let len = 0; len < 40; len++) {
      for (let at = 0; at < len; at++) {
        // 0x0b and 0x8a differ from LF by one bit: the word test must not take them for one
        const b = new Uint8Array(len).fill(0x0b);
        for (let k = 0; k < len; k += 3) b[k] = 0x8a;
        b[at] = 10;
        if (at + 1 < len) b[at + 1] = 10;
        expect(find(b, 0, len)).toBe(at);
      }
    }
  });

  it('works on an unaligned view and respects the end bound', () => {
    const base = new Uint8Array(64).fill(65);
    base[40] = 10;
    const v = base.subarray(3, 30);
    expect(find(v, 0, v.length)).toBe(-1);
    const w = base.subarray(5, 60);
    expect(find(w, 1, w.length)).toBe(35);
    expect(find(w, 1, 35)).toBe(-1);
  });

  it('agrees with a byte loop on random input, long lines included', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }), fc.nat(16), fc.nat(700), fc.nat(700),
        (raw, skew, x, y) => {
          const buf = new Uint8Array(raw.length + skew);
          buf.set(raw, skew);
          const b = buf.subarray(skew);
          const n = b.length === 0 ? 0 : Math.max(x, y) % (b.length + 1);
          const i = n === 0 ? 0 : Math.min(x, y) % (n + 1);
          expect(find(b, i, n)).toBe(naive(b, i, n));
          expect(findLF(b, NO_VIEW, i, n)).toBe(naive(b, i, n));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
