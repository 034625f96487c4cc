/**
 * What happens to the FTP session (state.ts) as commands go out and replies complete, and the
 * gateway's own replies: the operations both readers (command-lines.ts, reply-lines.ts) share.
 * What each command and each final reply does is looked up in rules.ts; this file carries it out.
 *
 * Pairing: every command line that goes out gets an entry in the pending queue; the next final
 * reply (2xx-5xx) answers the oldest entry. A local reply (a refusal, an FTP64 answer) waits in
 * the queue and goes out when it reaches the head, while the server direction is between replies.
 */

import type { Direction } from '../stream/translator.js';
import type { LineFramer } from '../stream/line-framer.js';
import type { DirectionStream } from '../stream/direction-stream.js';
import type { PendingEvents } from '../stream/pending-events.js';
import { TlsRecordFollower } from '../stream/tls-records.js';
import { plainEntry, type PendingEntry } from './pending.js';
import { commandRule, finalReplyRule, type ReplyEffect } from './rules.js';
import { REFUSAL_REPLIES, type ResolvedOptions } from './policy.js';
import type { HeldLine } from './data-channel-requests.js';
import type { FtpState } from './state.js';
import { ascii } from './text.js';
import type { FtpEvent, RefusalReason } from './types.js';
import type { Verb } from './verb.js';

/**
 * What the end of a line must do (DirectionStream.lineEnd, besides the framer's `none`/`drop`):
 * - `command`: a command line went out whole: it now awaits its reply (commandSent).
 * - `reply-end`: the last line of a reply went out: pair it (completeReply).
 * - `drop-reply`: an over-long reply line already replaced: report the removal of its input.
 */
export type FtpLineEnd = 'command' | 'reply-end' | 'drop-reply';

export type FtpStream = DirectionStream<FtpLineEnd>;

/**
 * What the rules work on: the options, the session record, the framer and the event queue. The
 * translator builds it before its framer (the framer needs the readers, the readers the context)
 * and sets `framer` right after.
 */
export interface FtpContext {
  readonly o: ResolvedOptions;
  readonly state: FtpState;
  framer: LineFramer<FtpLineEnd>;
  readonly events: PendingEvents<FtpEvent>;
}

/**
 * Commands the client may send without waiting for replies before the gateway gives up on the
 * connection: far beyond any real pipelining, small enough that the queue stays a few KiB.
 */
export const MAX_PENDING_COMMANDS = 512;

// ---- pairing ----------------------------------------------------------------------------------

/** A command line that passes went out whole: it now awaits its reply. AUTH waits for it. */
export function commandSent(ctx: FtpContext, s: FtpStream, verb: Verb): void {
  const rule = commandRule(verb);
  ctx.state.pending.push(plainEntry(rule.awaits === 'active' ? 'other' : rule.awaits));
  if (rule.waitsForReply && !s.ended) {
    ctx.state.authWait = true;
    s.mode = 'blocked';
  }
}

/** The last line of a reply went out: pair it with its command and apply the effects. */
export function completeReply(ctx: FtpContext, code: number): void {
  const { state } = ctx;
  if ((code === 230 || code === 232) && !state.loggedIn) {
    state.loggedIn = true;
    ctx.events.push({ type: 'logged-in' });
  }
  if (code >= 200 && code < 600) {
    const head = state.pending.peek();
    const rule = head === null ? null : finalReplyRule(head.kind);
    if (head !== null && rule !== null && rule.answered) {
      state.pending.shift();
      apply(ctx, code < 300 ? rule.positive : rule.negative, head, code);
    } else if (unpairedReply(ctx, code)) return;
  }
  drain(ctx);
}

/**
 * A final reply that answers no command the gateway forwarded: the server read more commands
 * than the gateway saw (a server that splits lines where the gateway does not), or it speaks out
 * of turn. Pairing may be off from here, which is harmless for every reply but one: a 234 means
 * the server has begun TLS on an AUTH the gateway never saw, after which the client could send it
 * commands the gateway cannot read. That connection is closed; others are reported. Returns true
 * when the connection is given up.
 */
function unpairedReply(ctx: FtpContext, code: number): boolean {
  ctx.events.push({ type: 'protocol-error', direction: 'server-to-client', message: `${code} reply to no command` });
  if (code !== 234) return false;
  ctx.framer.giveUp({
    kind: 'owner',
    reason: 'the server started TLS on a command the gateway never saw',
    farewell: ascii('421 Unexpected TLS negotiation, closing control connection.\r\n'),
  });
  return true;
}

function apply(ctx: FtpContext, effect: ReplyEffect, entry: PendingEntry, code: number): void {
  const { state } = ctx;
  switch (effect) {
    case 'none':
      return;
    case 'commit-mapping':
    case 'release-mapping': {
      const id = entry.kind === 'active' ? entry.id : 0;
      state.requests.outstanding--;
      if (effect === 'commit-mapping') {
        state.requests.current = id;
        ctx.events.push({ type: 'data-channel-committed', id });
      } else {
        ctx.events.push({ type: 'data-channel-released', id, reason: `server replied ${code}` });
      }
      return;
    }
    case 'tls-if-234':
      if (code === 234) startTls(ctx);
      else resumeClient(ctx);
      return;
    case 'resume-client':
      resumeClient(ctx);
      return;
    case 'epsv-only':
      state.epsvAll = true;
      return;
    case 'reinitialize':
      reinitialize(ctx);
      return;
  }
}

function resumeClient(ctx: FtpContext): void {
  if (!ctx.state.authWait) return;
  ctx.state.authWait = false;
  ctx.framer.resume(ctx.framer.c2s);
}

