/** latin1 (src/core/ftp/text.ts): one character per byte, whichever way it decodes. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { latin1 } from '../../src/core/ftp/text.js';

const reference = (b: Uint8Array, from: number, to: number) => Array.from(b.subarray(from, to), (c) => String.fromCharCode(c)).join('');

describe('latin1', () => {
  it('gives one character per byte for any bytes and range', () => {
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ max: 0x7f, maxLength: 80 }), fc.uint8Array({ min: 0x7e, max: 0xa0, maxLength: 20 }));
    fc.assert(fc.property(bytesArb, fc.nat(), fc.nat(), (b, x, y) => {
      const from = b.length === 0 ? 0 : x % (b.length + 1);
      const to = from + (y % (b.length - from + 1));
      expect(latin1(b, from, to)).toBe(reference(b, from, to));
      expect(latin1(b)).toBe(reference(b, 0, b.length));
    }), { numRuns: 5000 });
  });

  it('keeps a UTF-8 byte order mark, NUL and 0x80-0x9f as they are', () => {
    const b = Uint8Array.of(0xef, 0xbb, 0xbf, 0x41, 0, 0x80, 0x9f, 0xff, 0x0d, 0x0a);
    expect(latin1(b)).toBe('\xef\xbb\xbfA\0\x80\x9f\xff\r\n');
    expect(latin1(Uint8Array.of(0x41, 0, 0x42))).toBe('A\0B');
  });
});
