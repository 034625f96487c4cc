import { describe, it, expect } from 'vitest';
import { NatAlgError, AddressError } from '../../src/core/errors.js';
import { PortTable, type Mapping, type OutboundResult } from '../../src/core/mapping/index.js';
import { table, ep, seeded, EXT, EXT2 } from './helpers.js';

function ok(r: OutboundResult): Mapping {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  return r.mapping;
}

const IN = '192.0.2.10';
const IN2 = '192.0.2.11';
const R1 = '198.51.100.1';
const R2 = '198.51.100.2';

describe('mapping behaviour (RFC 4787 section 4.1)', () => {
  it('endpoint-independent: one external endpoint for every remote', () => {
    const t = table();
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    const b = ok(t.outbound('udp', ep(IN, 5000), ep(R2, 99), 0));
    expect(b.external).toEqual(a.external);
    expect(b.id).toBe(a.id);
    expect(t.size).toBe(1);
  });

  it('address-dependent: a new external port per remote address, same for another port of it', () => {
    const t = table({ udp: { mapping: 'address-dependent' } });
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    const b = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 54), 0));
    const c = ok(t.outbound('udp', ep(IN, 5000), ep(R2, 53), 0));
    expect(b.external).toEqual(a.external);
    expect(c.external.port).not.toBe(a.external.port);
  });

  it('address-and-port-dependent: a new external port per remote endpoint', () => {
    const t = table({ udp: { mapping: 'address-and-port-dependent' } });
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    const b = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 54), 0));
    const c = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    expect(b.external.port).not.toBe(a.external.port);
    expect(c.external).toEqual(a.external);
    expect(t.lookupInternal('udp', ep(IN, 5000), 1, ep(R1, 54))?.external).toEqual(b.external);
  });

  it('protocols are separate spaces', () => {
    const t = table();
    const u = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    expect(t.lookupInternal('tcp', ep(IN, 5000), 0)).toBeNull();
    expect(t.lookupExternal('tcp', u.external, 0)).toBeNull();
    expect(t.lookupExternal('udp', u.external, 0)?.id).toBe(u.id);
  });

  it('allocate without remote needs an endpoint-independent mapping', () => {
    const t = table({ tcp: { mapping: 'address-dependent' } });
    expect(() => t.allocate('tcp', ep(IN, 1), 0)).toThrow(NatAlgError);
    expect(t.allocate('udp', ep(IN, 1), 0).ok).toBe(true);
  });
});

describe('filtering behaviour (RFC 4787 section 5)', () => {
  it('endpoint-independent: anyone may send in', () => {
    const t = table({ udp: { filtering: 'endpoint-independent' } });
    const m = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    const r = t.inbound('udp', ep(R2, 7), m.external, 1);
    expect(r.ok && r.mapping.internal).toEqual(ep(IN, 5000));
  });

  it('address-dependent (default): only addresses the host sent to, any port', () => {
    const t = table();
    const m = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    expect(t.inbound('udp', ep(R1, 9999), m.external, 1).ok).toBe(true);
    expect(t.inbound('udp', ep(R2, 53), m.external, 1)).toEqual({ ok: false, reason: 'filtered' });
    t.outbound('udp', ep(IN, 5000), ep(R2, 1), 2);
    expect(t.inbound('udp', ep(R2, 53), m.external, 3).ok).toBe(true);
  });

  it('address-and-port-dependent: only the exact endpoints the host sent to', () => {
    const t = table({ udp: { filtering: 'address-and-port-dependent' } });
    const m = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 53), 0));
    expect(t.inbound('udp', ep(R1, 53), m.external, 1).ok).toBe(true);
    expect(t.inbound('udp', ep(R1, 54), m.external, 1)).toEqual({ ok: false, reason: 'filtered' });
    t.outbound('udp', ep(IN, 5000), ep(R1, 54), 2);
    expect(t.inbound('udp', ep(R1, 54), m.external, 3).ok).toBe(true);
  });

  it('forgets the oldest peers beyond maxPeersPerMapping', () => {
    const t = table({ udp: { filtering: 'address-and-port-dependent' }, maxPeersPerMapping: 3 });
    const m = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 1), 0));
    for (let p = 2; p <= 5; p++) t.outbound('udp', ep(IN, 5000), ep(R1, p), 0);
    expect(t.inbound('udp', ep(R1, 1), m.external, 1).ok).toBe(true); // the key peer stays
    expect(t.inbound('udp', ep(R1, 2), m.external, 1).ok).toBe(false); // oldest extra forgotten
    expect(t.inbound('udp', ep(R1, 5), m.external, 1).ok).toBe(true);
  });

  it('an unknown external endpoint is no-mapping', () => {
    const t = table();
    expect(t.inbound('udp', ep(R1, 1), ep(EXT, 4000), 0)).toEqual({ ok: false, reason: 'no-mapping' });
    expect(t.inbound('udp', ep(R1, 1), ep('203.0.113.99', 4000), 0)).toEqual({ ok: false, reason: 'no-mapping' });
  });
});

