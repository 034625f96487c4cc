/**
 * Reading the lines of one direction (the framer's LineReader): which lines are held (rules.ts
 * LINE_READING, line-start.ts), and what a held line does once complete: its plan (offer-plan.ts)
 * carried out. A line passes unchanged, is rewritten at once (a mapped RESUME port, a hidden
 * passive address), waits for its data channels (the direction blocks), or is refused: dropped,
 * with a NOTICE to the client saying why and a `command-refused` event. Commands that change the
 * session (001, NICK, STARTTLS: rules.ts COMMAND_RULES) take effect here too.
 */

import type { Direction } from '../stream/translator.js';
import type { LineMode } from '../stream/direction-stream.js';
import type { LineReader } from '../stream/line-framer.js';
import { equalsIgnoreCase, latin1 } from './bytes.js';
import { CtcpLineStart } from './line-start.js';
import { lineText, recordOffers, rewriteLine, type HeldLine } from './held-lines.js';
import { drainLocalLines, noticeLine, queueLocalLine, safeWord, starttlsRefusalLine } from './local-lines.js';
import { planLine, type LinePlan, type OfferStep } from './offer-plan.js';
import { REFUSAL_TEXTS } from './policy.js';
import { COMMAND_RULES, LINE_READING, senderOf, watchedFirstBytes, type CommandEffect, type IrcCommand } from './rules.js';
import { prefixNick, type IrcMessage } from './message.js';
import type { IrcContext, IrcLineEnd, IrcStream } from './state.js';
import type { IrcRefusalReason } from './types.js';

/** The first byte of a TLS handshake record: a client that speaks TLS from its first byte. */
const TLS_HANDSHAKE = 0x16;

type Decision = 'stream' | 'hold' | 'overlong' | 'tls';

export class IrcLines implements LineReader<IrcLineEnd> {
  private readonly start = new CtcpLineStart();
  private decision: Decision = 'stream';
  /** The current line's first byte has been looked at (for `lines-with-ctcp-or-command`). */
  private begun = false;
  private readonly watched: ReadonlySet<number>;
  private readonly rule: (typeof LINE_READING)[Direction];

  constructor(
    private readonly ctx: IrcContext,
    private readonly direction: Direction,
  ) {
    this.watched = watchedFirstBytes(direction);
    this.rule = LINE_READING[direction];
  }

  beginLine(): void {
    this.start.reset();
    this.begun = false;
  }

  readStart(s: IrcStream, buf: Uint8Array, from: number, to: number): number {
    if (this.direction === 'client-to-server' && s.chunkBase + from === 0 && buf[from] === TLS_HANDSHAKE) {
      this.decision = 'tls';
      return from;
    }
    const reading = this.ctx.state.registered ? this.rule.afterRegistration : this.rule.beforeRegistration;
    if (reading === 'every-line') {
      this.decision = 'hold';
      return from;
    }
    if (reading === 'lines-with-ctcp-or-command' && !this.begun) {
      this.begun = true;
      const c = buf[from]!;
      const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
      if (!letter || this.watched.has(c)) {
        this.decision = 'hold';
        return from;
      }
    }
    const at = this.start.feed(s, buf, from, to, this.ctx.o.policy.maxLineLength);
    if (at >= 0) this.decision = this.start.decision;
    return at;
  }

  /**
   * After registration, server lines up to the chunk's last LF before its next \x01 need no look
   * each: they carry no \x01 and are within maxLineLength (line-start.ts). Only where nothing
   * waits for a line's end (the gateway's own lines would).
   */
  streamThrough(s: IrcStream, buf: Uint8Array, from: number, to: number): number {
    if (this.direction !== 'server-to-client' || !this.ctx.state.registered || this.ctx.state.localLines.length > 0) return -1;
    if (this.rule.afterRegistration !== 'lines-with-ctcp') return -1; // (the framer streams nothing where bare CRs are refused)
    return this.start.cleared(s, buf, from, to, this.ctx.o.policy.maxLineLength);
  }

