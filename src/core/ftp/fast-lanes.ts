/**
 * The hot loops. Almost every line of a control connection is one the gateway only has to count:
 * a command other than the data-address ones, a reply that is not a passive answer, the text of a
 * multi-line reply. For a run of such lines inside one chunk these loops do the framing (framing.ts
 * passLines/passCommands) and the session rules that apply to them (session.ts, translator.ts
 * decideCommand/replyPhase, commandSent/completeReply) in one pass, with the state they touch in
 * local variables, and write it back when they stop.
 *
 * They restate a subset of the rules, so they stop and hand over to the general path at the first
 * line that needs anything else: a verb or reply code that matters, a line whose end has an effect
 * (a mapping committed, TLS, a local reply due), a line start at the end of the chunk, an
 * over-long line, a queue at its limit. The general path stays the reference: with `fastLanes`
 * off every line goes through it, and the tests check that both give the same bytes, edits and
 * events for the same input (test/ftp/fast-lanes.test.ts); lines that start in one chunk and end
 * in another always take the general path, so the chunking properties compare them too.
 */

import { NEED_MORE, VERB_CCC, VERB_LPSV, VERB_OTHER, VERB_PASV, VERB_QUIT, VERB_START, classifyCommand } from './commands.js';
import { REPLY_NOT_A_REPLY } from './replies.js';
import { DirectionStream, LINE_FIRST, LINE_LAST, LINE_NONE, PHASE_LINE_START, PHASE_PASS } from './line-reader.js';
import { LINE_ENDS } from '../stream/line-ends.js';
import { Q_EPSV, Q_EPSV_AS_PASV, Q_GREETING, Q_LOCAL, Q_LPSV, Q_OTHER, Q_PASV } from './pending.js';
import { FtpSession, LINE_COMMAND, LINE_REPLY_END, MAX_PENDING_COMMANDS } from './session.js';

/**
 * Queue kind a command line of this verb gets when it has gone out, for the verbs whose line
 * has no other effect (commandSent); -1: not such a verb. PASV and LPSV only outside EPSV ALL.
 */
const PLAIN_COMMAND = new Int8Array(16).fill(-1);
PLAIN_COMMAND[VERB_OTHER] = Q_OTHER;
PLAIN_COMMAND[VERB_QUIT] = Q_OTHER;
PLAIN_COMMAND[VERB_CCC] = Q_OTHER;
PLAIN_COMMAND[VERB_PASV] = Q_PASV;
PLAIN_COMMAND[VERB_LPSV] = Q_LPSV;

/** Queue kinds whose final reply only removes them (completeReply). */
const PLAIN_ANSWER = new Uint8Array(16);
for (const k of [Q_OTHER, Q_GREETING, Q_PASV, Q_EPSV, Q_LPSV, Q_EPSV_AS_PASV]) PLAIN_ANSWER[k] = 1;

export abstract class FastLanes extends FtpSession {
  /** Off: every line takes the general path (the reference; for tests). */
  fastLanes = true;

