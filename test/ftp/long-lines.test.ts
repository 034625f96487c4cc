/**
 * Lines far longer than usual (tens of KiB, within a raised maxLineLength) among short ones in
 * one chunk: every line passes whole and unchanged, and the result does not depend on chunking.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { run, c, s, text, bytes, C2S, S2C } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import { same } from './arbitraries.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const o: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 1 << 20 } };

describe('long lines among short ones', () => {
  for (const len of [16_380, 16_384, 16_400, 40_000, 100_000]) {
    it(`a ${len}-byte command and reply among short lines in one chunk pass whole`, () => {
      const segs = [
        s('220 hi\r\n'),
        c('NOOP\r\n'.repeat(5) + 'SITE ' + 'h'.repeat(len) + '\r\n' + 'NOOP\r\n'.repeat(5)),
        s('200 a\r\n'.repeat(5) + '200 ' + 'r'.repeat(len) + '\r\n' + '211-x\r\n' + ' y'.repeat(len) + '\r\n211 z\r\n' + '200 b\r\n'.repeat(5)),
      ];
      const whole = run(o, segs);
      expect(text(whole.c2s)).toBe(text(segs[1]!.data));
      expect(text(whole.s2c)).toBe(text(segs[0]!.data) + text(segs[2]!.data));
      // 4 KiB pieces: the long lines straddle many reads
      same(whole, run(o, segs, undefined, (d) => Array.from({ length: Math.ceil(d.length / 4096) }, (_, k) => Math.min(4096, d.length - k * 4096))));
    });
  }
});

describe('a command line goes out in one piece', () => {
  // A server that acts on each read (pyftpdlib flushes a buffer past 2048 bytes and runs what
  // follows as a new command) must never get half a command line in one write and the rest in
  // the next: every output chunk toward the server ends a line, however the input was split.
  const lines = ['NOOP\r\n', 'USER anonymous\r\n', 'SITE ' + 'a'.repeat(1500) + '\r\n', 'RETR ' + 'f'.repeat(700) + '\r\n', 'TYPE I\n', 'CWD /x\r\n'];

  it('property: every chunk of output toward the server ends with a line end, in any chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...lines), { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }), (picked, sizes) => {
        const t = new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' });
        t.handleData(S2C, bytes('220 hi\r\n'), 0);
        const input = bytes(picked.join(''));
        const out: string[] = [];
        for (let at = 0, k = 0; at < input.length; k++) {
          const n = Math.min(sizes[k % sizes.length]!, input.length - at);
          expect(t.handleData(C2S, input.subarray(at, at + n), k)).toBe(n);
          at += n;
          for (let b = t.pollOutput(C2S); b; b = t.pollOutput(C2S)) out.push(text(b));
        }
        expect(out.join('')).toBe(picked.join(''));
        for (const chunk of out) expect(chunk.endsWith('\n')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
