/**
 * The IRC DCC translator: one instance per IRC connection, sans-I/O, built only on the ALG
 * contract (alg/contract.ts). It owns the shared line framer (stream/line-framer.ts: how bytes
 * move), the session record (state.ts) and one line reader per direction (lines.ts), which apply
 * the rules written down as tables in rules.ts. The embedding answers its data-channel requests
 * (`resolveDataChannel`, `refuseDataChannel`), one per offer that needs a connection.
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import type { Direction } from '../stream/translator.js';
import type { AlgTranslator } from '../alg/contract.js';
import { LineFramer, checkTime, type GiveUpCause } from '../stream/line-framer.js';
import { PendingEvents } from '../stream/pending-events.js';
import { encodeUtf8 } from './bytes.js';
import { checkAnnounced, complete, lineText, recordOffers, refusalOf, rewriteLine, type HeldLine } from './held-lines.js';
import { IrcLines, keywordOf, refusalText } from './lines.js';
import { drainLocalLines, noticeLine } from './local-lines.js';
import { resolveIrcOptions, type ResolvedIrcOptions } from './policy.js';
import { LINE_READING, senderOf } from './rules.js';
import { initialIrcState, type IrcContext, type IrcLineEnd, type IrcState } from './state.js';
import type { IrcEvent, IrcTranslatorOptions } from './types.js';

export class IrcTranslator implements AlgTranslator {
  private readonly o: ResolvedIrcOptions;
  private readonly state: IrcState;
  private readonly events = new PendingEvents<IrcEvent>();
  private readonly framer: LineFramer<IrcLineEnd>;
  private readonly ctx: IrcContext;

  constructor(options: IrcTranslatorOptions) {
    const o = resolveIrcOptions(options);
    this.o = o;
    this.state = initialIrcState(o);
    // The readers and the framer refer to each other: the context gets the framer once it exists.
    this.ctx = { o, state: this.state, events: this.events, framer: undefined as unknown as LineFramer<IrcLineEnd> };
    const p = o.policy;
    this.framer = new LineFramer<IrcLineEnd>(
      {
        maxLineLength: p.maxLineLength,
        overlongLine: p.overlongLine,
        maxDiscardedBytes: p.maxDiscardedBytes,
        // rules.ts LINE_READING says why the client's bare CRs are refused and the server's not.
        refuseBareCR: {
          'client-to-server': LINE_READING['client-to-server'].bareCR === 'refuse',
          'server-to-client': LINE_READING['server-to-client'].bareCR === 'refuse',
        },
      },
      {
        client: new IrcLines(this.ctx, 'client-to-server'),
        server: new IrcLines(this.ctx, 'server-to-client'),
        plaintext: () => undefined, // IRC never turns to TLS here (STARTTLS is refused)
        ended: (s) => {
          if (s.direction !== 'server-to-client') return;
          // The server's last line was cut short: the gateway's lines start a line of their own.
          if (s.mode === 'stream') s.mode = 'line-start';
          s.lineEnd = 'none';
          drainLocalLines(this.ctx);
        },
        farewell: (cause) => encodeUtf8(`ERROR :${farewellText(cause)}\r\n`),
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

  pollEvent(): IrcEvent | null {
    return this.events.poll();
  }

  isBlocked(direction: Direction): boolean {
    return this.framer.isBlocked(direction);
  }

  /** The line timeout is the only timer: data channels' lifetimes are the embedding's (timeoutMs). */
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

  /** IRC through this translator is never encrypted (STARTTLS is refused, TLS from the start closes). */
  get opaque(): boolean {
    return false;
  }

  /** Registration has completed (the server's 001). */
  get registered(): boolean {
    return this.state.registered;
  }

  // ---- answers from the embedding ------------------------------------------------------------

  resolveDataChannel(id: number, announced: Endpoint): void {
    const h = this.find(id);
    const e = checkAnnounced(announced); // may throw: nothing changed yet
    h.answers.set(id, { announced: e });
    this.settle(h);
  }

  refuseDataChannel(id: number, reason = 'refused by the gateway'): void {
    const h = this.find(id);
    h.answers.set(id, { refused: String(reason) });
    this.settle(h);
  }

  /** The held line waiting for request `id`; NatAlgError('unknown-id') when there is none. */
  private find(id: number): HeldLine {
    for (const d of ['client-to-server', 'server-to-client'] as const) {
      const h = this.state.held[d];
      if (h !== null && h.ids.includes(id) && !h.answers.has(id)) return h;
    }
    throw new NatAlgError('unknown-id', `no pending data-channel request ${id}`);
  }

  /** Once every request of the held line is answered: the line goes out rewritten, or is refused. */
  private settle(h: HeldLine): void {
    if (!complete(h)) return;
    const { state, framer, events } = this;
    state.held[h.direction] = null;
    const s = framer.side(h.direction);
    framer.resume(s);
    const refused = refusalOf(h);
    if (refused === null) {
      const out = rewriteLine(h.line, h.steps, h.ids, h.answers, (n) => s.claim(n));
      const edit = framer.replaceLine(s, h.lineStart, h.line.length, out);
      events.push({ type: 'line-translated', direction: h.direction, keyword: keywordOf(h.steps), before: lineText(h.line), after: lineText(out), edit });
      events.push({ type: 'edit', edit });
      for (const id of h.ids) if (id !== 0) events.push({ type: 'data-channel-committed', id });
      for (const id of recordOffers(state.offers, senderOf(h.direction), h.steps, h.ids, h.answers)) {
        events.push({ type: 'data-channel-released', id, reason: 'retired by newer offers' });
      }
    } else {
      framer.edit(s, h.lineStart, h.line.length, 0);
      h.ids.forEach((id) => {
        const a = id === 0 ? undefined : h.answers.get(id);
        if (a !== undefined && 'announced' in a) events.push({ type: 'data-channel-released', id, reason: 'another offer of the line was refused' });
      });
      const what = keywordOf(h.steps);
      const reply = noticeLine(this.ctx, `${refusalText(h.line, h.message, what, 'mapping-refused', h.direction).slice(0, -1)} (${oneLine(refused)}).`);
      events.push({ type: 'command-refused', command: what, reason: 'mapping-refused', reply });
      state.localLines.push(encodeUtf8(reply + '\r\n'));
    }
    drainLocalLines(this.ctx);
  }
}

/** What the client is told (in an ERROR line) when the framer gives the connection up. */
function farewellText(cause: GiveUpCause): string {
  switch (cause.kind) {
    case 'overlong':
      return `Closing link: ${cause.direction === 'client-to-server' ? 'your' : 'a server'} line was longer than ${cause.maxLineLength} bytes`;
    case 'discarded':
      return 'Closing link: too many over-long lines';
    case 'line-timeout': {
      const seconds = Math.round(cause.timeoutMs / 100) / 10;
      return `Closing link: ${cause.direction === 'client-to-server' ? 'your' : 'a server'} line was not complete within ${seconds} s`;
    }
  }
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200);
}
