/**
 * DCC offers: parse tables in the shapes real clients send (the client names say whose habit a
 * row imitates: quoting, missing final \x01, dotted or IPv6 addresses, passive tokens), the
 * address forms, hostile values, and format/parse round trips.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  parseDcc, formatDcc, readDccAddress, ipv4FromDccInteger, ipv4ToDccInteger, formatDccAddress, dccAddressFormFor,
  scanDcc, type DccOffer, type DccOfferFields, type DccResult,
} from '../../src/core/irc/index.js';
import { AddressError, NatAlgError } from '../../src/core/errors.js';
import { canonicalAddress } from '../../src/core/net/ip.js';
import { at, b, utf8 } from './helpers.js';

function body(text: string): DccResult {
  const bytes = utf8(text);
  return parseDcc(bytes, { start: 0, end: bytes.length });
}

function offer(text: string): DccOffer {
  const r = body(text);
  if (!r.ok) throw new Error(`${JSON.stringify(text)}: ${r.reason}`);
  return r.offer;
}

/** The first DCC offer of a whole line, through scanDcc (as a translator reads it). */
function inLine(line: string): DccOffer {
  const s = scanDcc(utf8(line));
  if (!s.ok) throw new Error(s.reason);
  const r = s.offers[0]?.result;
  if (!r?.ok) throw new Error(`no offer: ${JSON.stringify(r)}`);
  return r.offer;
}

