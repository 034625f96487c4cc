/**
 * The FTP control-channel translator: one instance per control connection, sans-I/O. This file
 * reads lines: it decides, from a line's first bytes, how its bytes move (framing.ts), and what a
 * complete line does, by the state rules written down in session.ts. Held lines and their
 * rewriting are in data-channels.ts.
 */

import type { Endpoint } from '../net/ip.js';
import type { StreamTranslator } from '../stream/translator.js';
import {
  parsePort, parseEprt, parseLprt, commandArgument, VERB_NAMES,
  VERB_PORT, VERB_EPRT, VERB_LPRT, VERB_PASV, VERB_EPSV, VERB_LPSV, VERB_ALGS, VERB_AUTH, type AddressParseResult,
} from './commands.js';
import { find227, find228, find229, MALFORMED, REPLY_NOT_A_REPLY, type FoundAddress } from './replies.js';
import {
  DirectionStream, PHASE_LINE_START, PHASE_PASS, PHASE_HOLD, PHASE_DISCARD, PHASE_CLOSED,
  LINE_NONE, LINE_DROP, LINE_FIRST, LINE_LAST,
} from './line-reader.js';
import { checkTime } from './framing.js';
import { findBareCR } from '../stream/bare-cr.js';
import { checkDataAddress, ownAddress, REFUSAL_REPLIES, passiveRefusal } from './policy.js';
import {
  expectedPassiveCode, passiveFormat, Q_ACTIVE, Q_PASV, Q_EPSV, Q_LPSV, Q_EPSV_AS_PASV, Q_EPSV_ALL, Q_HELD, Q_LOCAL, type LocalReply,
} from './pending.js';
import { ascii, asciiLine, lineBody, lineEnding, lineEndingLength, replyText } from './text.js';
import { algsReply, EPSV_ALL_REPLY } from './ftp64.js';
import { keywordOf, passiveRefusalLine } from './data-channels.js';
import { FtpSession, MAX_PENDING_COMMANDS, LINE_COMMAND, LINE_REPLY_END, LINE_DROP_REPLY } from './session.js';
import type { DataCommand, FtpEvent, FtpTranslatorOptions } from './types.js';

export { MAX_PENDING_COMMANDS } from './session.js';

const C2S = 'client-to-server';
const S2C = 'server-to-client';

/** The passive command named in a data-channel request for a reply read in `kind`'s format. */
function commandOfKind(kind: number): DataCommand {
  return kind === Q_LPSV ? 'LPSV' : kind === Q_PASV ? 'PASV' : 'EPSV';
}

export class FtpTranslator extends FtpSession implements StreamTranslator<FtpEvent> {
  constructor(options: FtpTranslatorOptions) {
    super(options);
  }

  // ---- StreamTranslator (the rest is in framing.ts) --------------------------------------

  /**
   * The line timeout is the only timer (policy lineTimeoutMs): mapping lifetimes belong to the
   * embedding's mapping table, idle connections to its idle timer (`lastActivityMs`).
   */
  pollTimeout(): number | null {
    return this.lineDeadline(this.o.policy.lineTimeoutMs);
  }

  handleTimeout(nowMs: number): void {
    checkTime(nowMs);
    const late = this.lateDirection(nowMs, this.o.policy.lineTimeoutMs);
    if (late === null) return;
    const seconds = Math.round(this.o.policy.lineTimeoutMs / 100) / 10;
    const what = late === this.c2s ? 'Command' : 'Reply';
    this.giveUp(`${late.direction} line not complete within ${seconds} s`, `${what} line not complete within ${seconds} s, closing control connection.`);
  }

  get tlsActive(): boolean {
    return this.tls;
  }

  // ---- answers from the embedding ------------------------------------------------------------

  resolveDataChannel(id: number, replacement: Endpoint): void {
    const h = this.channels.find(id);
    const { after, out } = this.channels.rewrite(h, replacement, this.ftp64Active); // may throw: nothing changed yet
    this.channels.release(h);
    const s = this.side(h.direction);
    const edit = this.replaceLine(s, h.lineStart, h.lineLength, out);
    this.push({ type: 'line-translated', direction: h.direction, keyword: keywordOf(h), before: h.text, after, edit });
    this.push({ type: 'edit', edit });
    s.phase = PHASE_LINE_START;
    if (h.direction === C2S) {
      this.queue.replaceTail(Q_ACTIVE, id);
    } else {
      this.channels.outstanding--;
      this.channels.current = id;
      this.push({ type: 'data-channel-committed', id });
      if (h.last) this.completeReply(h.code);
    }
  }

