/**
 * The IRC translator's rules, in one place and as data: how each direction's lines are read,
 * what a command does when the gateway reads it, what each DCC verb does, and who connects to
 * whom for an offer from each side. The readers (lines.ts, offer-plan.ts) look things up here
 * rather than restating them; docs/irc.md shows these tables.
 *
 * CTCP (the 1994 and 2000s drafts) inside PRIVMSG and NOTICE; DCC as clients implement it
 * (mIRC, irssi, WeeChat, HexChat, KVIrc): SEND, CHAT, RESUME/ACCEPT, passive (reverse) DCC.
 */

import type { Direction } from '../stream/translator.js';
import type { DccKind } from './dcc-layout.js';
import type { OfferSender } from './policy.js';

/**
 * How the lines of a direction are read.
 * - `every-line`: each line is held whole (bounded) and read by the gateway.
 * - `lines-with-ctcp`: a line goes out as it comes unless it carries a \x01 (the only byte that
 *   starts a CTCP, and so a DCC offer, in any client's reading); such a line is held and read.
 * - `lines-with-ctcp-or-command`: the same, and a line is held too when its first byte could
 *   start a command of COMMAND_RULES with an effect in that direction (or is no letter: tags, a
 *   prefix, a blank), so that the gateway reads every such command.
 * Either way no line longer than maxLineLength passes.
 */
export type LineReading = 'every-line' | 'lines-with-ctcp' | 'lines-with-ctcp-or-command';

/**
 * The gateway reads every client line that may be NICK or STARTTLS, and every server line until
 * registration completes (001); after that, server lines (most of the traffic) only when they can
 * carry CTCP. (A server line begins with a prefix, so its command cannot be told from its first
 * byte: a NICK from the server is seen when the line is read for another reason.)
 */
export const LINE_READING: Readonly<Record<Direction, { readonly beforeRegistration: LineReading; readonly afterRegistration: LineReading }>> = Object.freeze({
  'client-to-server': { beforeRegistration: 'lines-with-ctcp-or-command', afterRegistration: 'lines-with-ctcp-or-command' },
  'server-to-client': { beforeRegistration: 'every-line', afterRegistration: 'lines-with-ctcp' },
});

/**
 * What a command does when the gateway reads its line (besides the DCC offers in it, which every
 * held line is read for).
 * - `registered`: registration is complete; the first parameter is the client's nick.
 * - `nick`: the client's nick changes (its own NICK command, or the server's NICK from it).
 * - `refuse-starttls`: answered 691 by the gateway and not forwarded: a TLS connection could not
 *   be read, and its offers not translated.
 */
export type CommandEffect = 'none' | 'registered' | 'nick' | 'refuse-starttls';

/** The commands the translator reacts to; `other` is every other command. */
export type IrcCommand = 'NICK' | '001' | 'STARTTLS' | 'other';

export const COMMAND_RULES: Readonly<Record<IrcCommand, Readonly<Record<Direction, CommandEffect>>>> = Object.freeze({
  NICK: { 'client-to-server': 'nick', 'server-to-client': 'nick' },
  '001': { 'client-to-server': 'none', 'server-to-client': 'registered' },
  STARTTLS: { 'client-to-server': 'refuse-starttls', 'server-to-client': 'none' },
  other: { 'client-to-server': 'none', 'server-to-client': 'none' },
});

/**
 * What a DCC verb does.
 * - `offer`: an endpoint to connect to; checked under the policy and given a data channel, or,
 *   passive (port 0 and a token), passed with the offerer's address hidden (OFFER_RULES).
 * - `port-of-their-offer`: RESUME names the port of an offer the other side made, as announced
 *   to this side: mapped back to the port the offerer named.
 * - `port-of-own-offer`: ACCEPT names the port of an offer this side made, as it named it:
 *   mapped to the port announced to the other side.
 * - `refuse`: a verb the gateway does not translate (it may carry an endpoint the gateway cannot
 *   read); the line is refused. REJECT carries none and passes (PASSING_OTHER_VERBS).
 */
export type DccAction = 'offer' | 'port-of-their-offer' | 'port-of-own-offer' | 'refuse';

export const DCC_RULES: Readonly<Record<DccKind, DccAction>> = Object.freeze({
  send: 'offer',
  chat: 'offer',
  resume: 'port-of-their-offer',
  accept: 'port-of-own-offer',
  other: 'refuse',
});

/**
 * The bytes (upper and lower case) a command with an effect in `direction` begins with: a line
 * of `lines-with-ctcp-or-command` starting with one of them, or with no letter at all, is held.
 */
export function watchedFirstBytes(direction: Direction): ReadonlySet<number> {
  const out = new Set<number>();
  for (const [command, effects] of Object.entries(COMMAND_RULES)) {
    if (command === 'other' || effects[direction] === 'none') continue;
    const c = command.charCodeAt(0);
    out.add(c);
    if (c >= 0x41 && c <= 0x5a) out.add(c + 0x20);
  }
  return out;
}

/** Verbs without a layout (dcc-layout.ts) that carry no endpoint and pass unchanged. */
export const PASSING_OTHER_VERBS: ReadonlySet<string> = new Set(['REJECT']);

/**
 * For an offer from each side: which peer opens the data connection (the relay listens facing
 * it), who may connect, where the announced address must be reachable from, and what a passive
 * offer (port 0, the other side is asked to listen) gets.
 *
 * From the client: anyone on the server's side may accept (the gateway cannot know the receiving
 * user's address), and the gateway connects to the client's own endpoint. From outside: a client
 * behind the gateway may have no route out, so the gateway carries these too: only the client
 * may connect to the announced endpoint, and the gateway connects to the offered one (never an
 * address of its own or loopback, checked in policy.ts). A passive offer from the client names
 * no listener, but its address would carry the client's inside address out: the gateway's
 * address replaces it. A passive offer from outside needs nothing: the client answers it with
 * an offer of its own, translated like any other.
 */
export interface OfferRule {
  readonly connector: 'client' | 'server';
  readonly acceptFrom: 'anyone' | 'client';
  /** Whose family the announced endpoint is in: the side that reads the line. */
  readonly announceTo: 'client' | 'server';
  readonly passive: 'hide-address' | 'pass';
}

export const OFFER_RULES: Readonly<Record<OfferSender, OfferRule>> = Object.freeze({
  client: { connector: 'server', acceptFrom: 'anyone', announceTo: 'server', passive: 'hide-address' },
  server: { connector: 'client', acceptFrom: 'client', announceTo: 'client', passive: 'pass' },
});

/** The side that sends in `direction`. */
export function senderOf(direction: Direction): OfferSender {
  return direction === 'client-to-server' ? 'client' : 'server';
}
