/**
 * Line framing for both directions of a connection carrying a line-based protocol (FTP's control
 * channel, IRC): where lines start and end, which bytes go out untouched, which line is kept whole,
 * dropped or replaced, and the TLS stretches that are only followed. What a line *means* is the
 * owner's business (an ALG's translator): it reads the first bytes of each line and gives the line
 * its mode (`LineRules`), reads the lines it holds, and is told when lines it cares about end. This
 * file only moves bytes and keeps offsets exact.
 *
 * Modes of a direction (DirectionStream.mode; `decide` is the owner's choice for a line):
 *
 *   line-start --first bytes decide--> stream | whole | hold | discard | closed   (decide)
 *   stream   --LF--> line-start          bytes go out as they come, however long the line is
 *   whole    --LF--> line-start          the line goes out at its LF if within maxLineLength
 *   hold     --LF--> line-start | blocked    the owner reads the line (heldLine)
 *   discard  --LF--> line-start          dropped (the owner may have answered already)
 *   whole, hold --longer than maxLineLength--> discard (overlong) | closed (policy close)
 *   blocked  --the owner answers--> line-start      (resume)
 *   tls      --non-record byte at a record boundary--> line-start;  --bad header--> opaque
 *   any      --give up (farewell)--> closed, both directions
 *
 * `stream` is for lines that cannot matter (a server's reply that is no candidate): they cost no
 * memory. `whole` is for lines a peer must never get in part (every command a client sends): they
 * are bounded, and go out once their LF is seen. Such lines are checked for a bare CR (a CR not
 * followed by LF or NUL) where the owner asks for it: some servers end a line at a lone CR, so
 * `NOOP<CR>PORT ...` would reach them as a command nobody read (bare-cr.ts).
 *
 * Every byte removed, replaced or inserted is reported as a `StreamEdit` (offsets in the input and
 * the output of its direction), so that a packet-level NAT can shift TCP sequence numbers.
 */

import { NatAlgError } from '../errors.js';
import type { Direction, StreamEdit } from './translator.js';
import { DirectionStream, type LineMode } from './direction-stream.js';
import { findLF } from './lf-scan.js';
import { findBareCR, findLFOrBareCR } from './bare-cr.js';

/** The events the framer reports itself; the owner's event type must include them. */
export type FramerEvent =
  | { readonly type: 'edit'; readonly edit: StreamEdit }
  | { readonly type: 'protocol-error'; readonly direction: Direction; readonly message: string }
  | { readonly type: 'close'; readonly reason: string };

/** Why the framer wants the connection given up: the owner says it to the peer (`giveUp`). */
export type GiveUpCause =
  | { readonly kind: 'overlong'; readonly direction: Direction; readonly maxLineLength: number }
  | { readonly kind: 'discarded'; readonly maxDiscardedBytes: number }
  | { readonly kind: 'line-timeout'; readonly direction: Direction; readonly timeoutMs: number };

/** What reads the lines of one direction for a line-based ALG. `Note` is its own "at the line's end" marks. */
export interface LineReader<Note> {
  /** A new line of `s` starts: begin reading its first bytes afresh. */
  beginLine(s: DirectionStream<Note>): void;
  /**
   * Read more of the first bytes of the current line: buf[from..to). Returns the index of the
   * byte that decided what the line is (all of buf[from..that byte] belongs to the decision), or
   * -1 when these bytes do not decide yet. Each byte is offered once.
   */
  readStart(s: DirectionStream<Note>, buf: Uint8Array, from: number, to: number): number;
  /** The line's first bytes decided: its mode (and `s.lineEnd`, what its end must do). */
  decide(s: DirectionStream<Note>): LineMode;
  /**
   * A held line is complete: buf[from..to), line ending included; valid during the call only
   * (copy what must outlive it). The owner queues what replaces it, or blocks the direction.
   */
  heldLine(s: DirectionStream<Note>, buf: Uint8Array, from: number, to: number): void;
  /** A line whose `lineEnd` is the owner's note ended; input and output positions are after it. */
  lineEnded(s: DirectionStream<Note>, note: Note): void;
  /**
   * Optional. The current line streams out and nothing waits for its end: the index in
   * buf[from, to) just after an LF up to which every line (the rest of this one and the whole
   * lines after it) may stream out without being offered to `readStart` (the owner has cleared
   * those bytes already), or -1. Saves the per-line work over bytes the owner knows are plain.
   */
  streamThrough?(s: DirectionStream<Note>, buf: Uint8Array, from: number, to: number): number;
  /** A line was removed for a bare CR (`lineLength` bytes from `lineStart`): answer the peer. */
  bareCR(s: DirectionStream<Note>, lineLength: number): void;
  /** A `whole` or `hold` line grew over-long and will be dropped to its end: set `lineEnd`, report. */
  overlong(s: DirectionStream<Note>): void;
}

