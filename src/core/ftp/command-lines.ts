/**
 * Reading the client's command lines: what a line's verb decides (by the table in rules.ts), and
 * what a held line does once complete: a PORT, EPRT or LPRT is parsed and checked against the
 * policy and its mapping asked of the embedding; EPSV is told from EPSV ALL (and becomes PASV
 * under FTP64); ALGS is answered by the gateway (FTP64). Every other line goes out unchanged at its
 * end (the framer's `whole` mode) and then awaits its reply (session.ts commandSent).
 */

import { VerbScanner } from './verb.js';
import { commandRule } from './rules.js';
import { commandArgument, parseEprt, parseLprt, parsePort, type AddressParseResult } from './commands.js';
import { checkDataAddress, ownAddress, REFUSAL_REPLIES } from './policy.js';
import { algsReply, EPSV_ALL_REPLY } from './ftp64.js';
import { PLAIN } from './pending.js';
import { eolLength } from './data-channel-requests.js';
import { ascii, lineBody, lineEnding } from './text.js';
import { block, MAX_PENDING_COMMANDS, refuseLine, refuseLocal, type FtpContext, type FtpStream } from './session.js';
import type { LineMode } from '../stream/direction-stream.js';
import type { LineReader } from '../stream/line-framer.js';
import type { ActiveVerb } from './rewrite.js';
import type { FtpLineEnd } from './session.js';
import { commandSent, refuseLine as refuse } from './session.js';

export class CommandLines implements LineReader<FtpLineEnd> {
  private readonly scanner = new VerbScanner();

  constructor(private readonly ctx: FtpContext) {}

  beginLine(): void {
    this.scanner.reset();
    this.ctx.state.verb = 'OTHER';
  }

  /** Feed the line's first bytes to the verb scanner: the deciding index, or -1. */
  readStart(_s: FtpStream, buf: Uint8Array, from: number, to: number): number {
    if (!this.scanner.feed(buf, from, to)) return -1;
    this.ctx.state.verb = this.scanner.verb;
    return this.scanner.at;
  }

  /**
   * The line's verb is known: say how its bytes are handled. A line that passes is queued once
   * it has gone out whole (commandSent): an over-long one never reaches the server.
   */
  decide(s: FtpStream): LineMode {
    const { o, state, framer } = this.ctx;
    const verb = state.verb;
    const rule = commandRule(verb);
    s.lineEnd = 'none';
    if (state.pending.length >= MAX_PENDING_COMMANDS) {
      framer.giveUp({
        kind: 'owner',
        reason: `more than ${MAX_PENDING_COMMANDS} commands awaiting replies`,
        farewell: ascii('421 Too many commands awaiting replies, closing control connection.\r\n'),
      });
      return 'closed';
    }
    if (rule.underTlsRefuse === 'refuse-at-verb' && o.policy.tls === 'refuse') {
      s.lineEnd = 'drop';
      refuseLocal(this.ctx, 'tls-refused', verb, REFUSAL_REPLIES['tls-refused']);
      return 'discard';
    }
    if (rule.afterEpsvAll === 'refuse-at-verb' && state.epsvAll) {
      s.lineEnd = 'drop';
      refuseLocal(this.ctx, 'epsv-all', verb, REFUSAL_REPLIES['epsv-all']);
      return 'discard';
    }
    const read = rule.read === 'hold-under-ftp64' ? (o.ftp64 ? 'hold' : 'whole') : rule.read;
    if (read === 'hold') return 'hold';
    s.lineEnd = 'command';
    return 'whole';
  }

  /** The name a refusal reports for the line being read. */
  private commandName(): string {
    const verb = this.ctx.state.verb;
    return verb === 'OTHER' ? 'UNKNOWN' : verb;
  }

  /** A command line that went out whole ended: it awaits its reply now. */
  lineEnded(s: FtpStream, note: FtpLineEnd): void {
    if (note === 'command') commandSent(this.ctx, s, this.ctx.state.verb);
  }