describe('DCC offers in the shapes clients send', () => {
  const rows: [string, string, Record<string, unknown>][] = [
    ['mIRC SEND', 'PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n',
      { kind: 'send', verb: 'SEND', filename: 'report.pdf', filenameForm: 'plain', address: '192.0.2.10', addressForm: 'integer', port: 5000, size: 1048576, passive: false }],
    ['mIRC passive SEND (port 0, token)', 'PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 0 1048576 17\x01\r\n',
      { kind: 'send', port: 0, size: 1048576, token: '17', passive: true }],
    ['passive answer (address, port, same token)', 'PRIVMSG alice :\x01DCC SEND report.pdf 3325256706 6001 1048576 17\x01\r\n',
      { kind: 'send', address: '198.51.100.2', port: 6001, token: '17', passive: false }],
    ['HexChat/irssi quoted filename', 'PRIVMSG bob :\x01DCC SEND "holiday photos.zip" 3221225994 5001 123\x01\r\n',
      { filename: 'holiday photos.zip', filenameForm: 'quoted', port: 5001, size: 123 }],
    ['quoted filename without spaces', 'PRIVMSG bob :\x01DCC SEND "a.txt" 3221225994 5001\x01',
      { filename: 'a.txt', filenameForm: 'quoted', port: 5001 }],
    ['unquoted filename with spaces (read from the right)', 'PRIVMSG bob :\x01DCC SEND holiday photos 2019.zip 3221225994 5001 123\x01',
      { filename: 'holiday photos 2019.zip', filenameForm: 'spaced', address: '192.0.2.10', port: 5001, size: 123 }],
    ['unquoted with spaces and a passive token', 'PRIVMSG bob :\x01DCC SEND my file 3221225994 0 123 99\x01',
      { filename: 'my file', filenameForm: 'spaced', port: 0, size: 123, token: '99', passive: true }],
    ['a number in a spaced filename', 'PRIVMSG bob :\x01DCC SEND track 01 3221225994 5001 123\x01',
      { filename: 'track 01', port: 5001, size: 123 }],
    ['WeeChat, no size', 'PRIVMSG bob :\x01DCC SEND a.txt 3221225994 5001\x01', { filename: 'a.txt', port: 5001 }],
    ['final \\x01 missing', 'PRIVMSG bob :\x01DCC SEND a.txt 3221225994 5001 77\r\n', { filename: 'a.txt', port: 5001, size: 77 }],
    ['KVIrc dotted address', 'PRIVMSG bob :\x01DCC SEND a.txt 192.0.2.10 5001 77\x01', { address: '192.0.2.10', addressForm: 'ipv4-text' }],
    ['irssi IPv6', 'PRIVMSG bob :\x01DCC SEND a.txt 2001:db8:1::2 5001 77\x01', { address: '2001:db8:1::2', addressForm: 'ipv6' }],
    ['IPv6 not in canonical text', 'PRIVMSG bob :\x01DCC SEND a.txt 2001:DB8:1:0:0:0:0:2 5001\x01', { address: '2001:db8:1::2', addressForm: 'ipv6' }],
    ['IPv4-mapped IPv6', 'PRIVMSG bob :\x01DCC SEND a.txt ::ffff:192.0.2.10 5001\x01', { address: '192.0.2.10', addressForm: 'ipv6' }],
    ['KVIrc TSEND', 'PRIVMSG bob :\x01DCC TSEND a.txt 3221225994 5001 77\x01', { kind: 'send', verb: 'TSEND' }],
    ['SSEND (TLS)', 'PRIVMSG bob :\x01DCC SSEND a.txt 3221225994 5001 77\x01', { kind: 'send', verb: 'SSEND' }],
    ['lower case', 'PRIVMSG bob :\x01dcc send a.txt 3221225994 5001\x01', { kind: 'send', verb: 'SEND' }],
    ['runs of spaces', 'PRIVMSG bob :\x01DCC  SEND  a.txt  3221225994   5001  \x01', { filename: 'a.txt', port: 5001 }],
    ['CHAT', 'PRIVMSG bob :\x01DCC CHAT chat 3221225994 5002\x01', { kind: 'chat', protocol: 'chat', address: '192.0.2.10', port: 5002, passive: false }],
    ['passive CHAT', 'PRIVMSG bob :\x01DCC CHAT chat 3221225994 0 5\x01', { kind: 'chat', port: 0, token: '5', passive: true }],
    ['mIRC RESUME', 'PRIVMSG alice :\x01DCC RESUME file.ext 5000 65536\x01', { kind: 'resume', filename: 'file.ext', port: 5000, position: 65536 }],
    ['mIRC ACCEPT', 'PRIVMSG bob :\x01DCC ACCEPT file.ext 5000 65536\x01', { kind: 'accept', port: 5000, position: 65536 }],
    ['passive RESUME', 'PRIVMSG alice :\x01DCC RESUME "my file" 0 65536 17\x01', { kind: 'resume', filename: 'my file', port: 0, token: '17', passive: true }],
    ['NOTICE with tags and prefix', '@time=2024-01-01T00:00:00Z :alice!~a@192.0.2.2 NOTICE bob :\x01DCC SEND a 3221225994 5001\x01\r\n', { kind: 'send', port: 5001 }],
    ['UTF-8 filename', 'PRIVMSG bob :\x01DCC SEND "Über straße.txt" 3221225994 5001\x01', { filename: 'Über straße.txt' }],
    ['offer after text and an ACTION', 'PRIVMSG bob :here \x01ACTION sends\x01 \x01DCC SEND a 3221225994 5001\x01', { kind: 'send', port: 5001 }],
  ];
  it.each(rows)('%s', (_name, line, want) => {
    expect(inLine(line)).toMatchObject(want);
  });

  it('gives the spans of address, port, filename and token', () => {
    const line = utf8('PRIVMSG bob :\x01DCC SEND "a b" 3221225994 0 10 77\x01');
    const o = inLine('PRIVMSG bob :\x01DCC SEND "a b" 3221225994 0 10 77\x01');
    if (o.kind !== 'send') throw new Error('kind');
    expect([at(line, o.filenameSpan), at(line, o.addressSpan), at(line, o.portSpan), at(line, o.tokenSpan), at(line, o.verbSpan)]).toEqual(['a b', '3221225994', '0', '77', 'SEND']);
  });

  it('reports other verbs unparsed', () => {
    expect(offer('DCC GET file 3221225994 5000')).toMatchObject({ kind: 'other', verb: 'GET' });
    expect(offer('DCC XMIT standard 3221225994 5000')).toMatchObject({ kind: 'other', verb: 'XMIT' });
    const bytes = b('DCC RSEND  x 1 2');
    const r = parseDcc(bytes, { start: 0, end: bytes.length });
    expect(r.ok && r.offer.kind === 'other' && at(bytes, r.offer.args)).toBe('x 1 2');
  });
});