/** What a line-based ALG tells its framer: a reader per direction, and what concerns both. */
export interface LineRules<Note> {
  /** Reads the lines the client sends, and those the server sends. */
  readonly client: LineReader<Note>;
  readonly server: LineReader<Note>;
  /** A TLS direction went back to plaintext (at a record boundary). */
  plaintext(s: DirectionStream<Note>): void;
  /**
   * The first application-data record of a TLS stretch began in `s`: that direction's handshake
   * is over. Reported where it is in the stream (before a later return to plaintext).
   */
  applicationData?(s: DirectionStream<Note>): void;
  /** The peer sending in `s` ended its stream; what was left of its last line is dealt with. */
  ended(s: DirectionStream<Note>): void;
  /** The framer gives the connection up: the line that tells the client why, if any. */
  farewell(cause: GiveUpCause): Uint8Array | null;
}

export interface LineFramerOptions {
  /** Longest line, line ending included, that is held (`whole`, `hold`). */
  readonly maxLineLength: number;
  /** An over-long line: dropped to its end (`refuse`), or the connection given up (`close`). */
  readonly overlongLine: 'refuse' | 'close';
  /** Bytes of over-long lines dropped per connection before the connection is given up. */
  readonly maxDiscardedBytes: number;
  /**
   * Directions whose lines are refused when they carry a bare CR: no line of theirs streams
   * (`stream` is taken as `whole`), and `whole` and `hold` lines are checked.
   */
  readonly refuseBareCR: { readonly 'client-to-server': boolean; readonly 'server-to-client': boolean };
}

/** Events go to the owner's queue (its event type includes the framer's). */
export interface EventSink {
  push(e: FramerEvent): void;
}

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';
const EMPTY = new Uint8Array(0);

export class LineFramer<Note> {
  readonly c2s: DirectionStream<Note>;
  readonly s2c: DirectionStream<Note>;
  /** When a line or TLS record last completed in either direction (caller's clock), or null. */
  lastActivityMs: number | null = null;

  private readonly rules: LineRules<Note>;
  private readonly events: EventSink;
  private readonly maxLine: number;
  private readonly closeOnOverlong: boolean;
  private readonly maxDiscarded: number;
  private readonly bareCRs: LineFramerOptions['refuseBareCR'];
  /** Bytes of over-long lines dropped so far, both directions. */
  private discarded = 0;

  constructor(options: LineFramerOptions, rules: LineRules<Note>, events: EventSink) {
    this.rules = rules;
    this.events = events;
    this.maxLine = options.maxLineLength;
    this.closeOnOverlong = options.overlongLine === 'close';
    this.maxDiscarded = options.maxDiscardedBytes;
    this.bareCRs = options.refuseBareCR;
    this.c2s = new DirectionStream<Note>(C2S, options.maxLineLength, rules.client);
    this.s2c = new DirectionStream<Note>(S2C, options.maxLineLength, rules.server);
  }

  side(direction: Direction): DirectionStream<Note> {
    if (direction === C2S) return this.c2s;
    if (direction === S2C) return this.s2c;
    throw new NatAlgError('invalid-argument', `unknown direction ${String(direction)}`);
  }