  /** A command line carrying a bare CR was removed (the framer found it): refuse it. */
  bareCR(_s: FtpStream, lineLength: number): void {
    refuse(this.ctx, lineLength, this.commandName(), 'bare-cr');
  }

  /** A command line grew too long: it is dropped to its end and refused with 500 at once. */
  overlong(s: FtpStream): void {
    s.lineEnd = 'drop';
    refuseLocal(this.ctx, 'line-too-long', this.commandName(), REFUSAL_REPLIES['line-too-long']);
  }

  /** A held command line is complete: buf[from..to), line ending included (valid during the call). */
  heldLine(s: FtpStream, buf: Uint8Array, from: number, to: number): void {
    const line = buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to);
    const { state } = this.ctx;
    const verb = state.verb;
    const text = lineBody(line);
    const argument = commandArgument(text, line);
    switch (verb) {
      case 'EPSV':
        return this.epsv(s, line, text, argument);
      case 'ALGS': {
        const answer = algsReply(argument, state.ftp64);
        state.ftp64 = answer.active;
        return refuseLine(this.ctx, line.length, verb, 'local-command', answer.reply);
      }
      case 'PORT':
      case 'EPRT':
      case 'LPRT':
        return this.dataAddress(s, verb, line, text, argument);
      default:
        // Only the verbs above are held (rules.ts): were another, it would go out unchanged.
        s.emit(line);
        state.pending.push(PLAIN.other);
    }
  }

  /** EPSV: forwarded (or EPSV ALL); under FTP64 sent on as PASV, and EPSV ALL answered locally. */
  private epsv(s: FtpStream, line: Uint8Array, text: string, argument: string | null): void {
    const { state, framer, events } = this.ctx;
    const all = argument !== null && argument.trim().toUpperCase() === 'ALL';
    if (!state.ftp64) {
      s.emit(line);
      state.pending.push(all ? PLAIN['epsv-all'] : PLAIN.epsv);
    } else if (all) {
      refuseLine(this.ctx, line.length, 'EPSV', 'local-command', EPSV_ALL_REPLY);
    } else {
      const after = 'PASV';
      const edit = framer.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
      events.push({ type: 'line-translated', direction: 'client-to-server', keyword: 'EPSV', before: text, after, edit });
      events.push({ type: 'edit', edit });
      state.pending.push(PLAIN['epsv-as-pasv']);
    }
  }

  /** PORT, EPRT, LPRT: parsed, checked against the policy, and its mapping asked for. */
  private dataAddress(s: FtpStream, verb: ActiveVerb, line: Uint8Array, text: string, argument: string | null): void {
    const { o, state } = this.ctx;
    if (commandRule(verb).afterEpsvAll === 'refuse-when-read' && state.epsvAll) return refuseLine(this.ctx, line.length, verb, 'epsv-all');
    let r: AddressParseResult;
    if (argument === null) r = { ok: false, error: 'bad-syntax' };
    else if (verb === 'PORT') {
      const e = parsePort(argument);
      r = e ? { ok: true, endpoint: e } : { ok: false, error: 'bad-syntax' };
    } else if (verb === 'EPRT') r = parseEprt(argument);
    else r = parseLprt(argument);
    if (!r.ok) return refuseLine(this.ctx, line.length, verb, r.error);
    const original = ownAddress(r.endpoint, o);
    const refusal = checkDataAddress(original, o, state.requests.outstanding);
    if (refusal !== null) return refuseLine(this.ctx, line.length, verb, refusal);
    const family = verb === 'EPRT' && state.ftp64 ? 4 : o.serverFamily;
    const h = state.requests.command(verb, original, family, text, { lineStart: s.lineStart, lineLength: line.length, eol: eolLength(line, 0, line.length) });
    state.pending.push({ kind: 'held', id: h.request.id });
    block(this.ctx, s, h);
  }
}
