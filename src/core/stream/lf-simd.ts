/**
 * A WebAssembly SIMD kernel that lists every LF of a window of bytes, sixteen bytes a step
 * (i8x16.eq against a splat of 0x0a, i8x16.bitmask, then one count-trailing-zeros per LF), and
 * on request every bare CR: a CR followed by anything but LF or NUL (RFC 959 allows a CR in a
 * line only as CR NUL; some servers end a command at a lone CR, so a gateway must not let one
 * through). It is the fastest line-end search a JavaScript runtime offers: about twice the JS
 * word scan on short control lines, copy of the window into its memory included.
 *
 * The module is assembled here from named opcodes (no binary blob to trust) and instantiated on
 * first use. Where WebAssembly or its SIMD proposal is missing (or a content security policy
 * forbids compiling), `simdKernel()` returns null and callers scan in JavaScript.
 *
 * Memory layout (three 64 KiB pages, never grown, so views of it stay valid):
 *   [0, WINDOW]                      the bytes being scanned, then the byte after them (0: none)
 *   [ENDS_AT, ENDS_AT + 4 * WINDOW)  the LF positions found, relative to the window, in order
 *   [CRS_AT, CRS_AT + 4 * WINDOW)    the bare CR positions, likewise
 *
 * The function, as WebAssembly text (result: LF count | bare CR count << 16):
 *   (func (export "scan") (param $p i32) (param $n i32) (param $out i32) (param $crOut i32)
 *     (result i32)
 *     end16 = n & -16
 *     while i < end16:
 *       v = v128.load(p + i);  m = bitmask(i8x16.eq(v, splat 10))
 *       while m: out[cnt++] = i + ctz(m); m &= m - 1
 *       if crOut and (b = bitmask(i8x16.eq(v, splat 13))):
 *         v = v128.load(p + i + 1)              ;; each byte's successor
 *         b &= ~bitmask(i8x16.eq(v, splat 10) | i8x16.eq(v, splat 0))
 *         while b: crOut[crCnt++] = i + ctz(b); b &= b - 1
 *       i += 16
 *     while i < n:
 *       b = load8_u(p + i);  if b == 10: out[cnt++] = i
 *       if crOut != 0 and b == 13 and (b = load8_u(p + i + 1)) != 10 and b != 0: crOut[crCnt++] = i
 *       i += 1
 *     return cnt | crCnt << 16)
 */

/** Largest window scanned at once: its positions fill at most WINDOW entries per list. */
export const WINDOW = 16384;
/** Byte offsets of the lists in the kernel's memory. */
export const ENDS_AT = 65536;
export const CRS_AT = 131072;

export interface SimdKernel {
  /** The kernel's memory as bytes: copy a window to [0, length), its next byte to [length]. */
  readonly input: Uint8Array;
  /** The LF positions written by scan, from index 0. */
  readonly ends: Int32Array;
  /** The bare CR positions written by scan (when asked for), from index 0. */
  readonly crs: Int32Array;
  /** Scan input[0, length): returns the LF count, plus the bare CR count << 16 when `crs`. */
  scan(length: number, crs?: boolean): number;
}

// Opcodes used (WebAssembly core 2.0 and the fixed-width SIMD extension).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, VOID = 0x40;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, I32_LOAD8_U = 0x2d, I32_STORE = 0x36, I32_CONST = 0x41;
const I32_EQZ = 0x45, I32_EQ = 0x46, I32_NE = 0x47, I32_GE_U = 0x4f, I32_CTZ = 0x68, I32_ADD = 0x6a, I32_SUB = 0x6b;
const I32_AND = 0x71, I32_OR = 0x72, I32_XOR = 0x73, I32_SHL = 0x74;
const SIMD = 0xfd, V128_LOAD = 0x00, I8X16_SPLAT = 0x0f, I8X16_EQ = 0x23, V128_OR = 0x50, I8X16_BITMASK = 0x64;
const I32 = 0x7f, V128 = 0x7b, FUNC = 0x60;
// Locals: the parameters, then the function's own (six i32, one v128).
const P = 0, N = 1, OUT = 2, CR_OUT = 3, I = 4, M = 5, CNT = 6, END16 = 7, B = 8, CR_CNT = 9, V = 10;