  decide(s: IrcStream): LineMode {
    s.lineEnd = 'none';
    switch (this.decision) {
      case 'tls':
        // Nothing in it could be read or translated; there is no plain-text way to say so.
        this.ctx.framer.giveUp({ kind: 'owner', reason: 'the client speaks TLS: the gateway cannot read or translate IRC inside it', farewell: null });
        return 'closed';
      case 'hold':
        return 'hold';
      case 'overlong':
        // Longer than maxLineLength before its end: the framer finds it over-long and drops it.
        return 'whole';
      case 'stream':
        // (A direction that refuses bare CRs gets `whole` from the framer instead.)
        // The gateway's waiting lines go out after this one.
        if (this.direction === 'server-to-client' && this.ctx.state.localLines.length > 0) s.lineEnd = 'local-lines';
        return 'stream';
    }
  }

  lineEnded(s: IrcStream, note: IrcLineEnd): void {
    if (note === 'dropped') this.ctx.framer.edit(s, s.lineStart, s.inputOffset - s.lineStart, 0);
    drainLocalLines(this.ctx);
  }

  /** A line holding a bare CR was removed (rules.ts LINE_READING `bareCR`): tell the client. */
  bareCR(s: IrcStream, lineLength: number): void {
    this.ctx.framer.edit(s, s.lineStart, lineLength, 0);
    this.refused('IRC line', 'bare-cr', noticeLine(this.ctx, `Your line was dropped by the gateway: ${REFUSAL_TEXTS['bare-cr']}.`));
  }

  /** A line grew past maxLineLength: dropped to its end, and the client told. */
  overlong(s: IrcStream): void {
    const max = this.ctx.o.policy.maxLineLength;
    const client = this.direction === 'client-to-server';
    // A client line's removal is reported by the framer at its end; a server line's by us, and
    // the NOTICE follows it there (it cannot go into the middle of the server's stream).
    s.lineEnd = client ? 'drop' : 'dropped';
    const text = client
      ? `Your line of more than ${max} bytes was dropped by the gateway.`
      : `A line of more than ${max} bytes from the server was dropped by the gateway.`;
    this.refused('IRC line', 'line-too-long', noticeLine(this.ctx, text));
  }

  heldLine(s: IrcStream, buf: Uint8Array, from: number, to: number): void {
    const ctx = this.ctx;
    const view = buf.subarray(from, to);
    const plan = planLine(view, { o: ctx.o, offers: ctx.state.offers, sender: senderOf(this.direction), nick: ctx.state.nick });
    const message = plan.message;
    const effect = message === null ? 'none' : commandEffect(view, message, this.direction);
    if (effect === 'refuse-starttls') {
      ctx.framer.edit(s, s.lineStart, view.length, 0);
      this.refused('STARTTLS', 'starttls', starttlsRefusalLine(ctx, REFUSAL_TEXTS.starttls));
      return;
    }
    switch (plan.kind) {
      case 'pass':
        // Valid only during this call: a line in the hold buffer is copied, one in the chunk is a view.
        s.emit(buf === s.hold ? s.copyOf(buf, from, to) : view);
        break;
      case 'refuse':
        this.refuseLine(s, view, plan);
        return;
      case 'translate':
        if (plan.steps.some((st) => st.kind === 'channel')) this.block(s, s.copyOf(buf, from, to), plan.message, plan.steps);
        else this.rewrite(s, view, plan.steps, buf === s.hold);
        break;
    }
    if (message !== null) this.apply(effect, view, message);
    drainLocalLines(ctx);
  }

  // ---- carrying plans out ---------------------------------------------------------------------

  /** Drop the line and tell the client why. */
  private refuseLine(s: IrcStream, line: Uint8Array, plan: Extract<LinePlan, { kind: 'refuse' }>): void {
    this.ctx.framer.edit(s, s.lineStart, line.length, 0);
    this.refused(plan.what, plan.reason, noticeLine(this.ctx, refusalText(line, plan.message, plan.what, plan.reason, this.direction)));
  }

  private refused(command: string, reason: IrcRefusalReason, reply: string): void {
    this.ctx.events.push({ type: 'command-refused', command, reason, reply });
    queueLocalLine(this.ctx, reply);
  }

