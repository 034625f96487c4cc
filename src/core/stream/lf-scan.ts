/**
 * Finding line ends fast, for every line-based protocol (FTP now; IRC, SIP, RTSP later), and with
 * the same word-at-a-time search (`findByte`) the other bytes a line reader looks for: a CR
 * (bare-cr.ts), IRC's \x01.
 *
 * Control lines are short (20 to 40 bytes), so a call to `indexOf` per line costs more than the
 * scan itself: `findLF` reads eight bytes a step through a DataView over the chunk and tests them
 * for a 0x0a byte at once. The view is made once per chunk (`chunkView`); making one costs about
 * as much as scanning a hundred bytes, so a short chunk is scanned byte by byte instead.
 * (A view over the whole ArrayBuffer, reused across chunks, measured slower on Node 20: reading
 * a chunk's `buffer` and `byteOffset` costs more than the view it saves.)
 */

/** A view to pass to findLF for a byte-by-byte scan. */
export const NO_VIEW = new DataView(new ArrayBuffer(0));

/** Shortest run for which making a view pays. */
export const MIN_VIEW_BYTES = 1024;

/** The view findLF wants for bytes[0..n) when `left` bytes of it remain to scan. */
export function chunkView(bytes: Uint8Array, left: number): DataView {
  return left >= MIN_VIEW_BYTES ? new DataView(bytes.buffer, bytes.byteOffset, bytes.length) : NO_VIEW;
}

/**
 * Index of the next `byte` in bytes[i..n), or -1. `view` is chunkView(bytes, ...): a view of
 * exactly these bytes, or NO_VIEW for a byte-by-byte scan. Each step reads two little-endian
 * words and flags a zero byte in x ^ (byte repeated); in that test the lowest flagged byte is
 * exact and higher ones may be false, so the lowest is taken. The rest goes byte by byte.
 */
export function findByte(bytes: Uint8Array, view: DataView, byte: number, i: number, n: number): number {
  const pattern = byte * 0x01010101;
  const words = view === NO_VIEW ? i : n - 7;
  for (; i < words; i += 8) {
    const a = view.getUint32(i, true) ^ pattern;
    const b = view.getUint32(i + 4, true) ^ pattern;
    const za = (a - 0x01010101) & ~a & 0x80808080;
    const zb = (b - 0x01010101) & ~b & 0x80808080;
    if ((za | zb) !== 0) {
      return za !== 0 ? i + ((31 - Math.clz32(za & -za)) >> 3) : i + 4 + ((31 - Math.clz32(zb & -zb)) >> 3);
    }
  }
  for (; i < n; i++) if (bytes[i] === byte) return i;
  return -1;
}

/**
 * findByte for a byte that is rare and sought over a long run (IRC's \x01 over a whole chunk):
 * sixteen bytes a step with one test for all of them, and the step that has the byte (or an
 * unsure flag) read again byte by byte. Faster than findByte where nothing is found for hundreds
 * of bytes; slower on short runs, which is what findByte is for.
 */
export function findRareByte(bytes: Uint8Array, view: DataView, byte: number, i: number, n: number): number {
  const pattern = byte * 0x01010101;
  const steps = view === NO_VIEW ? i : n - 15;
  for (; i < steps; i += 16) {
    const a = view.getUint32(i, true) ^ pattern;
    const b = view.getUint32(i + 4, true) ^ pattern;
    const c = view.getUint32(i + 8, true) ^ pattern;
    const d = view.getUint32(i + 12, true) ^ pattern;
    if ((((a - 0x01010101) & ~a) | ((b - 0x01010101) & ~b) | ((c - 0x01010101) & ~c) | ((d - 0x01010101) & ~d)) & 0x80808080) break;
  }
  for (; i < n; i++) if (bytes[i] === byte) return i;
  return -1;
}

/**
 * Index of the last `byte` in bytes[from..to), or -1: findByte backwards, eight bytes a step from
 * the end. A flagged step holds the byte (a false flag only comes above a true one), so the byte
 * loop that follows ends within it.
 */
export function findLastByte(bytes: Uint8Array, view: DataView, byte: number, from: number, to: number): number {
  const pattern = byte * 0x01010101;
  let i = to;
  if (view !== NO_VIEW) {
    for (; i - 8 >= from; i -= 8) {
      const a = view.getUint32(i - 8, true) ^ pattern;
      const b = view.getUint32(i - 4, true) ^ pattern;
      if ((((a - 0x01010101) & ~a) | ((b - 0x01010101) & ~b)) & 0x80808080) break;
    }
  }
  for (i--; i >= from; i--) if (bytes[i] === byte) return i;
  return -1;
}

/**
 * Index of the next LF in bytes[i..n), or -1 (findByte). A line still going after 256 bytes is
 * left to indexOf (memchr): it may look past n, but the LF it finds ends that line anyway.
 */
export function findLF(bytes: Uint8Array, view: DataView, i: number, n: number): number {
  const stop = n - i > 256 ? i + 256 : n;
  const j = findByte(bytes, view, 10, i, stop);
  if (j >= 0 || stop >= n) return j;
  const k = bytes.indexOf(10, stop); // bounded by the answer's check
  return k >= 0 && k < n ? k : -1;
}
