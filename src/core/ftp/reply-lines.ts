/**
 * Reading the server's reply lines: the structure of replies (single and multi-line), which of
 * them are read for a data address (rules.ts passiveFormat), and what a held reply line does: its
 * address is found, checked against the policy and its mapping asked of the embedding, or the line
 * is replaced by a refusal. Lines that are read for nothing stream to the client as they arrive.
 */

import { beginsText, ReplyStartReader } from './reply-start.js';
import { findLF, NO_VIEW } from '../stream/lf-scan.js';
import { expectedPassiveCode, isPassive, passiveFormat, type PassiveFormat } from './rules.js';
import type { FindResult } from './replies.js';
import { findPassiveAddress, mentionsAddress } from './passive-address.js';
import { eolLength, passiveRefusalLine } from './data-channel-requests.js';
import { ascii, asciiLine, lineBody, lineEnding } from './text.js';
import { block, completeReply, type FtpContext, type FtpStream } from './session.js';
import type { LineMode } from '../stream/direction-stream.js';
import type { LineReader } from '../stream/line-framer.js';
import type { DataCommand } from './types.js';
import type { FtpLineEnd } from './session.js';

/** The passive command a data channel belongs to, for a reply read in `format`. */
function commandOf(format: PassiveFormat): DataCommand {
  switch (format) {
    case 'pasv':
      return 'PASV';
    case 'lpsv':
      return 'LPSV';
    case 'epsv':
    case 'epsv-as-pasv':
      return 'EPSV';
  }
}

export class ReplyLines implements LineReader<FtpLineEnd> {
  private readonly reader = new ReplyStartReader();

  constructor(private readonly ctx: FtpContext) {}

  beginLine(): void {
    this.reader.reset();
  }

  readStart(_s: FtpStream, buf: Uint8Array, from: number, to: number): number {
    if (!this.reader.feed(buf, from, to)) return -1;
    this.ctx.state.line = this.reader.line;
    return this.reader.at;
  }

  /**
   * Inside a multi-line reply that is not read for an address, a line that begins with no digit
   * is text (beginsText): it neither ends the reply nor makes it read (decide), so it streams out
   * without a look. Returns the index after the LF ending the last line before one that must be
   * decided (one with a digit first, or at the chunk's end), or -1.
   */
  streamThrough(s: FtpStream, buf: Uint8Array, from: number, to: number): number {
    const reply = this.ctx.state.reply;
    if (reply.openCode < 0 || reply.format !== null) return -1;
    let through = -1;
    const view = buf === s.chunk ? s.chunkView(from) : NO_VIEW;
    for (let i = from; ; i = through) {
      const lf = findLF(buf, view, i, to);
      if (lf < 0) return through;
      through = lf + 1;
      if (through >= to || !beginsText(buf[through]!)) return through;
    }
  }

  /** A server line's first bytes are known: follow the reply structure, hold the line if it is read. */
  decide(s: FtpStream): LineMode {
    const { state } = this.ctx;
    const line = state.line;
    const reply = state.reply;
    s.lineEnd = 'none';
    state.lineIsFirst = false;
    state.lineIsLast = false;
    if (reply.openCode >= 0) {
      if (line !== 'text' && !line.continues && line.code === reply.openCode) {
        state.lineIsLast = true;
        s.lineEnd = 'reply-end';
        reply.openCode = -1;
      }
      // A line a client could take for a passive reply (curl ends a reply at any `ddd ` line)
      // makes the rest of the reply read, whatever its first line was.
      if (reply.format === null && line !== 'text') this.startReading(line.code, false);
      // Every line of a reply that is read is held: each could carry an address (ftplib reads
      // the first one anywhere in the reply), and FTP64 renumbers its 227 code lines.
      return reply.format !== null ? 'hold' : 'stream';
    }
    if (line === 'text') {
      // Not a reply line: no effect on pairing, but a local reply waiting goes out at its end.
      if (state.pending.headKind() === 'local') s.lineEnd = 'reply-end';
      return 'stream';
    }
    reply.code = line.code;
    reply.format = null;
    reply.found = false;
    this.startReading(line.code, line.continues);
    state.lineIsFirst = true;
    if (line.continues) reply.openCode = line.code;
    else {
      state.lineIsLast = true;
      s.lineEnd = 'reply-end';
    }
    return reply.format !== null ? 'hold' : 'stream';
  }

  /**
   * Read the reply for an address from here on if a line with `code` could be a passive answer,
   * or if it opens a multi-line answer to a passive command (`opensMultiLine`): a later line may
   * end it for a client as a positive reply (curl ends a reply at any `ddd ` line), and by then
   * the earlier lines would be gone.
   */
  private startReading(code: number, opensMultiLine: boolean): void {
    const reply = this.ctx.state.reply;
    const head = this.ctx.state.pending.headKind();
    const format = passiveFormat(code, head) ?? (opensMultiLine && isPassive(head) ? head : null);
    if (format === null) return;
    reply.format = format;
    // (`expected` and `command` matter only to a reply that is read)
    reply.expected = reply.code === expectedPassiveCode(head);
    reply.command = commandOf(isPassive(head) ? head : format);
  }

