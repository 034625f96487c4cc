/**
 * Every line end of a chunk, listed up front, for a loop that walks a chunk line by line: the
 * list is made a window (up to 16 KiB) at a time by the SIMD kernel (lf-simd.ts), or by the
 * JavaScript word scan (lf-scan.ts) where WebAssembly is not available or the window is short.
 * A chunk of less than 1 KiB from where the walk starts is not listed: its lines are found one
 * at a time (often only one or two are walked before a held line stops the loop).
 *
 * On request (`begin(..., crs)`) it also lists bare CRs, CRs followed by anything but LF or NUL
 * (`bareCR`): a command line must not carry one (lf-simd.ts says why). A CR that is the chunk's
 * last byte counts as not bare here: its line has no end in this chunk, and whoever completes
 * the line looks at it whole.
 *
 * There is one list for the whole module (and its memory: no bytes per connection), so it is only
 * good for the call that made it: a translator lists its chunk again in every handleData call
 * (`begin`, checked by `owner` and `call`). Nothing runs in between: the core is synchronous.
 */

import { chunkView, findLF, NO_VIEW } from './lf-scan.js';
import { findBareCR } from './bare-cr.js';
import { simdKernel, WINDOW, type SimdKernel } from './lf-simd.js';

const EMPTY_ENDS = new Int32Array(0);
const EMPTY_BYTES = new Uint8Array(0);

/** Chunks (from where the walk starts) shorter than this are not listed at all. */
const LIST_MIN = 1024;

/** Windows shorter than this are listed in JavaScript: the kernel's call and copy would not pay. */
const SIMD_MIN = 64;

/**
 * Instances with the SIMD backend share the kernel's memory: use one at a time between `begin`
 * and its last `next` (the translators use only LINE_ENDS, one call at a time).
 */
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
  /** Bare CRs wanted; their list for the current window (positions relative to `base`). */
  private wantCRs = false;
  private crs: Int32Array = EMPTY_ENDS;
  private crCount = 0;
  private crCursor = 0;
  private jsCRs: Int32Array | null = null;
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

  /** Start listing `bytes`, bare CRs too when `crs` (nothing is scanned until `next` needs it). */
  begin(owner: object, call: number, bytes: Uint8Array, crs = false): void {
    this.owner = owner;
    this.call = call;
    this.bytes = bytes;
    this.n = bytes.length;
    this.base = 0;
    this.windowEnd = 0;
    this.count = 0;
    this.cursor = 0;
    this.direct = false;
    this.wantCRs = crs;
    this.crCount = 0;
    this.crCursor = 0;
  }

  /** begin(), unless the list is already that of this owner's call. */
  use(owner: object, call: number, bytes: Uint8Array, crs: boolean): void {
    if (this.owner !== owner || this.call !== call) this.begin(owner, call, bytes, crs);
  }

  /** The call that made the list is over: let go of its chunk (the caller may reuse it). */
  release(owner: object): void {
    if (this.owner !== owner) return;
    this.owner = null;
    this.bytes = EMPTY_BYTES;
    this.n = this.windowEnd = this.count = this.cursor = this.crCount = this.crCursor = 0;
  }

  /**
   * Index of the first LF at or after `i` in the chunk, or -1. Calls come with `i` rising, each
   * past the previous answer (a walk from line end to line end).
   */
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
      // On from the window's end, or from `i` when the walk is past it. A line longer than a
      // window has its earlier part before `base`: bareCR looks at that part directly.
      this.fill(i > this.windowEnd ? i : this.windowEnd);
    }
  }

  /**
   * Whether bytes[i, j) hold a bare CR (listed ones when the chunk is listed; `crs` must have
   * been asked for in `begin`). Calls come with `i` rising, within the window of the last `next`:
   * `i` the start of a line (or of its part in this chunk), `j` its LF.
   */
  bareCR(i: number, j: number): boolean {
    if (this.direct) return findBareCR(this.bytes, i, j, this.n) >= 0;
    if (i < this.base && findBareCR(this.bytes, i, this.base, this.n) >= 0) return true; // a line longer than a window
    const crs = this.crs;
    const count = this.crCount;
    let c = this.crCursor;
    while (c < count) {
      const k = crs[c]! + this.base;
      if (k >= i) {
        this.crCursor = c;
        return k < j;
      }
      c++;
    }
    this.crCursor = c;
    return false;
  }

  /** List the LFs of the window starting at chunk index `from`. */
  private fill(from: number): void {
    const bytes = this.bytes;
    const to = this.n - from > WINDOW ? from + WINDOW : this.n;
    const k = this.kernel === undefined ? (this.kernel = simdKernel()) : this.kernel;
    this.base = from;
    this.windowEnd = to;
    this.cursor = 0;
    this.crCursor = 0;
    if (k !== null && to - from >= SIMD_MIN) {
      const input = k.input;
      input.set(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      input[to - from] = to < this.n ? bytes[to]! : 0; // the last byte's successor
      const r = k.scan(to - from, this.wantCRs);
      input.fill(0, 0, to - from + 1); // no connection's bytes stay in memory shared by all
      this.count = r & 0xffff;
      this.ends = k.ends;
      this.crCount = r >>> 16;
      this.crs = k.crs;
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
    this.crCount = 0;
    if (!this.wantCRs) return;
    const crs = this.jsCRs ?? (this.jsCRs = new Int32Array(WINDOW));
    let crCount = 0;
    for (let k = findBareCR(bytes, from, to, this.n); k >= 0; k = findBareCR(bytes, k + 1, to, this.n)) crs[crCount++] = k - from;
    this.crs = crs;
    this.crCount = crCount;
  }
}

/** The module's list (see the file comment). */
export const LINE_ENDS = new LineEnds();

/**
 * Choose how line ends are found, for every translator in this JavaScript realm: 'simd' (the
 * default, where WebAssembly SIMD runs) or 'js' (for a runtime that logs or reports each refused
 * WebAssembly compilation, such as a page whose content security policy lacks
 * 'wasm-unsafe-eval'). Returns the backend in use. Output never depends on the choice.
 */
export function setLineScanBackend(backend: 'simd' | 'js'): 'simd' | 'js' {
  return LINE_ENDS.setBackend(backend);
}