  /** A line rewritten without data channels (mapped ports, a hidden passive address), or passed. */
  private rewrite(s: IrcStream, line: Uint8Array, steps: readonly OfferStep[], copy: boolean): void {
    const { state, framer, events } = this.ctx;
    const ids = steps.map(() => 0);
    const out = rewriteLine(line, steps, ids, new Map(), (n) => s.claim(n));
    if (out === line) {
      s.emit(copy ? s.copyOf(line, 0, line.length) : line);
    } else {
      const edit = framer.replaceLine(s, s.lineStart, line.length, out);
      events.push({ type: 'line-translated', direction: this.direction, keyword: keywordOf(steps), before: lineText(line), after: lineText(out), edit });
      events.push({ type: 'edit', edit });
    }
    for (const id of recordOffers(state.offers, senderOf(this.direction), steps, ids, new Map())) {
      events.push({ type: 'data-channel-released', id, reason: 'retired by newer offers' });
    }
  }

  /** Ask for a data channel per offer and hold the line (the direction blocks) until answered. */
  private block(s: IrcStream, line: Uint8Array, message: IrcMessage, steps: readonly OfferStep[]): void {
    const { state, events } = this.ctx;
    const ids = steps.map((st) => (st.kind === 'channel' ? state.nextRequestId++ : 0));
    const h: HeldLine = { direction: this.direction, line, lineStart: s.lineStart, message, steps, ids, answers: new Map() };
    state.held[this.direction] = h;
    s.mode = 'blocked';
    const timeoutMs = this.ctx.o.policy.offerTimeoutMs;
    steps.forEach((st, k) => {
      if (st.kind !== 'channel') return;
      events.push({
        type: 'data-channel-request',
        request: {
          id: ids[k]!,
          connector: st.connector,
          acceptFrom: st.acceptFrom,
          original: st.original,
          target: st.original,
          family: st.family,
          oneShot: true,
          timeoutMs,
          label: st.label,
        },
      });
    });
  }

  /** What a command does to the session once its line has been read. */
  private apply(effect: CommandEffect, line: Uint8Array, message: IrcMessage): void {
    const state = this.ctx.state;
    switch (effect) {
      case 'registered':
        if (!state.registered) {
          state.registered = true;
          const nick = message.params[0];
          if (nick) state.nick = safeWord(latin1(line, nick.start, nick.end));
          this.ctx.events.push({ type: 'logged-in' });
        }
        return;
      case 'nick': {
        const nick = message.params[0];
        if (!nick) return;
        // The client's own NICK, or the server telling that the client's nick changed.
        if (this.direction === 'server-to-client') {
          const from = prefixNick(line, message);
          if (from === null || !equalsIgnoreCase(line, from.start, from.end, state.nick.toUpperCase())) return;
        }
        state.nick = safeWord(latin1(line, nick.start, nick.end));
        return;
      }
      case 'refuse-starttls':
      case 'none':
        return;
    }
  }
}

/** The command of a parsed line, as COMMAND_RULES names it, and its effect in `direction`. */
export function commandEffect(line: Uint8Array, message: IrcMessage, direction: Direction): CommandEffect {
  let command: IrcCommand = 'other';
  if (message.verb === 'NICK') command = 'NICK';
  else if (message.verb === 'numeric' && message.numeric === 1) command = '001';
  else if (message.verb === 'other' && equalsIgnoreCase(line, message.command.start, message.command.end, 'STARTTLS')) command = 'STARTTLS';
  return COMMAND_RULES[command][direction];
}

/** `line-translated` keyword: the first offer's verb. */
export function keywordOf(steps: readonly OfferStep[]): string {
  const first = steps[0];
  return first === undefined ? 'DCC' : `DCC ${first.offer.verb}`;
}

/** The NOTICE text of a refused line: what, to or from whom, and why. */
export function refusalText(line: Uint8Array, message: IrcMessage | null, what: string, reason: IrcRefusalReason, direction: Direction): string {
  let who = '';
  if (message !== null) {
    if (direction === 'client-to-server') {
      const target = message.params[0];
      if (target) who = ` to ${safeWord(latin1(line, target.start, target.end))}`;
    } else {
      const from = prefixNick(line, message);
      if (from !== null) who = ` from ${safeWord(latin1(line, from.start, from.end))}`;
    }
  }
  return `${what}${who} refused by the gateway: ${REFUSAL_TEXTS[reason]}.`;
}