describe('port assignment', () => {
  it('stays in the configured range and keeps privileged ports privileged', () => {
    const t = table({ udp: { portRange: { min: 40000, max: 40099 }, privilegedRange: { min: 600, max: 699 } } });
    for (let i = 0; i < 50; i++) {
      const m = ok(t.outbound('udp', ep(IN, 2000 + i), ep(R1, 1), 0));
      expect(m.external.port).toBeGreaterThanOrEqual(40000);
      expect(m.external.port).toBeLessThanOrEqual(40099);
      const low = ok(t.outbound('udp', ep(IN, 100 + i), ep(R1, 1), 0));
      expect(low.external.port).toBeGreaterThanOrEqual(600);
      expect(low.external.port).toBeLessThanOrEqual(699);
    }
  });

  it('privilegedRange null maps low ports into the main range', () => {
    const t = table({ tcp: { privilegedRange: null, portRange: { min: 50000, max: 50009 } } });
    const m = ok(t.outbound('tcp', ep(IN, 22), ep(R1, 1), 0));
    expect(m.external.port).toBeGreaterThanOrEqual(50000);
  });

  it('preserves parity for UDP by default, not for TCP', () => {
    const t = table();
    const tcpParities = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const u = ok(t.outbound('udp', ep(IN, 10000 + i), ep(R1, 1), 0));
      expect(u.external.port % 2).toBe((10000 + i) % 2);
      const c = ok(t.outbound('tcp', ep(IN, 10000 + 2 * i), ep(R1, 1), 0));
      tcpParities.add(c.external.port % 2);
    }
    expect(tcpParities.size).toBe(2);
  });

  it('falls back to the other parity when one parity is used up', () => {
    const t = table({ udp: { portRange: { min: 2000, max: 2003 } } });
    const ports = [0, 1, 2].map((i) => ok(t.outbound('udp', ep(IN, 5000 + 2 * i), ep(R1, 1), 0)).external.port);
    expect(ports.filter((p) => p % 2 === 0)).toHaveLength(2);
    expect(ports.filter((p) => p % 2 === 1)).toHaveLength(1);
  });

  it('port preservation: the internal port when free, another when taken', () => {
    const t = table({ tcp: { portPreservation: true } });
    expect(ok(t.outbound('tcp', ep(IN, 40001), ep(R1, 80), 0)).external.port).toBe(40001);
    const other = ok(t.outbound('tcp', ep(IN2, 40001), ep(R1, 80), 0)).external.port;
    expect(other).not.toBe(40001);
  });

  it('without preservation, ports are randomised (RFC 6056) and depend on the secret', () => {
    const seq = (seed: number) => {
      const t = new PortTable({ externalAddresses: [EXT], random: seeded(seed) });
      return Array.from({ length: 20 }, (_, i) => ok(t.outbound('tcp', ep(IN, 30000 + i), ep(R1, 80), 0)).external.port);
    };
    const a = seq(1);
    expect(a).toEqual(seq(1)); // deterministic under an injected source
    expect(a).not.toEqual(seq(2));
    expect(a.filter((p, i) => p === 30000 + i)).toHaveLength(0);
    const sortedSteps = a.slice(1).map((p, i) => p - a[i]!);
    expect(sortedSteps.every((d) => d === 1)).toBe(false);
  });

  it('ICMP query ids use the whole 0-65535 space', () => {
    const t = table({ icmp: { portRange: { min: 0, max: 1 } } });
    const a = ok(t.outbound('icmp', ep(IN, 7), ep(R1, 0), 0));
    const b = ok(t.outbound('icmp', ep(IN, 8), ep(R1, 0), 0));
    expect([a.external.port, b.external.port].sort()).toEqual([0, 1]);
  });
});

