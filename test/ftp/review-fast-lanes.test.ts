/**
 * Review of the fast lanes (src/core/ftp/fast-lanes.ts, stream/line-ends.ts) against the general
 * path, aimed at their boundaries: answers to data-channel requests given late (several chunks
 * later, in any order), handleEnd at any step, chunks of several 16 KiB line-end windows cut like
 * 64 KiB socket reads or around the 1 KiB "direct" threshold, both line-end backends, and two
 * translators interleaved call by call (the line-end list is module state).
 */
const SCALE = Number(process.env.REVIEW_SCALE ?? '1');
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { C2S, S2C, bytes } from './harness.js';
import { optionsList, clientLines, serverLines } from './arbitraries.js';
import { drive, whole, Driver, type Step, type DriveResult } from './review-driver.js';
import { LINE_ENDS } from '../../src/core/stream/line-ends.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';
import { LineEnds } from '../../src/core/stream/line-ends.js';

// Turn an endless LineEnds refill loop (seen in a working-tree change, see review-long-lines)
// into a failure instead of a hung suite: no chunk here needs more than a few hundred windows.
{
  const proto = LineEnds.prototype as unknown as { fill?: (this: LineEnds, from: number) => void; begin: (...a: unknown[]) => void };
  const fill = proto.fill;
  const begin = proto.begin;
  let fills = 0;
  if (fill) {
    proto.fill = function (this: LineEnds, from: number) {
      if (++fills > 5000) throw new Error('LineEnds refills without advancing (endless loop)');
      fill.call(this, from);
    };
  }
  proto.begin = function (this: LineEnds, ...a: unknown[]) {
    fills = 0;
    begin.apply(this, a);
  };
}

const plainCommands = ['NOOP\r\n', 'CWD /pub/x\r\n', 'TYPE I\r\n', 'RETR a\r\n', 'PWD\r\n', 'QUIT\r\n', 'CCC\r\n', 'cdup\n', 'PASV\r\n', 'LPSV\r\n', 'STAT\r\n', 'ALGS\r\n', 'REIN\r\n'];
const plainReplies = [
  '200 ok\r\n', '150 here\r\n', '226 done\r\n', '213 1\r\n', '331 pw\r\n', '550 no\r\n', '110 r\r\n', '600 odd\r\n', '099 odd\r\n',
  '211-F:\r\n EPRT\r\n211 End\r\n', '213-S:\r\n-rw x\r\n213-still\r\n 227 (1,2,3,4,5,6)\r\n2134 no\r\n213 End\r\n',
  '250-a\n250 b\n', 'text outside\r\n', '12 short\r\n', '2270 x\r\n', '227\r\n', '200\r\n', '200-\r\n200 \r\n', '\r\n', '\n',
  '230-a\r\n230-b\r\n\r\n230 c\r\n', '234 go\r\n', '221 bye\r\n', '229 (|||50000|)\r\n', '228 (4,4,10,0,0,5,2,195,80)\r\n',
  '227-a\r\n 1,2,3,4,5,6\r\n227 b\r\n', '227 (10,0,0,5,195,80)\r\n', '200-x\r\n' + ' long'.repeat(40) + '\r\n200 y\r\n',
];
const oddCommands = ['EPSV ALL\r\n', 'AUTH TLS\r\n', 'PORT 192,0,2,10,19,137\r\n', 'EPRT |1|192.0.2.10|5001|\r\n', 'EPSV\r\n', 'NOOP\r', '\rNOOP\r\n', 'NO\0OP\r\n', ' PASV\r\n', 'PASV x\r\n', 'pasv\n'];

// Lines longer than a line-end window (16 KiB): within the cap of the 1 MiB option only.
const hugeCommands = ['SITE ' + 'h'.repeat(40_000) + '\r\n', 'NOOP ' + 'i'.repeat(16_380) + '\r\n'];
const hugeReplies = ['200 ' + 'h'.repeat(40_000) + '\r\n', '211-' + 'j'.repeat(16_379) + '\r\n' + ' k'.repeat(9000) + '\r\n211 e\r\n'];
const options: FtpTranslatorOptions[] = [
  ...optionsList,
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 1 << 20 } },
  { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true, policy: { maxLineLength: 128, overlongLine: 'close' } },
];