  refuseDataChannel(id: number, reason = 'refused by the gateway'): void {
    const h = this.channels.find(id);
    this.channels.release(h);
    this.channels.outstanding--;
    const why = replyText(String(reason));
    const s = this.side(h.direction);
    s.phase = PHASE_LINE_START;
    if (h.direction === C2S) {
      const reply = `425 Cannot open data connection (${why}).`;
      this.edit(s, h.lineStart, h.lineLength, 0);
      this.queue.replaceTail(Q_LOCAL, { bytes: ascii(reply + '\r\n') } satisfies LocalReply);
      this.push({ type: 'command-refused', command: VERB_NAMES[h.kind]!, reason: 'mapping-refused', reply });
      this.drain();
    } else {
      const reply = this.replacePassive(h.text, h.lineLength, h.eol, h.first, h.last, why, h.lineStart);
      this.push({ type: 'command-refused', command: h.request.command, reason: 'mapping-refused', reply });
      if (h.last) this.completeReply(h.code);
    }
  }

  // ---- hooks called by the framing --------------------------------------------------------

  protected decideLine(s: DirectionStream, r: number): number {
    return s === this.c2s ? this.decideCommand(r) : this.decideReply(s, r);
  }

  protected heldLine(s: DirectionStream, buf: Uint8Array, from: number, to: number): void {
    // The usual PORT and 227 are read in place; anything else gets a line of its own.
    if (s === this.c2s) {
      if (findBareCR(buf, from, to, to) >= 0) return this.refuseLine(to - from, VERB_NAMES[s.lineCode]!, 'bare-cr');
      if (s.lineCode === VERB_PORT && !this.epsvAll) {
        const h = this.channels.readPort(buf, from, to, s.lineStart);
        if (h !== null) {
          this.queue.push(Q_HELD, h.request.id);
          return this.block(s, h);
        }
      }
      this.heldCommand(buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to));
    } else {
      if (this.replyWanted === Q_PASV && !this.replyFound) {
        const first = (s.lineFlags & LINE_FIRST) !== 0;
        const last = (s.lineFlags & LINE_LAST) !== 0;
        const h = this.channels.read227(buf, from, to, s.lineCode >= 0 ? 4 : 0, s.lineStart, first, last, this.replyCode, this.replyCommand);
        if (h !== null) {
          s.lineAction = LINE_NONE; // the reply's end is handled when the line is sent
          this.replyFound = true;
          return this.block(s, h);
        }
      }
      this.heldReply(buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to));
    }
  }

  protected onBareCR(s: DirectionStream, lineLength: number): void {
    this.refuseLine(lineLength, s.lineCode > 0 ? VERB_NAMES[s.lineCode]! : 'UNKNOWN', 'bare-cr');
  }

  protected onOverlong(s: DirectionStream): void {
    if (s === this.c2s) {
      s.lineAction = LINE_DROP;
      this.refuseLocal('line-too-long', s.lineCode > 0 ? VERB_NAMES[s.lineCode]! : 'UNKNOWN', REFUSAL_REPLIES['line-too-long']);
      return;
    }
    // A held reply line grew too long: the client gets its replacement at once (a 425 for the
    // whole reply, or a line keeping the reply's structure), not when (or if) the line ends.
    const first = (s.lineFlags & LINE_FIRST) !== 0;
    const last = (s.lineFlags & LINE_LAST) !== 0;
    const prefix = s.lineCode >= 0 ? `${s.lineCode >> 1}${s.lineCode & 1 ? '-' : ' '}` : ' ';
    const text = passiveRefusalLine(prefix, first, last, 'reply too long', this.replyWanted);
    this.insertLine(s, ascii(text + '\r\n'), s.lineStart);
    s.lineAction = LINE_DROP_REPLY;
    this.push({ type: 'protocol-error', direction: S2C, message: 'reply line too long; replaced' });
  }

  protected onLineEnd(s: DirectionStream, action: number): void {
    if (action === LINE_REPLY_END) {
      this.completeReply(s.lineCode >> 1);
    } else if (action === LINE_COMMAND) {
      this.commandSent(s);
    } else if (action === LINE_DROP_REPLY) {
      // Its replacement went out when it grew too long (onOverlong); now its input is removed.
      this.edit(s, s.lineStart, s.inputOffset - s.lineStart, 0);
      if ((s.lineFlags & LINE_LAST) !== 0) this.completeReply(this.replyCode);
    }
  }

  // ---- commands (client to server) -----------------------------------------------------------

  /**
   * A client line's verb is known: say how its bytes are handled. A line that passes is queued
   * when it has gone out whole (commandSent): an over-long one never reaches the server.
   */
  private decideCommand(verb: number): number {
    const s = this.c2s;
    s.lineAction = LINE_NONE;
    if (this.queue.length >= MAX_PENDING_COMMANDS) {
      this.giveUp(`more than ${MAX_PENDING_COMMANDS} commands awaiting replies`, 'Too many commands awaiting replies, closing control connection.');
      return PHASE_CLOSED;
    }
    switch (verb) {
      case VERB_PORT:
      case VERB_EPRT:
      case VERB_LPRT:
      case VERB_EPSV:
        return PHASE_HOLD;
      case VERB_ALGS:
        if (this.o.ftp64) return PHASE_HOLD;
        break;
      case VERB_AUTH:
        if (this.o.policy.tls === 'refuse') {
          s.lineAction = LINE_DROP;
          this.refuseLocal('tls-refused', 'AUTH', REFUSAL_REPLIES['tls-refused']);
          return PHASE_DISCARD;
        }
        break;
      case VERB_PASV:
      case VERB_LPSV:
        if (this.epsvAll) {
          s.lineAction = LINE_DROP;
          this.refuseLocal('epsv-all', VERB_NAMES[verb]!, REFUSAL_REPLIES['epsv-all']);
          return PHASE_DISCARD;
        }
        break;
    }
    s.lineAction = LINE_COMMAND;
    return PHASE_PASS;
  }

  /** A held client line is complete (line ending included). */
  private heldCommand(line: Uint8Array): void {
    const s = this.c2s;
    const verb = s.lineCode;
    const text = lineBody(line);
    const argument = commandArgument(text);
    const name = VERB_NAMES[verb]!;
    if (verb === VERB_EPSV) {
      const all = argument !== null && argument.trim().toUpperCase() === 'ALL';
      if (!this.ftp64Active) {
        s.emit(line);
        this.queue.push(all ? Q_EPSV_ALL : Q_EPSV);
      } else if (all) {
        this.refuseLine(line.length, name, 'local-command', EPSV_ALL_REPLY);
      } else {
        const after = 'PASV';
        const edit = this.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
        this.push({ type: 'line-translated', direction: C2S, keyword: name, before: text, after, edit });
        this.push({ type: 'edit', edit });
        this.queue.push(Q_EPSV_AS_PASV);
      }
      return;
    }
    if (verb === VERB_ALGS) {
      const answer = algsReply(argument, this.ftp64Active);
      this.ftp64Active = answer.active;
      this.refuseLine(line.length, name, 'local-command', answer.reply);
      return;
    }
    if (this.epsvAll) return this.refuseLine(line.length, name, 'epsv-all');
    let r: AddressParseResult;
    if (argument === null) r = { ok: false, error: 'bad-syntax' };
    else if (verb === VERB_PORT) {
      const e = parsePort(argument);
      r = e ? { ok: true, endpoint: e } : { ok: false, error: 'bad-syntax' };
    } else if (verb === VERB_EPRT) r = parseEprt(argument);
    else r = parseLprt(argument);
    if (!r.ok) return this.refuseLine(line.length, name, r.error);
    const original = ownAddress(r.endpoint, this.o);
    const refusal = checkDataAddress(original, this.o, this.channels.outstanding);
    if (refusal !== null) return this.refuseLine(line.length, name, refusal);
    const family = verb === VERB_EPRT && this.ftp64Active ? 4 : this.o.serverFamily;
    const h = this.channels.active(verb, original, family, text, { lineStart: s.lineStart, lineLength: line.length, eol: lineEndingLength(line) });
    this.queue.push(Q_HELD, h.request.id);
    this.block(s, h);
  }

  // ---- replies (server to client) ------------------------------------------------------------

  /** A server line's first bytes are known: track reply structure, hold it if it matters. */
  private decideReply(s: DirectionStream, r: number): number {
    const phase = this.replyPhase(s, r);
    // Inside a multi-line reply that streams, its text lines (no digit first) change nothing.
    s.passText = phase === PHASE_PASS && this.multiCode >= 0;
    return phase;
  }

  private replyPhase(s: DirectionStream, r: number): number {
    s.lineAction = LINE_NONE;
    s.lineFlags = 0;
    if (this.multiCode >= 0) {
      if (r >= 0 && (r & 1) === 0 && r >> 1 === this.multiCode) {
        s.lineFlags = LINE_LAST;
        s.lineAction = LINE_REPLY_END;
        this.multiCode = -1;
      }
      // FTP64 holds every line of the reply: its 227 code lines are renumbered 229.
      return this.replyWanted !== 0 && (!this.replyFound || this.replyWanted === Q_EPSV_AS_PASV) ? PHASE_HOLD : PHASE_PASS;
    }
    if (r === REPLY_NOT_A_REPLY) {
      // Not a reply line: no effect on pairing, but a local reply waiting goes out at its end.
      if (this.queue.headKind() === Q_LOCAL) s.lineAction = LINE_REPLY_END;
      return PHASE_PASS;
    }
    const code = r >> 1;
    const head = this.queue.headKind();
    this.replyCode = code;
    this.replyWanted = passiveFormat(code, head);
    this.replyExpected = code === expectedPassiveCode(head);
    this.replyFound = false;
    if (this.replyWanted !== 0) this.replyCommand = commandOfKind(expectedPassiveCode(head) !== 0 ? head : this.replyWanted);
    s.lineFlags = LINE_FIRST;
    if (r & 1) this.multiCode = code;
    else {
      s.lineFlags |= LINE_LAST;
      s.lineAction = LINE_REPLY_END;
    }
    return this.replyWanted !== 0 ? PHASE_HOLD : PHASE_PASS;
  }

  /** A held reply line is complete: find the address, check it, ask for its replacement. */
  private heldReply(line: Uint8Array): void {
    const s = this.s2c;
    s.lineAction = LINE_NONE;
    const first = (s.lineFlags & LINE_FIRST) !== 0;
    const last = (s.lineFlags & LINE_LAST) !== 0;
    const code = this.replyCode;
    const kind = this.replyWanted;
    const from = s.lineCode >= 0 ? 4 : 0; // after the reply code, if the line has one
    const text = lineBody(line);
    if (this.replyFound) {
      // FTP64, a line after the address: only the reply code changes.
      this.passReplyLine(line, text);
      if (last) this.completeReply(code);
      return;
    }
    const f =
      kind === Q_EPSV ? find229(text, this.o.serverAddress, this.o.serverFamily, from)
      : kind === Q_LPSV ? find228(text, from)
      : find227(text, from);
    if (f === null) {
      // A whole reply that a passive command expected (227 to PASV, ...) but without an address
      // becomes a 425; anything else without an address has nothing to leak and passes.
      if (first && last && this.replyExpected) {
        this.replacePassive(text, line.length, lineEndingLength(line), true, true, 'no address in the reply');
        this.push({ type: 'protocol-error', direction: S2C, message: `${code} reply without an address` });
      } else {
        this.passReplyLine(line, text);
        if (last) this.push({ type: 'protocol-error', direction: S2C, message: `${code} reply without an address` });
      }
      if (last) this.completeReply(code);
      return;
    }
    this.replyFound = true;
    const command = this.replyCommand;
    let problem: string | null = null;
    if (f === MALFORMED) problem = 'malformed address in the reply';
    else if (!this.o.policy.allowLowDataPorts && f.endpoint.port < 1024) problem = 'data port below 1024';
    if (problem !== null) {
      this.replacePassive(text, line.length, lineEndingLength(line), first, last, problem);
      this.push({ type: 'protocol-error', direction: S2C, message: `${problem}; reply replaced` });
      if (last) this.completeReply(code);
      return;
    }
    const found = f as FoundAddress;
    if (this.channels.full) {
      const reply = this.replacePassive(text, line.length, lineEndingLength(line), first, last, 'too many data connections pending');
      this.push({ type: 'command-refused', command, reason: 'too-many-data-channels', reply });
      if (last) this.completeReply(code);
      return;
    }
    const family = kind === Q_PASV ? 4 : this.o.clientFamily;
    const place = { lineStart: s.lineStart, lineLength: line.length, eol: lineEndingLength(line), first, last, code };
    this.block(s, this.channels.passive(kind, command, found, family, text, place));
  }

  /** Send on a held reply line that has no address to rewrite (renumbered 227 -> 229 under FTP64). */
  private passReplyLine(line: Uint8Array, text: string): void {
    const s = this.s2c;
    if (this.replyWanted !== Q_EPSV_AS_PASV || !/^227[ -]/.test(text)) {
      s.emit(line);
      return;
    }
    const after = '229' + text.slice(3);
    const edit = this.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
    this.push({ type: 'line-translated', direction: S2C, keyword: '227', before: text, after, edit });
    this.push({ type: 'edit', edit });
  }

  /** Replace a passive reply line (`before`: its text) by a refusal; returns the new text. */
  private replacePassive(before: string, lineLength: number, eol: number, first: boolean, last: boolean, why: string, lineStart = this.s2c.lineStart): string {
    const text = passiveRefusalLine(before, first, last, why, this.replyWanted);
    const edit = this.replaceLine(this.s2c, lineStart, lineLength, asciiLine(text, eol));
    this.push({ type: 'edit', edit });
    return text;
  }
}
