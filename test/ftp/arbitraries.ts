/**
 * Generators shared by the property tests: sessions built from lines that exercise every rule
 * (data-address commands, passive replies in their shapes, multi-line replies, Telnet commands,
 * TLS records, lines around the caps) mixed with random bytes, and the comparison of two runs.
 */
import { expect } from 'vitest';
import fc from 'fast-check';
import { seg, C2S, S2C, text, type Segment, type Resolver, type RunResult } from './harness.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

export const optionsList: FtpTranslatorOptions[] = [
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, maxPendingDataChannels: 2 } },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, overlongLine: 'close' } },
  { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true },
];

const tlsRecord = '\x17\x03\x03\x00\x0aPORT 6,6,\r\n';
export const clientLines = [
  'USER anonymous\r\n', 'PASS guest\r\n', 'PORT 192,0,2,10,19,137\r\n', 'PORT 6,6,6,6,0,21\r\n', 'port 192,0,2,10,4,1\n',
  'EPRT |1|192.0.2.10|5001|\r\n', 'EPRT |2|2001:db8::10|5001|\r\n', 'LPRT 4,4,192,0,2,10,2,19,137\r\n', 'PASV\r\n',
  'EPSV\r\n', 'EPSV ALL\r\n', 'LPSV\r\n', 'REIN\r\n', 'QUIT\r\n', 'AUTH TLS\r\n', 'CCC\r\n', 'ALGS STATUS64\r\n',
  'ALGS DISABLE64\r\n', '\xff\xf4\xff\xf2ABOR\r\n', '\xff\xf4\xff\xf2PORT 6,6,6,6,0,21\r\n', 'STOR a\r\0b\xff\xff\r\n',
  'RETR x\n', 'PORT\r\n', 'PORT ' + '9'.repeat(300) + '\r\n', 'NOOP ' + 'x'.repeat(5000) + '\r\n', 'PO', 'RT 1,2', '\r\n',
  '\xff', '\xff\xfb', 'EP', tlsRecord,
  // Telnet commands inside a verb (Telnet-stripping servers read these as PORT / PASV / AUTH)
  'PO\xff\xf1RT 6,6,6,6,0,21\r\n', 'P\xff\xfb\x01ORT 192,0,2,10,19,137\r\n', 'PA\xff', '\xf1SV\r\n', 'AU\xff\xf1TH TLS\r\n',
  // around the 128-byte cap of the small-limit options: 128 bytes fits, 129 does not; a line
  // without its end continues in whatever segment comes next
  'SITE ' + 'a'.repeat(121) + '\r\n', 'SITE ' + 'b'.repeat(122) + '\r\n', 'STOR ' + 'c'.repeat(80), '\xff\xf4\r\0'.repeat(40),
];
export const serverLines = [
  '220 hi\r\n', '200 ok\r\n', '227 Entering Passive Mode (10,0,0,5,195,80).\r\n', '227 =10,0,0,5,0,21\n',
  '227-multi\r\n227 (10,0,0,5,195,80)\r\n', '227-a\r\n 1,2,3,4,5,6\r\n227 b\r\n', '229 Entering Extended Passive Mode (|||50000|)\r\n',
  '228 Entering Long Passive Mode (4,4,10,0,0,5,2,195,80)\r\n', '234 go\r\n', '500 no\r\n', '150 opening\r\n',
  '226 done\r\n', '214-help\r\n 227 (1,2,3,4,5,6)\r\n214 end\r\n', '221 bye\r\n', '421 timeout\r\n', '120 later\r\n',
  '227 (10,0,0,300,1,1)\r\n', '227 ' + 'y'.repeat(300) + '\r\n', 'garbage\r\n', '22', '7 (10,0,0,5,195,80)\r\n', tlsRecord,
];