  // ---- input ----------------------------------------------------------------------------------

  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number {
    const s = this.side(direction);
    if (!(bytes instanceof Uint8Array)) throw new NatAlgError('invalid-argument', 'bytes must be a Uint8Array');
    checkTime(nowMs);
    if (s.ended) throw new NatAlgError('invalid-state', `handleData(${direction}) after handleEnd`);
    const n = bytes.length;
    s.chunk = bytes;
    s.view = null;
    s.chunkBase = s.inputOffset;
    s.runFrom = 0;
    s.mark = 0;
    let i = 0;
    while (i < n && s.mode !== 'blocked') {
      switch (s.mode) {
        case 'stream':
          i = this.streamLines(s, bytes, i, n);
          break;
        case 'whole':
          i = this.wholeLines(s, bytes, i, n);
          break;
        case 'line-start':
          i = this.lineStart(s, bytes, i, n);
          break;
        case 'hold':
          i = this.holdMore(s, bytes, i, n);
          break;
        case 'discard':
          i = this.discardMore(s, bytes, i, n);
          break;
        case 'tls':
          i = this.followTls(s, bytes, i, n);
          break;
        case 'opaque':
          i = n;
          break;
        case 'closed':
          i = n;
          s.skipRun(n);
          break;
      }
    }
    s.flushRun(i);
    s.inputOffset = s.chunkBase + i;
    s.chunk = EMPTY;
    s.view = null;
    s.runFrom = 0;
    s.mark = 0;
    this.noteProgress(s, nowMs);
    return i;
  }

  handleEnd(direction: Direction, nowMs: number): void {
    const s = this.side(direction);
    checkTime(nowMs);
    if (s.ended) return;
    s.ended = true;
    this.flushAtEnd(s);
    s.openSince = -1; // nothing more can come to complete a line
    this.rules.ended(s);
  }

  pollOutput(direction: Direction): Uint8Array | null {
    return this.side(direction).poll();
  }

  isBlocked(direction: Direction): boolean {
    return this.side(direction).mode === 'blocked';
  }

  /** The owner answered a blocked direction's held line: it reads lines again. */
  resume(s: DirectionStream<Note>): void {
    s.mode = 'line-start';
  }

  // ---- time --------------------------------------------------------------------------------

  /** The earliest time by which an open line must complete, or null. */
  lineDeadline(timeoutMs: number): number | null {
    const a = this.c2s.openSince;
    const b = this.s2c.openSince;
    if (a < 0 && b < 0) return null;
    return (a < 0 ? b : b < 0 ? a : Math.min(a, b)) + timeoutMs;
  }

  /** At `nowMs`: if a line is open past the line timeout, give the connection up. */
  checkLineTimeout(nowMs: number, timeoutMs: number): void {
    checkTime(nowMs);
    for (const s of [this.c2s, this.s2c]) {
      if (s.openSince >= 0 && nowMs >= s.openSince + timeoutMs) {
        this.giveUp({ kind: 'line-timeout', direction: s.direction, timeoutMs });
        return;
      }
    }
  }

  /**
   * After a call: did a line (or TLS record) complete in it, and is one open now? A completed
   * unit is activity (`lastActivityMs`); a unit open since `openSince` must complete within the
   * line timeout. Bytes that complete nothing change neither: a peer trickling a byte at a time
   * stays idle and its line times out.
   */
  private noteProgress(s: DirectionStream<Note>, nowMs: number): void {
    const open = s.openUnitStart();
    const key = open >= 0 ? open : s.inputOffset;
    if (key !== s.progressKey) {
      s.progressKey = key;
      s.openSince = -1;
      this.lastActivityMs = nowMs;
    }
    if (open < 0) s.openSince = -1;
    else if (s.openSince < 0) s.openSince = nowMs;
  }

  // ---- the modes ---------------------------------------------------------------------------

  /**
   * `stream`: lines go out as they come; each next line is decided in place while its first
   * bytes are in this chunk (no copy, no allocation per line). Returns where the general loop
   * must take over.
   */
  private streamLines(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    const reader = s.reader;
    for (;;) {
      // Lines the owner has cleared go out without a look at each (streamThrough); the end of
      // the last of them is where the next line starts.
      const through = s.lineEnd === 'none' && reader.streamThrough !== undefined && !this.bareCRs[s.direction] ? reader.streamThrough(s, bytes, i, n) : -1;
      const j = through > i ? through - 1 : findLF(bytes, s.chunkView(i), i, n);
      if (j < 0) return n;
      i = j + 1;
      s.mode = 'line-start';
      if (s.lineEnd !== 'none') {
        this.lineEnded(s, i);
        if (s.mode !== 'line-start') return i;
      }
      if (i >= n) return i;
      s.reader.beginLine(s);
      if (s.reader.readStart(s, bytes, i, n) < 0) return this.keepUndecided(s, bytes, i, n);
      s.lineStart = s.chunkBase + i;
      const mode = this.decide(s);
      if (mode !== 'stream') {
        s.flushRun(i);
        s.mode = mode;
        s.lineFrom = i;
        return i;
      }
      s.mode = 'stream';
    }
  }