describe('DCC faults', () => {
  const rows: [string, string][] = [
    ['ACTION waves', 'not-dcc'],
    ['DCCX SEND a 1 2', 'not-dcc'],
    ['DCC', 'no-verb'],
    ['DCC   ', 'no-verb'],
    ['DCC S3ND a 1 2', 'bad-verb'],
    ['DCC ' + 'X'.repeat(17) + ' a 1 2', 'bad-verb'],
    ['DCC SEND', 'missing-arguments'],
    ['DCC SEND a 3221225994', 'missing-arguments'],
    ['DCC SEND "a b" 3221225994', 'missing-arguments'],
    ['DCC SEND "a b" 3221225994 1 2 3 4', 'too-many-arguments'],
    ['DCC SEND "a b 3221225994 5000', 'unterminated-quote'],
    ['DCC SEND "" 3221225994 5000', 'bad-filename'],
    ['DCC SEND "a"b 3221225994 5000', 'bad-filename'],
    ['DCC SEND a 4294967296 5000', 'bad-address'],
    ['DCC SEND a 99999999999999999999 5000', 'bad-address'],
    ['DCC SEND a 03221225994 5000', 'bad-address'],
    ['DCC SEND a -1 5000', 'bad-address'],
    ['DCC SEND a 192.0.2.010 5000', 'bad-address'],
    ['DCC SEND a 192.0.2 5000', 'bad-address'],
    ['DCC SEND a 192.0.2.256 5000', 'bad-address'],
    ['DCC SEND a fe80::1%eth0 5000', 'bad-address'],
    ['DCC SEND a 2001:db8::1::2 5000', 'bad-address'],
    ['DCC SEND a 0x7f000001 5000', 'bad-address'],
    ['DCC SEND a 3221225994 65536', 'bad-port'],
    ['DCC SEND a 3221225994 -1', 'bad-port'],
    ['DCC SEND a 3221225994 05000', 'bad-port'],
    ['DCC SEND a 3221225994 5000 -5', 'bad-size'],
    ['DCC SEND a 3221225994 5000 9007199254740992', 'bad-size'],
    ['DCC SEND a 3221225994 5000 10 ' + 'x'.repeat(65), 'bad-token'],
    ['DCC SEND a 3221225994 5000 10 "t"', 'bad-token'],
    ['DCC CHAT "chat" 3221225994 5000', 'bad-protocol'],
    ['DCC CHAT chat more 3221225994 5000', 'bad-address'],
    ['DCC CHAT chat 3221225994 5000 1 2', 'too-many-arguments'],
    ['DCC RESUME a 5000', 'missing-arguments'],
    ['DCC RESUME a 5000 -1', 'bad-position'],
    ['DCC ACCEPT a 70000 1', 'bad-port'],
  ];
  it.each(rows)('%s', (text, reason) => {
    expect(body(text)).toEqual({ ok: false, reason });
  });

  it('refuses an endless body from its length', () => {
    expect(body('DCC SEND ' + 'a '.repeat(600) + '3221225994 5000')).toEqual({ ok: false, reason: 'too-long' });
  });
});

