/**
 * The FTP control-channel translator: one instance per control connection, sans-I/O. It owns a
 * line framer (stream/line-framer.ts: how bytes move), the session record (state.ts) and the two
 * line readers (command-lines.ts, reply-lines.ts), which apply the rules written down as tables in
 * rules.ts. The embedding answers its data-channel requests (`resolveDataChannel`,
 * `refuseDataChannel`).
 */

import type { Endpoint } from '../net/ip.js';
import type { Direction, StreamTranslator } from '../stream/translator.js';
import type { AlgTranslator } from '../alg/contract.js';
import { LineFramer, checkTime, type GiveUpCause } from '../stream/line-framer.js';
import { PendingEvents } from '../stream/pending-events.js';
import { resolveOptions, type ResolvedOptions } from './policy.js';
import { initialState, type FtpState } from './state.js';
import { CommandLines } from './command-lines.js';
import { ReplyLines } from './reply-lines.js';
import { completeReply, drain, plaintext, serverEnded, tlsApplicationData, type FtpContext, type FtpLineEnd } from './session.js';
import { keywordOf, rewriteHeld } from './data-channel-requests.js';
import { ascii, replyText } from './text.js';
import type { FtpEvent, FtpTranslatorOptions } from './types.js';

export { MAX_PENDING_COMMANDS } from './session.js';

export class FtpTranslator implements StreamTranslator<FtpEvent>, AlgTranslator {
  private readonly o: ResolvedOptions;
  private readonly state: FtpState;
  private readonly events = new PendingEvents<FtpEvent>();
  private readonly framer: LineFramer<FtpLineEnd>;
  private readonly ctx: FtpContext;
  private readonly commands: CommandLines;
  private readonly replies: ReplyLines;

  constructor(options: FtpTranslatorOptions) {
    const o = resolveOptions(options);
    this.o = o;
    this.state = initialState(o);
    // The readers and the framer refer to each other: the context gets the framer once it exists.
    this.ctx = { o, state: this.state, events: this.events, framer: undefined as unknown as LineFramer<FtpLineEnd> };
    this.commands = new CommandLines(this.ctx);
    this.replies = new ReplyLines(this.ctx);
    const p = o.policy;
    this.framer = new LineFramer<FtpLineEnd>(
      {
        maxLineLength: p.maxLineLength,
        overlongLine: p.overlongLine,
        maxDiscardedBytes: p.maxDiscardedBytes,
        // A command line must not carry a bare CR (some servers end a command there); a reply is
        // not the gateway's to judge.
        refuseBareCR: { 'client-to-server': true, 'server-to-client': false },
      },
      {
        client: this.commands,
        server: this.replies,
        plaintext: () => plaintext(this.ctx),
        applicationData: (s) => tlsApplicationData(this.ctx, s.direction),
        ended: (s) => {
          if (s.direction === 'server-to-client') serverEnded(this.ctx);
        },
        farewell: (cause) => ascii(`421 ${farewellText(cause)}\r\n`),
      },
      this.events,
    );
    this.ctx.framer = this.framer;
  }

  // ---- StreamTranslator -----------------------------------------------------------------------

  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number {
    return this.framer.handleData(direction, bytes, nowMs);
  }

  handleEnd(direction: Direction, nowMs: number): void {
    this.framer.handleEnd(direction, nowMs);
  }

  pollOutput(direction: Direction): Uint8Array | null {
    return this.framer.pollOutput(direction);
  }

  pollEvent(): FtpEvent | null {
    return this.events.poll();
  }

  isBlocked(direction: Direction): boolean {
    return this.framer.isBlocked(direction);
  }

  /**
   * The line timeout is the only timer (policy lineTimeoutMs): mapping lifetimes belong to the
   * embedding's mapping table, idle connections to its idle timer (`lastActivityMs`).
   */
  pollTimeout(): number | null {
    return this.framer.lineDeadline(this.o.policy.lineTimeoutMs);
  }

  handleTimeout(nowMs: number): void {
    checkTime(nowMs);
    this.framer.checkLineTimeout(nowMs, this.o.policy.lineTimeoutMs);
  }

  get lastActivityMs(): number | null {
    return this.framer.lastActivityMs;
  }

  /** The control channel is (partly) encrypted: nothing in it can be read or written by the gateway. */
  get opaque(): boolean {
    return this.state.tls;
  }

  /** The same as `opaque`, by FTP's name for it. */
  get tlsActive(): boolean {
    return this.state.tls;
  }

  // ---- answers from the embedding ------------------------------------------------------------

  resolveDataChannel(id: number, replacement: Endpoint): void {
    const { requests } = this.state;
    const h = requests.find(id);
    const { after, out } = rewriteHeld(h, replacement, this.state.ftp64); // may throw: nothing changed yet
    requests.release(h);
    const s = this.framer.side(h.direction);
    const edit = this.framer.replaceLine(s, h.lineStart, h.lineLength, out);
    this.events.push({ type: 'line-translated', direction: h.direction, keyword: keywordOf(h), before: h.text, after, edit });
    this.events.push({ type: 'edit', edit });
    this.framer.resume(s);
    if (h.direction === 'client-to-server') {
      this.state.pending.replaceNewest({ kind: 'active', id });
    } else {
      requests.outstanding--;
      requests.current = id;
      this.events.push({ type: 'data-channel-committed', id });
      if (h.last) completeReply(this.ctx, h.code);
    }
  }

  refuseDataChannel(id: number, reason = 'refused by the gateway'): void {
    const { requests } = this.state;
    const h = requests.find(id);
    requests.release(h);
    requests.outstanding--;
    const why = replyText(String(reason));
    const s = this.framer.side(h.direction);
    this.framer.resume(s);
    if (h.direction === 'client-to-server') {
      const reply = `425 Cannot open data connection (${why}).`;
      this.framer.edit(s, h.lineStart, h.lineLength, 0);
      this.state.pending.replaceNewest({ kind: 'local', bytes: ascii(reply + '\r\n') });
      this.events.push({ type: 'command-refused', command: h.verb, reason: 'mapping-refused', reply });
      drain(this.ctx);
    } else {
      const reply = this.replies.replace(s, h.text, h.lineLength, h.eol, h.first, h.last, why, h.format, h.lineStart);
      this.events.push({ type: 'command-refused', command: h.request.command, reason: 'mapping-refused', reply });
      if (h.last) completeReply(this.ctx, h.code);
    }
  }
}

/** What the client is told when the framer gives the connection up. */
function farewellText(cause: GiveUpCause): string {
  switch (cause.kind) {
    case 'overlong':
      return `${cause.direction === 'client-to-server' ? 'Command' : 'Reply'} line too long, closing control connection.`;
    case 'discarded':
      return 'Too many over-long lines, closing control connection.';
    case 'line-timeout': {
      const seconds = Math.round(cause.timeoutMs / 100) / 10;
      return `${cause.direction === 'client-to-server' ? 'Command' : 'Reply'} line not complete within ${seconds} s, closing control connection.`;
    }
  }
}