  /**
   * `whole`: like streamLines, but a line goes out only once it is complete and within
   * maxLineLength. The current line's bytes so far are in the pending run from chunk index
   * `lineFrom`, or (lineFrom -1) in the hold buffer when the line began in an earlier chunk.
   */
  private wholeLines(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    const view = s.chunkView(i);
    const refuseCR = this.bareCRs[s.direction];
    for (;;) {
      // Where bare CRs are refused, the LF and a bare CR before it are sought in one pass.
      const k = refuseCR ? findLFOrBareCR(bytes, view, i, n) : findLF(bytes, view, i, n);
      const bareCR = k >= 0 && bytes[k] === 13;
      const j = bareCR ? findLF(bytes, view, k + 1, n) : k;
      const end = j < 0 ? n : j + 1;
      const from = s.lineFrom;
      if ((from >= 0 ? end - from : s.holdLength + (end - i)) > this.maxLine) {
        if (from >= 0) s.flushRun(from);
        return this.overlong(s, i, n);
      }
      if (j < 0) {
        // The line goes on in the next chunk: keep what came so far (bounded by the check above).
        if (from >= 0) {
          s.flushRun(from);
          s.append(bytes, from, n);
          s.lineFrom = -1;
        } else {
          s.append(bytes, i, n);
        }
        s.skipRun(n);
        return n;
      }
      if (refuseCR && (bareCR || this.bareCRBefore(s, bytes, view, from, i, n))) {
        // Not forwarded at all, neither its held start nor its rest.
        const length = from >= 0 ? end - from : s.holdLength + (end - i);
        if (from >= 0) s.flushRun(from);
        s.holdLength = 0;
        s.skipRun(end);
        i = end;
        s.mode = 'line-start';
        s.lineFrom = -1;
        s.lineEnd = 'none';
        s.reader.bareCR(s, length);
      } else {
        if (from < 0) {
          // The line began in an earlier chunk: its start and rest go out as one piece, so that a
          // peer acting on each read never sees half a line (bounded by the check above).
          s.flushRun(i);
          s.append(bytes, i, end);
          s.skipRun(end);
          s.emit(s.takeHold());
        }
        i = end;
        s.mode = 'line-start';
        s.lineFrom = -1;
        if (s.lineEnd !== 'none') {
          this.lineEnded(s, i);
          if (s.mode !== 'line-start') return i;
        }
      }
      if (i >= n) return i;
      s.reader.beginLine(s);
      if (s.reader.readStart(s, bytes, i, n) < 0) return this.keepUndecided(s, bytes, i, n);
      s.lineStart = s.chunkBase + i;
      const mode = this.decide(s);
      if (mode !== 'whole') s.flushRun(i);
      s.mode = mode;
      s.lineFrom = i;
      if (mode !== 'whole') return i;
    }
  }

  /**
   * Whether the current line carries a bare CR before chunk index `i` (the chunk was searched from
   * `i` on): in bytes[from..i) when the line began in this chunk (`from` >= 0), else in the hold
   * buffer, whose last byte, if a CR, is judged by bytes[i]. `view`: the chunk's (chunkView).
   */
  private bareCRBefore(s: DirectionStream<Note>, bytes: Uint8Array, view: DataView, from: number, i: number, n: number): boolean {
    if (from >= 0) return from < i && findBareCR(bytes, from, i, n, view) >= 0;
    if (s.holdLength === 0) return false;
    const h = s.hold!;
    const k = s.holdLength;
    return findBareCR(h, 0, k, k) >= 0 || (h[k - 1] === 13 && bytes[i] !== 10 && bytes[i] !== 0);
  }

  /** At a line start (possibly with undecided first bytes held): decide what the line is. */
  private lineStart(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    if (s.holdLength === 0) {
      s.lineStart = s.at(i);
      s.reader.beginLine(s);
      if (s.reader.readStart(s, bytes, i, n) < 0) return this.keepUndecided(s, bytes, i, n);
      return this.decided(s, i);
    }
    // Undecided bytes held from an earlier chunk: the owner's reader goes on where it stopped,
    // so each byte is read once however the line is split.
    const at = s.reader.readStart(s, bytes, i, n);
    const upto = at < 0 ? n : at + 1;
    if (!s.fits(upto - i)) return this.overlong(s, i, n);
    if (at < 0) {
      s.append(bytes, i, n);
      s.skipRun(n);
      return n;
    }
    return this.decidedHeld(s, bytes, i, upto);
  }

