/**
 * The fast lanes (src/core/ftp/fast-lanes.ts) restate the session rules for ordinary lines; the
 * general path is the reference. For the same input, with the fast lanes on and off, the bytes
 * out, the events (edits included), what is consumed and where a direction blocks must be the same.
 */
import { describe, it, expect, vi, afterEach, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { run, seg, C2S, S2C, fixedResolver, type Segment, type RunResult } from './harness.js';
import { optionsList, sessionArb, resolver, same, randomSplits, clientLines, serverLines } from './arbitraries.js';
import { LineFraming } from '../../src/core/ftp/framing.js';
import { LINE_ENDS } from '../../src/core/stream/line-ends.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const off = (t: { fastLanes: boolean }) => {
  t.fastLanes = false;
};

/** `split` makes a fresh chunker per run (random ones keep state). */
function both(o: FtpTranslatorOptions, segs: readonly Segment[], split?: () => (d: Uint8Array, i: number) => number[], end = false): RunResult {
  const fast = run(o, segs, resolver, split?.(), end);
  const general = run(o, segs, resolver, split?.(), end, off);
  same(general, fast);
  expect(fast.feeds).toBe(general.feeds);
  expect(fast.stuck).toBe(general.stuck);
  return fast;
}

// Ordinary lines, many to a segment: the lanes' own territory, with the lines that end it mixed in.
const plainCommands = ['NOOP\r\n', 'CWD /pub/x\r\n', 'TYPE I\r\n', 'RETR a.tar.gz\r\n', 'PWD\r\n', 'QUIT\r\n', 'CCC\r\n', 'cdup\n', 'PASV\r\n', 'LPSV\r\n', 'STAT\r\n'];
const plainReplies = [
  '200 ok\r\n', '150 here\r\n', '226 done\r\n', '213 12345\r\n', '250 changed\r\n', '331 pw\r\n', '550 no\r\n', '110 restart\r\n', '600 odd\r\n', '099 odd\r\n',
  '211-Features:\r\n EPRT\r\n EPSV\r\n211 End\r\n', '213-Status:\r\n-rw-r--r-- 1 ftp ftp 5 x\r\n213-still\r\n 227 (1,2,3,4,5,6)\r\n2134 no\r\n213 End\r\n',
  '250-a\n250 b\n', 'text outside a reply\r\n', '12 short\r\n', '227 Entering Passive Mode (10,0,0,5,195,80).\r\n',
  '229 Entering Extended Passive Mode (|||50000|)\r\n', '228 (4,4,10,0,0,5,2,195,80)\r\n', '227-a\r\n 1,2,3,4,5,6\r\n227 b\r\n',
];
const denseSegment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...plainCommands, ...plainCommands, ...clientLines), { minLength: 1, maxLength: 40 }).map((ls) => seg(C2S, ls.join(''))) },
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...plainReplies, ...plainReplies, ...serverLines), { minLength: 1, maxLength: 40 }).map((ls) => seg(S2C, ls.join(''))) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 60 })).map(([cl, b]) => seg(cl ? C2S : S2C, b)) },
);
const denseSession = fc.tuple(
  fc.constantFrom(...optionsList),
  fc.array(denseSegment, { minLength: 1, maxLength: 10 }).map((ss) => [seg(S2C, '220 hi\r\n'), ...ss]),
  fc.boolean(),
);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fast lanes = general path', () => {
  it('random sessions, whole segments and random chunks', () => {
    fc.assert(
      fc.property(sessionArb, fc.integer(), ([o, segs, end], seed) => {
        both(o, segs, undefined, end);
        both(o, segs, () => randomSplits(seed), end);
      }),
      { numRuns: 300 },
    );
  });

  it('dense sessions: dozens of ordinary lines per chunk with the lines that end a lane mixed in', () => {
    fc.assert(
      fc.property(denseSession, fc.integer(), ([o, segs, end], seed) => {
        both(o, segs, undefined, end);
        both(o, segs, () => randomSplits(seed), end);
      }),
      { numRuns: 300 },
    );
  });

  it('a pipeline past the pending-command limit closes at the same line', () => {
    const segs = [seg(S2C, '220 hi\r\n'), seg(C2S, 'NOOP\r\n'.repeat(600))];
    const r = both(optionsList[0]!, segs);
    expect(r.events.some((e) => e.type === 'close')).toBe(true);
  });

  it('a refusal due in the middle of a run of replies goes out at the same point', () => {
    const segs = [
      seg(S2C, '220 hi\r\n'),
      seg(C2S, 'NOOP\r\nNOOP\r\nPORT 6,6,6,6,0,21\r\nNOOP\r\nPASV\r\n'),
      seg(S2C, '200 a\r\n150 b\r\n200 c\r\n200 d\r\n227 (10,0,0,5,195,80)\r\n'),
    ];
    const r = both(optionsList[0]!, segs);
    expect(r.events.filter((e) => e.type === 'command-refused')).toHaveLength(1);
    expect(new TextDecoder().decode(r.s2c)).toMatch(/^220 hi\r\n200 a\r\n150 b\r\n200 c\r\n5\d\d [^\r]*\r\n200 d\r\n227 /);
  });

  it('EPSV ALL in a run makes the PASV after it refused either way', () => {
    const segs = [seg(S2C, '220 hi\r\n'), seg(C2S, 'EPSV ALL\r\n'), seg(S2C, '200 ok\r\n'), seg(C2S, 'NOOP\r\nPASV\r\nLPSV\r\nQUIT\r\n'), seg(S2C, '200 a\r\n221 b\r\n')];
    const r = both(optionsList[0]!, segs);
    expect(r.events.filter((e) => e.type === 'command-refused').map((e) => e.type === 'command-refused' && e.command)).toEqual(['PASV', 'LPSV']);
  });

  it('chunks of several line-end windows (16 KiB each), lines across their edges', () => {
    const segs = [seg(S2C, '220 hi\r\n')];
    for (let round = 0; round < 4; round++) {
      const commands: string[] = [];
      const replies: string[] = [];
      for (let k = 0; k < 450; k++) {
        const pasv = k % 150 === 7;
        commands.push(pasv ? 'PASV\r\n' : `RETR file-${round}-${k}-${'x'.repeat(20 + (k % 57))}\r\n`);
        replies.push(pasv ? '227 Entering Passive Mode (10,0,0,5,195,80).\r\n'
          : k % 97 === 0 ? `211-x\r\n${' y'.repeat(k % 300)}\r\n211 z\r\n` : `226 Transfer ${k} complete.${'.'.repeat(30 + (k % 41))}\r\n`);
      }
      segs.push(seg(C2S, commands.join('')), seg(S2C, replies.join('')));
    }
    expect(segs[1]!.data.length).toBeGreaterThan(16384);
    expect(segs[2]!.data.length).toBeGreaterThan(2 * 16384);
    const r = both(optionsList[0]!, segs);
    expect(r.events.some((e) => e.type === 'close')).toBe(false);
    // every 227 asks; the test resolver refuses every third request
    expect(r.events.filter((e) => e.type === 'data-channel-request')).toHaveLength(12);
    expect(r.events.filter((e) => e.type === 'line-translated')).toHaveLength(8);
  });

  it('golden transcripts', () => {
    const dir = join(__dirname, '..', 'fixtures', 'transcripts');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const t = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { clientAddress: string; serverAddress: string; chunks: Array<{ dir: 'c2s' | 's2c'; data: string }> };
      const segs = t.chunks.map((ch) => seg(ch.dir === 'c2s' ? C2S : S2C, Uint8Array.from(Buffer.from(ch.data, 'base64'))));
      const o = { clientAddress: t.clientAddress, serverAddress: t.serverAddress };
      const fast = run(o, segs, fixedResolver);
      const general = run(o, segs, fixedResolver, undefined, false, off);
      same(general, fast);
    }
  });
});

