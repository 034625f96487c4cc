/**
 * Bare CRs: a CR in a line that is followed by anything but LF (the line's end) or NUL (RFC 959's
 * Telnet form of a CR that is data, as in a path name). A command line must not carry one: some
 * servers end a command at a lone CR, so `NOOP<CR>PORT h,h,h,h,p,p` would reach them as a PORT
 * the gateway never saw.
 */

/**
 * Index of the first bare CR in buf[from, to), or -1. The successor of the byte at to - 1 is
 * buf[to] when to < end, else unknown: a CR there is not counted (the caller sees its line whole
 * later).
 */
export function findBareCR(buf: Uint8Array, from: number, to: number, end: number): number {
  for (let k = from; k < to; k++) {
    if (buf[k] !== 13) continue;
    if (k + 1 >= end) return -1;
    const next = buf[k + 1];
    if (next !== 10 && next !== 0) return k;
  }
  return -1;
}