  /**
   * The current line's first bytes, bytes[i, n), straddle the end of this chunk (the reader has
   * read them, undecided): keep them until they decide.
   */
  private keepUndecided(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    s.mode = 'line-start';
    s.lineStart = s.at(i);
    s.flushRun(i);
    if (!s.append(bytes, i, n)) return this.overlong(s, n, n);
    s.skipRun(n);
    return n;
  }

  /**
   * The owner's decision for the line now starting. A direction that refuses bare CRs lets no
   * line out before its end: `whole` lines are checked for them, a streamed line would be gone
   * before its CR is seen. The one place that rule lives, whatever the owner decided.
   */
  private decide(s: DirectionStream<Note>): LineMode {
    const mode = s.reader.decide(s);
    return mode === 'stream' && this.bareCRs[s.direction] ? 'whole' : mode;
  }

  /**
   * Act on a decided line that starts at chunk index `from`, nothing of it consumed yet.
   */
  private decided(s: DirectionStream<Note>, from: number): number {
    const mode = this.decide(s);
    if (mode === 'stream' || mode === 'whole') {
      s.mode = mode;
      if (mode === 'whole') s.lineFrom = from; // the line waits in the run until its LF
    } else {
      s.flushRun(from);
      s.mode = mode;
      s.lineFrom = from;
    }
    return from;
  }

  /**
   * Act on a decided line whose first bytes are in the hold buffer and go on in bytes[i, at)
   * (`at`: just after the deciding byte; they fit in the hold buffer).
   */
  private decidedHeld(s: DirectionStream<Note>, bytes: Uint8Array, i: number, at: number): number {
    const mode = this.decide(s);
    const endedLine = bytes[at - 1] === 10;
    s.lineFrom = -1;
    s.inputOffset = s.at(at);
    if (mode === 'stream') {
      // The held start goes out now; the rest goes out with this chunk's run, as it came (no copy).
      s.emit(s.takeHold());
      s.mode = 'stream';
      if (endedLine) {
        s.mode = 'line-start';
        if (s.lineEnd !== 'none') this.lineEnded(s, at);
      }
      return at;
    }
    s.append(bytes, i, at);
    s.skipRun(at);
    switch (mode) {
      case 'whole':
        // The line stays held until its LF.
        s.mode = 'whole';
        if (!endedLine) break;
        s.mode = 'line-start';
        if (this.bareCRs[s.direction] && findBareCR(s.hold!, 0, s.holdLength, s.holdLength) >= 0) {
          const length = s.holdLength;
          s.holdLength = 0;
          s.lineEnd = 'none';
          s.reader.bareCR(s, length);
          return at;
        }
        s.emit(s.takeHold());
        if (s.lineEnd !== 'none') this.lineEnded(s, at);
        break;
      case 'discard':
        s.holdLength = 0;
        s.mode = 'discard';
        if (endedLine) {
          s.mode = 'line-start';
          this.lineEnded(s, at);
        }
        break;
      case 'closed':
        s.holdLength = 0;
        s.mode = 'closed';
        break;
      case 'hold':
        s.mode = 'hold';
        if (endedLine) {
          s.mode = 'line-start';
          const length = s.holdLength;
          s.holdLength = 0;
          this.readHeld(s, s.hold!, 0, length);
        }
        break;
    }
    return at;
  }

  /** `hold`: collect the line up to its LF, within maxLineLength. */
  private holdMore(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    // Through the chunk's one view (usually made by its first search already): eight bytes a step.
    const j = findLF(bytes, s.chunkView(i), i, n);
    const end = j < 0 ? n : j + 1;
    const direct = s.lineFrom >= 0;
    const length = direct ? end - s.lineFrom : s.holdLength + (end - i);
    if (length > this.maxLine) {
      if (direct) s.skipRun(i);
      return this.overlong(s, i, n);
    }
    if (j < 0) {
      s.append(bytes, direct ? s.lineFrom : i, n);
      s.lineFrom = -1;
      s.skipRun(n);
      return n;
    }
    s.skipRun(end);
    s.mode = 'line-start';
    s.inputOffset = s.at(end);
    if (direct) {
      const from = s.lineFrom;
      s.lineFrom = -1;
      this.readHeld(s, bytes, from, end);
    } else {
      s.append(bytes, i, end);
      const length2 = s.holdLength;
      s.holdLength = 0;
      this.readHeld(s, s.hold!, 0, length2);
    }
    return end;
  }

