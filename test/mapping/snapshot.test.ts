import { describe, it, expect } from 'vitest';
import { NatAlgError } from '../../src/core/errors.js';
import { restorePortTable, snapshotPortTable, type Mapping } from '../../src/core/mapping/index.js';
import { table, ep, seeded, EXT } from './helpers.js';

const opts = { externalAddresses: [EXT], random: seeded(9), udp: { filtering: 'address-and-port-dependent' as const } };

describe('snapshot and restore', () => {
  it('round-trips mappings, peers, static state and expectations through JSON on a new clock', () => {
    const t = table(opts);
    const a = t.outbound('udp', ep('192.0.2.1', 5000), ep('198.51.100.1', 53), 1000);
    t.outbound('udp', ep('192.0.2.1', 5000), ep('198.51.100.2', 53), 2000);
    const b = t.outbound('tcp', ep('2001:db8::5', 6000), ep('198.51.100.3', 443), 1000, 'established');
    const s = t.addStatic({ protocol: 'tcp', internal: ep('192.0.2.9', 80), external: ep(EXT, 8080) });
    const held = t.allocate('tcp', ep('192.0.2.2', 7000), 1000, { hold: true });
    t.addStaticAddress('192.0.2.50', '203.0.113.50');
    const e = t.expect({ protocol: 'tcp', owner: 'ctl', internal: ep('192.0.2.1', 50000), peer: { address: '198.51.100.1', port: 20 } }, 1000);
    if (!a.ok || !b.ok || !s.ok || !held.ok || !e.ok) throw new Error('setup');

    const snap = JSON.parse(JSON.stringify(snapshotPortTable(t, 3000)));
    const r = restorePortTable(snap, opts, 1_000_000); // the new process's clock starts elsewhere

    const same = (m: Mapping, delta: number) => {
      const found = r.lookupExternal(m.protocol, m.external, 1_000_000);
      expect(found?.internal).toEqual(m.internal);
      expect(found?.expiresAt).toBe(m.expiresAt === null ? null : m.expiresAt + delta);
      expect(r.lookupInternal(m.protocol, m.internal, 1_000_000)?.external).toEqual(m.external);
    };
    same({ ...a.mapping, expiresAt: 2000 + 300_000 }, 1_000_000 - 3000);
    same(b.mapping, 1_000_000 - 3000);
    same(s.mapping, 0);
    same(held.mapping, 0);
    // Filtering state came along: both peers are admitted, a stranger is not.
    expect(r.inbound('udp', ep('198.51.100.2', 53), a.mapping.external, 1_000_001).ok).toBe(true);
    expect(r.inbound('udp', ep('198.51.100.1', 53), a.mapping.external, 1_000_001).ok).toBe(true);
    expect(r.inbound('udp', ep('198.51.100.1', 54), a.mapping.external, 1_000_001).ok).toBe(false);
    expect(r.lookupExternal('udp', ep('203.0.113.50', 9), 1_000_001)?.internal).toEqual(ep('192.0.2.50', 9));
    const [re] = r.listExpectations();
    expect(re).toEqual({ ...e.expectation, expiresAt: 1_000_000 + 28_000 });
    expect(r.stats()).toEqual({ ...t.stats(), droppedEvents: 0 });
    expect(snapshotPortTable(r, 1_000_000)).toEqual(snap);
    // Expiry continues on the new clock.
    r.handleTimeout(1_000_000 + 299_000 - 1);
    expect(r.lookupExternal('udp', a.mapping.external, 1_000_000 + 299_000 - 1)).not.toBeNull();
    r.handleTimeout(1_000_000 + 299_000);
    expect(r.lookupExternal('udp', a.mapping.external, 1_000_000 + 299_000)).toBeNull();
  });

  it('leaves out what already expired and refuses bad snapshots', () => {
    const t = table(opts);
    t.outbound('udp', ep('192.0.2.1', 5000), ep('198.51.100.1', 53), 0);
    expect(snapshotPortTable(t, 300_000).mappings).toHaveLength(0);
    expect(() => restorePortTable({ version: 99, mappings: [], staticAddresses: [], expectations: [] }, opts, 0)).toThrow(NatAlgError);
    const snap = snapshotPortTable(t, 0);
    const twice = { ...snap, mappings: [...snap.mappings, ...snap.mappings] };
    expect(() => restorePortTable(twice, opts, 0)).toThrow(NatAlgError);
    expect(() => restorePortTable(snap, { ...opts, maxMappings: 1 }, 0)).not.toThrow();
  });
});