describe('exhaustion and limits', () => {
  it('exhausted is a value and no port is reused', () => {
    const t = table({ tcp: { portRange: { min: 3000, max: 3009 } } });
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(ok(t.outbound('tcp', ep(IN, 4000 + i), ep(R1, 80), 0)).external.port);
    expect(seen.size).toBe(10);
    expect(t.outbound('tcp', ep(IN, 5000), ep(R1, 80), 0)).toEqual({ ok: false, reason: 'exhausted' });
    const victim = t.lookupInternal('tcp', ep(IN, 4003), 0)!;
    expect(t.release(victim.id)).toBe(true);
    expect(t.release(victim.id)).toBe(false);
    expect(ok(t.outbound('tcp', ep(IN, 5000), ep(R1, 80), 0)).external.port).toBe(victim.external.port);
  });

  it('paired pooling: a host stays on its address even when another has room', () => {
    const t = table({ externalAddresses: [EXT, EXT2], tcp: { portRange: { min: 3000, max: 3001 } } });
    const a1 = ok(t.outbound('tcp', ep(IN, 5001), ep(R1, 80), 0));
    const b1 = ok(t.outbound('tcp', ep(IN2, 5001), ep(R1, 80), 0));
    expect(b1.external.address).not.toBe(a1.external.address); // least-loaded address for a new host
    const a2 = ok(t.outbound('tcp', ep(IN, 5002), ep(R1, 80), 0));
    expect(a2.external.address).toBe(a1.external.address);
    expect(t.outbound('tcp', ep(IN, 5003), ep(R1, 80), 0)).toEqual({ ok: false, reason: 'exhausted' });
  });

  it('arbitrary pooling: spills to another address', () => {
    const t = table({ externalAddresses: [EXT, EXT2], pooling: 'arbitrary', tcp: { portRange: { min: 3000, max: 3001 } } });
    const addrs = new Set<string>();
    for (let i = 0; i < 4; i++) addrs.add(ok(t.outbound('tcp', ep(IN, 5001 + i), ep(R1, 80), 0)).external.address);
    expect(addrs.size).toBe(2);
    expect(t.outbound('tcp', ep(IN, 5009), ep(R1, 80), 0)).toEqual({ ok: false, reason: 'exhausted' });
  });

  it('per-host limit protects the table from one host', () => {
    const t = table({ maxMappingsPerHost: 3 });
    for (let i = 0; i < 3; i++) ok(t.outbound('udp', ep(IN, 1000 + i), ep(R1, 1), 0));
    expect(t.outbound('udp', ep(IN, 2000), ep(R1, 1), 0)).toEqual({ ok: false, reason: 'host-limit' });
    expect(t.outbound('udp', ep(IN2, 2000), ep(R1, 1), 0).ok).toBe(true);
    expect(t.stats().hosts).toBe(2);
  });

  it('total limit', () => {
    const t = table({ maxMappings: 5 });
    for (let i = 0; i < 5; i++) ok(t.outbound('udp', ep(`192.0.2.${i + 1}`, 1000), ep(R1, 1), 0));
    expect(t.outbound('udp', ep('192.0.2.99', 1000), ep(R1, 1), 0)).toEqual({ ok: false, reason: 'table-full' });
  });
});

