/**
 * A WebAssembly SIMD kernel that lists every LF of a window of bytes, sixteen bytes a step
 * (i8x16.eq against a splat of 0x0a, i8x16.bitmask, then one count-trailing-zeros per LF). It is
 * the fastest line-end search a JavaScript runtime offers: about twice the JS word scan on short
 * control lines, copy of the window into its memory included.
 *
 * The module is assembled here from named opcodes (no binary blob to trust) and instantiated on
 * first use. Where WebAssembly or its SIMD proposal is missing (or a content security policy
 * forbids compiling), `simdKernel()` returns null and callers scan in JavaScript.
 *
 * Memory layout (two 64 KiB pages, never grown, so views of it stay valid):
 *   [0, WINDOW)            the bytes being scanned
 *   [ENDS_AT, ENDS_AT + 4 * WINDOW)   the LF positions found, relative to the window, in order
 *
 * The function, as WebAssembly text:
 *   (func (export "scan") (param $p i32) (param $n i32) (param $out i32) (result i32)
 *     (local $i i32) (local $m i32) (local $cnt i32) (local $end16 i32)
 *     end16 = n & -16
 *     while i < end16:  m = bitmask(i8x16.eq(v128.load(p + i), splat 10))
 *                       while m: out[cnt++] = i + ctz(m); m &= m - 1
 *                       i += 16
 *     while i < n:      if load8_u(p + i) == 10: out[cnt++] = i
 *                       i += 1
 *     return cnt)
 */

/** Largest window scanned at once: its LF positions fill at most WINDOW entries. */
export const WINDOW = 16384;
/** Byte offset of the positions in the kernel's memory. */
export const ENDS_AT = 65536;

export interface SimdKernel {
  /** The kernel's memory as bytes: copy a window to [0, length) before calling scan. */
  readonly input: Uint8Array;
  /** The positions written by scan, from index 0. */
  readonly ends: Int32Array;
  /** Scan input[0, length) and return how many LFs it wrote to `ends`. */
  scan(length: number): number;
}

// Opcodes used (WebAssembly core 2.0 and the fixed-width SIMD extension).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, VOID = 0x40;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_LOAD8_U = 0x2d, I32_STORE = 0x36, I32_CONST = 0x41;
const I32_EQZ = 0x45, I32_EQ = 0x46, I32_GE_U = 0x4f, I32_CTZ = 0x68, I32_ADD = 0x6a, I32_SUB = 0x6b;
const I32_AND = 0x71, I32_SHL = 0x74, SIMD = 0xfd, V128_LOAD = 0x00, I8X16_SPLAT = 0x0f, I8X16_EQ = 0x23, I8X16_BITMASK = 0x64;
const I32 = 0x7f, FUNC = 0x60;
// Locals: the parameters, then the function's own.
const P = 0, N = 1, OUT = 2, I = 3, M = 4, CNT = 5, END16 = 6;

const get = (x: number) => [LOCAL_GET, x];
const set = (x: number) => [LOCAL_SET, x];
/** Signed LEB128 for the small constants used here (-64..63). */
const i32 = (v: number) => [I32_CONST, v & 0x7f];
/** out[cnt] = <value pushed by `value`>; cnt += 1 */
const storeEnd = (value: number[]) => [...get(OUT), ...get(CNT), ...i32(2), I32_SHL, I32_ADD, ...value, I32_STORE, 2, 0, ...get(CNT), ...i32(1), I32_ADD, ...set(CNT)];

const BODY = [
  ...get(N), ...i32(-16), I32_AND, ...set(END16),
  BLOCK, VOID, LOOP, VOID,
  ...get(I), ...get(END16), I32_GE_U, BR_IF, 1,
  ...get(P), ...get(I), I32_ADD, SIMD, V128_LOAD, 4, 0,
  ...i32(10), SIMD, I8X16_SPLAT, SIMD, I8X16_EQ, SIMD, I8X16_BITMASK, ...set(M),
  BLOCK, VOID, LOOP, VOID,
  ...get(M), I32_EQZ, BR_IF, 1,
  ...storeEnd([...get(I), ...get(M), I32_CTZ, I32_ADD]),
  ...get(M), ...get(M), ...i32(1), I32_SUB, I32_AND, ...set(M),
  BR, 0, END, END,
  ...get(I), ...i32(16), I32_ADD, ...set(I),
  BR, 0, END, END,
  BLOCK, VOID, LOOP, VOID,
  ...get(I), ...get(N), I32_GE_U, BR_IF, 1,
  ...get(P), ...get(I), I32_ADD, I32_LOAD8_U, 0, 0, ...i32(10), I32_EQ,
  IF, VOID, ...storeEnd(get(I)), END,
  ...get(I), ...i32(1), I32_ADD, ...set(I),
  BR, 0, END, END,
  ...get(CNT), END,
];

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** The module's bytes. */
export function kernelBytes(): Uint8Array {
  const code = [1, 4, I32, ...BODY]; // one group of four i32 locals, then the body
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, FUNC, 3, I32, I32, I32, 1, I32]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 2]), // one memory, two pages, no maximum
    ...section(7, [2, ...name('mem'), 2, 0, ...name('scan'), 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/** What is used of the WebAssembly global (typed here: the core's lib has no DOM types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}

let kernel: SimdKernel | null | undefined;

/** The kernel, made on first call; null where it cannot run. */
export function simdKernel(): SimdKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = kernelBytes();
    if (wasm === undefined || !wasm.validate(bytes)) return null;
    const exports = new wasm.Instance(new wasm.Module(bytes)).exports as {
      mem: { buffer: ArrayBuffer };
      scan: (p: number, n: number, out: number) => number;
    };
    const buffer = exports.mem.buffer;
    const scan = exports.scan;
    kernel = {
      input: new Uint8Array(buffer, 0, WINDOW),
      ends: new Int32Array(buffer, ENDS_AT, WINDOW),
      scan: (length) => scan(0, length, ENDS_AT),
    };
  } catch {
    kernel = null; // no WebAssembly here (or not allowed): the JavaScript scan serves
  }
  return kernel;
}