  /**
   * The server side of passLines: reply lines that pass. Entry: PASS inside a decided line.
   * Returns the chunk index where the general loop takes over (phase set for it).
   */
  protected override passLines(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    if (!this.fastLanes) return super.passLines(s, bytes, i, n);
    const q = this.queue;
    const ends = LINE_ENDS;
    ends.use(s, s.calls, bytes, false);
    let action = s.lineAction;
    let code = s.lineCode;
    let flags = s.lineFlags;
    let multi = this.multiCode;
    // Inside a multi-line reply: its lines pass unless the reply is being read for an address.
    let multiPass = this.replyWanted === 0 || (this.replyFound && this.replyWanted !== Q_EPSV_AS_PASV);
    let start = -1; // chunk index of the current line when it started in this loop
    let newReply = false;
    let phase = PHASE_PASS;
    for (;;) {
      const j = ends.next(i);
      if (j < 0) {
        i = n;
        break;
      }
      i = j + 1;
      phase = PHASE_LINE_START;
      if (action !== LINE_NONE) {
        // completeReply when it only removes the answered command and no local reply is due
        if (action !== LINE_REPLY_END) break;
        const c = code >> 1;
        if (c >= 200 && c < 600 ? !q.answerPlain(PLAIN_ANSWER) : q.headKind() === Q_LOCAL) break;
        action = LINE_NONE;
      }
      if (i >= n) break;
      const a = bytes[i]! - 48;
      if (a < 0 || a > 9) {
        // Text inside a multi-line reply that passes; anything else decides in the general path.
        if (multi < 0 || !multiPass) break;
        code = REPLY_NOT_A_REPLY;
        flags = 0;
        start = i;
        phase = PHASE_PASS;
        continue;
      }
      if (n - i < 4) break;
      const b = bytes[i + 1]! - 48;
      const c = bytes[i + 2]! - 48;
      const d = bytes[i + 3]!;
      const r = b < 0 || b > 9 || c < 0 || c > 9 || (d !== 32 && d !== 45) ? REPLY_NOT_A_REPLY : (a * 100 + b * 10 + c) * 2 + (d === 45 ? 1 : 0);
      if (multi >= 0) {
        if (!multiPass) break;
        flags = 0;
        if (r >= 0 && (r & 1) === 0 && r >> 1 === multi) {
          flags = LINE_LAST;
          action = LINE_REPLY_END;
          multi = -1;
        }
      } else {
        if (r < 0) break; // not a reply: a local reply may be due at its end
        const rc = r >> 1;
        if (rc >= 227 && rc <= 229) break; // perhaps a passive answer
        newReply = true;
        multiPass = true;
        flags = LINE_FIRST;
        if (r & 1) multi = rc;
        else {
          flags |= LINE_LAST;
          action = LINE_REPLY_END;
        }
      }
      code = r;
      start = i;
      phase = PHASE_PASS;
    }
    s.phase = phase;
    s.lineAction = action;
    this.multiCode = multi;
    if (newReply) {
      this.replyWanted = 0;
      this.replyFound = false;
    }
    if (start >= 0) {
      s.lineCode = code;
      s.lineFlags = flags;
      s.lineStart = s.chunkBase + start;
      s.passText = multi >= 0;
    }
    if (phase === PHASE_LINE_START && action !== LINE_NONE) {
      // The line just ended has an effect the loop does not apply: the general path does.
      this.lineEnded(s, i);
    }
    return i;
  }

  /**
   * The client side of passCommands: command lines that pass. Entry: PASS inside a decided line
   * (its bytes so far in the run from `lineFrom`, or held when lineFrom is -1).
   */
  protected override passCommands(s: DirectionStream, bytes: Uint8Array, i: number, n: number): number {
    if (!this.fastLanes) return super.passCommands(s, bytes, i, n);
    const q = this.queue;
    const ends = LINE_ENDS;
    ends.use(s, s.calls, bytes, true);
    const maxLine = this.maxLine;
    const plainPassive = !this.epsvAll;
    let action = s.lineAction;
    let verb = s.lineCode;
    let from = s.lineFrom;
    let phase = PHASE_PASS;
    let start = -1;
    for (;;) {
      const j = ends.next(i);
      const end = j < 0 ? n : j + 1;
      if ((from >= 0 ? end - from : s.holdLength + (end - i)) > maxLine || j < 0 || ends.bareCR(i, j) || (from < 0 && s.holdBareCR(bytes[i]!))) {
        // over-long, going on in the next chunk, or a bare CR in it: the general path (it scans
        // the rest again)
        phase = PHASE_PASS;
        break;
      }
      if (from < 0) s.emit(s.takeHold()); // the line's start, then its rest stays in the run
      i = end;
      from = -1;
      phase = PHASE_LINE_START;
      if (action !== LINE_NONE) {
        const kind = action === LINE_COMMAND ? PLAIN_COMMAND[verb]! : -1;
        if (kind < 0) break;
        q.pushPlain(kind);
        action = LINE_NONE;
      }
      if (i >= n) break;
      const c = bytes[i]!;
      let v = VERB_OTHER;
      if (VERB_START[c] !== 0) {
        v = classifyCommand(bytes, i, n);
        if (v === NEED_MORE || PLAIN_COMMAND[v]! < 0 || (!plainPassive && (v === VERB_PASV || v === VERB_LPSV))) break;
      }
      if (q.length >= MAX_PENDING_COMMANDS) break;
      verb = v;
      action = LINE_COMMAND;
      from = i;
      start = i;
      phase = PHASE_PASS;
    }
    s.phase = phase;
    s.lineAction = action;
    s.lineFrom = from;
    if (start >= 0) {
      s.lineCode = verb;
      s.lineStart = s.chunkBase + start;
    }
    if (phase === PHASE_PASS) {
      // Stopped inside a line (over-long, or cut by the chunk's end): the general loop again.
      return super.passCommands(s, bytes, i, n);
    }
    if (action !== LINE_NONE) {
      this.lineEnded(s, i);
    }
    return i;
  }
}