describe('timeouts under an injected clock', () => {
  it('RFC defaults: UDP 5 min, TCP transitory 4 min, established 2 h 4 min, ICMP 60 s', () => {
    const t = table();
    expect(ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 1000)).expiresAt).toBe(1000 + 300_000);
    expect(ok(t.outbound('tcp', ep(IN, 1), ep(R1, 1), 1000)).expiresAt).toBe(1000 + 240_000);
    expect(ok(t.outbound('tcp', ep(IN, 2), ep(R1, 1), 1000, 'established')).expiresAt).toBe(1000 + 7_440_000);
    expect(ok(t.outbound('icmp', ep(IN, 1), ep(R1, 0), 1000)).expiresAt).toBe(1000 + 60_000);
  });

  it('found until the exact expiry, absent from then on, one event', () => {
    const t = table();
    const m = ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 0));
    expect(t.lookupExternal('udp', m.external, 299_999)).not.toBeNull();
    expect(t.lookupInternal('udp', ep(IN, 1), 299_999)).not.toBeNull();
    expect(t.lookupExternal('udp', m.external, 300_000)).toBeNull(); // before handleTimeout, too
    expect(t.lookupInternal('udp', ep(IN, 1), 300_000)).toBeNull();
    expect(t.pollTimeout()).toBe(300_000);
    t.handleTimeout(299_999);
    expect(t.pollEvent()).toBeNull();
    t.handleTimeout(300_000);
    expect(t.pollEvent()).toEqual({ type: 'mapping-expired', mapping: { ...m, expiresAt: 300_000 } });
    expect(t.pollEvent()).toBeNull();
    expect(t.pollTimeout()).toBeNull();
    expect(t.size).toBe(0);
  });

  it('outbound traffic refreshes; pollTimeout follows the refreshed deadline', () => {
    const t = table();
    ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 0));
    ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 100_000));
    expect(t.pollTimeout()).toBe(400_000);
    t.handleTimeout(300_000);
    expect(t.size).toBe(1);
    expect(t.pollEvent()).toBeNull();
    t.handleTimeout(400_000);
    expect(t.size).toBe(0);
  });

  it('inbound refresh: off for UDP, on for TCP by default', () => {
    const t = table({ udp: { filtering: 'endpoint-independent' }, tcp: { filtering: 'endpoint-independent' } });
    const u = ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 0));
    const c = ok(t.outbound('tcp', ep(IN, 1), ep(R1, 1), 0, 'established'));
    t.inbound('udp', ep(R1, 1), u.external, 200_000);
    t.inbound('tcp', ep(R1, 1), c.external, 200_000);
    expect(t.get(u.id)?.expiresAt).toBe(300_000);
    expect(t.get(c.id)?.expiresAt).toBe(200_000 + 7_440_000);
  });

  it('closing moves an established TCP mapping to the transitory timeout', () => {
    const t = table();
    const c = ok(t.outbound('tcp', ep(IN, 1), ep(R1, 1), 0, 'established'));
    expect(t.pollTimeout()).toBe(7_440_000);
    expect(t.refresh(c.id, 1000, 'transitory')).toBe(true);
    expect(t.pollTimeout()).toBe(241_000);
    t.handleTimeout(241_000);
    expect(t.pollEvent()?.type).toBe('mapping-expired');
    expect(t.refresh(c.id, 241_001)).toBe(false);
  });

  it('an expired mapping is replaced by a fresh one on new traffic', () => {
    const t = table();
    const a = ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 0));
    const r = t.outbound('udp', ep(IN, 1), ep(R1, 1), 300_000);
    expect(r.ok && r.created).toBe(true);
    expect(ok(r).id).not.toBe(a.id);
    expect(t.pollEvent()?.type).toBe('mapping-expired');
    expect(t.get(a.id)).toBeNull();
  });

  it('bounds the event queue and counts what it dropped', () => {
    const t = table({ maxQueuedEvents: 1 });
    ok(t.outbound('udp', ep(IN, 1), ep(R1, 1), 0));
    ok(t.outbound('udp', ep(IN, 2), ep(R1, 1), 0));
    t.handleTimeout(1e9);
    expect(t.stats().droppedEvents).toBe(1);
    expect(t.pollEvent()).not.toBeNull();
    expect(t.pollEvent()).toBeNull();
  });
});

