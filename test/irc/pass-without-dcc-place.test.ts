/**
 * A held line with no DCC place passes with its message as parsed, its CTCPs unread (offer-plan.ts
 * planLine). What the message is used for there, its command's effect, must be what the full
 * reading (scanDcc, whose failure made the message null) gave: the same effect in each direction,
 * and the same message wherever the full reading had one.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planLine } from '../../src/core/irc/offer-plan.js';
import { findDccPlaces } from '../../src/core/irc/lenient.js';
import { scanDcc } from '../../src/core/irc/dcc-scan.js';
import { commandEffect } from '../../src/core/irc/lines.js';
import { OfferTable } from '../../src/core/irc/offer-table.js';
import { resolveIrcOptions } from '../../src/core/irc/policy.js';
import type { IrcMessage } from '../../src/core/irc/message.js';
import { b } from './helpers.js';

const o = resolveIrcOptions({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.7' });
const DIRECTIONS = ['client-to-server', 'server-to-client'] as const;

function effects(line: Uint8Array, message: IrcMessage | null): string[] {
  return DIRECTIONS.map((d) => (message === null ? 'none' : commandEffect(line, message, d)));
}

describe('a line without a DCC place (property)', () => {
  it('passes with the command effect and message the full reading gave', () => {
    const piece = fc.constantFrom(
      ':alice!u@h ', ':bob ', '@tag=1 ', 'NICK ', 'nick ', '001 ', 'STARTTLS', 'PRIVMSG ', 'NOTICE ', 'PING ', 'JOIN ',
      '#chan ', 'alice ', ':', ' ', '\x01', '\x01ACTION ', '\x01VERSION\x01', 'x', 'new', '\x00', '\r', '\x01D', '\x01 DC',
      '\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01',
    );
    const line = fc
      .tuple(fc.array(piece, { maxLength: 14 }), fc.constantFrom('\r\n', '\n', ''))
      .map(([parts, end]) => b(parts.join('') + end));
    let checked = 0;
    fc.assert(
      fc.property(line, (l) => {
        if (findDccPlaces(l, 0, l.length).length > 0) return;
        checked++;
        const plan = planLine(l, { o, offers: new OfferTable(16), sender: 'server', nick: 'alice' });
        expect(plan.kind).toBe('pass');
        const scan = scanDcc(l);
        const reference = scan.ok ? scan.message : null;
        expect(effects(l, plan.message)).toEqual(effects(l, reference));
        if (reference !== null) expect(plan.message).toEqual(reference);
      }),
      { numRuns: 20000 },
    );
    expect(checked).toBeGreaterThan(1000);
  });
});
