import { describe, it, expect } from 'vitest';
import { NatAlgError } from '../../src/core/errors.js';
import { PortTable } from '../../src/core/mapping/index.js';
import { AddressTranslator } from '../../src/core/nat/index.js';
import { parseCidr, cidrContains } from '../../src/core/net/cidr.js';
import { ep, seeded, EXT } from '../mapping/helpers.js';

const newTable = () => new PortTable({ externalAddresses: [EXT], random: seeded(4) });

describe('AddressTranslator realm rules', () => {
  it('static 1:1 keeps ports and needs no table state', () => {
    const x = new AddressTranslator({ rules: [{ kind: 'static', inside: '192.0.2.5', outside: '203.0.113.5' }] });
    const out = x.outbound('tcp', ep('192.0.2.5', 1234), ep('198.51.100.1', 80), 0);
    expect(out).toMatchObject({ ok: true, rule: 'static', source: ep('203.0.113.5', 1234), destination: ep('198.51.100.1', 80), mapping: null });
    const back = x.inbound('tcp', ep('198.51.100.1', 80), ep('203.0.113.5', 1234), 0);
    expect(back).toMatchObject({ ok: true, destination: ep('192.0.2.5', 1234), source: ep('198.51.100.1', 80) });
    expect(x.outbound('tcp', ep('192.0.2.6', 1), ep('198.51.100.1', 80), 0)).toEqual({ ok: false, reason: 'no-rule' });
  });

  it('pool NAPT through the table, first matching rule wins', () => {
    const t = newTable();
    const x = new AddressTranslator({
      table: t,
      rules: [
        { kind: 'static', inside: '192.0.2.5', outside: '203.0.113.5' },
        { kind: 'napt', inside: '192.0.2.0/24' },
      ],
    });
    const out = x.outbound('udp', ep('192.0.2.7', 5000), ep('198.51.100.1', 53), 0);
    expect(out.ok && out.rule).toBe('napt');
    expect(out.ok && out.source.address).toBe(EXT);
    const back = x.inbound('udp', ep('198.51.100.1', 53), out.ok ? out.source : ep(EXT, 1), 1);
    expect(back.ok && back.destination).toEqual(ep('192.0.2.7', 5000));
    expect(x.inbound('udp', ep('198.51.100.9', 53), out.ok ? out.source : ep(EXT, 1), 1)).toEqual({ ok: false, reason: 'filtered' });
    expect(x.outbound('udp', ep('192.0.2.7', 5000), ep('2001:db8::1', 53), 0)).toEqual({ ok: false, reason: 'family-mismatch' });
  });

  it('NAT64: IPv6 inside reaches IPv4 named under the prefix, replies come back synthesized', () => {
    const t = newTable();
    const x = new AddressTranslator({ table: t, rules: [{ kind: 'nat64', prefix: '2001:db8:64::/96', inside: '2001:db8:1::/64' }] });
    const out = x.outbound('tcp', ep('2001:db8:1::10', 40000), ep('2001:db8:64::c633:6401', 21), 0);
    expect(out).toMatchObject({ ok: true, rule: 'nat64', destination: ep('198.51.100.1', 21) });
    expect(out.ok && out.source.address).toBe(EXT);
    const back = x.inbound('tcp', ep('198.51.100.1', 21), out.ok ? out.source : ep(EXT, 1), 1);
    expect(back).toMatchObject({ ok: true, rule: 'nat64', source: ep('2001:db8:64::c633:6401', 21), destination: ep('2001:db8:1::10', 40000) });
    expect(x.outbound('tcp', ep('2001:db8:1::10', 40000), ep('2001:db8:99::1', 21), 0)).toEqual({ ok: false, reason: 'not-embedded' });
    expect(x.outbound('tcp', ep('2001:db8:2::10', 40000), ep('2001:db8:64::c633:6401', 21), 0)).toEqual({ ok: false, reason: 'no-rule' });
    expect(x.insideViewOf('198.51.100.1', '2001:db8:1::10')).toBe('2001:db8:64::c633:6401');
  });

  it('NAT64 with the Well-Known Prefix refuses non-global destinations', () => {
    const x = new AddressTranslator({ table: newTable(), rules: [{ kind: 'nat64', prefix: '64:ff9b::/96' }] });
    expect(x.outbound('tcp', ep('2001:db8:1::10', 40000), ep('64:ff9b::c0a8:101', 80), 0)).toEqual({ ok: false, reason: 'non-global' });
    expect(x.outbound('tcp', ep('2001:db8:1::10', 40000), ep('64:ff9b::808:808', 80), 0).ok).toBe(true);
    expect(x.insideViewOf('192.168.1.1', '2001:db8:1::10')).toBeNull();
  });

  it('misconfiguration throws', () => {
    expect(() => new AddressTranslator({ rules: [{ kind: 'napt', inside: '192.0.2.0/24' }] })).toThrow(NatAlgError);
    expect(() => new AddressTranslator({ table: newTable(), rules: [{ kind: 'static', inside: '192.0.2.1', outside: EXT }] })).toThrow(NatAlgError);
    expect(() => new AddressTranslator({ table: newTable(), rules: [{ kind: 'napt', inside: '192.0.2.1/24' }] })).toThrow(NatAlgError);
    expect(() => new AddressTranslator({ table: newTable(), rules: [{ kind: 'nat64', prefix: '2001:db8::/33' }] })).toThrow(NatAlgError);
  });
});

describe('CIDR blocks', () => {
  it('parse strictly and contain', () => {
    const b = parseCidr('192.0.2.128/25');
    expect(cidrContains(b, '192.0.2.200')).toBe(true);
    expect(cidrContains(b, '192.0.2.127')).toBe(false);
    expect(cidrContains(b, '2001:db8::1')).toBe(false);
    expect(parseCidr('2001:DB8::/32').text).toBe('2001:db8::/32');
    expect(parseCidr('192.0.2.1').length).toBe(32);
    expect(() => parseCidr('192.0.2.1/33')).toThrow(NatAlgError);
    expect(() => parseCidr('192.0.2.1/24')).toThrow(NatAlgError);
  });
});
