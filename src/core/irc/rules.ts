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
 * What a line holding a bare CR (a CR not followed by LF) gets.
 * - `refuse`: dropped, with a NOTICE and a `command-refused` event. Every line of the direction
 *   goes out only once complete (lines that are not held go out whole), so that none escapes.
 * - `pass`: like any other byte.
 */
export type BareCRRule = 'refuse' | 'pass';

export interface DirectionReading {
  readonly beforeRegistration: LineReading;
  readonly afterRegistration: LineReading;
  readonly bareCR: BareCRRule;
}

/**
 * The gateway reads every client line that may be NICK or STARTTLS, and every server line until
 * registration completes (001); after that, server lines (most of the traffic) only when they can
 * carry CTCP. (A server line begins with a prefix, so its command cannot be told from its first
 * byte: a NICK from the server is seen when the line is read for another reason.)
 *
 * A client line with a bare CR is refused: servers of the irc2 family (and UnrealIRCd, and
 * ngircd) end a message at a CR alone, so `PING x\rSTARTTLS\r\n` is two commands to them and
 * one to a reader that splits at LF: the second would escape the reading above. Clients end
 * lines with CR LF and never send a CR inside one (irssi, WeeChat, HexChat, KVIrc and mIRC split
 * or strip what the user types at CR and LF), so refusing costs no real client anything. (A CR
 * followed by NUL is no bare CR to the shared framer, as in FTP; what follows it reaches such a
 * server as a message beginning with NUL, where C servers stop reading: message.ts.) From
 * the server, a bare CR passes: no command the gateway acts on hides behind one (a NICK seen
 * late only aims the gateway's NOTICEs at an old nick), and a line with \x01 is read strictly.
 */
export const LINE_READING: Readonly<Record<Direction, DirectionReading>> = Object.freeze({
  'client-to-server': { beforeRegistration: 'lines-with-ctcp-or-command', afterRegistration: 'lines-with-ctcp-or-command', bareCR: 'refuse' },
  'server-to-client': { beforeRegistration: 'every-line', afterRegistration: 'lines-with-ctcp', bareCR: 'pass' },
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

/**
 * The CTCP tags real clients hand to their DCC parser, as the lenient reading (lenient.ts) finds
 * them: after a \x01 and any blanks, `tag` in any case, followed by no letter or digit
 * (`no-alnum`) or by anything (`anything`). What the gateway does with the place:
 * - `offer`: it must be an offer the strict reader (dcc.ts) read in a PRIVMSG or NOTICE text,
 *   translated or refused under the rules above; otherwise the line is refused. Only the tag
 *   `DCC` itself: the form every client writes, and the only one the gateway rewrites.
 * - `refuse-endpoint`: a tag some clients read as DCC but none writes for a DCC the gateway could
 *   translate: the line is refused if any lenient reading finds an endpoint in the place's words,
 *   and passes otherwise (XDCC bot commands such as `XDCC SEND #5` name none).
 * The first matching row decides.
 */
export type DccTagAction = 'offer' | 'refuse-endpoint';

export interface DccTagRule {
  readonly tag: string;
  readonly followedBy: 'no-alnum' | 'anything';
  readonly action: DccTagAction;
  /** Who reads the tag as DCC. */
  readonly readers: string;
}

export const DCC_TAG_RULES: readonly DccTagRule[] = Object.freeze([
  { tag: 'DCC', followedBy: 'no-alnum', action: 'offer', readers: 'every client; nf_conntrack_irc' },
  { tag: 'TDCC', followedBy: 'no-alnum', action: 'refuse-endpoint', readers: 'KVIrc (its parse table sends TDCC to the DCC parser)' },
  { tag: 'XDCC', followedBy: 'no-alnum', action: 'refuse-endpoint', readers: 'KVIrc (likewise XDCC)' },
  { tag: 'DCC', followedBy: 'anything', action: 'refuse-endpoint', readers: 'HexChat (any CTCP whose first three bytes are DCC)' },
]);

/**
 * The ways a real client splits a DCC's words and picks its address and port, all of which the
 * lenient reading (lenient.ts) tries. An offer the gateway translates must give no endpoint in
 * any of them but the strict one (dcc.ts) or another offer of the line's strict one; a
 * `refuse-endpoint` place (DCC_TAG_RULES) must give none at all.
 * - `left`: words split at blanks, the 2nd and 3rd after the verb (sscanf `%s %s %s`: mIRC-era
 *   clients, nf_conntrack_irc; HexChat's word[7], word[8]).
 * - `after-quote`: the two words after the closing quote of a quoted filename.
 * - `right`: from the right, the address and port followed by 0, 1 or 2 optional fields (size,
 *   token), where that puts the address before the strict address (a client expecting fewer
 *   optional fields only shifts the strict ones: the offer format itself, with or without a
 *   gateway).
 * - `leftmost-triple`: irssi: the leftmost three words, the first not the filename's first,
 *   that are an address (digits, or IPv6 text), a port (digits below 65536) and a size (digits).
 * - `escaped-blanks`: KVIrc: a backslash escapes the next byte, so `a\ b` is one word; then as
 *   `left`. A backslash in the address or port word it picks counts as an endpoint (KVIrc decodes
 *   escapes the gateway does not model).
 * - `to-last-ctcp-byte`: WeeChat: the CTCP runs to the LAST \x01 of the line, its words split at
 *   each single space (a trailing space gives an empty last word) and read from the right: SEND's
 *   address and port are the 3rd and 2nd words from the end, CHAT's the 2nd and last.
 */
export type LenientReading = 'left' | 'after-quote' | 'right' | 'leftmost-triple' | 'escaped-blanks' | 'to-last-ctcp-byte';

export const LENIENT_READINGS: readonly LenientReading[] = Object.freeze(['left', 'after-quote', 'right', 'leftmost-triple', 'escaped-blanks', 'to-last-ctcp-byte']);
