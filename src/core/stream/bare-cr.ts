/**
 * Bare CRs: a CR in a line that is followed by anything but LF (the line's end) or NUL (RFC 959's
 * Telnet form of a CR that is data, as in a path name). A command line must not carry one: some
 * servers end a command at a lone CR, so `NOOP<CR>PORT h,h,h,h,p,p` would reach them as a PORT
 * the gateway never saw.
 */

import { findByte, NO_VIEW } from './lf-scan.js';

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