  /** A held reply line is complete: find the address, check it, ask for its replacement. */
  heldLine(s: FtpStream, buf: Uint8Array, from: number, to: number): void {
    const lineBytes = buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to);
    const { o, state, events } = this.ctx;
    const reply = state.reply;
    s.lineEnd = 'none';
    const first = state.lineIsFirst;
    const last = state.lineIsLast;
    const code = reply.code;
    // A line with a passive code of its own is read in its own format (a 229 line in a 227 reply).
    const own = state.line !== 'text' ? passiveFormat(state.line.code, state.pending.headKind()) : null;
    const format = own ?? reply.format!;
    const after = state.line === 'text' ? 0 : 4; // after the reply code, if the line has one
    const text = lineBody(lineBytes);
    const eol = eolLength(lineBytes, 0, lineBytes.length);
    if (reply.found) {
      // A line after the address: one reply names one data address; any further reading of one
      // is removed. Otherwise only the reply code may change (FTP64).
      if (mentionsAddress(text, after)) {
        const line = state.line;
        let prefix = line === 'text' ? ' ' : `${line.code}${line.continues ? '-' : ' '}`;
        if (reply.format === 'epsv-as-pasv' && prefix.startsWith('227')) prefix = '229' + prefix.slice(3);
        const edit = this.ctx.framer.replaceLine(s, s.lineStart, lineBytes.length, asciiLine(`${prefix}(a second data address, removed by the gateway)`, eol));
        events.push({ type: 'edit', edit });
        events.push({ type: 'protocol-error', direction: 'server-to-client', message: 'a second data address in the reply; line replaced' });
      } else this.passLine(s, lineBytes, text);
      if (last) completeReply(this.ctx, code);
      return;
    }
    const f: FindResult = findPassiveAddress(format, text, after, o.serverAddress, o.serverFamily);
    if (f === null) {
      // A whole reply that a passive command expected (227 to PASV, ...) but without an address
      // becomes a 425; anything else without an address has nothing to leak and passes.
      if (first && last && reply.expected) {
        this.replace(s, text, lineBytes.length, eol, true, true, 'no address in the reply', format);
        events.push({ type: 'protocol-error', direction: 'server-to-client', message: `${code} reply without an address` });
      } else {
        this.passLine(s, lineBytes, text);
        if (last) events.push({ type: 'protocol-error', direction: 'server-to-client', message: `${code} reply without an address` });
      }
      if (last) completeReply(this.ctx, code);
      return;
    }
    reply.found = true;
    const problem = f === 'malformed' ? 'malformed address in the reply' : !o.policy.allowLowDataPorts && f.endpoint.port < 1024 ? 'data port below 1024' : null;
    if (f === 'malformed' || problem !== null) {
      this.replace(s, text, lineBytes.length, eol, first, last, problem!, format);
      events.push({ type: 'protocol-error', direction: 'server-to-client', message: `${problem!}; reply replaced` });
      if (last) completeReply(this.ctx, code);
      return;
    }
    if (state.requests.full) {
      const replacement = this.replace(s, text, lineBytes.length, eol, first, last, 'too many data connections pending', format);
      events.push({ type: 'command-refused', command: reply.command, reason: 'too-many-data-channels', reply: replacement });
      if (last) completeReply(this.ctx, code);
      return;
    }
    const family = format === 'pasv' ? 4 : o.clientFamily;
    const place = { lineStart: s.lineStart, lineLength: lineBytes.length, eol, first, last, code };
    block(this.ctx, s, state.requests.reply(format, reply.command, f, family, text, place));
  }

  /**
   * A line with a note ended. `reply-end`: the last line of a reply (or a stray line a local
   * reply waited for) went out: pair it. `drop-reply`: an over-long line, already replaced: its
   * input is removed, its reply paired if it was the last line.
   */
  lineEnded(s: FtpStream, note: FtpLineEnd): void {
    const { state } = this.ctx;
    if (note === 'reply-end') {
      completeReply(this.ctx, state.line === 'text' ? -1 : state.line.code);
    } else if (note === 'drop-reply') {
      this.ctx.framer.edit(s, s.lineStart, s.inputOffset - s.lineStart, 0);
      if (state.lineIsLast) completeReply(this.ctx, state.reply.code);
    }
  }

  /** Reply lines are not the gateway's to judge for bare CRs (the framer never asks). */
  bareCR(): void {}

  /**
   * A held reply line grew too long: the client gets its replacement at once (a 425 for the
   * whole reply, or a line keeping the reply's structure), not when (or if) the line ends.
   */
  overlong(s: FtpStream): void {
    const { state, framer, events } = this.ctx;
    const line = state.line;
    const prefix = line === 'text' ? ' ' : `${line.code}${line.continues ? '-' : ' '}`;
    const text = passiveRefusalLine(prefix, state.lineIsFirst, state.lineIsLast, 'reply too long', state.reply.format);
    framer.insertLine(s, ascii(text + '\r\n'), s.lineStart);
    s.lineEnd = 'drop-reply';
    events.push({ type: 'protocol-error', direction: 'server-to-client', message: 'reply line too long; replaced' });
  }

  /** Send on a held reply line that has no address to rewrite (renumbered 227 -> 229 under FTP64). */
  private passLine(s: FtpStream, line: Uint8Array, text: string): void {
    const { state, framer, events } = this.ctx;
    if (state.reply.format !== 'epsv-as-pasv' || !/^227[ -]/.test(text)) {
      s.emit(line);
      return;
    }
    const after = '229' + text.slice(3);
    const edit = framer.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
    events.push({ type: 'line-translated', direction: 'server-to-client', keyword: '227', before: text, after, edit });
    events.push({ type: 'edit', edit });
  }

  /** Replace a passive reply line (`before`: its text) by a refusal; returns the new text. */
  replace(s: FtpStream, before: string, lineLength: number, eol: 0 | 1 | 2, first: boolean, last: boolean, why: string, format: PassiveFormat | null, lineStart = s.lineStart): string {
    const text = passiveRefusalLine(before, first, last, why, format);
    const edit = this.ctx.framer.replaceLine(s, lineStart, lineLength, asciiLine(text, eol));
    this.ctx.events.push({ type: 'edit', edit });
    return text;
  }
}
