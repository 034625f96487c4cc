/**
 * Line framing for both directions of an FTP control connection: where lines start and end, which
 * bytes stream through untouched, which line is held whole, dropped or replaced, and the TLS
 * stretches that are only followed. What a line *means* is decided by the subclasses (the rules
 * in session.ts, applied by translator.ts) through the hooks at the bottom; this file only moves
 * bytes and keeps offsets exact.
 *
 * Phases per direction (DirectionStream.phase):
 *   LINE_START --first bytes decide: not a candidate--> PASS --LF--> LINE_START
 *   LINE_START --candidate--> HOLD --LF--> heldLine() (may block, rewrite, refuse, pass)
 *   LINE_START --refused by its verb--> DISCARD --LF--> LINE_START (removal edit)
 *   HOLD, client PASS --longer than maxLineLength--> DISCARD (policy 'refuse') | CLOSED ('close')
 *   a held line waiting for the embedding --> BLOCKED --resolve/refuse--> LINE_START
 *   TLS --non-record byte at a record boundary--> LINE_START;  --bad header--> OPAQUE (for good)
 *
 * PASS differs by direction. Server to client, a line that cannot matter streams: its bytes go
 * out as they come, however long it is (a reply is not a command; an endless one costs nothing).
 * Client to server, every command line is capped: a PASS line goes out whole once its LF is seen
 * and within maxLineLength, so that no part of an over-long command ever reaches the server.
 * Command traffic is small; while such a line straddles reads its bytes are copied into the hold
 * buffer (bounded), otherwise it stays a view of the input like any pass-through run.
 *
 * Hot path: in PASS, `passLines`/`passCommands` find each LF with `findLF` (stream/lf-scan.ts)
 * and decide the next line from its first bytes in place; pass-through bytes are queued as one
 * view per run.
 */

import { NatAlgError } from '../errors.js';
import type { Direction, StreamEdit } from '../stream/translator.js';
import { classifyCommand, NEED_MORE } from './commands.js';
import { classifyReply, REPLY_NEED_MORE, REPLY_NOT_A_REPLY } from './replies.js';
import {
  DirectionStream, PHASE_LINE_START, PHASE_PASS, PHASE_HOLD, PHASE_DISCARD, PHASE_BLOCKED, PHASE_TLS,
  PHASE_OPAQUE, PHASE_CLOSED, LINE_NONE, LINE_DROP,
} from './line-reader.js';
import { TLS_BROKEN, TLS_PLAINTEXT } from './tls-records.js';
import { chunkView, findLF, NO_VIEW } from '../stream/lf-scan.js';
import { findBareCR } from '../stream/bare-cr.js';
import type { FtpEvent } from './types.js';
import { ascii as asciiBytes } from './text.js';

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';
const EMPTY = new Uint8Array(0);

export abstract class LineFraming {
  protected readonly c2s: DirectionStream;
  protected readonly s2c: DirectionStream;
  protected readonly maxLine: number;
  private readonly closeOnOverlong: boolean;
  private readonly events: Array<FtpEvent | undefined> = [];
  private eventHead = 0;
  private eventTail = 0;

  /** Bytes of over-long lines dropped so far, both directions, and the bound on them. */
  private discarded = 0;
  private readonly maxDiscarded: number;

  protected constructor(maxLineLength: number, closeOnOverlong: boolean, maxDiscardedBytes: number) {
    this.maxLine = maxLineLength;
    this.closeOnOverlong = closeOnOverlong;
    this.maxDiscarded = maxDiscardedBytes;
    this.c2s = new DirectionStream(C2S, maxLineLength);
    this.s2c = new DirectionStream(S2C, maxLineLength);
  }

  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number {
    const s = this.side(direction);
    if (!(bytes instanceof Uint8Array)) throw new NatAlgError('invalid-argument', 'bytes must be a Uint8Array');
    checkTime(nowMs);
    if (s.ended) throw new NatAlgError('invalid-state', `handleData(${direction}) after handleEnd`);
    const n = bytes.length;
    s.chunk = bytes;
    s.chunkBase = s.inputOffset;
    s.runFrom = 0;
    s.mark = 0;
    let i = 0;
    const client = s === this.c2s;
    while (i < n) {
      const phase = s.phase;
      if (phase === PHASE_PASS) {
        i = client ? this.passCommands(s, bytes, i, n) : this.passLines(s, bytes, i, n);
      } else if (phase === PHASE_LINE_START) {
        i = this.lineStart(s, bytes, i, n, client);
      } else if (phase === PHASE_HOLD) {
        i = this.holdMore(s, bytes, i, n);
      } else if (phase === PHASE_DISCARD) {
        const j = bytes.indexOf(10, i);
        const end = j < 0 ? n : j + 1;
        if (s.overlong && this.discard(end - i)) {
          s.skipRun(n);
          i = n;
          continue;
        }
        i = end;
        s.skipRun(i);
        if (j >= 0) {
          s.phase = PHASE_LINE_START;
          s.overlong = false;
          this.lineEnded(s, i);
        }
      } else if (phase === PHASE_TLS) {
        i = this.followTls(s, bytes, i, n);
      } else if (phase === PHASE_OPAQUE) {
        i = n;
      } else if (phase === PHASE_CLOSED) {
        i = n;
        s.skipRun(n);
      } else {
        break; // PHASE_BLOCKED: consume nothing more
      }
    }
    s.flushRun(i);
    s.inputOffset = s.chunkBase + i;
    s.chunk = EMPTY;
    s.runFrom = 0;
    s.mark = 0;
    this.noteProgress(s, nowMs);
    return i;
  }

