/**
 * Every line end of a chunk, listed up front, for a loop that walks a chunk line by line: the
 * list is made a window (up to 16 KiB) at a time by the SIMD kernel (lf-simd.ts), or by the
 * JavaScript word scan (lf-scan.ts) where WebAssembly is not available or the window is short.
 * A chunk of less than 1 KiB from where the walk starts is not listed: its lines are found one
 * at a time (often only one or two are walked before a held line stops the loop).
 *
 * There is one list for the whole module (and its memory: no bytes per connection), so it is only
 * good for the call that made it: a translator lists its chunk again in every handleData call
 * (`begin`, checked by `owner` and `call`). Nothing runs in between: the core is synchronous.
 */

import { chunkView, findLF, NO_VIEW } from './lf-scan.js';
import { simdKernel, WINDOW, type SimdKernel } from './lf-simd.js';

const EMPTY_ENDS = new Int32Array(0);
const EMPTY_BYTES = new Uint8Array(0);

/** Chunks (from where the walk starts) shorter than this are not listed at all. */
const LIST_MIN = 1024;

/** Windows shorter than this are listed in JavaScript: the kernel's call and copy would not pay. */
const SIMD_MIN = 64;

export class LineEnds {
  /** Who listed the current chunk and in which of its calls (see the file comment). */
  owner: object | null = null;
  call = 0;

  private bytes: Uint8Array = EMPTY_BYTES;
  private n = 0;
  /** Chunk index of the current window's first byte: positions are relative to it. */
  private base = 0;
  private windowEnd = 0;
  private count = 0;
  private cursor = 0;
  /** Short chunk: no list, each next() scans (see next). */
  private direct = false;
  private ends: Int32Array = EMPTY_ENDS;
  private jsEnds: Int32Array | null = null;
  /** The kernel, null for none, undefined until first needed (nothing is made at import). */
  private kernel: SimdKernel | null | undefined;

  constructor(backend: 'simd' | 'js' = 'simd') {
    this.kernel = backend === 'simd' ? undefined : null;
  }

  /** 'simd' when the WebAssembly kernel lists long windows, else 'js'. */
  get backend(): 'simd' | 'js' {
    if (this.kernel === undefined) this.kernel = simdKernel();
    return this.kernel !== null ? 'simd' : 'js';
  }

  /** Choose the backend ('simd' only where the kernel runs); returns the one in use. */
  setBackend(backend: 'simd' | 'js'): 'simd' | 'js' {
    this.kernel = backend === 'simd' ? undefined : null;
    this.owner = null; // a list made by the other backend is not reused
    this.count = 0;
    return this.backend;
  }

  /** Start listing `bytes` (nothing is scanned until `next` needs it). */
  begin(owner: object, call: number, bytes: Uint8Array): void {
    this.owner = owner;
    this.call = call;
    this.bytes = bytes;
    this.n = bytes.length;
    this.base = 0;
    this.windowEnd = 0;
    this.count = 0;
    this.cursor = 0;
    this.direct = false;
  }

  /** The call that made the list is over: let go of its chunk (the caller may reuse it). */
  release(owner: object): void {
    if (this.owner !== owner) return;
    this.owner = null;
    this.bytes = EMPTY_BYTES;
    this.n = this.windowEnd = this.count = this.cursor = 0;
  }

  /** Index of the first LF at or after `i` in the chunk, or -1. Calls come with `i` rising. */
  next(i: number): number {
    if (this.direct) return findLF(this.bytes, NO_VIEW, i, this.n);
    for (;;) {
      const ends = this.ends;
      const count = this.count;
      let c = this.cursor;
      while (c < count) {
        const j = ends[c++]! + this.base;
        if (j >= i) {
          this.cursor = c;
          return j;
        }
      }
      this.cursor = c;
      if (this.windowEnd >= this.n) return -1;
      if (this.windowEnd === 0 && this.n - i < LIST_MIN) {
        // A short rest (a reply or two after a held line, a small read): its lines are found
        // one at a time, as a list of them all would cost more than the few that are walked.
        this.direct = true;
        return findLF(this.bytes, NO_VIEW, i, this.n);
      }
      this.fill(i > this.windowEnd ? i : this.windowEnd);
    }
  }

  /** List the LFs of the window starting at chunk index `from`. */
  private fill(from: number): void {
    const bytes = this.bytes;
    const to = this.n - from > WINDOW ? from + WINDOW : this.n;
    const k = this.kernel === undefined ? (this.kernel = simdKernel()) : this.kernel;
    this.base = from;
    this.windowEnd = to;
    this.cursor = 0;
    if (k !== null && to - from >= SIMD_MIN) {
      k.input.set(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      this.count = k.scan(to - from);
      this.ends = k.ends;
      return;
    }
    const ends = this.jsEnds ?? (this.jsEnds = new Int32Array(WINDOW));
    const view = chunkView(bytes, to - from);
    let count = 0;
    for (let i = from; ; ) {
      const j = findLF(bytes, view, i, to);
      if (j < 0) break;
      ends[count++] = j - from;
      i = j + 1;
    }
    this.count = count;
    this.ends = ends;
  }
}

/** The module's list (see the file comment). */
export const LINE_ENDS = new LineEnds();