  /** A held line is complete: refused for a bare CR, or read by the owner. */
  private readHeld(s: DirectionStream<Note>, buf: Uint8Array, from: number, to: number): void {
    if (this.bareCRs[s.direction] && findBareCR(buf, from, to, to) >= 0) {
      s.reader.bareCR(s, to - from);
      return;
    }
    s.reader.heldLine(s, buf, from, to);
  }

  /** `discard`: drop up to the line's end; over-long input counts against the discard bound. */
  private discardMore(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    const j = bytes.indexOf(10, i);
    const end = j < 0 ? n : j + 1;
    if (s.overlong && this.discard(end - i)) {
      s.skipRun(n);
      return n;
    }
    s.skipRun(end);
    if (j >= 0) {
      s.mode = 'line-start';
      s.overlong = false;
      this.lineEnded(s, end);
    }
    return end;
  }

  /** A `whole` or `hold` line grew past maxLineLength (or its first bytes never decided). */
  private overlong(s: DirectionStream<Note>, i: number, n: number): number {
    s.holdLength = 0;
    s.lineFrom = -1;
    s.skipRun(i);
    if (this.closeOnOverlong) {
      // The farewell goes into the server direction: at the over-long reply's place, or where
      // that direction's input stands.
      this.giveUp({ kind: 'overlong', direction: s.direction, maxLineLength: this.maxLine }, s === this.s2c ? s.lineStart : this.s2c.inputOffset);
      s.skipRun(n);
      return n;
    }
    s.mode = 'discard';
    s.overlong = true;
    s.reader.overlong(s);
    // What was read of the line so far is dropped too.
    if (this.discard(s.at(i) - s.lineStart)) {
      s.skipRun(n);
      return n;
    }
    return i;
  }

  /**
   * Count `n` more dropped bytes of over-long lines; past maxDiscardedBytes, give the
   * connection up (true: everything is closed, drop the rest of the input).
   */
  private discard(n: number): boolean {
    this.discarded += n;
    if (this.discarded <= this.maxDiscarded) return false;
    this.giveUp({ kind: 'discarded', maxDiscardedBytes: this.maxDiscarded });
    return true;
  }

  /** The current line of `s` ended just before chunk index `i` and has an end note. */
  private lineEnded(s: DirectionStream<Note>, i: number): void {
    const note = s.lineEnd;
    s.lineEnd = 'none';
    if (s.chunk.length > 0) {
      s.mark = i; // anything queued now goes after this line
      s.inputOffset = s.at(i);
    }
    if (note === 'drop') this.edit(s, s.lineStart, s.inputOffset - s.lineStart, 0);
    else if (note !== 'none') s.reader.lineEnded(s, note);
  }

  private followTls(s: DirectionStream<Note>, bytes: Uint8Array, i: number, n: number): number {
    const j = s.tls.advance(bytes, i, n);
    if (s.tls.takeApplicationData()) this.rules.applicationData?.(s);
    if (s.tls.status === 'plaintext') {
      s.mode = 'line-start';
      this.rules.plaintext(s);
    } else if (s.tls.status === 'broken') {
      s.mode = 'opaque';
      this.events.push({ type: 'protocol-error', direction: s.direction, message: 'not a TLS record; forwarding without inspection from here on' });
    }
    return j;
  }

