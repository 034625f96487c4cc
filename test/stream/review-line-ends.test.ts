/**
 * Review of stream/lf-scan.ts, stream/line-ends.ts and stream/lf-simd.ts: contracts at their
 * edges (an end bound below the buffer's length, several LineEnds objects, what module state keeps
 * after a translator's call), and the two backends against each other on adversarial layouts.
 */
import { describe, it, expect, afterEach } from 'vitest';
import fc from 'fast-check';
import { findLF, chunkView, NO_VIEW } from '../../src/core/stream/lf-scan.js';
import { LineEnds, LINE_ENDS } from '../../src/core/stream/line-ends.js';
import { simdKernel, WINDOW } from '../../src/core/stream/lf-simd.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import { bytes } from '../ftp/harness.js';

const firstLF = (b: Uint8Array, i: number, n: number) => {
  for (let k = i; k < n; k++) if (b[k] === 10) return k;
  return -1;
};

afterEach(() => {
  LINE_ENDS.setBackend('simd');
});

describe('review: findLF end bound', () => {
  // DEFECT: findLF documents "index of the next LF in bytes[i..n), or -1", but after 256 bytes
  // without an LF it falls back to bytes.indexOf(10, i), which searches to the end of the whole
  // array and ignores n. Today every caller passes n = bytes.length except LineEnds.fill (window
  // end), where the stray result happens to be a correct later LF; any future caller with a
  // shorter bound (a line parser for IRC/SIP on a slice) gets an index outside its range.
  // lf-scan.ts line 43 was `return i < n ? bytes.indexOf(10, i) : -1;` (fixed: the answer is bounded).
  it('never returns an index at or past n (LF beyond n after a 300-byte line)', () => {
    const b = new Uint8Array(400).fill(0x41);
    b[350] = 10;
    expect(findLF(b, NO_VIEW, 0, 300)).toBe(-1);
  });

  it('agrees with a byte loop for every bound n <= length (runs shorter than 256 bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(300), fc.nat(300), (b, x, y) => {
        const n = Math.min(b.length, Math.max(x, y));
        const i = Math.min(n, Math.min(x, y));
        if (n - i > 256) return; // the documented defect above
        expect(findLF(b, NO_VIEW, i, n)).toBe(firstLF(b, i, n));
        expect(findLF(b, chunkView(b, b.length), i, n)).toBe(firstLF(b, i, n));
      }),
      { numRuns: 500 },
    );
  });
});

describe('review: LineEnds objects share one kernel', () => {
  // DEFECT (latent): LineEnds is an exported class, but every 'simd' instance lists into the one
  // module-level kernel memory (lf-simd.ts `kernel`; line-ends.ts fill() keeps `this.ends =
  // k.ends`, a view of that memory). Two instances used in turn (a second line-based ALG with
  // its own list, a test) read each other's positions. Only LINE_ENDS is used in src today.
  // Kept as a documented limit (LineEnds class comment): one instance at a time.
  it.fails('two SIMD instances used in turn each give their own chunk\'s line ends', () => {
    const a = new LineEnds('simd');
    const b = new LineEnds('simd');
    const A = new Uint8Array(4096).fill(0x41);
    const B = new Uint8Array(4096).fill(0x42);
    for (let k = 99; k < A.length; k += 100) A[k] = 10;
    for (let k = 49; k < B.length; k += 70) B[k] = 10;
    const oa = {};
    const ob = {};
    a.begin(oa, 1, A);
    b.begin(ob, 1, B);
    expect(a.next(0)).toBe(99);
    expect(b.next(0)).toBe(49);
    expect(a.next(100)).toBe(199); // gets B's next end (119) relative to A's window
  });
});

describe('review: next(i) at an end it already returned', () => {
  // LOW (contract): next() says "first LF at or after i, calls come with i rising". Asked again
  // for the end it just returned, the listed mode (chunk of 1 KiB or more) skips it (the cursor
  // is past it) while the direct mode (short chunk) returns it. No caller in src asks twice
  // today (every lane consumes through the LF it was given), so this only bites a future caller.
  // The contract now says so: each call past the previous answer.
  it.fails('gives the same answer in listed and direct mode', () => {
    const A = new Uint8Array(4096).fill(0x41);
    for (let k = 99; k < A.length; k += 100) A[k] = 10;
    const listed = new LineEnds('js');
    listed.begin(listed, 1, A);
    const short = new LineEnds('js');
    short.begin(short, 1, A.subarray(0, 500));
    expect(short.next(short.next(0))).toBe(99);
    expect(listed.next(listed.next(0))).toBe(99);
  });
});

describe('review: backends agree on adversarial layouts', () => {
  // LFs at and around 16-byte steps, window edges and the 1 KiB direct threshold, from every start.
  const layout = fc
    .tuple(
      fc.integer({ min: 0, max: 3 * WINDOW + 70 }),
      fc.array(fc.oneof(fc.integer({ min: -20, max: 20 }).map((d) => WINDOW + d), fc.integer({ min: -20, max: 20 }).map((d) => 2 * WINDOW + d), fc.integer({ min: -5, max: 5 }).map((d) => 1024 + d), fc.nat(3 * WINDOW + 70)), { maxLength: 40 }),
      fc.nat(200),
    )
    .map(([len, lfs, skew]) => {
      const buf = new Uint8Array(len + skew);
      buf.fill(0x0b);
      const b = buf.subarray(skew);
      for (const p of lfs) if (p < len) b[p] = 10;
      return b;
    });

  it('simd and js list the same ends from any start, walking line by line', () => {
    const simd = new LineEnds('simd');
    const js = new LineEnds('js');
    fc.assert(
      fc.property(layout, fc.nat(3 * WINDOW + 70), (b, start0) => {
        const start = Math.min(start0, b.length);
        const got: number[][] = [];
        for (const e of [simd, js]) {
          e.begin(e, 1, b);
          const list: number[] = [];
          for (let j = e.next(start); j >= 0; j = e.next(j + 1)) list.push(j);
          got.push(list);
        }
        const want: number[] = [];
        for (let k = start; k < b.length; k++) if (b[k] === 10) want.push(k);
        expect(got[0]).toEqual(want);
        expect(got[1]).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });
});

describe('review: module state after a translator call', () => {
  it('the module list lets go of the caller\'s chunk when handleData returns', () => {
    const t = new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' });
    const chunk = bytes('NOOP\r\n'.repeat(400));
    t.handleData('client-to-server', chunk, 0);
    const inner = LINE_ENDS as unknown as { bytes: Uint8Array; owner: object | null };
    expect(inner.owner).toBeNull();
    expect(inner.bytes).not.toBe(chunk);
    expect(inner.bytes.length).toBe(0);
  });

  // DEFECT (data remanence): the SIMD backend copies each listed window (up to 16 KiB) of a
  // connection's control bytes into the module's WebAssembly memory (line-ends.ts fill(),
  // `k.input.set(...)`) and never clears it, so after the call a copy of the last window of some
  // connection - here a PASS line - stays in process memory, shared by every connection, until
  // another window overwrites it. The JS backend keeps only positions. (Fixed: fill() zeroes
  // the window once it is listed.)
  it('no copy of a connection\'s bytes stays in module memory after handleData', () => {
    const t = new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' });
    const chunk = bytes('USER alice\r\nPASS hunter2-secret\r\n' + 'NOOP\r\n'.repeat(300));
    t.handleData('client-to-server', chunk, 0);
    const mem = simdKernel()!.input;
    let s = '';
    for (let k = 0; k < 64; k++) s += String.fromCharCode(mem[k]!);
    expect(s).not.toContain('hunter2-secret');
  });
});
