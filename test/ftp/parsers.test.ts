import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  parsePort, parseEprt, parseLprt, formatPort, formatEprt, formatLprt,
  parse227, parse229, parse228, find227, find229, format227, format229, format228,
} from '../../src/core/ftp/index.js';
import { commandArgument } from '../../src/core/ftp/commands.js';
import { VerbScanner, argumentStart, classifyCommand } from '../../src/core/ftp/verb.js';
import { classifyReply, ReplyStartReader } from '../../src/core/ftp/reply-start.js';
import { TlsRecordFollower } from '../../src/core/stream/tls-records.js';

const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

describe('PORT/EPRT/LPRT parsers', () => {
  it.each([
    ['192,0,2,10,19,137', { family: 4, address: '192.0.2.10', port: 5001 }],
    ['0,0,0,0,0,1', { family: 4, address: '0.0.0.0', port: 1 }],
    ['192,000,002,010,019,137', { family: 4, address: '192.0.2.10', port: 5001 }],
    ['255,255,255,255,255,255', { family: 4, address: '255.255.255.255', port: 65535 }],
  ])('parsePort(%s)', (arg, want) => expect(parsePort(arg)).toEqual(want));

  it.each(['', '1,2,3,4,5', '1,2,3,4,5,6,7', '256,0,0,1,0,1', '1,2,3,4,5,0256', '1,2,3,4,5, 6', ' 1,2,3,4,5,6', '1,2,3,4,5,6 ', '1,,3,4,5,6', '-1,2,3,4,5,6', '1,2,3,4,5,6\0'])(
    'parsePort rejects %j',
    (arg) => expect(parsePort(arg)).toBeNull(),
  );

  it.each([
    ['|1|192.0.2.10|5001|', { family: 4, address: '192.0.2.10', port: 5001 }],
    ['!2!2001:DB8::0:1!65535!', { family: 6, address: '2001:db8::1', port: 65535 }],
    ['|2|::ffff:192.0.2.10|21|', { family: 4, address: '192.0.2.10', port: 21 }],
    ['~1~10.0.0.1~0~', { family: 4, address: '10.0.0.1', port: 0 }],
  ])('parseEprt(%s)', (arg, want) => expect(parseEprt(arg)).toEqual({ ok: true, endpoint: want }));

  it.each([
    ['|1|192.0.2.010|5001|', 'bad-syntax'],
    ['|1|192.0.2.10|65536|', 'bad-syntax'],
    ['|1|192.0.2.10|5001', 'bad-syntax'],
    ['|2|192.0.2.10|5001|', 'bad-syntax'],
    ['|1|2001:db8::1|5001|', 'bad-syntax'],
    ['|3|192.0.2.10|5001|', 'unsupported-family'],
    ['1|1|192.0.2.10|5001|1', 'bad-syntax'],
    ['|1|192.0.2.10|50|01|', 'bad-syntax'],
    ['\x7f1\x7f192.0.2.10\x7f5001\x7f', 'bad-syntax'],
  ])('parseEprt rejects %j as %s', (arg, error) => expect(parseEprt(arg)).toEqual({ ok: false, error }));

  it('parseLprt', () => {
    expect(parseLprt('4,4,192,0,2,10,2,19,137')).toEqual({ ok: true, endpoint: { family: 4, address: '192.0.2.10', port: 5001 } });
    expect(parseLprt('6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,0,21')).toEqual({ ok: true, endpoint: { family: 6, address: '2001:db8::1', port: 21 } });
    expect(parseLprt('4,4,192,0,2,10,3,0,19,137')).toEqual({ ok: false, error: 'bad-syntax' });
    expect(parseLprt('4,16,192,0,2,10,2,19,137')).toEqual({ ok: false, error: 'bad-syntax' });
    expect(parseLprt('5,4,192,0,2,10,2,19,137')).toEqual({ ok: false, error: 'unsupported-family' });
    expect(parseLprt('4,4,192,0,2,300,2,19,137')).toEqual({ ok: false, error: 'bad-syntax' });
  });

  it('formatters round-trip', () => {
    const v4 = { family: 4 as const, address: '203.0.113.9', port: 40001 };
    const v6 = { family: 6 as const, address: '2001:db8::9', port: 1025 };
    expect(formatPort(v4)).toBe('PORT 203,0,113,9,156,65');
    expect(parsePort(formatPort(v4).slice(5))).toEqual(v4);
    expect(formatEprt(v6)).toBe('EPRT |2|2001:db8::9|1025|');
    expect(parseEprt(formatEprt(v6).slice(5))).toEqual({ ok: true, endpoint: v6 });
    expect(parseLprt(formatLprt(v6).slice(5))).toEqual({ ok: true, endpoint: v6 });
    expect(parseLprt(formatLprt(v4).slice(5))).toEqual({ ok: true, endpoint: v4 });
    expect(() => formatPort(v6)).toThrow();
  });
});

