/**
 * canonicalAddress returns a dotted quad that parses as it was given (it no longer formats the
 * parsed bytes again): the same text as formatting them, for any four bytes and any text.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { canonicalAddress, formatIPv4, parseIPv4 } from '../../src/core/net/ip.js';

describe('canonicalAddress of IPv4 text', () => {
  it('is the formatted bytes for every dotted quad that parses', () => {
    const quadArb = fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('0', '00', '01', '255', '256', '1000', '', 'x')), { minLength: 1, maxLength: 5 }).map((f) => f.join('.'));
    fc.assert(fc.property(quadArb, (text) => {
      const b = parseIPv4(text);
      if (b === null) expect(() => canonicalAddress(text)).toThrow();
      else expect(canonicalAddress(text)).toBe(formatIPv4(b));
    }), { numRuns: 20000 });
  });

  it('is a string for a String object', () => {
    // eslint-disable-next-line no-new-wrappers
    const r = canonicalAddress(new String('192.0.2.1') as unknown as string);
    expect(typeof r).toBe('string');
    expect(r).toBe('192.0.2.1');
  });
});
