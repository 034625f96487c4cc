/**
 * The line-end list: the WebAssembly SIMD kernel and the JavaScript scan must list exactly the
 * LFs a byte loop finds, across 16-byte steps, window boundaries and rising start points.
 */
import { describe, it, expect, afterEach } from 'vitest';
import fc from 'fast-check';
import { kernelBytes, simdKernel, WINDOW } from '../../src/core/stream/lf-simd.js';
import { LineEnds, LINE_ENDS } from '../../src/core/stream/line-ends.js';
import { findBareCR } from '../../src/core/stream/bare-cr.js';

const naiveEnds = (b: Uint8Array) => {
  const out: number[] = [];
  for (let k = 0; k < b.length; k++) if (b[k] === 10) out.push(k);
  return out;
};

/** Bytes with LFs at a given density, and look-alikes (0x0b, 0x8a, 0x0a+0x100 wraps) around them. */
const chunkArb = (maxLength: number) =>
  fc.tuple(fc.integer({ min: 0, max: maxLength }), fc.integer({ min: 1, max: 200 }), fc.integer()).map(([len, every, seed]) => {
    const b = new Uint8Array(len);
    let x = seed >>> 0 || 7;
    for (let k = 0; k < len; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const r = (x >>> 0) % every;
      b[k] = r === 0 ? 10 : r === 1 ? 0x0b : r === 2 ? 0x8a : 32 + ((x >>> 8) % 95);
    }
    return b;
  });

describe('SIMD kernel', () => {
  it('is valid WebAssembly and runs on this Node', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(kernelBytes())).toBe(true);
    expect(simdKernel()).not.toBeNull();
  });

  it('lists every LF of a window, in order, relative to the window', () => {
    const k = simdKernel()!;
    fc.assert(
      fc.property(chunkArb(WINDOW), (b) => {
        k.input.set(b);
        const count = k.scan(b.length);
        expect(Array.from(k.ends.subarray(0, count))).toEqual(naiveEnds(b));
      }),
      { numRuns: 300 },
    );
  });

  it('every length around the 16-byte steps, LF at every position', () => {
    const k = simdKernel()!;
    for (let len = 0; len <= 48; len++) {
      for (let at = 0; at < len; at++) {
        const b = new Uint8Array(len).fill(0x0b);
        b[at] = 10;
        if (at + 3 < len) b[at + 3] = 10;
        k.input.set(b);
        const count = k.scan(len);
        expect(Array.from(k.ends.subarray(0, count))).toEqual(naiveEnds(b));
      }
    }
  });
});

describe('LineEnds', () => {
  afterEach(() => {
    LINE_ENDS.setBackend('simd');
  });

  for (const backend of ['simd', 'js'] as const) {
    it(`${backend}: next(i) is the first LF at or after i, over windows, offsets and rising i`, () => {
      const ends = new LineEnds(backend);
      expect(ends.backend).toBe(backend);
      fc.assert(
        fc.property(chunkArb(3 * WINDOW + 100), fc.nat(64), fc.array(fc.nat(400), { maxLength: 60 }), (raw, skew, steps) => {
          // an unaligned view into a larger buffer, as socket reads and packet buffers give
          const buf = new Uint8Array(raw.length + skew + 5);
          buf.set(raw, skew);
          const b = buf.subarray(skew, skew + raw.length);
          const want = naiveEnds(b);
          const owner = {};
          ends.begin(owner, 1, b);
          let i = 0;
          for (const step of steps) {
            i += step;
            const j = ends.next(i);
            const expected = want.find((w) => w >= i) ?? -1;
            expect(j).toBe(expected);
            if (j < 0) break;
            i = j + 1;
          }
          // and line by line to the end
          ends.begin(owner, 2, b);
          const all: number[] = [];
          for (let j = ends.next(0); j >= 0; j = ends.next(j + 1)) all.push(j);
          expect(all).toEqual(want);
        }),
        { numRuns: 120 },
      );
    });
  }

  for (const backend of ['simd', 'js'] as const) {
    it(`${backend}: bareCR(i, j) over each walked line agrees with a byte loop (CR, LF, NUL dense)`, () => {
      const ends = new LineEnds(backend);
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom(10, 13, 13, 0, 65, 66, 32), { maxLength: 3 * WINDOW }),
          fc.nat(40),
          (raw, skew) => {
            const buf = new Uint8Array(raw.length + skew);
            buf.set(raw, skew);
            const b = buf.subarray(skew);
            ends.begin({}, 1, b, true);
            let i = 0;
            for (let j = ends.next(0); j >= 0; j = ends.next(i)) {
              expect(ends.bareCR(i, j)).toBe(findBareCR(b, i, j, b.length) >= 0);
              i = j + 1;
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('the module list can be switched to JavaScript and back', () => {
    expect(LINE_ENDS.setBackend('js')).toBe('js');
    expect(LINE_ENDS.setBackend('simd')).toBe('simd');
  });
});