describe('DCC addresses', () => {
  it('converts integers and dotted quads strictly', () => {
    expect(ipv4FromDccInteger('3221225994')).toBe('192.0.2.10');
    expect(ipv4FromDccInteger('0')).toBe('0.0.0.0');
    expect(ipv4FromDccInteger('4294967295')).toBe('255.255.255.255');
    for (const bad of ['4294967296', '', '01', '-1', '1e3', ' 1', '12345678901', '３']) expect(ipv4FromDccInteger(bad)).toBeNull();
    expect(ipv4ToDccInteger('192.0.2.10')).toBe('3221225994');
    expect(ipv4ToDccInteger('255.255.255.255')).toBe('4294967295');
    for (const bad of ['192.0.2.010', '::1', '1.2.3', 'x']) expect(() => ipv4ToDccInteger(bad)).toThrow(AddressError);
  });

  it('round-trips every IPv4 address through the integer form (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4294967295 }), (n) => {
        const dotted = ipv4FromDccInteger(String(n));
        expect(dotted).not.toBeNull();
        expect(ipv4ToDccInteger(dotted!)).toBe(String(n));
      }),
      { numRuns: 1000 },
    );
  });

  it('formats each form and says which form a replacement keeps', () => {
    expect(formatDccAddress('192.0.2.10', 'integer')).toBe('3221225994');
    expect(formatDccAddress('192.0.2.10', 'ipv4-text')).toBe('192.0.2.10');
    expect(formatDccAddress('192.0.2.10', 'ipv6')).toBe('::ffff:192.0.2.10');
    expect(formatDccAddress('2001:DB8::1', 'ipv6')).toBe('2001:db8::1');
    expect(() => formatDccAddress('2001:db8::1', 'integer')).toThrow(AddressError);
    expect(() => formatDccAddress('2001:db8::1', 'ipv4-text')).toThrow(AddressError);
    expect(dccAddressFormFor('198.51.100.1', 'ipv4-text')).toBe('ipv4-text');
    expect(dccAddressFormFor('198.51.100.1', 'integer')).toBe('integer');
    expect(dccAddressFormFor('198.51.100.1', 'ipv6')).toBe('integer');
    expect(dccAddressFormFor('2001:db8:2::1', 'integer')).toBe('ipv6');
    const bytes = b('::ffff:192.0.2.10');
    expect(readDccAddress(bytes, 0, bytes.length)).toEqual({ address: '192.0.2.10', form: 'ipv6' });
  });
});

