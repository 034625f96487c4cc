import { describe, it, expect } from 'vitest';
import { prefixOf, parseCidr, cidrContains } from '../../src/core/net/cidr.js';
import { AddressError } from '../../src/core/errors.js';
import { clientKey } from '../../src/node/proxy.js';

describe('prefixOf', () => {
  it('keeps the leading bits and clears the rest, in canonical text', () => {
    expect(prefixOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64)).toBe('2001:db8:1:2::/64');
    expect(prefixOf('2001:DB8:0:0:1::1', 48)).toBe('2001:db8::/48');
    expect(prefixOf('2001:db8::1', 128)).toBe('2001:db8::1/128');
    expect(prefixOf('2001:db8:ffff::', 33)).toBe('2001:db8:8000::/33');
    expect(prefixOf('198.51.100.77', 24)).toBe('198.51.100.0/24');
    expect(prefixOf('198.51.100.77', 0)).toBe('0.0.0.0/0');
  });

  it('the block it names contains the address, and parses back as a valid block', () => {
    for (const [a, len] of [['2001:db8:1:2:3:4:5:6', 64], ['2001:db8::7', 121], ['203.0.113.9', 30]] as const) {
      const block = parseCidr(prefixOf(a, len));
      expect(cidrContains(block, a)).toBe(true);
    }
  });

  it('refuses a bad address or length', () => {
    expect(() => prefixOf('not an address', 64)).toThrow(AddressError);
    expect(() => prefixOf('2001:db8::1', 129)).toThrow(AddressError);
    expect(() => prefixOf('192.0.2.1', 33)).toThrow(AddressError);
    expect(() => prefixOf('192.0.2.1', 1.5)).toThrow(AddressError);
  });
});

describe('the relay counts IPv6 clients per block', () => {
  it('two addresses of one /64 are one client; another /64 is another; IPv4 per address', () => {
    const a = clientKey({ family: 6, address: '2001:db8:1:2::10', port: 1 });
    const b = clientKey({ family: 6, address: '2001:db8:1:2:ffff::99', port: 2 });
    const c = clientKey({ family: 6, address: '2001:db8:1:3::10', port: 3 });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(clientKey({ family: 4, address: '192.0.2.10', port: 1 })).toBe('192.0.2.10');
    expect(clientKey({ family: 4, address: '192.0.2.11', port: 1 })).not.toBe('192.0.2.10');
    // 128: every address on its own
    expect(clientKey({ family: 6, address: '2001:db8:1:2::10', port: 1 }, 128)).not.toBe(clientKey({ family: 6, address: '2001:db8:1:2::11', port: 1 }, 128));
  });
});
