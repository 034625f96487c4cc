/**
 * One IRC message line, `[@tags ][:prefix ]COMMAND[ params...][ :trailing]` and its line end,
 * located as byte offsets into the caller's bytes (nothing is copied or decoded). Framing (where
 * a line ends in a stream) is the caller's business; this reads one line it has already cut.
 *
 * Bounds, decided here and named below:
 * - The message proper (prefix, command, parameters) is at most 510 bytes, 512 with its CR LF
 *   (RFC 1459 2.3, RFC 2812 2.3). Servers disagree on longer lines (ngircd answers `ERROR
 *   :Request too long` and closes, others truncate), so a longer one is a fault, never read past
 *   the bound.
 * - The IRCv3 tags section before it is at most 8191 bytes including its `@` and the space that
 *   ends it (IRCv3 message-tags: the most a server may send; clients may send at most 4096).
 * - At most 15 parameters (RFC 2812): after 14 middle parameters the rest of the line is the 15th,
 *   with or without its colon.
 *
 * Leniency, matching what servers accept: a line may end in CR LF, a bare LF or a bare CR (or
 * nothing, when the caller has already removed the end); leading spaces and runs of spaces between
 * words are skipped (ngircd and most servers do so). Refused, because a server and a peer could
 * read such a line differently: NUL (C servers stop reading there; ngircd 26.1 delivered nothing
 * more from a client after one), a CR or LF inside the line (ngircd ends a line at a bare CR, so
 * `a\rb` is two messages to it), a command that is neither letters nor three digits (a tab is no
 * separator: ngircd answers `PRIVMSG\tbob` with 421). The work is one pass over at most the
 * bounds above.
 */

import { NatAlgError } from '../errors.js';
import { allLetters, equalsIgnoreCase } from './bytes.js';
import type { Span } from './span.js';

/** RFC 1459/2812: a message with its CR LF is at most 512 bytes. */
export const MAX_MESSAGE_BYTES = 512;
/** IRCv3 message-tags: the tags section with its `@` and final space is at most 8191 bytes. */
export const MAX_TAGS_BYTES = 8191;
/** RFC 2812: at most 15 parameters (14 middle ones and one trailing). */
export const MAX_PARAMS = 15;

export type LineEnd = 'crlf' | 'lf' | 'cr' | 'none';

/**
 * Commands an IRC ALG looks at by name; every other word command is 'other' and a three-digit
 * command is 'numeric' (its number in `IrcMessage.numeric`).
 */
export type IrcVerb =
  | 'PRIVMSG' | 'NOTICE' | 'PING' | 'PONG' | 'NICK' | 'USER' | 'PASS' | 'CAP' | 'QUIT' | 'ERROR'
  | 'JOIN' | 'PART' | 'MODE' | 'numeric' | 'other';

const NAMED_VERBS: readonly Exclude<IrcVerb, 'numeric' | 'other'>[] = [
  'PRIVMSG', 'NOTICE', 'PING', 'PONG', 'NICK', 'USER', 'PASS', 'CAP', 'QUIT', 'ERROR', 'JOIN', 'PART', 'MODE',
];

export type MessageFault =
  | 'empty' // nothing but spaces (servers ignore such lines)
  | 'too-long' // the message proper is longer than the bound
  | 'tags-too-long' // the tags section is longer than its bound
  | 'nul' // a NUL byte in the line
  | 'cr-inside' // a CR that does not end the line
  | 'lf-inside' // an LF that does not end the line: the caller passed more than one line
  | 'bad-tags' // `@` with nothing after it
  | 'bad-prefix' // `:` with nothing after it
  | 'no-command' // tags or a prefix and then nothing
  | 'bad-command'; // a command that is neither letters nor exactly three digits

export interface IrcMessage {
  readonly ok: true;
  /** Index where the line end begins (the end of the message text). */
  readonly end: number;
  readonly lineEnd: LineEnd;
  /** The tags without the leading `@` and the space after them. */
  readonly tags: Span | null;
  /** The prefix without its leading `:`. */
  readonly prefix: Span | null;
  readonly command: Span;
  readonly verb: IrcVerb;
  /** 0-999 when `verb` is 'numeric', otherwise -1. */
  readonly numeric: number;
  /** Every parameter; the trailing one without its `:`. */
  readonly params: readonly Span[];
  /** Whether the last parameter was introduced by `:` (and may therefore hold spaces). */
  readonly trailing: boolean;
}

