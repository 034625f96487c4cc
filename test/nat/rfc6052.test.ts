import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressError } from '../../src/core/errors.js';
import { parseIPv4, parseIPv6, formatIPv6 } from '../../src/core/net/ip.js';
import {
  WELL_KNOWN_PREFIX,
  embedIPv4,
  extractIPv4,
  extractIPv4Text,
  isGlobalIPv4,
  parseNat64Prefix,
  synthesizeIPv6,
  type Nat64Prefix,
} from '../../src/core/nat/index.js';
import { NAT64_PREFIX_LENGTHS } from '../../src/core/nat/rfc6052.js';

/**
 * RFC 6052 section 2.4, the table of examples for IPv4 address 192.0.2.33 (typed in from the
 * RFC). The RFC writes the /64 row as "2001:db8:122:344:c0:2:2100::"; RFC 5952 does not
 * compress a single zero group, so its canonical text ends in ":0". The /96 row is written in
 * mixed notation there; both spellings must parse to the same bytes.
 */
const RFC6052_TABLE: [string, string, string][] = [
  ['2001:db8::/32', '192.0.2.33', '2001:db8:c000:221::'],
  ['2001:db8:100::/40', '192.0.2.33', '2001:db8:1c0:2:21::'],
  ['2001:db8:122::/48', '192.0.2.33', '2001:db8:122:c000:2:2100::'],
  ['2001:db8:122:300::/56', '192.0.2.33', '2001:db8:122:3c0:0:221::'],
  ['2001:db8:122:344::/64', '192.0.2.33', '2001:db8:122:344:c0:2:2100::'],
  ['2001:db8:122:344::/96', '192.0.2.33', '2001:db8:122:344::192.0.2.33'],
];

const v4 = (t: string) => parseIPv4(t)!;
const v6 = (t: string) => parseIPv6(t)!;

describe('RFC 6052 test vectors (section 2.4)', () => {
  it.each(RFC6052_TABLE)('%s embeds %s as %s', (prefixText, ipv4, expected) => {
    const prefix = parseNat64Prefix(prefixText);
    const embedded = embedIPv4(prefix, v4(ipv4));
    expect(embedded).toEqual(v6(expected));
    expect(formatIPv6(embedded)).toBe(formatIPv6(v6(expected)));
    expect(extractIPv4(prefix, v6(expected))).toEqual(v4(ipv4));
    // Network-specific prefixes may carry documentation addresses (only the WKP refuses them).
    expect(synthesizeIPv6(prefix, ipv4)).toEqual({ ok: true, address: formatIPv6(v6(expected)) });
  });

  it('canonical text of the /64 and /96 rows (RFC 5952)', () => {
    expect(formatIPv6(embedIPv4(parseNat64Prefix('2001:db8:122:344::/64'), v4('192.0.2.33')))).toBe('2001:db8:122:344:c0:2:2100:0');
    expect(formatIPv6(embedIPv4(parseNat64Prefix('2001:db8:122:344::/96'), v4('192.0.2.33')))).toBe('2001:db8:122:344::c000:221');
  });

  it('the Well-Known Prefix example 64:ff9b::192.0.2.33 (format only)', () => {
    expect(formatIPv6(embedIPv4(WELL_KNOWN_PREFIX, v4('192.0.2.33')))).toBe('64:ff9b::c000:221');
    expect(extractIPv4(WELL_KNOWN_PREFIX, v6('64:ff9b::192.0.2.33'))).toEqual(v4('192.0.2.33'));
  });
});

describe('every prefix length', () => {
  it('round-trips any IPv4 address, keeps the u octet zero and the prefix intact', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NAT64_PREFIX_LENGTHS),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, raw, ipv4) => {
          const bytes = new Uint8Array(16);
          bytes.set(raw.subarray(0, length / 8));
          if (length === 96) bytes[8] = 0;
          const prefix = parseNat64Prefix(`${formatIPv6(bytes)}/${length}`);
          const out = embedIPv4(prefix, ipv4);
          expect(out[8]).toBe(0);
          expect(out.subarray(0, length / 8)).toEqual(bytes.subarray(0, length / 8));
          expect(extractIPv4(prefix, out)).toEqual(ipv4);
          // Suffix (after the IPv4 bits) is zero.
          const ends = { 32: 8, 40: 10, 48: 11, 56: 12, 64: 13, 96: 16 }[length];
          for (let i = ends; i < 16; i++) if (i !== 8) expect(out[i]).toBe(0);
        },
      ),
    );
  });

  it('refuses a nonzero u octet and addresses outside the prefix', () => {
    const prefix = parseNat64Prefix('2001:db8::/32');
    const good = embedIPv4(prefix, v4('192.0.2.1'));
    const bad = Uint8Array.from(good);
    bad[8] = 1;
    expect(extractIPv4(prefix, bad)).toBeNull();
    expect(extractIPv4(prefix, v6('2001:db9::c000:201'))).toBeNull();
    expect(extractIPv4Text(prefix, '192.0.2.1')).toBeNull();
  });

  it('parses prefixes strictly', () => {
    expect(parseNat64Prefix('64:ff9b::/96').wellKnown).toBe(true);
    expect(parseNat64Prefix('2001:db8::/96').wellKnown).toBe(false);
    expect(parseNat64Prefix('2001:0DB8:0::/32').text).toBe('2001:db8::/32');
    for (const bad of ['2001:db8::/33', '2001:db8::/128', '2001:db8::', '2001:db8::1/32', '2001:db8:0:0:100::/96', '192.0.2.0/32', '2001:db8::/ 32']) {
      expect(() => parseNat64Prefix(bad), bad).toThrow(AddressError);
    }
  });
});

describe('non-global IPv4 under the Well-Known Prefix (RFC 6052 section 3.1)', () => {
  const nonGlobal = ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '0.1.2.3',
    '192.0.0.8', '192.0.2.33', '198.51.100.1', '203.0.113.9', '198.18.0.1', '224.0.0.1', '240.0.0.1', '255.255.255.255'];
  it.each(nonGlobal)('refuses %s', (a) => {
    expect(isGlobalIPv4(v4(a))).toBe(false);
    expect(synthesizeIPv6(WELL_KNOWN_PREFIX, a)).toEqual({ ok: false, reason: 'non-global' });
    expect(extractIPv4Text(WELL_KNOWN_PREFIX, formatIPv6(embedIPv4(WELL_KNOWN_PREFIX, v4(a))))).toBeNull();
  });

  it('accepts global addresses (pure computation, no traffic)', () => {
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '11.0.0.1']) {
      expect(isGlobalIPv4(v4(a))).toBe(true);
      const r = synthesizeIPv6(WELL_KNOWN_PREFIX, a);
      expect(r.ok).toBe(true);
      expect(r.ok && extractIPv4Text(WELL_KNOWN_PREFIX, r.address)).toBe(a);
    }
    expect(synthesizeIPv6(WELL_KNOWN_PREFIX, '8.8.8.8')).toEqual({ ok: true, address: '64:ff9b::808:808' });
  });

  it('throws on text that is not IPv4 (misuse)', () => {
    const p: Nat64Prefix = WELL_KNOWN_PREFIX;
    expect(() => synthesizeIPv6(p, '2001:db8::1')).toThrow(AddressError);
  });
});