  /** What is left of the line the peer was sending when its stream ended. */
  private flushAtEnd(s: DirectionStream<Note>): void {
    switch (s.mode) {
      case 'line-start':
        if (s.holdLength > 0) s.emit(s.takeHold()); // an undecided line start: not a candidate as far as it goes
        break;
      case 'whole':
        if (s.holdLength === 0) break;
        // A line of no interest without its line end, within the cap: it goes as it is (unless
        // it carries a bare CR).
        s.mode = 'line-start';
        if (this.bareCRs[s.direction] && findBareCR(s.hold!, 0, s.holdLength, s.holdLength) >= 0) {
          const length = s.holdLength;
          s.holdLength = 0;
          s.lineEnd = 'none';
          s.reader.bareCR(s, length);
          return;
        }
        s.emit(s.takeHold());
        if (s.lineEnd !== 'none') this.lineEnded(s, 0);
        break;
      case 'hold': {
        const line = s.takeHold();
        this.edit(s, s.lineStart, line.length, 0);
        this.events.push({ type: 'protocol-error', direction: s.direction, message: 'incomplete line at end of stream discarded' });
        s.mode = 'line-start';
        break;
      }
      case 'discard':
        this.lineEnded(s, 0);
        break;
      case 'stream':
      case 'blocked':
      case 'tls':
      case 'opaque':
      case 'closed':
        break;
    }
  }

  // ---- giving up ------------------------------------------------------------------------------

  /**
   * Give the connection up: the owner's farewell line goes to the client (where the server
   * direction is not inside TLS), then a `close` event asks the embedding to close, and input is
   * dropped from now on in both directions.
   */
  giveUp(cause: GiveUpCause | { readonly kind: 'owner'; readonly reason: string; readonly farewell: Uint8Array | null }, serverInputOffset = this.s2c.inputOffset): void {
    const s = this.s2c;
    const farewell = cause.kind === 'owner' ? cause.farewell : this.rules.farewell(cause);
    if (farewell !== null && s.mode !== 'tls' && s.mode !== 'opaque' && s.mode !== 'closed' && !s.ended) {
      this.insertLine(s, farewell, serverInputOffset);
    }
    for (const d of [this.c2s, this.s2c]) {
      d.mode = 'closed';
      d.holdLength = 0;
      d.openSince = -1;
    }
    this.events.push({ type: 'close', reason: cause.kind === 'owner' ? cause.reason : describe(cause) });
  }

  // ---- output and edits ----------------------------------------------------------------------

  /** Queue `out` in place of input [inputOffset, +inputLength); returns the edit (not reported). */
  replaceLine(s: DirectionStream<Note>, inputOffset: number, inputLength: number, out: Uint8Array): StreamEdit {
    const outputOffset = s.outputPosition();
    s.emit(out);
    return { direction: s.direction, inputOffset, inputLength, outputOffset, outputLength: out.length, delta: out.length - inputLength };
  }

  /** Report a removal of input [inputOffset, +inputLength) at the current output position. */
  edit(s: DirectionStream<Note>, inputOffset: number, inputLength: number, outputLength: number): void {
    this.events.push({
      type: 'edit',
      edit: { direction: s.direction, inputOffset, inputLength, outputOffset: s.outputPosition(), outputLength, delta: outputLength - inputLength },
    });
  }

  /**
   * Queue a line of our own (`bytes`, line ending included) as an insertion into `s` at the
   * current point and report the edit. It always starts a line: after a line the peer left
   * unfinished (its stream ended inside it), a CRLF ends that line first, or a client reading
   * `220 hi\r\n2` + `504 ...` would take `2504` for a positive reply.
   */
  insertLine(s: DirectionStream<Note>, bytes: Uint8Array, inputOffset = s.inputOffset): void {
    const outputOffset = s.outputPosition();
    let out = bytes;
    if (!s.endsLine) {
      out = new Uint8Array(bytes.length + 2);
      out[0] = 13;
      out[1] = 10;
      out.set(bytes, 2);
    }
    s.emit(out);
    const n = out.length;
    this.events.push({ type: 'edit', edit: { direction: s.direction, inputOffset, inputLength: 0, outputOffset, outputLength: n, delta: n } });
  }
}

function describe(cause: GiveUpCause): string {
  switch (cause.kind) {
    case 'overlong':
      return `${cause.direction} line longer than ${cause.maxLineLength} bytes`;
    case 'discarded':
      return `more than ${cause.maxDiscardedBytes} bytes of over-long lines`;
    case 'line-timeout':
      return `${cause.direction} line not complete within ${Math.round(cause.timeoutMs / 100) / 10} s`;
  }
}

export function checkTime(nowMs: number): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new NatAlgError('invalid-argument', 'nowMs must be a finite number');
  }
}
