/**
 * The byte-level fast path (sextet.ts) must agree with the strict string parsers and formatters.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { scanSextet, scanned, quadOfFields, quadOfText, sextetText, sextetLength, writeSextet, PieceCache } from '../../src/core/ftp/sextet.js';
import { scanBytes, formatSextet } from '../../src/core/ftp/commands.js';
import { parseIPv4 } from '../../src/core/net/ip.js';
import { latin1 } from '../../src/core/ftp/text.js';
import { bytes, text } from './harness.js';

describe('scanSextet', () => {
  it('agrees with scanBytes on random field texts', () => {
    const field = fc.oneof(fc.integer({ min: 0, max: 999 }).map(String), fc.stringMatching(/^[0-9]{0,4}$/), fc.constantFrom('', 'x', '-1', ' 1'));
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 8 }), fc.constantFrom('', ')', '.', '7', ',9'), (fs, after) => {
        const t = fs.join(',') + after;
        const ref = scanBytes(t, 0, 6);
        const ok = scanSextet(bytes(t), 0, t.length);
        expect(ok).toBe(ref !== null);
        if (ref && ok) {
          expect(scanned.end).toBe(ref.end);
          expect(Array.from(scanned.fields)).toEqual(ref.fields.slice(0, 6));
          expect(scanned.canonical).toBe(!/(^|,)0[0-9]/.test(t.slice(0, ref.end)));
          if (scanned.canonical) expect(sextetText(quadOfFields(scanned.fields), scanned.fields[4]! * 256 + scanned.fields[5]!)).toBe(t.slice(0, ref.end));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('stops at the end it is given', () => {
    expect(scanSextet(bytes('1,2,3,4,5,6'), 0, 10)).toBe(false); // "1,2,3,4,5," and no sixth field
    expect(scanSextet(bytes('1,2,3,4,5,67'), 0, 12)).toBe(true);
    expect(scanned.end).toBe(12);
    expect(scanSextet(bytes('1,2,3,4,5,678'), 0, 12)).toBe(true); // the end cuts the field
    expect(scanned.fields[5]).toBe(67);
  });
});

describe('quads and formatting', () => {
  it('quadOfText accepts exactly what parseIPv4 accepts as canonical', () => {
    for (const a of ['192.0.2.1', '0.0.0.0', '255.255.255.255', '192.0.2.01', '192.0.2', '1.2.3.4.5', '', '192.0.2.256', '192..2.1', '::1']) {
      const q = quadOfText(a);
      const b = parseIPv4(a);
      expect(q !== null).toBe(b !== null && Array.from(b).join('.') === a);
      if (q) expect([q.a, q.b, q.c, q.d]).toEqual(Array.from(b!));
    }
  });

  it('writeSextet and sextetText match formatSextet for random endpoints', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), fc.integer({ min: 1, max: 65535 }), (v, port) => {
        const address = v.join('.');
        const q = quadOfText(address)!;
        const want = formatSextet({ family: 4, address, port });
        expect(sextetText(q, port)).toBe(want);
        const out = new Uint8Array(sextetLength(q, port) + 2);
        expect(writeSextet(out, 1, q, port)).toBe(1 + want.length);
        expect(text(out.subarray(1, 1 + want.length))).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('alternating addresses keep their own quads', () => {
    const f = new Int32Array([192, 0, 2, 10, 0, 0]);
    const g = new Int32Array([10, 0, 0, 5, 0, 0]);
    for (let k = 0; k < 3; k++) {
      expect(quadOfFields(f).dotted).toBe('192.0.2.10');
      expect(quadOfFields(g).dotted).toBe('10.0.0.5');
    }
  });
});

describe('PieceCache', () => {
  it('returns the same piece for the same bytes, a new one otherwise, and never aliases input', () => {
    const cache = new PieceCache(latin1);
    const line = bytes('227 Entering Passive Mode (');
    const a = cache.get(line, 0, line.length);
    line.fill(0x41);
    expect(a.text).toBe('227 Entering Passive Mode (');
    expect(text(a.bytes)).toBe('227 Entering Passive Mode (');
    const again = bytes('xx227 Entering Passive Mode (');
    expect(cache.get(again, 2, again.length)).toBe(a);
    const other = cache.get(bytes('227 Entering passive mode ('), 0, 27);
    expect(other).not.toBe(a);
    expect(other.text).toBe('227 Entering passive mode (');
    expect(cache.get(line, 3, 3).text).toBe('');
  });

  it('before: the last piece when the bytes start with it and a digit follows', () => {
    const cache = new PieceCache(latin1);
    expect(cache.before(bytes('227 (1,2,3,4,5,6)'), 0, 17)).toBeNull(); // nothing seen yet
    const head = cache.get(bytes('227 ('), 0, 5);
    expect(cache.before(bytes('227 (10,0,0,5,4,1)'), 0, 18)).toBe(head);
    expect(cache.before(bytes('xx227 (10,0,0,5,4,1)'), 2, 20)).toBe(head);
    expect(cache.before(bytes('227 (x10,0,0,5,4,1)'), 0, 19)).toBeNull(); // no digit right after
    expect(cache.before(bytes('228 (10,0,0,5,4,1)'), 0, 18)).toBeNull();
    expect(cache.before(bytes('227 ('), 0, 5)).toBeNull(); // ends there
  });
});
