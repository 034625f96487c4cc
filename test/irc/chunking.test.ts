/**
 * Chunking must not matter: the same sessions fed whole, cut at every single split point, one
 * byte at a time and in random pieces (fast-check) give the same bytes in both directions and the
 * same events; and the reported edits account for every byte changed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { IrcEvent } from '../../src/core/irc/types.js';
import { c, C2S, every, OPTIONS, run, s, S2C, type RunResult, type Segment } from './harness.js';

const REG = [c('CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :Alice\r\n'), s(':irc.test NOTICE * :*** Looking up\r\n:irc.test 001 alice :Welcome\r\n:irc.test 005 alice A=1 :are supported\r\n')];

const SESSIONS: Record<string, Segment[]> = {
  'offers both ways, resume, reverse': [
    ...REG,
    c('PRIVMSG bob :\x01DCC SEND "my file.bin" 3221225994 5000 1000\x01\r\nPRIVMSG #c :hi there\r\n'),
    s(':bob!b@h PRIVMSG alice :\x01DCC RESUME "my file.bin" 40001 500\x01\r\n:bob!b@h PRIVMSG #c :\x01ACTION waves\x01\r\n'),
    c('PRIVMSG bob :\x01DCC ACCEPT "my file.bin" 5000 500\x01\r\n'),
    s(':bob!b@h PRIVMSG alice :\x01DCC SEND b.txt 3325256706 6000 10\x01\r\n:bob!b@h PRIVMSG alice :plain\n'),
    c('PRIVMSG bob :\x01DCC SEND p.bin 3221225994 0 100 77\x01\r\n'),
    s(':bob!b@h PRIVMSG alice :\x01DCC SEND p.bin 3325256706 6001 100 77\x01\r\n'),
    s(':bob!b@h NOTICE alice :\x01DCC CHAT chat 2001:db8:2::2 6002\x01\r\n'),
  ],
  'refusals both ways and local lines between server lines': [
    ...REG,
    s(':bob!b@h PRIVMSG alice :a server line '),
    c('PRIVMSG bob :\x01DCC SEND a 3221225994 22 1\x01\r\nSTARTTLS\r\nPRIVMSG bob :\x01DCC SEND a 3221225995 5000 1\x01\r\n'),
    s('in pieces\r\n:bob!b@h PRIVMSG alice :\x01DCC SEND x 2130706433 6000 1\x01\r\n:irc.test 372 alice :- motd\r\n'),
    c(`PRIVMSG bob :${'z'.repeat(700)}\r\nPRIVMSG bob :\x01DCC\tSEND a 3221225994 5000\x01\r\nPRIVMSG bob :ok\r\n`),
    s(`:bob!b@h PRIVMSG alice :${'w'.repeat(700)}\x01\r\n:bob!b@h PRIVMSG alice :after\r\n`),
  ],
  'long chat without offers': [
    ...REG,
    ...Array.from({ length: 6 }, (_, k) => s(`:u${k}!u@h PRIVMSG #c :${'message '.repeat(k * 9)}\r\n:u${k}!u@h PRIVMSG #c :\x01ACTION ${k}\x01\r\n`)),
    c('PRIVMSG #c :bye\r\nQUIT :gone\r\n'),
  ],
};

const POLICY = { ...OPTIONS, policy: { maxLineLength: 600 } };

function summary(r: RunResult): { c2s: string; s2c: string; events: IrcEvent[] } {
  return { c2s: r.c2s, s2c: r.s2c, events: r.events };
}

/** Output length minus input length per direction equals the sum of the reported edits' deltas. */
function checkEdits(segments: readonly Segment[], r: RunResult): void {
  for (const d of [C2S, S2C]) {
    const input = segments.filter((g) => g.dir === d).reduce((n, g) => n + g.data.length, 0);
    const output = (d === C2S ? r.c2s : r.s2c).length;
    let delta = 0;
    for (const e of r.events) if (e.type === 'edit' && e.edit.direction === d) delta += e.edit.delta;
    expect(output - input, d).toBe(delta);
  }
}

