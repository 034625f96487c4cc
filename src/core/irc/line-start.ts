/**
 * Deciding, from its first bytes, whether a server line may stream out as it comes: yes unless it
 * carries a \x01 (the only byte that starts a CTCP, so a line without one cannot hold an offer in
 * any client's reading), within maxLineLength either way.
 *
 * Most lines are decided at their first byte with no scan of their own: once per chunk the scanner
 * finds the chunk's last LF (lastIndexOf) and, when needed, its next \x01 (indexOf). A line that
 * starts before the last LF ends in this chunk; if the next \x01 lies beyond the last LF, none of
 * the lines up to there holds one. Only a line near a \x01, one that goes on into the next chunk,
 * or a chunk longer than maxLineLength is scanned byte by byte, and then each byte once however
 * the line is split. The decision depends on the line's bytes only, never on the chunking.
 */

import type { IrcStream } from './state.js';

export type LineStartDecision = 'stream' | 'hold' | 'overlong';

export class CtcpLineStart {
  /** What the bytes read decided (valid once `feed` returned an index). */
  decision: LineStartDecision = 'stream';
  /** Bytes of the current line read one by one so far. */
  private read = 0;
  // Per chunk: which chunk (and call: its input offset), its last LF, its next \x01.
  private chunk: Uint8Array | null = null;
  private base = -1;
  private lastLF = -1;
  /** Next \x01 at or after the last lookup's start, -1 for none, -2 not looked up yet. */
  private ctcpAt = -2;

  reset(): void {
    this.read = 0;
  }

  /**
   * Read the current line's first bytes buf[from, to): the index of the deciding byte (the line's
   * first byte when the chunk decides it at once), or -1 when undecided.
   */
  feed(s: IrcStream, buf: Uint8Array, from: number, to: number, maxLine: number): number {
    if (this.read === 0) {
      if (buf !== this.chunk || s.chunkBase !== this.base) {
        this.chunk = buf;
        this.base = s.chunkBase;
        this.lastLF = to > 0 ? buf.lastIndexOf(10, to - 1) : -1;
        this.ctcpAt = -2;
      }
      if (from <= this.lastLF && this.lastLF - from < maxLine) {
        // The line ends in this chunk, within the bound.
        const c = this.nextCtcp(buf, from, to);
        if (c < 0 || c > this.lastLF) {
          this.decision = 'stream';
        } else {
          const lf = buf.indexOf(10, from);
          this.decision = c < lf ? 'hold' : 'stream';
        }
        return from;
      }
    }
    for (let i = from; i < to; i++) {
      const c = buf[i]!;
      this.read++;
      if (c === 1) {
        this.decision = 'hold';
        return i;
      }
      if (c === 10) {
        this.decision = 'stream';
        return i;
      }
      if (this.read >= maxLine) {
        this.decision = 'overlong';
        return i;
      }
    }
    return -1;
  }

  /** The next \x01 in buf[from, to), or -1. Lines only move forward within a chunk. */
  private nextCtcp(buf: Uint8Array, from: number, to: number): number {
    if (this.ctcpAt === -1 || this.ctcpAt >= from) return this.ctcpAt;
    const c = buf.indexOf(1, from);
    this.ctcpAt = c >= 0 && c < to ? c : -1;
    return this.ctcpAt;
  }
}