  /**
   * After a call: did a line (or TLS record) complete in it, and is one open now? A completed
   * unit is activity (`lastActivityMs`); a unit open since `openSince` must complete within the
   * line timeout. Bytes that complete nothing change neither: a peer trickling a byte at a time
   * stays idle and its line times out.
   */
  private noteProgress(s: DirectionStream, nowMs: number): void {
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

  /** When a line or TLS record last completed in either direction (caller's clock), or null. */
  lastActivityMs: number | null = null;

  /** The earliest time by which an open line must complete, or null. */
  protected lineDeadline(timeoutMs: number): number | null {
    const a = this.c2s.openSince;
    const b = this.s2c.openSince;
    if (a < 0 && b < 0) return null;
    return (a < 0 ? b : b < 0 ? a : Math.min(a, b)) + timeoutMs;
  }

  /** The open line of the direction past its deadline at `nowMs`, if any. */
  protected lateDirection(nowMs: number, timeoutMs: number): DirectionStream | null {
    for (const s of [this.c2s, this.s2c]) if (s.openSince >= 0 && nowMs >= s.openSince + timeoutMs) return s;
    return null;
  }

  handleEnd(direction: Direction, nowMs: number): void {
    const s = this.side(direction);
    checkTime(nowMs);
    if (s.ended) return;
    s.ended = true;
    this.flushAtEnd(s);
    s.openSince = -1; // nothing more can come to complete a line
    this.onEnded(s);
  }

  /** What is left of the line the peer was sending when its stream ended. */
  private flushAtEnd(s: DirectionStream): void {
    if (s.phase === PHASE_LINE_START && s.holdLength > 0) {
      s.emit(s.takeHold()); // an undecided line start: not a candidate as far as it goes
    } else if (s.phase === PHASE_PASS && s.holdLength > 0) {
      // A command of no interest without its line end, within the cap: it goes as it is
      // (unless it carries a bare CR).
      s.phase = PHASE_LINE_START;
      if (s === this.c2s && findBareCR(s.hold!, 0, s.holdLength, s.holdLength) >= 0) {
        const length = s.holdLength;
        s.holdLength = 0;
        s.lineAction = LINE_NONE;
        this.onBareCR(s, length);
        return;
      }
      s.emit(s.takeHold());
      if (s.lineAction !== LINE_NONE) this.lineEnded(s, 0);
    } else if (s.phase === PHASE_HOLD) {
      const line = s.takeHold();
      this.edit(s, s.lineStart, line.length, 0);
      this.push({ type: 'protocol-error', direction: s.direction, message: 'incomplete line at end of stream discarded' });
      s.phase = PHASE_LINE_START;
    } else if (s.phase === PHASE_DISCARD) {
      this.lineEnded(s, 0);
    }
  }

  pollOutput(direction: Direction): Uint8Array | null {
    return this.side(direction).poll();
  }

  pollEvent(): FtpEvent | null {
    if (this.eventHead >= this.eventTail) return null;
    const e = this.events[this.eventHead]!;
    this.events[this.eventHead++] = undefined;
    if (this.eventHead === this.eventTail) this.eventHead = this.eventTail = 0;
    return e;
  }

  isBlocked(direction: Direction): boolean {
    return this.side(direction).phase === PHASE_BLOCKED;
  }

  // ---- hooks: what lines mean (translator.ts, session.ts) ----------------------------------

  /** A line's first bytes decided (`r` from classifyCommand/classifyReply): return its phase. */
  protected abstract decideLine(s: DirectionStream, r: number): number;
  /**
   * A held candidate line is complete: buf[from..to), line ending included. `buf` is the input
   * chunk or the hold buffer, valid during the call only (copy what must outlive it).
   */
  protected abstract heldLine(s: DirectionStream, buf: Uint8Array, from: number, to: number): void;
  /** A line with a non-generic `lineAction` ended; input and output positions are after it. */
  protected abstract onLineEnd(s: DirectionStream, action: number): void;
  /**
   * A client line that would go out as it is carries a bare CR: it has been dropped (its bytes
   * are not forwarded, lineAction cleared); report the removal of its `lineLength` bytes from
   * lineStart and answer the client.
   */
  protected abstract onBareCR(s: DirectionStream, lineLength: number): void;
  /** A candidate line is over-long and will be dropped up to its LF: set `lineAction`, report. */
  protected abstract onOverlong(s: DirectionStream): void;
  /** A TLS direction went back to plaintext (at a record boundary). */
  protected abstract onPlaintext(s: DirectionStream): void;
  /** The peer sending in `s` ended its stream; what was left of its last line has been dealt with. */
  protected abstract onEnded(s: DirectionStream): void;

  // ---- framing -------------------------------------------------------------------------------

  protected side(direction: Direction): DirectionStream {
    if (direction === C2S) return this.c2s;
    if (direction === S2C) return this.s2c;
    throw new NatAlgError('invalid-argument', `unknown direction ${String(direction)}`);
  }

  /**
   * Server PASS: stream lines through, deciding each next line in place while its first bytes are
   * in this chunk (the hot loop: no copy, no allocation per line). Returns where the general loop
   * must take over.
   */
  protected passLines(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    const view = chunkView(bytes, n - i);
    for (;;) {
      const j = findLF(bytes, view, i, n);
      if (j < 0) return n;
      i = j + 1;
      s.phase = PHASE_LINE_START;
      if (s.lineAction !== LINE_NONE) {
        this.lineEnded(s, i);
        if (s.phase !== PHASE_LINE_START) return i;
      }
      if (i >= n) return i;
      if (s.passText) {
        const c = bytes[i]!;
        if (c < 48 || c > 57) {
          s.lineStart = s.chunkBase + i;
          s.lineCode = REPLY_NOT_A_REPLY;
          s.lineFlags = 0;
          s.phase = PHASE_PASS;
          continue;
        }
      }
      const r = classifyReply(bytes, i, n);
      if (r === REPLY_NEED_MORE) return i;
      s.lineStart = s.chunkBase + i;
      s.lineCode = r;
      const action = this.decideLine(s, r);
      if (action !== PHASE_PASS) {
        s.flushRun(i);
        s.phase = action;
        s.lineFrom = i;
        return i;
      }
      s.phase = PHASE_PASS;
    }
  }

  /**
   * Client PASS: like passLines, but a line goes out only once it is complete and within
   * maxLineLength. The current line's bytes so far are in the pending run from chunk index
   * `lineFrom`, or (lineFrom -1) in the hold buffer when the line began in an earlier chunk.
   */
  protected passCommands(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    const view = chunkView(bytes, n - i);
    for (;;) {
      const j = findLF(bytes, view, i, n);
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
      if (findBareCR(bytes, from >= 0 ? from : i, j, n) >= 0 || (from < 0 && s.holdBareCR(bytes[i]!))) {
        // Not forwarded at all, neither its held start nor its rest (bare-cr.ts says why).
        const length = from >= 0 ? end - from : s.holdLength + (end - i);
        if (from >= 0) s.flushRun(from);
        s.holdLength = 0;
        s.skipRun(end);
        i = end;
        s.phase = PHASE_LINE_START;
        s.lineFrom = -1;
        s.lineAction = LINE_NONE;
        this.onBareCR(s, length);
      } else {
        if (from < 0) s.emit(s.takeHold()); // the line's start, then its rest stays in the run
        i = end;
        s.phase = PHASE_LINE_START;
        s.lineFrom = -1;
        if (s.lineAction !== LINE_NONE) {
          this.lineEnded(s, i);
          if (s.phase !== PHASE_LINE_START) return i;
        }
      }
      if (i >= n) return i;
      const r = classifyCommand(bytes, i, n);
      if (r === NEED_MORE) return i;
      s.lineStart = s.chunkBase + i;
      s.lineCode = r;
      const action = this.decideLine(s, r);
      if (action !== PHASE_PASS) s.flushRun(i);
      s.phase = action;
      s.lineFrom = i;
      if (action !== PHASE_PASS) return i;
    }
  }

  /** At a line start (possibly with undecided first bytes held): decide what the line is. */
  private lineStart(s: DirectionStream, bytes: Uint8Array, i: number, n: number, client: boolean): number {
    if (s.holdLength === 0) {
      s.lineStart = s.at(i);
      s.lineCode = 0;
      let r: number;
      if (client) {
        s.verb.reset();
        r = s.verb.feed(bytes, i, n);
      } else {
        r = classifyReply(bytes, i, n);
      }
      if (r === NEED_MORE) {
        // The line's first bytes straddle the end of this chunk: keep them until they decide.
        s.flushRun(i);
        if (!s.append(bytes, i, n)) return this.overlong(s, n, n);
        s.skipRun(n);
        return n;
      }
      return this.decide(s, r, i, n);
    }
    if (client) {
      // Undecided bytes held from an earlier chunk: the verb scanner goes on where it stopped, so
      // each byte is read once however the line is split (verb.ts).
      const r = s.verb.feed(bytes, i, n);
      const upto = r === NEED_MORE ? n : s.verb.at + 1;
      if (!s.append(bytes, i, upto)) return this.overlong(s, i, n);
      s.skipRun(upto);
      return r === NEED_MORE ? n : this.decide(s, r, -1, upto);
    }
    // A reply decides within its first four bytes: add one byte at a time until it does.
    while (i < n) {
      if (!s.append(bytes, i, i + 1)) return this.overlong(s, i, n);
      i++;
      const r = classifyReply(s.hold!, 0, s.holdLength);
      if (r !== NEED_MORE) {
        s.skipRun(i);
        return this.decide(s, r, -1, i);
      }
    }
    s.skipRun(n);
    return n;
  }

  /**
   * Act on a decided line. `from` >= 0: the line starts at chunk index `from` and nothing of it
   * is consumed yet; -1: its first bytes are in the hold buffer and `at` is the chunk index just
   * after them.
   */
  private decide(s: DirectionStream, r: number, from: number, at: number): number {
    s.lineCode = r;
    const action = this.decideLine(s, r);
    const client = s === this.c2s;
    if (from >= 0) {
      if (action === PHASE_PASS) {
        s.phase = PHASE_PASS;
        if (client) s.lineFrom = from; // the command waits in the run until its LF
      } else {
        s.flushRun(from);
        s.phase = action;
        s.lineFrom = from;
      }
      return from;
    }
    const endedLine = s.hold![s.holdLength - 1] === 10;
    s.lineFrom = -1;
    s.inputOffset = s.at(at);
    if (action === PHASE_PASS) {
      if (client && endedLine && findBareCR(s.hold!, 0, s.holdLength, s.holdLength) >= 0) {
        const length = s.holdLength;
        s.holdLength = 0;
        s.phase = PHASE_LINE_START;
        s.lineAction = LINE_NONE;
        this.onBareCR(s, length);
        return at;
      }
      // A server line streams from here; a client line stays held until its LF.
      if (!client || endedLine) s.emit(s.takeHold());
      s.phase = PHASE_PASS;
      if (endedLine) {
        s.phase = PHASE_LINE_START;
        if (s.lineAction !== LINE_NONE) this.lineEnded(s, at);
      }
    } else if (action === PHASE_DISCARD) {
      s.holdLength = 0;
      s.phase = PHASE_DISCARD;
      if (endedLine) {
        s.phase = PHASE_LINE_START;
        this.lineEnded(s, at);
      }
    } else if (action === PHASE_CLOSED) {
      s.holdLength = 0;
      s.phase = PHASE_CLOSED;
    } else {
      s.phase = PHASE_HOLD;
      if (endedLine) {
        s.phase = PHASE_LINE_START;
        const length = s.holdLength;
        s.holdLength = 0;
        this.heldLine(s, s.hold!, 0, length);
      }
    }
    return at;
  }

  /** In HOLD: collect the candidate line up to its LF, within maxLineLength. */
  private holdMore(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    const j = findLF(bytes, NO_VIEW, i, n); // a short line: a loop costs less than a call to indexOf
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
    s.phase = PHASE_LINE_START;
    s.inputOffset = s.at(end);
    if (direct) {
      const from = s.lineFrom;
      s.lineFrom = -1;
      this.heldLine(s, bytes, from, end);
    } else {
      s.append(bytes, i, end);
      const length = s.holdLength;
      s.holdLength = 0;
      this.heldLine(s, s.hold!, 0, length);
    }
    return end;
  }

  /** A candidate line grew past maxLineLength (or its first bytes never decided). */
  protected overlong(s: DirectionStream, i: number, n: number): number {
    s.holdLength = 0;
    s.lineFrom = -1;
    s.skipRun(i);
    if (this.closeOnOverlong) {
      this.giveUp(`${s.direction} line longer than ${this.maxLine} bytes`, `${s === this.c2s ? 'Command' : 'Reply'} line too long, closing control connection.`, s === this.s2c ? s.lineStart : this.s2c.inputOffset);
      s.skipRun(n);
      return n;
    }
    s.phase = PHASE_DISCARD;
    s.overlong = true;
    this.onOverlong(s);
    // What was read of the line so far is dropped too.
    if (this.discard(s.at(i) - s.lineStart)) {
      s.skipRun(n);
      return n;
    }
    return i;
  }

  /**
   * Count `n` more dropped bytes of over-long lines; past policy maxDiscardedBytes, give up on
   * the connection (true: everything is closed, drop the rest of the input).
   */
  private discard(n: number): boolean {
    this.discarded += n;
    if (this.discarded <= this.maxDiscarded) return false;
    this.giveUp(`more than ${this.maxDiscarded} bytes of over-long lines`, 'Too many over-long lines, closing control connection.');
    return true;
  }

  /** The current line of `s` ended just before chunk index `i` and has a line action. */
  protected lineEnded(s: DirectionStream, i: number): void {
    const action = s.lineAction;
    s.lineAction = LINE_NONE;
    if (s.chunk.length > 0) {
      s.mark = i; // anything queued now goes after this line
      s.inputOffset = s.at(i);
    }
    if (action === LINE_DROP) this.edit(s, s.lineStart, s.inputOffset - s.lineStart, 0);
    else this.onLineEnd(s, action);
  }

  private followTls(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    const j = s.tls.advance(bytes, i, n);
    if (s.tls.status === TLS_PLAINTEXT) {
      s.phase = PHASE_LINE_START;
      this.onPlaintext(s);
    } else if (s.tls.status === TLS_BROKEN) {
      s.phase = PHASE_OPAQUE;
      this.push({ type: 'protocol-error', direction: s.direction, message: 'not a TLS record; forwarding without inspection from here on' });
    }
    return j;
  }

  // ---- output and events ---------------------------------------------------------------------

  /** Queue `out` in place of input [inputOffset, +inputLength); returns the edit (not reported). */
  protected replaceLine(s: DirectionStream, inputOffset: number, inputLength: number, out: Uint8Array): StreamEdit {
    const outputOffset = s.outputPosition();
    s.emit(out);
    return {
      direction: s.direction, inputOffset, inputLength, outputOffset, outputLength: out.length, delta: out.length - inputLength,
    };
  }

  /** Report a removal of input [inputOffset, +inputLength) at the current output position. */
  protected edit(s: DirectionStream, inputOffset: number, inputLength: number, outputLength: number): void {
    this.push({
      type: 'edit',
      edit: { direction: s.direction, inputOffset, inputLength, outputOffset: s.outputPosition(), outputLength, delta: outputLength - inputLength },
    });
  }

  /**
   * Give up on the connection: tell the client why (`421 <text>`, on a line of its own, where the
   * server direction is not inside TLS), then ask the embedding to close. RFC 959 allows a 421 at
   * any point when the service must close the control connection.
   */
  protected giveUp(reason: string, text: string, serverInputOffset = this.s2c.inputOffset): void {
    const s = this.s2c;
    if (s.phase !== PHASE_TLS && s.phase !== PHASE_OPAQUE && s.phase !== PHASE_CLOSED && !s.ended) {
      s.inputOffset = serverInputOffset;
      this.insertLine(s, asciiBytes(`421 ${text}\r\n`));
    }
    // Nothing more is read either way: input from now on is dropped, and no line can time out.
    for (const d of [this.c2s, this.s2c]) {
      d.phase = PHASE_CLOSED;
      d.holdLength = 0;
      d.openSince = -1;
    }
    this.push({ type: 'close', reason });
  }

  /**
   * Queue a line of our own (`bytes`, line ending included) as an insertion into `s` at the
   * current point and report the edit. It always starts a line: after a line the peer left
   * unfinished (its stream ended inside it), a CRLF ends that line first, or a client reading
   * `220 hi\r\n2` + `504 ...` would take `2504` for a positive reply.
   */
  protected insertLine(s: DirectionStream, bytes: Uint8Array, inputOffset = s.inputOffset): void {
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
    this.push({ type: 'edit', edit: { direction: s.direction, inputOffset, inputLength: 0, outputOffset, outputLength: n, delta: n } });
  }

  protected push(e: FtpEvent): void {
    this.events[this.eventTail++] = e;
  }
}

export function checkTime(nowMs: number): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new NatAlgError('invalid-argument', 'nowMs must be a finite number');
  }
}