const lineOf = (dir: 'c' | 's') =>
  dir === 'c'
    ? fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...plainCommands, ...plainCommands, ...oddCommands, ...clientLines) }, { weight: 1, arbitrary: fc.constantFrom(...hugeCommands) })
    : fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...plainReplies, ...plainReplies, ...serverLines) }, { weight: 1, arbitrary: fc.constantFrom(...hugeReplies) });

/** A data step of 1 to 60 lines (or random bytes), cut at random points. */
const smallData = (dir: 'c' | 's') =>
  fc.tuple(fc.array(lineOf(dir), { minLength: 1, maxLength: 60 }), fc.array(fc.nat(400), { maxLength: 6 })).map(([ls, cuts]): Step => {
    const data = bytes(ls.join(''));
    return { t: 'data', dir: dir === 'c' ? C2S : S2C, data, cuts: [...cuts].sort((a, b) => a - b) };
  });

/** A big data step (20-70 KiB of lines), cut like socket reads or around the lanes' thresholds. */
const bigData = (dir: 'c' | 's') =>
  fc
    .tuple(fc.array(lineOf(dir), { minLength: 20, maxLength: 60 }), fc.integer({ min: 20_000, max: 70_000 }), fc.constantFrom('64k', 'window', 'direct', 'random'), fc.integer())
    .map(([ls, size, how, seed]): Step => {
      const parts: string[] = [];
      let n = 0;
      for (let k = 0; n < size; k++) {
        const l = ls[(k * 7 + (seed >>> 0)) % ls.length]!;
        parts.push(l);
        n += l.length;
      }
      const data = bytes(parts.join(''));
      const cuts: number[] = [];
      if (how === '64k') for (let c = 65536; c < data.length; c += 65536) cuts.push(c);
      else if (how === 'window') for (let c = 16384 + (seed & 7) - 3; c < data.length; c += 16384 + ((seed >> 3) & 3)) cuts.push(c);
      else if (how === 'direct') for (let c = 1023 + (seed & 3); c < data.length; c += 1023 + ((seed >> 2) & 3) + 40 * ((seed >> 4) & 1)) cuts.push(c);
      else {
        let x = seed >>> 0 || 1;
        for (let c = 0; ; ) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          c += 1 + ((x >>> 0) % 20000);
          if (c >= data.length) break;
          cuts.push(c);
        }
      }
      return { t: 'data', dir: dir === 'c' ? C2S : S2C, data, cuts };
    });

const stepArb = (big: boolean): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 5, arbitrary: smallData('c') },
    { weight: 5, arbitrary: smallData('s') },
    { weight: big ? 2 : 0, arbitrary: fc.constantFrom<'c' | 's'>('c', 's').chain((d) => bigData(d)) },
    { weight: 3, arbitrary: fc.tuple(fc.nat(5), fc.boolean()).map(([pick, refuse]): Step => ({ t: 'answer', pick, refuse })) },
    { weight: 1, arbitrary: fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 50 })).map(([cl, data]): Step => ({ t: 'data', dir: cl ? C2S : S2C, data, cuts: [] })) },
    { weight: 1, arbitrary: fc.constantFrom<Step>({ t: 'end', dir: C2S }, { t: 'end', dir: S2C }) },
  );

const scriptArb = (big: boolean, maxSteps: number) =>
  fc.tuple(
    fc.constantFrom(...options),
    fc.array(stepArb(big), { minLength: 1, maxLength: maxSteps }).map((ss): Step[] => [{ t: 'data', dir: S2C, data: bytes('220 hi\r\n'), cuts: [] }, ...ss]),
  );

function sameResult(a: DriveResult, b: DriveResult): void {
  expect(b.c2s).toBe(a.c2s);
  expect(b.s2c).toBe(a.s2c);
  expect(b.events).toEqual(a.events);
  expect(b.stuck > 0).toBe(a.stuck > 0);
}

