/**
 * Bare CRs: a CR in a line that is followed by anything but LF (the line's end) or NUL (RFC 959's
 * Telnet form of a CR that is data, as in a path name). A command line must not carry one: some
 * servers end a command at a lone CR, so `NOOP<CR>PORT h,h,h,h,p,p` would reach them as a PORT
 * the gateway never saw.
 */

import { findByte, findLF, NO_VIEW } from './lf-scan.js';

/**
 * Index of the first bare CR in buf[from, to), or -1. The successor of the byte at to - 1 is
 * buf[to] when to < end, else unknown: a CR there is not counted (the caller sees its line whole
 * later). `view`: chunkView(buf, ...) for a word-at-a-time search (findByte), or NO_VIEW.
 */
export function findBareCR(buf: Uint8Array, from: number, to: number, end: number, view: DataView = NO_VIEW): number {
  // The search may run up to seven bytes past `to` (within `end`): then findByte's eight-byte
  // steps reach the CR that usually ends the range, instead of leaving the range's last bytes to
  // its byte loop. A CR found there is outside the range, and after a CR at to - 1 nothing is left.
  const bound = Math.min(end, to + 7);
  for (let k = findByte(buf, view, 13, from, bound); k >= 0 && k < to; k = k + 1 < to ? findByte(buf, view, 13, k + 1, bound) : -1) {
    if (k + 1 >= end) return -1;
    const next = buf[k + 1];
    if (next !== 10 && next !== 0) return k;
  }
  return -1;
}

/**
 * Index of the first LF or bare CR in bytes[i..n), or -1 when neither is there (a CR at n - 1 is
 * not judged, as in findBareCR with end n). What findLF and then findBareCR up to that LF find,
 * in one pass: a command line is searched for both, and its CR usually sits just before its LF.
 * Each step reads two words as findByte does, flagging LF and CR bytes at once (the lowest flag
 * of each pattern is exact, so the lowest of both is); a line still going after 256 bytes is left
 * to findLF and findBareCR.
 */
export function findLFOrBareCR(bytes: Uint8Array, view: DataView, i: number, n: number): number {
  const stop = n - i > 256 ? i + 256 : n;
  const words = view === NO_VIEW ? i : stop - 7;
  for (;;) {
    let k = -1;
    for (; i < words; i += 8) {
      const a = view.getUint32(i, true);
      const b = view.getUint32(i + 4, true);
      const al = a ^ 0x0a0a0a0a;
      const ac = a ^ 0x0d0d0d0d;
      const bl = b ^ 0x0a0a0a0a;
      const bc = b ^ 0x0d0d0d0d;
      const za = (((al - 0x01010101) & ~al) | ((ac - 0x01010101) & ~ac)) & 0x80808080;
      const zb = (((bl - 0x01010101) & ~bl) | ((bc - 0x01010101) & ~bc)) & 0x80808080;
      if ((za | zb) !== 0) {
        k = za !== 0 ? i + ((31 - Math.clz32(za & -za)) >> 3) : i + 4 + ((31 - Math.clz32(zb & -zb)) >> 3);
        break;
      }
    }
    if (k < 0) {
      for (; i < stop; i++) {
        const c = bytes[i]!;
        if (c === 10 || c === 13) {
          k = i;
          break;
        }
      }
      if (k < 0) break;
    }
    if (bytes[k] === 10) return k;
    if (k + 1 >= n) return -1; // a CR ending the bytes: no LF follows it here
    const next = bytes[k + 1];
    if (next !== 10 && next !== 0) return k;
    i = k + 1; // CR LF (the LF is found next) or CR NUL
  }
  if (stop >= n) return -1;
  const j = findLF(bytes, view, stop, n);
  const bare = findBareCR(bytes, stop, j < 0 ? n : j, n, view);
  return bare >= 0 ? bare : j;
}
