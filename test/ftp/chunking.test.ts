/**
 * Property tests: chunking never matters, random bytes never throw, edits explain the output.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { run, seg, C2S, S2C, concat, edits, applyEdits, text } from './harness.js';
import { optionsList, sessionArb, resolver, same, randomSplits } from './arbitraries.js';
import { DEFAULT_FTP_POLICY } from '../../src/core/ftp/types.js';

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
          const max = o.policy?.maxLineLength ?? DEFAULT_FTP_POLICY.maxLineLength;
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