describe('command classification', () => {
  it.each([
    ['PORT 1', 'PORT'], ['port 1', 'PORT'], ['PoRt\r\n', 'PORT'], ['EPSV\n', 'EPSV'], ['CCC\r\n', 'CCC'],
    ['\xff\xf4\xff\xf2PORT ', 'PORT'], ['\xff\xfb\x01AUTH ', 'AUTH'], ['PORTS ', 'OTHER'],
    ['\xff\xffPORT ', 'OTHER'], ['STOR x', 'OTHER'], ['\n', 'OTHER'], ['\xff\n', 'OTHER'], ['\xff\xfb\n', 'OTHER'],
    ['POR', 'need-more'], ['PORT', 'need-more'], ['\xff', 'need-more'], ['\xff\xfb', 'need-more'], ['', 'need-more'],
    // The most lenient servers (ProFTPD) skip leading whitespace and end a verb at any whitespace.
    [' PORT 1', 'PORT'], ['\tPORT 1', 'PORT'], ['  \x0b\x0c PASV\r\n', 'PASV'], ['PORT\t6', 'PORT'],
    ['PORT\x0b6', 'PORT'], ['port\x0c6', 'PORT'], ['EPRT\t|1|', 'EPRT'], ['PORT\x006', 'PORT'],
    [' \xff\xf1 PORT 1', 'PORT'], ['   ', 'need-more'], ['\r\n', 'OTHER'], ['PO-RT 1', 'OTHER'], ['1PORT', 'OTHER'],
    ['CWD /x', 'OTHER'], ['ccc\r\n', 'CCC'], ['CC\xff\xf1C\r\n', 'CCC'], ['PORT\xff\xf1 ', 'PORT'], ['PAS\xffV ', 'OTHER'],
    ['PASV\xff', 'need-more'], ['QUIT\n\n', 'QUIT'], ['RETR5', 'OTHER'], ['CDUP\r', 'OTHER'], ['AUT\x00 ', 'OTHER'],
  ])('classifyCommand(%j) = %s', (text, want) => {
    const buf = b(text);
    expect(classifyCommand(buf, 0, buf.length)).toBe(want);
  });

  it('the scanner decides the same however a line is split, reading each byte once', () => {
    const alphabet = fc.constantFrom(...'PORTEPSVLACQUIHNGcdw xp \r\n\t\x0b\x0c\x00\xff\xf1\xfb\x01@[`{5'.split('').map((c) => c.charCodeAt(0)));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 16 }), fc.array(fc.nat(16), { maxLength: 6 }), (bytes, cuts) => {
        const buf = Uint8Array.from(bytes);
        const whole = classifyCommand(buf, 0, buf.length);
        const scanner = new VerbScanner();
        scanner.reset();
        const points = [...new Set(cuts.map((c) => Math.min(c, buf.length)))].sort((x, y) => x - y);
        let from = 0;
        let got: string = 'need-more';
        for (const to of [...points, buf.length]) {
          if (scanner.feed(buf, from, to)) {
            got = scanner.verb;
            break;
          }
          from = to;
        }
        expect(got).toBe(whole);
      }),
      { numRuns: 20000 },
    );
  });

  it('a line of a million blanks fed a byte at a time is still read as the PORT it ends in', () => {
    const scanner = new VerbScanner();
    scanner.reset();
    const blank = Uint8Array.of(32);
    let undecided = 0;
    for (let k = 0; k < 1_000_000; k++) if (!scanner.feed(blank, 0, 1)) undecided++;
    expect(undecided).toBe(1_000_000);
    const port = b('PORT 1');
    expect(scanner.feed(port, 0, port.length)).toBe(true);
    expect(scanner.verb).toBe('PORT');
    expect(scanner.at).toBe(4);
  });

  it('commandArgument skips Telnet commands, blanks and the verb, and takes what follows the blanks after it', () => {
    expect(commandArgument('PORT 1,2,3,4,5,6')).toBe('1,2,3,4,5,6');
    expect(commandArgument('\xff\xf4\xff\xfb PORT 1')).toBe('1'); // IAC IP, IAC WILL ' ', then the verb
    expect(commandArgument('PASV')).toBeNull();
    expect(commandArgument('PASV ')).toBeNull();
    expect(commandArgument(' \tPORT\t1,2')).toBe('1,2');
    // Only one blank ends a verb; the rest is the argument's, and a data address with blanks in
    // front, or after a NUL, does not parse (and is refused).
    expect(commandArgument('PORT\t\x0b 1,2')).toBe('\x0b 1,2');
    expect(commandArgument('PORT\x001,2')).toBe('\x001,2');
    expect(argumentStart(b('PO-RT 1'), 0, 7)).toBe(-1);
  });
});

