/**
 * From the review of the IRC DCC ALG (issue 9): the table of translated offers (offer-table.ts) is one
 * list of maxWaitingOffers (16) entries for BOTH sides of the connection, newest kept. Any IRC
 * user who can send the client a PRIVMSG can therefore push the client's own pending offers out
 * of it: two lines of eight offers each (278 bytes a line, within the 8-segment and 16-channel
 * limits) are enough.
 *
 * What that costs the client: its offer's data channel is released (`data-channel-released`,
 * "retired by newer offers"; the relay then closes the listener if the receiving user has not
 * connected yet, relay/session.ts onTranslatorEvent), so a DCC SEND the client made to bob is
 * cancelled by mallory before bob clicks accept (people accept by hand; the docs give 300 s for
 * that); and bob's DCC RESUME for it is no longer mapped back to the client's port. docs/irc.md
 * calls the bound "waiting per connection" and says a newer offer retires the oldest: it does not
 * say a stranger's offers retire the client's.
 *
 * Failed on main at the time of review (14041b6). Fixed: offer-table.ts keeps a budget per side.
 */
import { describe, expect, it } from 'vitest';
import { c, OPTIONS, REGISTER, run, s } from './harness.js';

const eightOffers = Array.from({ length: 8 }, (_, k) => `\x01DCC SEND x${k} 3325256706 ${6000 + k} 1\x01`).join('');
const eightPassive = Array.from({ length: 8 }, (_, k) => `\x01DCC SEND x${k} 3325256706 0 1 t${k}\x01`).join('');
const CLIENT_OFFER = c('PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n');

describe('offers from outside cannot retire the client’s pending offers', () => {
  it('16 offers from a stranger do not release the data channel of the client’s offer to bob', () => {
    // input:    client: DCC SEND report.pdf (request 1, announced 198.51.100.1:40001)
    //           mallory: 2 x (PRIVMSG alice with 8 DCC SEND offers)
    // expected: no data-channel-released for request 1 (bob may still connect)
    // actual:   { type: 'data-channel-released', id: 1, reason: 'retired by newer offers' }
    const line = `:mallory!m@h PRIVMSG alice :${eightOffers}\r\n`;
    const r = run([...REGISTER, CLIENT_OFFER, s(line), s(line)]);
    expect(r.events.filter((e) => e.type === 'data-channel-released' && e.id === 1)).toEqual([]);
  });

  it('after them, bob’s DCC RESUME of the client’s offer is still mapped to the client’s port', () => {
    const line = `:mallory!m@h PRIVMSG alice :${eightOffers}\r\n`;
    const r = run([...REGISTER, CLIENT_OFFER, s(line), s(line), s(':bob!b@h PRIVMSG alice :\x01DCC RESUME report.pdf 40001 100\x01\r\n')]);
    // expected: RESUME names 5000 (the port alice's client listens on); actual: 40001 passes unmapped
    expect(r.s2c).toContain(':bob!b@h PRIVMSG alice :\x01DCC RESUME report.pdf 5000 100\x01\r\n');
  });

  it('16 passive offers from a stranger (no data channel at all) do not retire it either', () => {
    // Passive offers from outside pass unchanged and open nothing, yet each takes a table slot.
    const line = `:mallory!m@h PRIVMSG alice :${eightPassive}\r\n`;
    const r = run([...REGISTER, CLIENT_OFFER, s(line), s(line)]);
    expect(r.events.filter((e) => e.type === 'data-channel-released' && e.id === 1)).toEqual([]);
  });
});

describe('each side keeps its own budget of maxWaitingOffers', () => {
  const opts = { ...OPTIONS, policy: { maxWaitingOffers: 2 } };
  it('the client’s third offer retires the client’s first, whatever came from outside', () => {
    const offer = (k: number) => c(`PRIVMSG bob :\x01DCC SEND f${k} 3221225994 ${5000 + k} 1\x01\r\n`);
    const outside = s(`:mallory!m@h PRIVMSG alice :\x01DCC SEND x 3325256706 6000 1\x01\x01DCC SEND y 3325256706 6001 1\x01\r\n`);
    const r = run([...REGISTER, offer(1), outside, offer(2), offer(3)], opts);
    // ids: 1 (f1), 2 and 3 (mallory's), 4 (f2), 5 (f3)
    expect(r.events.filter((e) => e.type === 'data-channel-released')).toEqual([{ type: 'data-channel-released', id: 1, reason: 'retired by newer offers' }]);
  });

  it('outside offers retire only outside offers', () => {
    const line = (k: number) => s(`:mallory!m@h PRIVMSG alice :\x01DCC SEND x${k} 3325256706 ${6000 + k} 1\x01\r\n`);
    const r = run([...REGISTER, CLIENT_OFFER, line(1), line(2), line(3)], opts);
    expect(r.events.filter((e) => e.type === 'data-channel-released')).toEqual([{ type: 'data-channel-released', id: 2, reason: 'retired by newer offers' }]);
  });
});