describe('static mappings', () => {
  it('a port forward admits anyone, is used outbound, never expires', () => {
    const t = table();
    const s = t.addStatic({ protocol: 'tcp', internal: ep(IN, 80), external: ep(EXT, 8080) });
    expect(s.ok && s.mapping.kind).toBe('static');
    const r = t.inbound('tcp', ep(R2, 5555), ep(EXT, 8080), 0);
    expect(r.ok && r.via).toBe('static');
    expect(r.ok && r.mapping.internal).toEqual(ep(IN, 80));
    expect(ok(t.outbound('tcp', ep(IN, 80), ep(R2, 5555), 0)).external).toEqual(ep(EXT, 8080));
    t.handleTimeout(1e12);
    expect(t.pollTimeout()).toBeNull();
    expect(t.lookupExternal('tcp', ep(EXT, 8080), 1e12)).not.toBeNull();
    expect(t.addStatic({ protocol: 'tcp', internal: ep(IN2, 80), external: ep(EXT, 8080) })).toEqual({ ok: false, reason: 'port-in-use' });
    expect(t.stats().staticMappings).toBe(1);
    expect(t.release(s.ok ? s.mapping.id : -1)).toBe(true);
    expect(t.stats().staticMappings).toBe(0);
  });

  it('dynamic mappings never take a forwarded port', () => {
    const t = table({ tcp: { portRange: { min: 3000, max: 3002 } } });
    t.addStatic({ protocol: 'tcp', internal: ep(IN, 80), external: ep(EXT, 3001) });
    const ports = [1, 2].map((i) => ok(t.outbound('tcp', ep(IN2, 5000 + i), ep(R1, 1), 0)).external.port);
    expect(ports.sort()).toEqual([3000, 3002]);
    expect(t.outbound('tcp', ep(IN2, 5003), ep(R1, 1), 0)).toEqual({ ok: false, reason: 'exhausted' });
  });

  it('a 1:1 address mapping keeps ports and works both ways', () => {
    const t = table();
    t.addStaticAddress('192.0.2.50', '203.0.113.50');
    const out = ok(t.outbound('udp', ep('192.0.2.50', 1234), ep(R1, 1), 0));
    expect(out.external).toEqual(ep('203.0.113.50', 1234));
    const back = t.inbound('tcp', ep(R2, 1), ep('203.0.113.50', 22), 0);
    expect(back.ok && back.mapping.internal).toEqual(ep('192.0.2.50', 22));
    expect(() => t.addStaticAddress('192.0.2.51', EXT)).toThrow(NatAlgError);
    expect(t.removeStaticAddress('192.0.2.50')).toBe(true);
    expect(t.inbound('tcp', ep(R2, 1), ep('203.0.113.50', 22), 0).ok).toBe(false);
  });
});

describe('hairpinning (RFC 4787 REQ-9)', () => {
  it('finds the internal host behind an external endpoint of the same NAT', () => {
    const t = table({ udp: { filtering: 'endpoint-independent' } });
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 1), 0));
    const r = t.outbound('udp', ep(IN2, 6000), a.external, 1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.hairpin?.internal).toEqual(ep(IN, 5000));
    expect(r.mapping.internal).toEqual(ep(IN2, 6000));
  });

  it('applies the filter with the source external endpoint as the peer', () => {
    const t = table(); // address-dependent filtering
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 1), 0));
    expect(t.outbound('udp', ep(IN2, 6000), a.external, 1)).toEqual({ ok: false, reason: 'hairpin-unreachable' });
    const b = t.lookupInternal('udp', ep(IN2, 6000), 1)!;
    ok(t.outbound('udp', ep(IN, 5000), b.external, 2)); // a sends to b's external endpoint
    expect(ok(t.outbound('udp', ep(IN2, 6000), a.external, 3))).toBeTruthy();
  });

  it('can be switched off', () => {
    const t = table({ hairpinning: false, udp: { filtering: 'endpoint-independent' } });
    const a = ok(t.outbound('udp', ep(IN, 5000), ep(R1, 1), 0));
    const r = t.outbound('udp', ep(IN2, 6000), a.external, 1);
    expect(r.ok && r.hairpin).toBeNull();
  });
});

