/**
 * Rewriting offers inside lines: only the address and port bytes change, the spelling of the
 * address is kept when it can be, several offers in one line take one pass; and scanDcc, the
 * composition a translator calls on each line.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyEdits, dccEdits, rewriteDccOffer, scanDcc, formatDcc, type DccRewritable, type DccOfferFields,
} from '../../src/core/irc/index.js';
import { AddressError, NatAlgError } from '../../src/core/errors.js';
import { canonicalAddress } from '../../src/core/net/ip.js';
import { b, t, utf8 } from './helpers.js';

function offers(line: Uint8Array): DccRewritable[] {
  const s = scanDcc(line);
  if (!s.ok) throw new Error(s.reason);
  return s.offers.map((f) => {
    if (!f.result.ok || f.result.offer.kind === 'other') throw new Error('not rewritable');
    return f.result.offer;
  });
}

describe('rewriteDccOffer', () => {
  it('replaces address and port and keeps everything else', () => {
    const line = b('@a=b :alice!~a@192.0.2.2 PRIVMSG bob :\x01DCC SEND "x y" 3221225994 5000 10 7\x01\r\n');
    const out = rewriteDccOffer(line, offers(line)[0]!, { address: '198.51.100.1', port: 40000 });
    expect(t(out)).toBe('@a=b :alice!~a@192.0.2.2 PRIVMSG bob :\x01DCC SEND "x y" 3325256705 40000 10 7\x01\r\n');
    expect(t(line)).toContain('3221225994'); // the input is not changed
  });

  it('keeps the spelling of the address, or switches to one that can carry the new one', () => {
    const dotted = b('PRIVMSG bob :\x01DCC SEND a 192.0.2.10 5000\x01');
    expect(t(rewriteDccOffer(dotted, offers(dotted)[0]!, { address: '198.51.100.1', port: 1 }))).toBe('PRIVMSG bob :\x01DCC SEND a 198.51.100.1 1\x01');
    expect(t(rewriteDccOffer(dotted, offers(dotted)[0]!, { address: '2001:db8:2::1', port: 1 }))).toBe('PRIVMSG bob :\x01DCC SEND a 2001:db8:2::1 1\x01');
    const v6 = b('PRIVMSG bob :\x01DCC CHAT chat 2001:db8:1::2 5000\x01');
    expect(t(rewriteDccOffer(v6, offers(v6)[0]!, { address: '198.51.100.1', port: 1 }))).toBe('PRIVMSG bob :\x01DCC CHAT chat 3325256705 1\x01');
    expect(t(rewriteDccOffer(v6, offers(v6)[0]!, { address: '198.51.100.1', port: 1, addressForm: 'ipv4-text' }))).toBe('PRIVMSG bob :\x01DCC CHAT chat 198.51.100.1 1\x01');
  });

  it('changes only the port of RESUME and ACCEPT, and only the port when no address is given', () => {
    const resume = b('PRIVMSG alice :\x01DCC RESUME file.ext 40000 1024\x01');
    expect(t(rewriteDccOffer(resume, offers(resume)[0]!, { port: 5000 }))).toBe('PRIVMSG alice :\x01DCC RESUME file.ext 5000 1024\x01');
    const send = b('PRIVMSG bob :\x01DCC SEND a 3221225994 0 10 7');
    expect(t(rewriteDccOffer(send, offers(send)[0]!, { port: 6000 }))).toBe('PRIVMSG bob :\x01DCC SEND a 3221225994 6000 10 7');
  });

  it('refuses misuse', () => {
    const resume = b('PRIVMSG alice :\x01DCC RESUME file.ext 40000 1024\x01');
    const send = b('PRIVMSG bob :\x01DCC SEND a 3221225994 5000\x01');
    expect(() => rewriteDccOffer(resume, offers(resume)[0]!, { address: '192.0.2.1', port: 1 })).toThrow(NatAlgError);
    expect(() => rewriteDccOffer(send, offers(send)[0]!, { port: 65536 })).toThrow(NatAlgError);
    expect(() => rewriteDccOffer(send, offers(send)[0]!, { port: 1, addressForm: 'integer' })).toThrow(NatAlgError);
    expect(() => rewriteDccOffer(send, offers(send)[0]!, { address: '2001:db8::1', addressForm: 'integer', port: 1 })).toThrow(AddressError);
    expect(() => rewriteDccOffer(send, offers(send)[0]!, { address: 'gateway', port: 1 })).toThrow(AddressError);
  });

  it('rewrites several offers of one line in one pass', () => {
    const line = b('PRIVMSG bob :\x01DCC SEND a 3221225994 5000\x01 and \x01DCC CHAT chat 3221225994 5001\x01\r\n');
    const [send, chat] = offers(line);
    const out = applyEdits(line, [...dccEdits(send!, { address: '198.51.100.1', port: 40000 }), ...dccEdits(chat!, { address: '198.51.100.1', port: 40001 })]);
    expect(t(out)).toBe('PRIVMSG bob :\x01DCC SEND a 3325256705 40000\x01 and \x01DCC CHAT chat 3325256705 40001\x01\r\n');
  });
});

describe('applyEdits', () => {
  it('refuses overlapping edits and spans outside the line', () => {
    const line = b('abcdef');
    expect(t(applyEdits(line, [{ span: { start: 4, end: 6 }, bytes: b('XY') }, { span: { start: 0, end: 1 }, bytes: b('') }]))).toBe('bcdXY');
    expect(() => applyEdits(line, [{ span: { start: 0, end: 3 }, bytes: b('') }, { span: { start: 2, end: 4 }, bytes: b('') }])).toThrow(NatAlgError);
    expect(() => applyEdits(line, [{ span: { start: 5, end: 7 }, bytes: b('') }])).toThrow(NatAlgError);
    expect(() => applyEdits(line, [{ span: { start: 3, end: 2 }, bytes: b('') }])).toThrow(NatAlgError);
  });
});

describe('rewriting keeps every byte outside the spans (property)', () => {
  const address = fc.oneof(fc.ipV4(), fc.ipV6().filter((a) => !a.includes('%')));
  const sendLike: fc.Arbitrary<DccOfferFields> = fc.oneof(
    fc.record({
      kind: fc.constant('send' as const),
      filename: fc.constantFrom('a.bin', 'two words.txt', 'Ü.txt', '1'),
      address,
      addressForm: fc.constantFrom(undefined, 'ipv4-text' as const),
      port: fc.integer({ min: 0, max: 65535 }),
      size: fc.maxSafeNat(),
      token: fc.constantFrom(undefined, '7', 'abc'),
    }).map((f) => ({ ...f, addressForm: f.address.includes(':') ? undefined : f.addressForm })),
    fc.record({ kind: fc.constant('chat' as const), address, port: fc.integer({ min: 0, max: 65535 }) }),
    fc.record({ kind: fc.constantFrom('resume' as const, 'accept' as const), filename: fc.constantFrom('file.ext', 'a b'), port: fc.integer({ min: 0, max: 65535 }), position: fc.maxSafeNat() }),
  );
  const before = fc.constantFrom('', '@time=x ', ':alice!~a@192.0.2.2 ', '@k=v :n!u@h ');
  const textBefore = fc.constantFrom('', 'hi ', '\x01ACTION waves\x01 ');
  const closing = fc.constantFrom('\x01', '');
  const end = fc.constantFrom('\r\n', '\n', '\r', '');

  it('holds for random offers, surroundings and replacements', () => {
    fc.assert(
      fc.property(before, textBefore, sendLike, closing, end, address, fc.integer({ min: 0, max: 65535 }), (pre, tb, f, close, eol, newAddress, newPort) => {
        const text = `${pre}PRIVMSG bob :${tb}\x01${formatDcc(f)}${close}${eol}`;
        const line = utf8(text);
        const o = offers(line)[0]!;
        const replacement = o.kind === 'send' || o.kind === 'chat' ? { address: newAddress, port: newPort } : { port: newPort };
        const out = rewriteDccOffer(line, o, replacement);
        // Bytes outside the address and port spans are the same, in order.
        const spans = [o.portSpan, ...(o.kind === 'send' || o.kind === 'chat' ? [o.addressSpan] : [])].sort((x, y) => x.start - y.start);
        let inPos = 0;
        let outPos = 0;
        const edits = dccEdits(o, replacement).sort((x, y) => x.span.start - y.span.start);
        for (let k = 0; k < spans.length; k++) {
          const s = spans[k]!;
          expect(out.subarray(outPos, outPos + (s.start - inPos))).toEqual(line.subarray(inPos, s.start));
          outPos += s.start - inPos + edits[k]!.bytes.length;
          inPos = s.end;
        }
        expect(out.subarray(outPos)).toEqual(line.subarray(inPos));
        // And the rewritten offer says what was put in.
        const again = offers(out)[0]!;
        expect(again.port).toBe(newPort);
        if (again.kind === 'send' || again.kind === 'chat') expect(again.address).toBe(canonicalAddress(newAddress));
        if (again.kind === 'send' && o.kind === 'send') {
          expect([again.filename, again.size, again.token]).toEqual([o.filename, o.size, o.token]);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('scanDcc', () => {
  it('finds nothing in other messages and in texts without DCC', () => {
    for (const line of ['JOIN #a\r\n', 'PRIVMSG bob :hello\r\n', 'PRIVMSG bob :\x01ACTION waves\x01\r\n', 'PRIVMSG bob\r\n', 'PRIVMSG bob x y\r\n']) {
      const s = scanDcc(b(line));
      expect(s.ok && s.offers).toEqual([]);
    }
  });

  it('reports faults of the message and of the CTCP layer', () => {
    expect(scanDcc(b('PRIVMSG bob :a\rDCC\r\n'))).toEqual({ ok: false, reason: 'cr-inside' });
    expect(scanDcc(b('PRIVMSG bob x :\x01DCC SEND a 3221225994 5000\x01'))).toEqual({ ok: false, reason: 'extra-params' });
    expect(scanDcc(b('PRIVMSG bob :' + '\x01A\x01'.repeat(8) + '\x01DCC SEND a 3221225994 5000\x01'))).toEqual({ ok: false, reason: 'too-many-segments' });
  });

  it('reports a DCC segment that does not parse, with the segment', () => {
    const line = b('PRIVMSG bob :\x01DCC SEND a 3221225994 99999\x01');
    const s = scanDcc(line);
    expect(s.ok && s.offers.map((o) => [o.result, o.segment.start])).toEqual([[{ ok: false, reason: 'bad-port' }, 13]]);
  });
});