const get = (x: number) => [LOCAL_GET, x];
const set = (x: number) => [LOCAL_SET, x];
const tee = (x: number) => [LOCAL_TEE, x];
/** Signed LEB128 for the small constants used here (-64..63). */
const i32 = (v: number) => [I32_CONST, v & 0x7f];
const inc = (x: number) => [...get(x), ...i32(1), I32_ADD, ...set(x)];
/** list[count] = <value pushed by `value`>; count += 1 */
const append = (list: number, count: number, value: number[]) => [...get(list), ...get(count), ...i32(2), I32_SHL, I32_ADD, ...value, I32_STORE, 2, 0, ...inc(count)];
/** while (x) { list[count++] = i + ctz(x); x &= x - 1 } */
const eachBit = (x: number, list: number, count: number) => [
  BLOCK, VOID, LOOP, VOID,
  ...get(x), I32_EQZ, BR_IF, 1,
  ...append(list, count, [...get(I), ...get(x), I32_CTZ, I32_ADD]),
  ...get(x), ...get(x), ...i32(1), I32_SUB, I32_AND, ...set(x),
  BR, 0, END, END,
];
const eqSplat = (byte: number) => [...i32(byte), SIMD, I8X16_SPLAT, SIMD, I8X16_EQ];

const BODY = [
  ...get(N), ...i32(-16), I32_AND, ...set(END16),
  BLOCK, VOID, LOOP, VOID,
  ...get(I), ...get(END16), I32_GE_U, BR_IF, 1,
  ...get(P), ...get(I), I32_ADD, SIMD, V128_LOAD, 4, 0, ...tee(V),
  ...eqSplat(10), SIMD, I8X16_BITMASK, ...set(M),
  ...eachBit(M, OUT, CNT),
  ...get(CR_OUT), IF, VOID,
  ...get(V), ...eqSplat(13), SIMD, I8X16_BITMASK, ...set(B),
  ...get(B), IF, VOID,
  ...get(P), ...get(I), I32_ADD, ...i32(1), I32_ADD, SIMD, V128_LOAD, 4, 0, ...set(V),
  ...get(B), ...get(V), ...eqSplat(10), ...get(V), ...eqSplat(0), SIMD, V128_OR, SIMD, I8X16_BITMASK,
  ...i32(-1), I32_XOR, I32_AND, ...set(B),
  ...eachBit(B, CR_OUT, CR_CNT),
  END, END,
  ...get(I), ...i32(16), I32_ADD, ...set(I),
  BR, 0, END, END,
  BLOCK, VOID, LOOP, VOID,
  ...get(I), ...get(N), I32_GE_U, BR_IF, 1,
  ...get(P), ...get(I), I32_ADD, I32_LOAD8_U, 0, 0, ...tee(B), ...i32(10), I32_EQ,
  IF, VOID, ...append(OUT, CNT, get(I)), END,
  ...get(CR_OUT), ...i32(0), I32_NE, ...get(B), ...i32(13), I32_EQ, I32_AND,
  IF, VOID,
  ...get(P), ...get(I), I32_ADD, I32_LOAD8_U, 0, 1, ...tee(B), ...i32(10), I32_NE, ...get(B), ...i32(0), I32_NE, I32_AND,
  IF, VOID, ...append(CR_OUT, CR_CNT, get(I)), END,
  END,
  ...inc(I),
  BR, 0, END, END,
  ...get(CNT), ...get(CR_CNT), ...i32(16), I32_SHL, I32_OR, END,
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
  const code = [2, 6, I32, 1, V128, ...BODY]; // the locals (six i32, one v128), then the body
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, FUNC, 4, I32, I32, I32, I32, 1, I32]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 3]), // one memory, three pages, no maximum
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
      scan: (p: number, n: number, out: number, crOut: number) => number;
    };
    const buffer = exports.mem.buffer;
    const scan = exports.scan;
    kernel = {
      input: new Uint8Array(buffer, 0, WINDOW + 1),
      ends: new Int32Array(buffer, ENDS_AT, WINDOW),
      crs: new Int32Array(buffer, CRS_AT, WINDOW),
      scan: (length, crs = false) => scan(0, length, ENDS_AT, crs ? CRS_AT : 0),
    };
  } catch {
    kernel = null; // no WebAssembly here (or not allowed): the JavaScript scan serves
  }
  return kernel;
}
