/**
 * The gateway's own lines to the client (a NOTICE saying why a line was refused, 691 to
 * STARTTLS), and when they may go out: only where the server's stream is between lines, so a
 * local line never lands inside a server line. Until then they wait, in order; the server
 * line being read ends with a `local-lines` mark that sends them.
 */

import { encodeUtf8 } from './bytes.js';
import type { IrcContext } from './state.js';

/** Longest peer-supplied word (a nick) quoted in a local line. */
const MAX_QUOTED_WORD = 64;

/**
 * A peer's word made safe for a line of ours: no control bytes (a \x01 would make a CTCP of the
 * NOTICE), no spaces, bounded.
 */
export function safeWord(word: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = word.replace(/[\x00-\x20\x7f]+/g, '');
  return clean.length === 0 ? '*' : clean.slice(0, MAX_QUOTED_WORD);
}

/** `:sender NOTICE nick :text` (without line end), to the client. */
export function noticeLine(ctx: IrcContext, text: string): string {
  // eslint-disable-next-line no-control-regex
  return `:${ctx.o.policy.noticeSender} NOTICE ${safeWord(ctx.state.nick)} :${text.replace(/[\x00-\x1f\x7f]+/g, ' ')}`;
}

/** `:sender 691 nick :text` (ERR_STARTTLS), to the client. */
export function starttlsRefusalLine(ctx: IrcContext, text: string): string {
  return `:${ctx.o.policy.noticeSender} 691 ${safeWord(ctx.state.nick)} :${text}`;
}

/** Queue a line (without line end) for the client and send what can go now. */
export function queueLocalLine(ctx: IrcContext, line: string): void {
  ctx.state.localLines.push(encodeUtf8(line + '\r\n'));
  drainLocalLines(ctx);
}

/** Send waiting local lines if the server's stream is between lines; else mark the line's end. */
export function drainLocalLines(ctx: IrcContext): void {
  const q = ctx.state.localLines;
  if (q.length === 0) return;
  const s = ctx.framer.s2c;
  switch (s.mode) {
    case 'closed':
    case 'opaque':
    case 'tls':
      q.length = 0; // nothing can be written into this stream any more
      return;
    case 'line-start':
      if (s.holdLength > 0) return; // the next line's first bytes are held: after that line
      for (const line of q) ctx.framer.insertLine(s, line);
      q.length = 0;
      return;
    case 'stream':
      if (s.lineEnd === 'none') s.lineEnd = 'local-lines';
      return;
    case 'whole':
    case 'hold':
    case 'discard':
    case 'blocked':
      return; // sent once that line is done (lines.ts, the translator's answers)
  }
}
