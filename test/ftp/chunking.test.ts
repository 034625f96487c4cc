/**
 * Property tests: chunking never matters, random bytes never throw, edits explain the output.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { run, seg, C2S, S2C, concat, edits, applyEdits, text, type Segment, type Resolver, type RunResult } from './harness.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const optionsList: FtpTranslatorOptions[] = [
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, maxPendingDataChannels: 2 } },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, overlongLine: 'close' } },
  { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true },
];

const tlsRecord = '\x17\x03\x03\x00\x0aPORT 6,6,\r\n';
const clientLines = [
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
const serverLines = [
  '220 hi\r\n', '200 ok\r\n', '227 Entering Passive Mode (10,0,0,5,195,80).\r\n', '227 =10,0,0,5,0,21\n',
  '227-multi\r\n227 (10,0,0,5,195,80)\r\n', '227-a\r\n 1,2,3,4,5,6\r\n227 b\r\n', '229 Entering Extended Passive Mode (|||50000|)\r\n',
  '228 Entering Long Passive Mode (4,4,10,0,0,5,2,195,80)\r\n', '234 go\r\n', '500 no\r\n', '150 opening\r\n',
  '226 done\r\n', '214-help\r\n 227 (1,2,3,4,5,6)\r\n214 end\r\n', '221 bye\r\n', '421 timeout\r\n', '120 later\r\n',
  '227 (10,0,0,300,1,1)\r\n', '227 ' + 'y'.repeat(300) + '\r\n', 'garbage\r\n', '22', '7 (10,0,0,5,195,80)\r\n', tlsRecord,
];

const bytesOf = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);

const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
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

const sessionArb = fc.tuple(
  fc.constantFrom(...optionsList),
  fc.array(segmentArb, { minLength: 1, maxLength: 12 }).map((ss) => [seg(S2C, '220 hi\r\n'), ...ss]),
  fc.boolean(),
);

/** Resolver that refuses every third request, so both answers are exercised. */
const resolver: Resolver = (r) =>
  r.id % 3 === 0 ? { refuse: 'test refusal' } : r.family === 4 ? { family: 4, address: '192.0.2.1', port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id };

function same(a: RunResult, b: RunResult): void {
  expect(text(b.c2s)).toBe(text(a.c2s));
  expect(text(b.s2c)).toBe(text(a.s2c));
  expect(b.events).toEqual(a.events);
  expect(b.stuck > 0).toBe(a.stuck > 0);
}

function randomSplits(seed: number) {
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

describe('chunking does not matter', () => {
  it('random sessions: whole segments = random chunks = one byte at a time', () => {
    fc.assert(
      fc.property(sessionArb, fc.integer(), ([o, segs, end], seed) => {
        const whole = run(o, segs, resolver, undefined, end);
        const random = run(o, segs, resolver, randomSplits(seed), end);
        const single = run(o, segs, resolver, (d) => Array.from({ length: d.length }, () => 1), end);
        same(whole, random);
        same(whole, single);
        // No command line longer than the cap reaches the server (while it is plaintext).
        if (!whole.events.some((e) => e.type === 'tls-started')) {
          const max = o.policy?.maxLineLength ?? 4096;
          for (const line of text(whole.c2s).split(/(?<=\n)/)) expect(line.length).toBeLessThanOrEqual(max);
        }
        const total = segs.reduce((n, s) => n + s.data.length, 0);
        if (total > segs.length * 2 && whole.stuck === 0) expect(single.feeds).toBeGreaterThan(whole.feeds);
      }),
      { numRuns: 300 },
    );
  });

  it('every single split point of a session', () => {
    const segs = [
      seg(S2C, '220-Welcome\r\n220 ready\r\n'),
      seg(C2S, 'USER a\r\nPASS b\r\nTYPE I\r\n\xff\xf4\xff\xf2PORT 6,6,6,6,0,21\r\nport 192,0,2,10,19,137\nEPSV\r\nPASV\r\nLIST\r\n'),
      seg(S2C, '331 pw\r\n230 ok\r\n200 binary\r\n200 PORT ok\n229 Entering Extended Passive Mode (|||50000|)\r\n227-x\r\n227 =010,000,000,005,195,080.\r\n150 here\r\n226 done\r\n'),
      seg(C2S, 'STOR a\r\0b\r\nAUTH TLS\r\n'),
      seg(S2C, '226 ok\r\n234 go\r\n\x16\x03\x01\x00\x02ab'),
    ];
    const o = optionsList[0]!;
    const whole = run(o, segs, resolver);
    // PORT and the 229 are rewritten; the 227 (request 3) is refused by the resolver.
    expect(whole.events.filter((e) => e.type === 'line-translated').length).toBe(2);
    expect(whole.events.filter((e) => e.type === 'command-refused').map((e) => e.type === 'command-refused' && e.reason)).toEqual([
      'foreign-address', 'mapping-refused',
    ]);
    expect(whole.events.at(-1)?.type).toBe('tls-started');
    let checked = 0;
    segs.forEach((sg, k) => {
      for (let cut = 1; cut < sg.data.length; cut++) {
        const r = run(o, segs, resolver, (d, i) => (i === k ? [cut, d.length - cut] : [d.length]));
        same(whole, r);
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(250);
  });
});

describe('robustness', () => {
  it('random bytes in both directions never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...optionsList),
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 200 })), { minLength: 1, maxLength: 20 }),
        (o, parts) => {
          const segs = parts.map(([cl, b]) => seg(cl ? C2S : S2C, b));
          run(o, segs, resolver, undefined, true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('edits applied to the input reproduce the output', () => {
    fc.assert(
      fc.property(sessionArb, ([o, segs]) => {
        // ended, so that undecided line starts held at the end are flushed (or dropped with an edit)
        const r = run(o, segs, resolver, undefined, true);
        if (r.events.some((e) => e.type === 'close') || r.stuck > 0) return; // input left unconsumed or dropped on close
        for (const [dir, output] of [[C2S, r.c2s], [S2C, r.s2c]] as const) {
          const input = concat(segs.filter((s) => s.dir === dir).map((s) => s.data));
          const es = edits(r.events).filter((e) => e.direction === dir);
          // outputs of edits are in order and consistent with the shifts
          let shift = 0;
          for (const e of es) {
            expect(e.outputOffset).toBe(e.inputOffset + shift);
            expect(e.delta).toBe(e.outputLength - e.inputLength);
            shift += e.delta;
          }
          const rebuilt = applyEdits(input, es, (e) => output.subarray(e.outputOffset, e.outputOffset + e.outputLength));
          expect(text(rebuilt)).toBe(text(output));
        }
      }),
      { numRuns: 300 },
    );
  });
});

void bytesOf;
