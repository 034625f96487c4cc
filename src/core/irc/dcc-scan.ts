/**
 * Every DCC offer in one IRC line: the message parsed, the text of a PRIVMSG or NOTICE located,
 * its CTCP segments found and each `DCC` segment parsed. What a translator calls on each line; it
 * composes message.ts, ctcp.ts and dcc.ts and adds no rules of its own beyond one: a PRIVMSG or
 * NOTICE with more than two parameters is a fault only when a parameter after the target holds a
 * \x01 (then it is unclear which text the server delivers); without one it carries no CTCP.
 */

import { ctcpTagIs, findCtcp, type CtcpFault, type CtcpOptions, type CtcpSegment } from './ctcp.js';
import { parseDcc, type DccResult } from './dcc.js';
import { messageText, parseMessage, type IrcMessage, type MessageFault, type MessageOptions } from './message.js';
import type { Span } from './span.js';

export interface FoundDcc {
  readonly segment: CtcpSegment;
  /** The parsed offer, or why the `DCC` segment is not one. */
  readonly result: DccResult;
}

export type DccScanFault = MessageFault | CtcpFault | 'extra-params';

export type DccScan =
  | {
      readonly ok: true;
      readonly message: IrcMessage;
      /** The PRIVMSG or NOTICE text, or null for other messages. */
      readonly text: Span | null;
      /** Every CTCP segment tagged DCC, in order. */
      readonly offers: readonly FoundDcc[];
    }
  | { readonly ok: false; readonly reason: DccScanFault };

export interface DccScanOptions extends MessageOptions, CtcpOptions {}

function holdsCtcp(line: Uint8Array, spans: readonly Span[]): boolean {
  for (const s of spans) for (let i = s.start; i < s.end; i++) if (line[i] === 0x01) return true;
  return false;
}

export function scanDcc(line: Uint8Array, options: DccScanOptions = {}): DccScan {
  const message = parseMessage(line, options);
  if (!message.ok) return message;
  const text = messageText(message);
  if (!text.ok) {
    switch (text.reason) {
      case 'not-text':
      case 'no-text':
        return { ok: true, message, text: null, offers: [] };
      case 'extra-params':
        if (holdsCtcp(line, message.params.slice(1))) return { ok: false, reason: 'extra-params' };
        return { ok: true, message, text: null, offers: [] };
    }
  }
  const ctcp = findCtcp(line, text.text, options);
  if (!ctcp.ok) return ctcp;
  const offers: FoundDcc[] = [];
  for (const segment of ctcp.segments) {
    if (ctcpTagIs(line, segment, 'DCC')) offers.push({ segment, result: parseDcc(line, segment.body) });
  }
  return { ok: true, message, text: text.text, offers };
}
