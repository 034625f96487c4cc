import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressError } from '../../src/core/errors.js';
import {
  canonicalAddress,
  endpoint,
  formatEndpoint,
  formatIPv6,
  ipv4ToNumber,
  numberToIPv4,
  parseEndpoint,
  parseIPv4,
  parseIPv6,
} from '../../src/core/net/ip.js';

describe('RFC 5952 canonical IPv6 text', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // 4.1 leading zeros dropped
    ['2001:DB8::1', '2001:db8::1'], // 4.3 lower case
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 the longest run
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['2001:db8::192.0.2.33', '2001:db8::c000:221'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ];
  it.each(cases)('%s -> %s', (input, expected) => {
    expect(formatIPv6(parseIPv6(input)!)).toBe(expected);
  });

  it('canonical text parses back to the same bytes and is a fixed point', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 8 }), (b, at, zeros) => {
        for (let i = at * 2; i < Math.min(16, (at + zeros) * 2); i++) b[i] = 0; // make zero runs likely
        const text = formatIPv6(b);
        expect(parseIPv6(text)).toEqual(b);
        expect(formatIPv6(parseIPv6(text)!)).toBe(text);
        expect(text).toBe(text.toLowerCase());
        expect(text.split('::').length).toBeLessThanOrEqual(2);
      }),
    );
  });

  it('IPv4-mapped addresses compare equal to their IPv4 form', () => {
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('::FFFF:c000:0201')).toBe('192.0.2.1');
  });
});

describe('strict parsing', () => {
  it.each(['1.2.3.4::', '1.2.3.4::1', '::1:2:3:4:5:6:7:8', '1::2::3', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '::1.2.3', '::256.1.1.1', ' ::1', '::1%eth0', ':1::', '1::2:'])(
    'rejects IPv6 %j',
    (t) => expect(parseIPv6(t)).toBeNull(),
  );
  it.each(['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', ''])('rejects IPv4 %j', (t) => {
    expect(parseIPv4(t)).toBeNull();
    expect(ipv4ToNumber(t)).toBe(-1);
  });
  it('accepts the valid edge forms', () => {
    expect(parseIPv6('1:2:3:4:5:6:7::')).not.toBeNull();
    expect(parseIPv6('::2:3:4:5:6:7:8')).not.toBeNull();
    expect(parseIPv6('1:2:3:4:5:6:1.2.3.4')).not.toBeNull();
    expect(parseIPv6('ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255')).not.toBeNull();
  });
  it('endpoints', () => {
    expect(parseEndpoint('[2001:DB8::1]:21')).toEqual({ family: 6, address: '2001:db8::1', port: 21 });
    expect(formatEndpoint(endpoint('2001:db8::1', 21))).toBe('[2001:db8::1]:21');
    expect(() => parseEndpoint('2001:db8::1:21')).toThrow(AddressError);
    expect(() => endpoint('192.0.2.1', 65536)).toThrow(AddressError);
    expect(() => canonicalAddress('example.com')).toThrow(AddressError);
  });
});

describe('IPv4 as numbers (the mapping table hot path)', () => {
  it('agrees with parseIPv4 and round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const text = numberToIPv4(n);
        expect(ipv4ToNumber(text)).toBe(n);
        const b = parseIPv4(text)!;
        expect(((b[0]! * 256 + b[1]!) * 256 + b[2]!) * 256 + b[3]!).toBe(n);
      }),
    );
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToNumber('0.0.0.0')).toBe(0);
  });
});
