import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { chunkView, findByte, findLastByte, findLF, findRareByte, MIN_VIEW_BYTES, NO_VIEW } from '../../src/core/stream/lf-scan.js';
import { findBareCR } from '../../src/core/stream/bare-cr.js';

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

describe('findByte', () => {
  it('agrees with a byte loop for any byte (CR, \\x01, 0x80, 0xff), through a view or not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0, 1, 13, 0x80, 0xfe, 0xff), fc.nat(300), fc.nat(300),
        (raw, byte, x, y) => {
          // a dense input: the sought byte and its one-bit neighbours everywhere
          const b = raw.map((v) => (v % 3 === 0 ? byte : v % 3 === 1 ? byte ^ 1 : v));
          const n = b.length === 0 ? 0 : Math.max(x, y) % (b.length + 1);
          const i = n === 0 ? 0 : Math.min(x, y) % (n + 1);
          let want = -1;
          for (let k = i; k < n; k++) if (b[k] === byte) { want = k; break; }
          expect(findByte(b, new DataView(b.buffer, b.byteOffset, b.byteLength), byte, i, n)).toBe(want);
          expect(findByte(b, NO_VIEW, byte, i, n)).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('findRareByte', () => {
  it('agrees with a byte loop for any byte, sparse or dense, through an unaligned view or not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }), fc.constantFrom(0, 1, 13, 0x80, 0xfe, 0xff), fc.nat(7), fc.boolean(), fc.nat(600), fc.nat(600),
        (raw, byte, skew, sparse, x, y) => {
          // dense: the byte and its one-bit neighbours everywhere; sparse: hardly ever the byte
          const mapped = raw.map((v) => (sparse ? (v === 7 ? byte : v === byte ? byte ^ 1 : v) : v % 3 === 0 ? byte : v % 3 === 1 ? byte ^ 1 : v));
          const buf = new Uint8Array(mapped.length + skew);
          buf.set(mapped, skew);
          const b = buf.subarray(skew);
          const n = b.length === 0 ? 0 : Math.max(x, y) % (b.length + 1);
          const i = n === 0 ? 0 : Math.min(x, y) % (n + 1);
          let want = -1;
          for (let k = i; k < n; k++) if (b[k] === byte) { want = k; break; }
          expect(findRareByte(b, new DataView(b.buffer, b.byteOffset, b.byteLength), byte, i, n)).toBe(want);
          expect(findRareByte(b, NO_VIEW, byte, i, n)).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds the byte at every position of a sixteen-byte step, not a look-alike', () => {
    for (let len = 0; len < 70; len++) {
      for (let at = 0; at < len; at++) {
        const b = new Uint8Array(len).fill(0x00);
        for (let k = 0; k < len; k += 2) b[k] = 0x81;
        b[at] = 1;
        expect(findRareByte(b, new DataView(b.buffer), 1, 0, len)).toBe(at);
        expect(findRareByte(b, new DataView(b.buffer), 1, 0, at)).toBe(-1);
      }
    }
  });
});

describe('findLastByte', () => {
  it('agrees with a backward byte loop for any byte, sparse or dense, through an unaligned view or not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0, 1, 10, 13, 0x80, 0xfe, 0xff), fc.nat(7), fc.boolean(), fc.nat(300), fc.nat(300),
        (raw, byte, skew, sparse, x, y) => {
          const mapped = raw.map((v) => (sparse ? (v === 7 ? byte : v === byte ? byte ^ 1 : v) : v % 3 === 0 ? byte : v % 3 === 1 ? byte ^ 1 : v));
          const buf = new Uint8Array(mapped.length + skew);
          buf.set(mapped, skew);
          const b = buf.subarray(skew);
          const n = b.length === 0 ? 0 : Math.max(x, y) % (b.length + 1);
          const i = n === 0 ? 0 : Math.min(x, y) % (n + 1);
          let want = -1;
          for (let k = n - 1; k >= i; k--) if (b[k] === byte) { want = k; break; }
          expect(findLastByte(b, new DataView(b.buffer, b.byteOffset, b.byteLength), byte, i, n)).toBe(want);
          expect(findLastByte(b, NO_VIEW, byte, i, n)).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds the last byte at every position of a step, not an earlier one or a look-alike', () => {
    for (let len = 0; len < 40; len++) {
      for (let at = 0; at < len; at++) {
        const b = new Uint8Array(len).fill(0x0b);
        for (let k = 0; k < len; k += 3) b[k] = 0x8a;
        b[at] = 10;
        if (at > 0) b[at - 1] = 10;
        expect(findLastByte(b, new DataView(b.buffer), 10, 0, len)).toBe(at);
      }
    }
  });
});

describe('findBareCR through a view', () => {
  it('gives what the byte-wise search gives', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(13, 10, 0, 65), { maxLength: 120 }), fc.nat(120), fc.nat(120), (raw, x, y) => {
        const b = Uint8Array.from(raw);
        const end = b.length;
        const to = end === 0 ? 0 : Math.max(x, y) % (end + 1);
        const from = to === 0 ? 0 : Math.min(x, y) % (to + 1);
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        expect(findBareCR(b, from, to, end, view)).toBe(findBareCR(b, from, to, end));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('chunkView', () => {
  it('views exactly the chunk when enough is left to scan, else asks for the byte loop', () => {
    const a = new Uint8Array(4000);
    const v = chunkView(a.subarray(10, 2010), 2000);
    expect(v.buffer).toBe(a.buffer);
    expect(v.byteOffset).toBe(10);
    expect(v.byteLength).toBe(2000);
    expect(chunkView(a.subarray(10, 2010), MIN_VIEW_BYTES - 1)).toBe(NO_VIEW);
  });

  it('slices of one buffer at every offset and length agree with a byte loop', () => {
    const buf = new Uint8Array(200);
    for (let k = 0; k < buf.length; k++) buf[k] = k % 23 === 22 ? 10 : 0x0b;
    for (let from = 0; from < 40; from++) {
      for (let len = 0; len < 120; len += 7) {
        const b = buf.subarray(from, from + len);
        expect(find(b, 0, b.length)).toBe(naive(b, 0, b.length));
      }
    }
  });
});