describe('formatDcc', () => {
  it('writes the usual shapes', () => {
    expect(formatDcc({ kind: 'send', filename: 'a.txt', address: '192.0.2.10', port: 5000, size: 10 })).toBe('DCC SEND a.txt 3221225994 5000 10');
    expect(formatDcc({ kind: 'send', filename: 'a b.txt', address: '2001:db8::1', port: 0, size: 10, token: '7' })).toBe('DCC SEND "a b.txt" 2001:db8::1 0 10 7');
    expect(formatDcc({ kind: 'send', verb: 'tsend', filename: 'a', address: '192.0.2.10', addressForm: 'ipv4-text', port: 1 })).toBe('DCC TSEND a 192.0.2.10 1');
    expect(formatDcc({ kind: 'chat', address: '192.0.2.10', port: 5000 })).toBe('DCC CHAT chat 3221225994 5000');
    expect(formatDcc({ kind: 'accept', filename: 'file.ext', port: 5000, position: 1 })).toBe('DCC ACCEPT file.ext 5000 1');
  });

  it('refuses what it cannot write', () => {
    const bad: DccOfferFields[] = [
      { kind: 'send', filename: '', address: '192.0.2.10', port: 1 },
      { kind: 'send', filename: 'a"b', address: '192.0.2.10', port: 1 },
      { kind: 'send', filename: 'a\r\nQUIT', address: '192.0.2.10', port: 1 },
      { kind: 'send', filename: 'a', address: '192.0.2.10', port: 65536 },
      { kind: 'send', filename: 'a', address: '192.0.2.10', port: 1.5 },
      { kind: 'send', filename: 'a', address: '192.0.2.10', port: 1, size: -1 },
      { kind: 'send', filename: 'a', address: '192.0.2.10', port: 0, token: '7' },
      { kind: 'send', filename: 'a', address: '192.0.2.10', port: 0, size: 1, token: 'a b' },
      { kind: 'send', verb: 'CHAT', filename: 'a', address: '192.0.2.10', port: 1 },
      { kind: 'chat', protocol: 'a b', address: '192.0.2.10', port: 1 },
      { kind: 'resume', filename: 'a', port: 1, position: -1 },
    ];
    for (const f of bad) expect(() => formatDcc(f), JSON.stringify(f)).toThrow(NatAlgError);
    expect(() => formatDcc({ kind: 'send', filename: 'a', address: 'nowhere', port: 1 })).toThrow(AddressError);
  });

  const filename = fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }).filter((s) => !/[\x00\x01\r\n"]/.test(s) && s.trim() === s && !/ {2}/.test(s));
  const address = fc.oneof(
    fc.ipV4(),
    fc.ipV6().filter((a) => !a.includes('%')),
  );
  const token = fc.stringMatching(/^[\x21\x23-\x7e]{1,64}$/);
  const fields: fc.Arbitrary<DccOfferFields> = fc.oneof(
    fc.record({
      kind: fc.constant('send' as const), verb: fc.constantFrom('SEND', 'TSEND', 'SSEND'), filename, address,
      port: fc.integer({ min: 0, max: 65535 }), size: fc.maxSafeNat(), token,
    }, { requiredKeys: ['kind', 'filename', 'address', 'port'] }).filter((f) => f.token === undefined || f.size !== undefined),
    fc.record({ kind: fc.constant('chat' as const), address, port: fc.integer({ min: 0, max: 65535 }), token }, { requiredKeys: ['kind', 'address', 'port'] }),
    fc.record({ kind: fc.constantFrom('resume' as const, 'accept' as const), filename, port: fc.integer({ min: 0, max: 65535 }), position: fc.maxSafeNat(), token }, { requiredKeys: ['kind', 'filename', 'port', 'position'] }),
  );

  it('round-trips through parseDcc (property)', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const o = offer(formatDcc(f));
        expect(o.kind).toBe(f.kind);
        switch (o.kind) {
          case 'send':
          case 'chat':
            if (f.kind !== 'send' && f.kind !== 'chat') throw new Error('kind');
            expect(o.address).toBe(canonicalAddress(f.address)); // IPv4-mapped reads as IPv4
            expect(o.port).toBe(f.port);
            expect(o.token).toBe(f.token);
            expect(o.passive).toBe(f.port === 0 && f.token !== undefined);
            if (o.kind === 'send' && f.kind === 'send') {
              expect(o.filename).toBe(f.filename);
              expect(o.size).toBe(f.size);
              expect(o.verb).toBe(f.verb ?? 'SEND');
              expect(o.filenameForm).toBe(f.filename.includes(' ') ? 'quoted' : 'plain');
            }
            break;
          case 'resume':
          case 'accept':
            if (f.kind !== 'resume' && f.kind !== 'accept') throw new Error('kind');
            expect([o.filename, o.port, o.position, o.token]).toEqual([f.filename, f.port, f.position, f.token]);
            break;
          case 'other':
            throw new Error('other');
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseDcc on hostile bodies (property)', () => {
  it('never throws on random bytes, and every span it reports lies in the body', () => {
    const piece = fc.constantFrom('DCC ', 'SEND ', 'CHAT ', 'RESUME ', ' ', '"', '0', '1', '65535 ', '4294967295 ', ':', '.', 'a', '\x01', '\xff');
    const anyBody = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(piece, { maxLength: 40 }).map((p) => b(p.join(''))),
    );
    fc.assert(
      fc.property(anyBody, fc.nat(5), (bytes, skip) => {
        const start = Math.min(skip, bytes.length);
        const r = parseDcc(bytes, { start, end: bytes.length });
        if (!r.ok) return;
        const o = r.offer;
        const spans = [o.verbSpan];
        if (o.kind === 'other') spans.push(o.args);
        else spans.push(o.portSpan);
        if (o.kind === 'send' || o.kind === 'chat') spans.push(o.addressSpan);
        for (const s of spans) {
          expect(s.start).toBeGreaterThanOrEqual(start);
          expect(s.end).toBeLessThanOrEqual(bytes.length);
          expect(s.start).toBeLessThanOrEqual(s.end);
        }
        if (o.kind !== 'other') {
          expect(o.port).toBeGreaterThanOrEqual(0);
          expect(o.port).toBeLessThanOrEqual(65535);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('stays fast on the worst bodies it accepts', () => {
    const many = 'DCC SEND ' + 'a '.repeat(500) + '3221225994 5000';
    const started = performance.now();
    for (let i = 0; i < 200; i++) body(many);
    expect(offer(many)).toMatchObject({ filenameForm: 'spaced', port: 5000 });
    expect(performance.now() - started).toBeLessThan(500);
  });
});
