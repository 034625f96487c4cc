/**
 * A CR inside a command line that is not followed by LF or NUL (a bare CR) is refused: some
 * servers end a command at a lone CR, so `NOOP<CR>PORT 6,6,6,6,0,21` would reach them as a PORT
 * the gateway never checked. CR NUL (a CR that is data, RFC 959/2640) passes.
 */
import { describe, it, expect } from 'vitest';
import { run, seg, C2S, S2C, text, edits, type Segment } from './harness.js';
import { same } from './arbitraries.js';
import { findBareCR } from '../../src/core/stream/bare-cr.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const o: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' };
const REPLY = '500 Command line with a bare CR refused.\r\n';
const bytewise = (d: Uint8Array) => Array.from({ length: d.length }, () => 1);

/** Whole and byte by byte: the same; returns the whole run. */
function check(segs: Segment[], options = o, end = false) {
  const whole = run(options, segs, undefined, undefined, end);
  same(whole, run(options, segs, undefined, bytewise, end));
  return whole;
}

describe('findBareCR', () => {
  it('finds a CR followed by anything but LF or NUL; the last byte with no successor is not counted', () => {
    const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
    expect(findBareCR(b('NOOP\r\n'), 0, 6, 6)).toBe(-1);
    expect(findBareCR(b('STOR a\r\0b\r\n'), 0, 11, 11)).toBe(-1);
    expect(findBareCR(b('NOOP\rPORT\r\n'), 0, 11, 11)).toBe(4);
    expect(findBareCR(b('NOOP\r\r\n'), 0, 7, 7)).toBe(4);
    expect(findBareCR(b('NOOP\r'), 0, 5, 5)).toBe(-1);
    expect(findBareCR(b('NOOP\rX'), 0, 5, 6)).toBe(4); // successor beyond `to` but before `end`
  });
});

describe('bare CR in a command line', () => {
  it('is refused: the line never reaches the server, the client gets 500, the session goes on', () => {
    const r = check([seg(S2C, '220 hi\r\n'), seg(C2S, 'NOOP\rPORT 6,6,6,6,0,21\r\nNOOP\r\n'), seg(S2C, '200 ok\r\n')]);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n' + REPLY + '200 ok\r\n');
    expect(r.events.filter((e) => e.type === 'command-refused')).toEqual([
      { type: 'command-refused', command: 'UNKNOWN', reason: 'bare-cr', reply: REPLY.trim() },
    ]);
    const removal = edits(r.events).find((e) => e.direction === C2S)!;
    expect(removal).toMatchObject({ inputOffset: 0, inputLength: 24, outputLength: 0 });
  });

  it('in a line the gateway holds (EPSV, PORT) is refused the same way', () => {
    for (const line of ['EPSV\rPORT 6,6,6,6,0,21\r\n', 'PORT 192,0,2,10,4,1\rPORT 6,6,6,6,0,21\r\n']) {
      const r = check([seg(S2C, '220 hi\r\n'), seg(C2S, line)]);
      expect(text(r.c2s)).toBe('');
      expect(text(r.s2c)).toBe('220 hi\r\n' + REPLY);
      expect(r.events.some((e) => e.type === 'data-channel-request')).toBe(false);
    }
  });

  it('CR NUL, CR LF and a bare LF pass unchanged; a CR in a server reply is not ours to judge', () => {
    const c = 'STOR a\r\0b\r\nNOOP\nRETR x\r\n';
    const r = check([seg(S2C, '220 hi\r\n'), seg(C2S, c), seg(S2C, '150 a\rb\r\n226 ok\r\n200 ok\r\n')]);
    expect(text(r.c2s)).toBe(c);
    expect(text(r.s2c)).toBe('220 hi\r\n150 a\rb\r\n226 ok\r\n200 ok\r\n');
    expect(r.events.some((e) => e.type === 'command-refused')).toBe(false);
  });

  it('a CR at the end of one read and the rest in the next: decided on the whole line', () => {
    const segs = [seg(S2C, '220 hi\r\n'), seg(C2S, 'NOOP\r'), seg(C2S, 'PORT 6,6,6,6,0,21\r\n'), seg(C2S, 'STAT\r'), seg(C2S, '\0x\r\n')];
    const r = check(segs);
    expect(text(r.c2s)).toBe('STAT\r\0x\r\n');
    expect(r.events.filter((e) => e.type === 'command-refused')).toHaveLength(1);
  });

  it('a last line without its end, with a bare CR, is dropped at the end of the stream', () => {
    const r = check([seg(S2C, '220 hi\r\n'), seg(C2S, 'NOOP\r\nSITE x\rPORT 1')], o, true);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(r.events.filter((e) => e.type === 'command-refused').map((e) => e.type === 'command-refused' && e.reason)).toEqual(['bare-cr']);
  });

  {
    it('one bad line among two hundred in a large read, and in a 40 KiB line', () => {
      const lines: string[] = [];
      for (let k = 0; k < 200; k++) lines.push(k === 100 ? 'CWD a\rPORT 6,6,6,6,0,21\r\n' : `RETR file-${k}\r\n`);
      const big = { ...o, policy: { maxLineLength: 1 << 20 } };
      const long = 'SITE ' + 'x'.repeat(100) + '\rPORT 6,6,6,6,0,21 ' + 'y'.repeat(40_000) + '\r\n';
      const r = check([seg(S2C, '220 hi\r\n'), seg(C2S, lines.join('')), seg(C2S, 'NOOP\r\n'.repeat(100) + long + 'NOOP\r\n')], big);
      const out = text(r.c2s);
      expect(out).not.toContain('\rPORT');
      expect(out.split('\r\n').length - 1).toBe(199 + 101);
      expect(r.events.filter((e) => e.type === 'command-refused')).toHaveLength(2);
    });
  }
});
