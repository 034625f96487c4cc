/**
 * Lines far longer than usual (tens of KiB, within a raised maxLineLength) among short ones in
 * one chunk: every line passes whole and unchanged, and the result does not depend on chunking.
 */
import { describe, it, expect } from 'vitest';
import { run, c, s, text } from './harness.js';
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