describe('IPv6 endpoints (slower path)', () => {
  it('maps, finds both ways, expires and forgets interned addresses', () => {
    const t = new PortTable({ externalAddresses: ['2001:db8:ffff::1'], random: seeded(3) });
    const m = ok(t.outbound('tcp', ep('2001:db8:1::10', 4000), ep('2001:db8:2::1', 80), 0));
    expect(m.external.family).toBe(6);
    expect(t.lookupInternal('tcp', ep('2001:DB8:1:0::10', 4000), 1)?.id).toBe(m.id);
    const back = t.inbound('tcp', ep('2001:db8:2::1', 80), m.external, 1);
    expect(back.ok && back.mapping.internal).toEqual(ep('2001:db8:1::10', 4000));
    expect(t.inbound('tcp', ep('2001:db8:2::2', 80), m.external, 1)).toEqual({ ok: false, reason: 'filtered' });
    t.handleTimeout(1e9);
    expect(t.size).toBe(0);
    expect(t.keys.internedCount).toBe(1); // only the pool address is left
  });

  it('IPv6 inside, IPv4 pool (the NAT64 source side)', () => {
    const t = table();
    const m = ok(t.outbound('udp', ep('2001:db8:1::10', 4000), ep(R1, 53), 0));
    expect(m.external.address).toBe(EXT);
    const back = t.inbound('udp', ep(R1, 53), m.external, 1);
    expect(back.ok && back.mapping.internal.address).toBe('2001:db8:1::10');
  });
});

describe('misuse throws typed errors', () => {
  it('bad options', () => {
    expect(() => new PortTable({ externalAddresses: [], random: seeded() })).toThrow(NatAlgError);
    expect(() => new PortTable({ externalAddresses: [EXT, '2001:db8::1'], random: seeded() })).toThrow(NatAlgError);
    expect(() => new PortTable({ externalAddresses: [EXT, EXT], random: seeded() })).toThrow(NatAlgError);
    expect(() => table({ tcp: { portRange: { min: 900, max: 2000 } } })).toThrow(NatAlgError);
    expect(() => table({ udp: { portRange: { min: 10, max: 5 } } })).toThrow(NatAlgError);
    expect(() => table({ udp: { establishedTimeoutMs: 0 } })).toThrow(NatAlgError);
    expect(() => table({ maxMappings: 0 })).toThrow(NatAlgError);
    expect(() => new PortTable({ externalAddresses: [EXT], random: () => 1 })).toThrow(NatAlgError);
    expect(() => new PortTable({ externalAddresses: ['not-an-ip'], random: seeded() })).toThrow(AddressError);
  });

  it('bad calls', () => {
    const t = table();
    expect(() => t.outbound('udp', { family: 4, address: '1.2.3', port: 1 }, ep(R1, 1), 0)).toThrow(AddressError);
    expect(() => t.outbound('udp', { family: 4, address: IN, port: 70000 }, ep(R1, 1), 0)).toThrow(NatAlgError);
    expect(() => t.outbound('sctp' as never, ep(IN, 1), ep(R1, 1), 0)).toThrow(NatAlgError);
  });

  it('accepts a RandomSource object', () => {
    const rnd = seeded(5);
    expect(new PortTable({ externalAddresses: [EXT], random: { random: rnd } }).size).toBe(0);
  });
});

describe('storage', () => {
  it('grows past its initial capacity and survives deletions in long probe chains', () => {
    const t = new PortTable({ externalAddresses: [EXT, EXT2], random: seeded(12), udp: { filtering: 'endpoint-independent' } });
    const ids = new Map<number, Mapping>();
    for (let i = 0; i < 6000; i++) {
      const m = ok(t.outbound('udp', ep(`192.0.2.${1 + (i % 7)}`, 2000 + i), ep(R1, 1), 0));
      ids.set(i, m);
    }
    const rnd = seeded(99);
    for (let i = 0; i < 6000; i++) if (rnd() < 0.5) {
      expect(t.release(ids.get(i)!.id)).toBe(true);
      ids.delete(i);
    }
    for (const [i, m] of ids) {
      expect(t.lookupInternal('udp', ep(`192.0.2.${1 + (i % 7)}`, 2000 + i), 1)?.id).toBe(m.id);
      expect(t.lookupExternal('udp', m.external, 1)?.id).toBe(m.id);
      expect(t.findExternal(1, 0xcb007101 + (m.external.address === EXT ? 0 : 1), m.external.port, 1)).toBe(m.id);
    }
    expect(t.size).toBe(ids.size);
    expect(t.findInternal(1, 0xc000020a, 1, 1)).toBe(-1);
  });
});
