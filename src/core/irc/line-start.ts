/**
 * Deciding, from its first bytes, whether a server line may stream out as it comes: yes unless it
 * carries a \x01 (the only byte that starts a CTCP, so a line without one cannot hold an offer in
 * any client's reading), within maxLineLength either way.
 *
 * Most lines are decided at their first byte with no scan of their own: once per chunk the scanner
 * finds the chunk's last LF (findLastByte, from the end) and, when needed, its next \x01
 * (findRareByte, sixteen bytes a step). A line that starts before the last LF ends in this chunk;
 * if the next \x01 lies beyond the last LF, none of the lines up to there holds one. A line near a
 * \x01, one that goes on into the next chunk, or one in a chunk longer than maxLineLength is
 * decided by the first of its LF, a \x01, or its maxLineLength-th byte (the bytes of each chunk are
 * looked at once). Every search is a loop over the chunk's bytes through the one view the framer
 * makes per chunk (DirectionStream.chunkView, lf-scan.ts): a call to indexOf or lastIndexOf costs
 * more than a line. The decision depends on
 * the line's bytes only, never on the chunking.
 */

import { chunkView, findByte, findLastByte, findLF, findRareByte, NO_VIEW } from '../stream/lf-scan.js';
import type { IrcStream } from './state.js';

/** The byte that starts a CTCP. */
const CTCP = 0x01;

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
  private view: DataView = NO_VIEW;
  /** Next \x01 at or after the last lookup's start, -1 for none, -2 not looked up yet. */
  private ctcpAt = -2;

  reset(): void {
    this.read = 0;
  }

  /**
   * Read the current line's first bytes buf[from, to): the index of the deciding byte (the line's
   * first byte when the chunk decides it at once), or -1 when undecided.
   */
  /** The per-chunk facts for `buf` (a new chunk: a new call of handleData, or new bytes). */
  private chunkOf(s: IrcStream, buf: Uint8Array, to: number): void {
    if (buf === this.chunk && s.chunkBase === this.base) return;
    this.chunk = buf;
    this.base = s.chunkBase;
    // The framer's view of the chunk (one per chunk, shared with its own searches: making one
    // costs as much as scanning a hundred bytes).
    this.view = buf === s.chunk ? s.chunkView(0) : chunkView(buf, buf.length);
    this.lastLF = findLastByte(buf, this.view, 10, 0, to);
    this.ctcpAt = -2;
  }

  feed(s: IrcStream, buf: Uint8Array, from: number, to: number, maxLine: number): number {
    this.chunkOf(s, buf, to);
    if (this.read === 0 && from <= this.lastLF && this.lastLF - from < maxLine) {
      // The line ends in this chunk, within the bound: decided at its first byte.
      const c = this.nextCtcp(buf, from, to);
      if (c < 0 || c > this.lastLF) this.decision = 'stream';
      else this.decision = findByte(buf, this.view, 10, from, c) < 0 ? 'hold' : 'stream'; // no LF before it: in this line
      return from;
    }
    const c = this.nextCtcp(buf, from, to);
    // The line goes on past this chunk (or the chunk is long): the first of its LF, a \x01 or
    // the bound decides, and where none is in this chunk the bytes wait for the next one.
    const lf = this.lastLF >= from ? findLF(buf, this.view, from, to) : -1;
    const cap = from + (maxLine - this.read) - 1;
    let at = cap < to ? cap : -1;
    let decision: LineStartDecision = 'overlong';
    if (lf >= 0 && (at < 0 || lf <= at)) {
      at = lf;
      decision = 'stream';
    }
    if (c >= 0 && (at < 0 || c < at || (c === at && decision === 'overlong'))) {
      at = c;
      decision = 'hold';
    }
    if (at < 0) {
      this.read += to - from;
      return -1;
    }
    this.read += at - from + 1;
    this.decision = decision;
    return at;
  }

  /**
   * The index just after the last LF of buf[from, to) before its next \x01, when the lines up to
   * there are all within maxLine (each starts at or after `from`); -1 when there is none.
   */
  cleared(s: IrcStream, buf: Uint8Array, from: number, to: number, maxLine: number): number {
    this.chunkOf(s, buf, to);
    const last = this.lastLF;
    if (last < from || last - from >= maxLine) return -1;
    const c = this.nextCtcp(buf, from, to);
    if (c < 0 || c > last) return last + 1;
    const lf = findLastByte(buf, this.view, 10, from, c);
    return lf >= 0 ? lf + 1 : -1;
  }

  /** The next \x01 in buf[from, to), or -1. Lines only move forward within a chunk. */
  private nextCtcp(buf: Uint8Array, from: number, to: number): number {
    if (this.ctcpAt === -1 || this.ctcpAt >= from) return this.ctcpAt;
    this.ctcpAt = findRareByte(buf, this.view, CTCP, from, to); // sixteen bytes a step (lf-scan.ts)
    return this.ctcpAt;
  }
}