describe('reply framing and passive replies', () => {
  it.each([
    ['227 x', { code: 227, continues: false }], ['227-x', { code: 227, continues: true }], ['22', 'need-more'], ['227', 'need-more'],
    ['2a7 ', 'text'], ['227x', 'text'], ['22\n', 'text'], [' 227 ', 'text'],
  ] as const)('classifyReply(%j)', (text, want) => {
    const buf = b(text);
    expect(classifyReply(buf, 0, buf.length)).toEqual(want);
  });

  it('the reply-start reader decides the same however a line is split, at the same byte', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'0123456789 -x\r\n'.split('').map((c) => c.charCodeAt(0))), { maxLength: 8 }), fc.nat(8), (bytes, cut) => {
        const buf = Uint8Array.from(bytes);
        const whole = new ReplyStartReader();
        whole.reset();
        const decided = whole.feed(buf, 0, buf.length);
        const split = new ReplyStartReader();
        split.reset();
        const at = Math.min(cut, buf.length);
        const early = split.feed(buf, 0, at);
        const late = early || split.feed(buf, at, buf.length);
        expect(late).toBe(decided);
        if (decided) {
          expect(split.line).toEqual(whole.line);
          expect(split.at).toBe(whole.at);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['227 Entering Passive Mode (192,168,1,2,4,1).', '192.168.1.2', 1025],
    ['227 Entering Passive Mode 192,168,1,2,4,1', '192.168.1.2', 1025],
    ['227 =192,168,001,002,004,001', '192.168.1.2', 1025],
    ['227 Entering Passive Mode 2 (10,0,0,1,0,21)', '10.0.0.1', 21],
    ['227-Entering Passive Mode (10,0,0,1,255,255)', '10.0.0.1', 65535],
  ])('parse227(%j)', (line, address, port) => expect(parse227(line)).toEqual({ family: 4, address, port }));

  it('find227 reports spans and refuses to mask out-of-range fields', () => {
    const line = '227 Entering Passive Mode (10,0,0,1,4,1).';
    const f = find227(line, 4);
    expect(f !== null && f !== 'malformed' && line.slice(f.start, f.end)).toBe('10,0,0,1,4,1');
    expect(find227('227 (10,0,0,300,4,1)', 4)).toBe('malformed');
    expect(find227('227 (10,0,0,1,4)', 4)).toBeNull();
    expect(parse227('227 Entering Passive Mode')).toBeNull();
  });

  it('parse229 and parse228', () => {
    expect(parse229('229 Entering Extended Passive Mode (|||6446|)', '198.51.100.20')).toEqual({ family: 4, address: '198.51.100.20', port: 6446 });
    expect(parse229('229 ok (!!!1!)', '::1', 6)).toEqual({ family: 6, address: '::1', port: 1 });
    expect(parse229('229 (|||70000|)', 'x')).toBeNull();
    expect(find229('229 (|||70000|)', 'x', 4, 4)).toBe('malformed');
    expect(parse229('229 (||6446|)', 'x')).toBeNull();
    expect(parse228('228 Entering Long Passive Mode (4,4,10,0,0,5,2,195,80)')).toEqual({ family: 4, address: '10.0.0.5', port: 50000 });
  });

  it('formatters', () => {
    const e = { family: 4 as const, address: '203.0.113.9', port: 40001 };
    expect(format227(e)).toBe('227 Entering Passive Mode (203,0,113,9,156,65).');
    expect(parse227(format227(e))).toEqual(e);
    expect(format229(40001)).toBe('229 Entering Extended Passive Mode (|||40001|)');
    expect(parse228(format228(e))).toEqual(e);
  });
});

describe('TLS record follower', () => {
  it('skips whole records and stops at a non-record byte', () => {
    const f = new TlsRecordFollower();
    const rec = Uint8Array.from([23, 3, 3, 0, 3, 0x50, 0x0a, 0x32, 50]);
    expect(f.advance(rec, 0, rec.length)).toBe(8);
    expect(f.status).toBe('plaintext');
  });

  it('follows records split anywhere', () => {
    const rec = Uint8Array.from([22, 3, 1, 0, 2, 10, 10, 21, 3, 3, 0, 2, 1, 0]);
    for (let cut = 1; cut < rec.length; cut++) {
      const f = new TlsRecordFollower();
      expect(f.advance(rec, 0, cut)).toBe(cut);
      expect(f.status).toBe('continue');
      expect(f.advance(rec, cut, rec.length)).toBe(rec.length);
      expect(f.atBoundary).toBe(true);
    }
  });

  it('reports lost framing', () => {
    const f = new TlsRecordFollower();
    expect(f.advance(Uint8Array.from([23, 2, 0, 0, 1]), 0, 5)).toBe(5);
    expect(f.status).toBe('broken');
    const g = new TlsRecordFollower();
    g.advance(Uint8Array.from([23, 3, 3, 0x48, 0x01]), 0, 5);
    expect(g.status).toBe('broken');
  });
});