describe('fast lanes = general path with the JavaScript line-end scan (no WebAssembly)', () => {
  beforeAll(() => {
    expect(LINE_ENDS.setBackend('js')).toBe('js');
  });
  afterAll(() => {
    LINE_ENDS.setBackend('simd');
  });

  it('dense and random sessions', () => {
    fc.assert(
      fc.property(fc.oneof(denseSession, sessionArb), fc.integer(), ([o, segs, end], seed) => {
        both(o, segs, undefined, end);
        both(o, segs, () => randomSplits(seed), end);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the lanes are the ones taking ordinary lines', () => {
  // Without this, the comparisons above could pass with the lanes never used.
  it('a chunk of ordinary commands and replies never reaches the general loops', () => {
    const lines = vi.spyOn(LineFraming.prototype as unknown as { passLines: () => number }, 'passLines');
    const commands = vi.spyOn(LineFraming.prototype as unknown as { passCommands: () => number }, 'passCommands');
    const segs = [seg(S2C, '220 hi\r\n'), seg(C2S, 'NOOP\r\nTYPE I\r\nCWD /x\r\n'), seg(S2C, '200 a\r\n200 b\r\n250-c\r\n text\r\n250 d\r\n')];
    run(optionsList[0]!, segs);
    expect(lines).not.toHaveBeenCalled();
    expect(commands).not.toHaveBeenCalled();
    run(optionsList[0]!, segs, fixedResolver, undefined, false, off);
    expect(lines).toHaveBeenCalled();
    expect(commands).toHaveBeenCalled();
  });
});
