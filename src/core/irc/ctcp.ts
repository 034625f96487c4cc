/**
 * CTCP segments inside the text of a PRIVMSG or NOTICE: `\x01TAG args\x01`, located as byte
 * spans of the line so that a rewrite can replace a part of one and keep the rest.
 *
 * Decisions:
 * - Every segment is found, wherever it is in the text, not only one that starts it. Modern
 *   clients act only on a text that begins with \x01, older ones (and nf_conntrack_irc) on any
 *   \x01DCC; an ALG that looked only at the first would let the others through untranslated.
 *   `atStart` says which one a modern client would act on.
 * - The final \x01 is optional: an opening \x01 without a closing one runs to the end of the text
 *   (`closed: false`). mIRC and others accept an offer without it.
 * - Low-level quoting (\x10 escapes, CTCP spec of 1994) and backslash quoting are not decoded:
 *   segments are cut at raw \x01 bytes and bodies are raw bytes. No client in use quotes a DCC
 *   offer, and a quoted address or port fails the strict number parsers of dcc.ts instead of
 *   being read one way here and another way by a client.
 * - At most `maxSegments` segments (default MAX_CTCP_SEGMENTS) per text; more is a fault, so
 *   that a caller never works on part of a message and forwards the rest unexamined.
 * - One pass over the text.
 */

import { NatAlgError } from '../errors.js';
import { equalsIgnoreCase } from './bytes.js';
import type { Span } from './span.js';

export const CTCP_DELIMITER = 0x01;

/** More segments than any client sends in one message (clients send one). */
export const MAX_CTCP_SEGMENTS = 8;

export interface CtcpSegment {
  /** Index of the opening \x01. */
  readonly start: number;
  /** Index after the closing \x01, or the end of the text when there is none. */
  readonly end: number;
  /** Between the delimiters. */
  readonly body: Span;
  /** The first word of the body (may be empty). */
  readonly tag: Span;
  /** Whether the segment had its closing \x01. */
  readonly closed: boolean;
  /** Whether the segment begins the text (the only place modern clients look). */
  readonly atStart: boolean;
}

export type CtcpFault = 'too-many-segments';

export type CtcpResult =
  | { readonly ok: true; readonly segments: readonly CtcpSegment[] }
  | { readonly ok: false; readonly reason: CtcpFault };

export interface CtcpOptions {
  readonly maxSegments?: number;
}

/** The CTCP segments of `line[text.start, text.end)` (a PRIVMSG or NOTICE text, see messageText). */
export function findCtcp(line: Uint8Array, text: Span, options: CtcpOptions = {}): CtcpResult {
  const max = options.maxSegments ?? MAX_CTCP_SEGMENTS;
  if (!Number.isInteger(max) || max < 1 || max > 256) throw new NatAlgError('invalid-argument', `maxSegments must be an integer 1-256, got ${max}`);
  if (!(text.start >= 0 && text.start <= text.end && text.end <= line.length)) {
    throw new NatAlgError('invalid-argument', `text span [${text.start}, ${text.end}) is outside a line of ${line.length} bytes`);
  }
  const segments: CtcpSegment[] = [];
  let p = text.start;
  for (;;) {
    while (p < text.end && line[p] !== CTCP_DELIMITER) p++;
    if (p >= text.end) break;
    if (segments.length === max) return { ok: false, reason: 'too-many-segments' };
    const open = p;
    p++;
    while (p < text.end && line[p] !== CTCP_DELIMITER) p++;
    const closed = p < text.end;
    const bodyEnd = p;
    let tagEnd = open + 1;
    while (tagEnd < bodyEnd && line[tagEnd] !== 0x20) tagEnd++;
    if (closed) p++;
    segments.push({
      start: open,
      end: p,
      body: { start: open + 1, end: bodyEnd },
      tag: { start: open + 1, end: tagEnd },
      closed,
      atStart: open === text.start,
    });
  }
  return { ok: true, segments };
}

/** Whether the segment's tag is `tag` (upper-case ASCII), ignoring case as clients do. */
export function ctcpTagIs(line: Uint8Array, segment: CtcpSegment, tag: string): boolean {
  return equalsIgnoreCase(line, segment.tag.start, segment.tag.end, tag);
}

/** A CTCP segment around `body` (text without \x01, CR, LF or NUL; throws NatAlgError otherwise). */
export function formatCtcp(body: string): string {
  if (/[\x00\x01\r\n]/.test(body)) throw new NatAlgError('invalid-argument', 'a CTCP body cannot hold NUL, \\x01, CR or LF');
  return `\x01${body}\x01`;
}