export const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom(...clientLines), { minLength: 1, maxLength: 4 }).map((ls) => seg(C2S, ls.join(''))) },
  { weight: 5, arbitrary: fc.array(fc.constantFrom(...serverLines), { minLength: 1, maxLength: 4 }).map((ls) => seg(S2C, ls.join(''))) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([cl, b]) => seg(cl ? C2S : S2C, b)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.boolean(), fc.array(fc.constantFrom('\r', '\n', '\0', '\xff', '2', '7', ' ', '-', 'P', 'O', 'R', 'T', ',', '(', '|'), { maxLength: 30 }))
      .filter(([, cs]) => cs.length > 0)
      .map(([cl, cs]) => seg(cl ? C2S : S2C, cs.join(''))),
  },
);

export const sessionArb = fc.tuple(
  fc.constantFrom(...optionsList),
  fc.array(segmentArb, { minLength: 1, maxLength: 12 }).map((ss) => [seg(S2C, '220 hi\r\n'), ...ss]),
  fc.boolean(),
);

/** Resolver that refuses every third request, so both answers are exercised. */
export const resolver: Resolver = (r) =>
  r.id % 3 === 0 ? { refuse: 'test refusal' } : r.family === 4 ? { family: 4, address: '192.0.2.1', port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id };

export function same(a: RunResult, b: RunResult): void {
  expect(text(b.c2s)).toBe(text(a.c2s));
  expect(text(b.s2c)).toBe(text(a.s2c));
  expect(b.events).toEqual(a.events);
  expect(b.stuck > 0).toBe(a.stuck > 0);
}

export function randomSplits(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  return (d: Uint8Array) => {
    const out: number[] = [];
    let left = d.length;
    while (left > 0) {
      const n = Math.min(left, 1 + Math.floor(next() * 9));
      out.push(n);
      left -= n;
    }
    return out;
  };
}

const caseOf = (word: string, mask: number) => [...word].map((ch, i) => ((mask >> i) & 1 ? ch.toLowerCase() : ch)).join('');
const telnet = ['\xff\xf1', '\xff\xf4', '\xff\xfb\x01', '\xff\xfd\x18'];

const verbArb = fc
  .tuple(
    fc.constantFrom('PORT', 'EPRT', 'LPRT', 'PASV', 'EPSV', 'LPSV', 'AUTH', 'NOOP', 'USER'),
    fc.nat(15),
    fc.option(fc.tuple(fc.nat(4), fc.constantFrom(...telnet)), { nil: null }),
  )
  .map(([verb, mask, inside]) => {
    let v = caseOf(verb, mask);
    if (inside) v = v.slice(0, inside[0]) + inside[1] + v.slice(inside[0]);
    return { verb, spelled: v };
  });

const argumentOf: Record<string, string[]> = {
  PORT: ['6,6,6,6,0,21', '6,6,6,6,200,1', '192,0,2,10,0,22', '198,51,100,99,4,1'],
  EPRT: ['|1|6.6.6.6|21|', '|1|6.6.6.6|5001|', '|1|192.0.2.10|22|', '|2|2001:db8::66|5001|'],
  LPRT: ['4,4,6,6,6,6,2,0,21', '4,4,6,6,6,6,2,19,137'],
  PASV: [''], EPSV: ['', 'ALL'], LPSV: [''], AUTH: ['TLS', 'SSL'], NOOP: [''], USER: ['anonymous'],
};

/**
 * Hostile command lines: data-address and passive verbs (and a few others) in every spelling a
 * lenient server would still execute: random case, blanks and Telnet commands before the verb,
 * Telnet commands inside it, any whitespace or NUL (or a bare CR) after it.
 */
export const hostileLineArb = fc
  .tuple(
    fc.array(fc.constantFrom(' ', '\t', '\x0b', '\x0c', ...telnet), { maxLength: 3 }),
    verbArb,
    fc.constantFrom(' ', '\t', '\x0b', '\x0c', '\0', '  ', '\r', ' \t'),
    fc.nat(),
    fc.constantFrom('\r\n', '\n'),
  )
  .map(([lead, { verb, spelled }, delimiter, pick, eol]) => {
    const args = argumentOf[verb]!;
    const arg = args[pick % args.length]!;
    return lead.join('') + spelled + (arg === '' && delimiter !== '\r' ? '' : delimiter + arg) + eol;
  });