describe.each(Object.entries(SESSIONS))('%s', (_name, segments) => {
  const whole = run(segments, POLICY, undefined, undefined, true);

  it('is translated as expected whole (sanity) and its edits add up', () => {
    expect(whole.stuck).toBe(0);
    expect(whole.events.some((e) => e.type === 'protocol-error')).toBe(false);
    checkEdits(segments, whole);
  });

  it('gives the same bytes and events cut at every split point', () => {
    segments.forEach((seg, index) => {
      for (let k = 1; k < seg.data.length; k++) {
        const r = run(segments, POLICY, undefined, (d, i) => (i === index ? [k, d.length - k] : [d.length]), true);
        expect(summary(r), `segment ${index} cut at ${k}`).toEqual(summary(whole));
      }
    });
  });

  it('gives the same bytes and events one byte at a time', () => {
    const r = run(segments, POLICY, undefined, every(1), true);
    expect(r.feeds).toBeGreaterThan(segments.length * 10);
    expect(summary(r)).toEqual(summary(whole));
  });

  it('gives the same bytes and events in random pieces', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        let k = 0;
        const split = (d: Uint8Array): number[] => {
          const lens: number[] = [];
          for (let off = 0; off < d.length; ) {
            const n = Math.min(sizes[k++ % sizes.length]!, d.length - off);
            lens.push(n);
            off += n;
          }
          return lens;
        };
        expect(summary(run(segments, POLICY, undefined, split, true))).toEqual(summary(whole));
      }),
      { numRuns: 150 },
    );
  });
});

describe('a busy channel in large and small chunks', () => {
  // Long enough for chunks of several KiB (the scanners' eight-byte paths, lines cleared in bulk),
  // with ACTIONs, offers both ways and a line longer than the bound here and there.
  const server: string[] = [':irc.test 001 alice :Welcome\r\n'];
  const client: string[] = ['NICK alice\r\nUSER alice 0 * :A\r\n'];
  for (let k = 0; k < 1500; k++) {
    const who = `:n${k % 31}!u@h${k % 31}.example`;
    if (k % 97 === 0) server.push(`${who} PRIVMSG alice :\x01DCC SEND f${k}.bin 3325256706 ${6000 + k} ${k}\x01\r\n`);
    else if (k % 13 === 0) server.push(`${who} PRIVMSG #c :\x01ACTION waves ${k}\x01\r\n`);
    else if (k % 401 === 0) server.push(`${who} PRIVMSG #c :${'long '.repeat(200)}\r\n`);
    else server.push(`${who} PRIVMSG #c :${'word '.repeat(k % 29)}${k}\r\n`);
    if (k % 11 === 0) client.push(k % 55 === 0 ? `PRIVMSG bob :\x01DCC SEND r${k}.pdf 3221225994 ${5000 + k} 1\x01\r\n` : `PRIVMSG #c :reply ${k}\r\n`);
  }
  const segments: Segment[] = [];
  for (let k = 0; k < 10; k++) {
    segments.push(c(client.slice(k * client.length / 10, (k + 1) * client.length / 10).join('')));
    segments.push(s(server.slice(k * server.length / 10, (k + 1) * server.length / 10).join('')));
  }
  const options = { ...OPTIONS, policy: { maxLineLength: 900 } };
  const whole = run(segments, options, undefined, undefined, true);

  it('translates and refuses what it should (sanity)', () => {
    expect(whole.events.filter((e) => e.type === 'line-translated').length).toBeGreaterThan(30);
    expect(whole.events.filter((e) => e.type === 'command-refused').map((e) => (e as { reason: string }).reason)).toContain('line-too-long');
    checkEdits(segments, whole);
  });

  it('gives the same bytes and events in random chunks of up to 5000 bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        let k = 0;
        const split = (d: Uint8Array): number[] => {
          const lens: number[] = [];
          for (let off = 0; off < d.length; ) {
            const n = Math.min(sizes[k++ % sizes.length]!, d.length - off);
            lens.push(n);
            off += n;
          }
          return lens;
        };
        expect(summary(run(segments, options, undefined, split, true))).toEqual(summary(whole));
      }),
      { numRuns: 60 },
    );
  });
});