/** 234 to AUTH: both directions are TLS (the server's after the 234 line, the client's after AUTH). */
function startTls(ctx: FtpContext): void {
  const { state, framer } = ctx;
  framer.s2c.mode = 'tls';
  framer.s2c.tls = new TlsRecordFollower();
  if (state.authWait) {
    state.authWait = false;
    framer.c2s.mode = 'tls';
    framer.c2s.tls = new TlsRecordFollower();
  }
  if (!state.tls) {
    state.tls = true;
    state.tlsData['client-to-server'] = false;
    state.tlsData['server-to-client'] = false;
    ctx.events.push({ type: 'tls-started' });
  }
}

/**
 * The first application-data record of a TLS stretch in `direction`. Once both directions have
 * carried one, the handshake is over: the embedding may stop waiting for it (a relay's login
 * budget), though the login inside stays unseen.
 */
export function tlsApplicationData(ctx: FtpContext, direction: Direction): void {
  const { state } = ctx;
  if (!state.tls || state.tlsData[direction]) return;
  state.tlsData[direction] = true;
  if (state.tlsData['client-to-server'] && state.tlsData['server-to-client']) ctx.events.push({ type: 'tls-established' });
}

/** A direction left TLS at a record boundary (after CCC); TLS has ended once both have. */
export function plaintext(ctx: FtpContext): void {
  const { framer, state } = ctx;
  if (framer.c2s.mode !== 'tls' && framer.s2c.mode !== 'tls' && state.tls) {
    state.tls = false;
    ctx.events.push({ type: 'tls-ended' });
  }
}

/**
 * REIN answered 2xx: the session starts over (RFC 959 4.1.1) and the server forgets its data
 * port: the latest committed mapping is released (a transfer already running may finish).
 * Every PORT sent before the REIN was answered before the REIN's own reply, so nothing else
 * of the old session is outstanding.
 */
function reinitialize(ctx: FtpContext): void {
  const { state } = ctx;
  state.epsvAll = false;
  state.ftp64 = ctx.o.ftp64;
  const current = state.requests.current;
  if (current !== 0) {
    ctx.events.push({ type: 'data-channel-released', id: current, reason: 'REIN' });
    state.requests.current = 0;
  }
}

// ---- data-channel requests --------------------------------------------------------------------

/** Hold a line for the embedding's answer; the direction consumes nothing until then. */
export function block(ctx: FtpContext, s: FtpStream, h: HeldLine): void {
  ctx.state.requests.hold(h);
  s.mode = 'blocked';
  ctx.events.push({ type: 'data-channel-request', request: h.request });
}

// ---- local replies ----------------------------------------------------------------------------

/** Refuse a held client line: it is removed and the client gets `reply` in its turn. */
export function refuseLine(ctx: FtpContext, lineLength: number, command: string, reason: RefusalReason, reply = REFUSAL_REPLIES[reason]): void {
  const c2s = ctx.framer.c2s;
  ctx.events.push({ type: 'command-refused', command, reason, reply });
  ctx.framer.edit(c2s, c2s.lineStart, lineLength, 0);
  queueLocal(ctx, reply);
}

/** Refuse a client line whose bytes are being discarded (the removal edit comes at its LF). */
export function refuseLocal(ctx: FtpContext, reason: RefusalReason, command: string, reply: string): void {
  ctx.events.push({ type: 'command-refused', command, reason, reply });
  queueLocal(ctx, reply);
}

export function queueLocal(ctx: FtpContext, reply: string): void {
  ctx.state.pending.push({ kind: 'local', bytes: ascii(reply + '\r\n') });
  drain(ctx);
}

/** Send local replies that reached the queue head, when the client side is between replies. */
export function drain(ctx: FtpContext): void {
  const { state, framer } = ctx;
  if (framer.s2c.ended) forgetUnanswered(ctx);
  const s = framer.s2c;
  let head = state.pending.peek();
  if (head === null || head.kind !== 'local') return; // the usual case: nothing local to send
  while (head !== null && head.kind === 'local' && s.mode === 'line-start' && s.holdLength === 0 && state.reply.openCode < 0) {
    state.pending.shift();
    framer.insertLine(s, head.bytes);
    head = state.pending.peek();
  }
  // Held up by a server line that is no reply (outside any reply, nothing ends on it): go out at
  // its end rather than wait for the server's next reply, which may never come.
  if (head !== null && head.kind === 'local' && s.mode === 'stream' && state.reply.openCode < 0 && s.lineEnd === 'none') {
    s.lineEnd = 'reply-end';
  }
}

/**
 * The server's stream ended: no reply will come any more. The line it left unfinished is over
 * (a reply cut short never completes), commands still waiting for a reply will never get one,
 * and local replies go out at once from now on (drain).
 */
export function serverEnded(ctx: FtpContext): void {
  const s = ctx.framer.s2c;
  if (s.mode === 'stream') s.mode = 'line-start';
  if (s.mode === 'line-start') {
    s.lineEnd = 'none';
    ctx.state.reply.openCode = -1;
  }
  drain(ctx);
}

/** After the server's end: drop the commands at the queue head that can never be answered. */
function forgetUnanswered(ctx: FtpContext): void {
  const { state } = ctx;
  for (let head = state.pending.peek(); head !== null && finalReplyRule(head.kind).answered; head = state.pending.peek()) {
    if (head.kind === 'active') {
      state.requests.outstanding--;
      ctx.events.push({ type: 'data-channel-released', id: head.id, reason: 'server closed the connection' });
    } else if (head.kind === 'auth') {
      resumeClient(ctx); // no 234 can come: the client side reads plain commands again
    }
    state.pending.shift();
  }
}