let consumedTotal = 0;
afterAll(() => { if (process.env.REVIEW_SCALE) console.log("consumed", consumedTotal); });
function check(o: FtpTranslatorOptions, steps: Step[]): void {
  for (const eager of [false, true]) {
    const general = drive(o, steps, false, eager);
    const fast = drive(o, steps, true, eager);
    sameResult(general, fast);
    expect(fast.log).toEqual(general.log); // same bytes consumed by every call
    // and the chunking does not matter (answers and ends stay at their steps)
    sameResult(general, drive(o, whole(steps), true, eager));
    consumedTotal += fast.consumed;
  }
}

describe('review: fast lanes = general path under late answers, ends and big chunks', () => {
  it('small steps, answers given late and in any order, handleEnd anywhere', () => {
    fc.assert(fc.property(scriptArb(false, 16), ([o, steps]) => check(o, steps)), { numRuns: Math.round(400 * SCALE) });
  });

  it('big chunks (20-70 KiB) cut as 64 KiB reads, at window edges, around the 1 KiB direct threshold', () => {
    fc.assert(fc.property(scriptArb(true, 8), ([o, steps]) => check(o, steps)), { numRuns: Math.round(120 * SCALE) });
  });

  describe('with the JavaScript line-end backend', () => {
    afterAll(() => {
      LINE_ENDS.setBackend('simd');
    });
    it('big chunks and late answers', () => {
      expect(LINE_ENDS.setBackend('js')).toBe('js');
      fc.assert(fc.property(scriptArb(true, 8), ([o, steps]) => check(o, steps)), { numRuns: Math.round(80 * SCALE) });
      LINE_ENDS.setBackend('simd');
    });
  });

  it('two translators interleaved step by step give what each gives alone', () => {
    fc.assert(
      fc.property(scriptArb(true, 8), scriptArb(true, 8), ([o1, s1], [o2, s2]) => {
        const a = new Driver(o1, true);
        const b = new Driver(o2, true);
        const n = Math.max(s1.length, s2.length);
        for (let k = 0; k < n; k++) {
          if (k < s1.length) a.step(s1[k]!);
          if (k < s2.length) b.step(s2[k]!);
        }
        sameResult(drive(o1, s1, false), a.result());
        sameResult(drive(o2, s2, false), b.result());
      }),
      { numRuns: Math.round(60 * SCALE) },
    );
  });
});

describe('review: lane switches and limits', () => {
  it('switching fastLanes on and off between calls changes nothing (state is written back)', () => {
    fc.assert(
      fc.property(scriptArb(false, 16), fc.array(fc.boolean(), { minLength: 17, maxLength: 17 }), ([o, steps], flips) => {
        const general = drive(o, steps, false);
        const d = new Driver(o, true);
        steps.forEach((st, k) => {
          d.t.fastLanes = flips[k]!;
          d.step(st);
        });
        sameResult(general, d.result());
      }),
      { numRuns: Math.round(300 * SCALE) },
    );
  });

  it('a pipeline reaching MAX_PENDING_COMMANDS across reads and replies closes at the same line', () => {
    fc.assert(
      fc.property(fc.integer({ min: 500, max: 530 }), fc.array(fc.nat(4000), { maxLength: 6 }), fc.nat(40), fc.constantFrom('NOOP\r\n', 'PASV\r\n', 'cdup\n', 'CCC\r\n'), (count, cuts, replies, cmd) => {
        const o = optionsList[0]!;
        const steps: Step[] = [
          { t: 'data', dir: S2C, data: bytes('220 hi\r\n'), cuts: [] },
          { t: 'data', dir: C2S, data: bytes(cmd.repeat(count >> 1)), cuts: [...cuts].sort((a, b) => a - b) },
          { t: 'data', dir: S2C, data: bytes('200 ok\r\n'.repeat(replies)), cuts: [] },
          { t: 'data', dir: C2S, data: bytes(cmd.repeat(count - (count >> 1))), cuts: [...cuts].sort((a, b) => a - b) },
        ];
        check(o, steps);
      }),
      { numRuns: Math.round(60 * SCALE) },
    );
  });
});