export type MessageResult = IrcMessage | { readonly ok: false; readonly reason: MessageFault };

export interface MessageOptions {
  /** Bound on the message proper including a two-byte line end; default MAX_MESSAGE_BYTES. */
  readonly maxMessageBytes?: number;
  /** Bound on the tags section including `@` and its final space; default MAX_TAGS_BYTES. */
  readonly maxTagsBytes?: number;
}

/** Largest bound a caller may configure: past this a line is no longer IRC but a flood. */
const BOUND_CEILING = 65536;

function bound(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > BOUND_CEILING) {
    throw new NatAlgError('invalid-argument', `${name} must be an integer ${min}-${BOUND_CEILING}, got ${value}`);
  }
  return value;
}

function lineEndOf(line: Uint8Array): { end: number; lineEnd: LineEnd } {
  const n = line.length;
  if (n > 0 && line[n - 1] === 0x0a) {
    return n > 1 && line[n - 2] === 0x0d ? { end: n - 2, lineEnd: 'crlf' } : { end: n - 1, lineEnd: 'lf' };
  }
  if (n > 0 && line[n - 1] === 0x0d) return { end: n - 1, lineEnd: 'cr' };
  return { end: n, lineEnd: 'none' };
}

function verbOf(line: Uint8Array, start: number, end: number): IrcVerb {
  for (const v of NAMED_VERBS) if (equalsIgnoreCase(line, start, end, v)) return v;
  return 'other';
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Locate the parts of one IRC line (the whole of `line`, with or without its line end). */
export function parseMessage(line: Uint8Array, options: MessageOptions = {}): MessageResult {
  const maxMessage = bound(options.maxMessageBytes, MAX_MESSAGE_BYTES, 3, 'maxMessageBytes');
  const maxTags = bound(options.maxTagsBytes, MAX_TAGS_BYTES, 2, 'maxTagsBytes');
  const { end, lineEnd } = lineEndOf(line);

  // Tags come first or not at all (IRCv3); their section ends at the first space.
  let p = 0;
  let tags: Span | null = null;
  if (end > 0 && line[0] === 0x40) {
    const limit = Math.min(end, maxTags);
    let sp = 1;
    while (sp < limit && line[sp] !== 0x20) sp++;
    if (sp >= limit) return { ok: false, reason: end >= maxTags ? 'tags-too-long' : sp === 1 ? 'bad-tags' : 'no-command' };
    if (sp === 1) return { ok: false, reason: 'bad-tags' };
    tags = { start: 1, end: sp };
    p = sp + 1;
  }
  if (end - p > maxMessage - 2) return { ok: false, reason: 'too-long' };

  for (let i = 0; i < end; i++) {
    const c = line[i]!;
    if (c > 0x0d) continue; // one test for nearly every byte
    if (c === 0x00) return { ok: false, reason: 'nul' };
    if (c === 0x0d) return { ok: false, reason: 'cr-inside' };
    if (c === 0x0a) return { ok: false, reason: 'lf-inside' };
  }

  while (p < end && line[p] === 0x20) p++;
  if (p >= end) return { ok: false, reason: tags ? 'no-command' : 'empty' };

  let prefix: Span | null = null;
  if (line[p] === 0x3a) {
    const start = p + 1;
    while (p < end && line[p] !== 0x20) p++;
    if (p === start) return { ok: false, reason: 'bad-prefix' };
    prefix = { start, end: p };
    while (p < end && line[p] === 0x20) p++;
    if (p >= end) return { ok: false, reason: 'no-command' };
  }

  const cmdStart = p;
  while (p < end && line[p] !== 0x20) p++;
  const command: Span = { start: cmdStart, end: p };
  let verb: IrcVerb;
  let numeric = -1;
  const cmdLength = p - cmdStart;
  if (cmdLength === 3 && isDigit(line[cmdStart]) && isDigit(line[cmdStart + 1]) && isDigit(line[cmdStart + 2])) {
    verb = 'numeric';
    numeric = (line[cmdStart]! - 0x30) * 100 + (line[cmdStart + 1]! - 0x30) * 10 + (line[cmdStart + 2]! - 0x30);
  } else if (allLetters(line, cmdStart, p)) {
    verb = verbOf(line, cmdStart, p);
  } else {
    return { ok: false, reason: 'bad-command' };
  }

  const params: Span[] = [];
  let trailing = false;
  for (;;) {
    while (p < end && line[p] === 0x20) p++;
    if (p >= end) break;
    if (line[p] === 0x3a) {
      params.push({ start: p + 1, end });
      trailing = true;
      break;
    }
    if (params.length === MAX_PARAMS - 1) {
      // RFC 2812: the fifteenth parameter is the rest of the line even without a colon.
      params.push({ start: p, end });
      break;
    }
    const start = p;
    while (p < end && line[p] !== 0x20) p++;
    params.push({ start, end: p });
  }

  return { ok: true, end, lineEnd, tags, prefix, command, verb, numeric, params, trailing };
}

export type TextFault =
  | 'not-text' // neither PRIVMSG nor NOTICE
  | 'no-text' // fewer than two parameters
  | 'extra-params'; // more than target and text: servers differ on which one they deliver

/**
 * Target and text of a PRIVMSG or NOTICE, where CTCP (and so DCC) travels. A message with more
 * than two parameters is reported rather than guessed at (ngircd refuses it with 461; a server
 * that delivered the second or the last one instead would make an ALG read the wrong text).
 */
export function messageText(
  msg: IrcMessage,
): { readonly ok: true; readonly target: Span; readonly text: Span } | { readonly ok: false; readonly reason: TextFault } {
  if (msg.verb !== 'PRIVMSG' && msg.verb !== 'NOTICE') return { ok: false, reason: 'not-text' };
  if (msg.params.length < 2) return { ok: false, reason: 'no-text' };
  if (msg.params.length > 2) return { ok: false, reason: 'extra-params' };
  return { ok: true, target: msg.params[0]!, text: msg.params[1]! };
}

export interface MessageFields {
  /** Tags text without the `@`. */
  readonly tags?: string;
  /** Prefix without the `:`. */
  readonly prefix?: string;
  readonly command: string;
  readonly params?: readonly string[];
  /** Put `:` before the last parameter even when it does not need one (most servers do). */
  readonly colonLast?: boolean;
}

function checkWord(value: string, what: string): void {
  if (value.length === 0 || /[\x00\r\n ]/.test(value)) {
    throw new NatAlgError('invalid-argument', `${what} must be non-empty without spaces, NUL, CR or LF: ${JSON.stringify(value.slice(0, 80))}`);
  }
}

/**
 * One message as text with CR LF, for tests and for messages an ALG makes itself. Throws
 * NatAlgError when the fields cannot be expressed (a space in a middle parameter, CR, LF or NUL
 * anywhere, a command that is neither letters nor three digits, more than 15 parameters).
 * Length is not checked: parse the result when a bound matters.
 */
export function formatMessage(fields: MessageFields): string {
  const params = fields.params ?? [];
  if (!/^([A-Za-z]+|[0-9]{3})$/.test(fields.command)) {
    throw new NatAlgError('invalid-argument', `an IRC command is letters or three digits: ${JSON.stringify(fields.command.slice(0, 80))}`);
  }
  if (params.length > MAX_PARAMS) throw new NatAlgError('invalid-argument', `at most ${MAX_PARAMS} parameters, got ${params.length}`);
  let out = '';
  if (fields.tags !== undefined) {
    checkWord(fields.tags, 'tags');
    out += `@${fields.tags} `;
  }
  if (fields.prefix !== undefined) {
    checkWord(fields.prefix, 'a prefix');
    out += `:${fields.prefix} `;
  }
  out += fields.command;
  params.forEach((param, i) => {
    const last = i === params.length - 1;
    if (last && (fields.colonLast === true || param.length === 0 || param.startsWith(':') || param.includes(' '))) {
      if (/[\x00\r\n]/.test(param)) throw new NatAlgError('invalid-argument', 'a parameter cannot hold NUL, CR or LF');
      out += ` :${param}`;
      return;
    }
    checkWord(param, 'a middle parameter');
    if (param.startsWith(':')) throw new NatAlgError('invalid-argument', 'only the last parameter may start with ":"');
    out += ` ${param}`;
  });
  return out + '\r\n';
}

/** The nick of a message's prefix (`nick!user@host`: up to the first `!`), or null without a prefix. */
export function prefixNick(line: Uint8Array, message: IrcMessage): Span | null {
  const p = message.prefix;
  if (p === null) return null;
  let bang = p.start;
  while (bang < p.end && line[bang] !== 0x21) bang++;
  return { start: p.start, end: bang };
}
