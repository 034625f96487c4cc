import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ALLOCATE_FAILURES, PortTable } from '../../src/core/mapping/index.js';
import { ipv4ToNumber, numberToIPv4 } from '../../src/core/net/ip.js';
import { EXT, EXT2, ep, seeded, table } from './helpers.js';

const UDP = 1;
const HOST = ipv4ToNumber('192.0.2.10');

describe('allocateId (numeric allocation path)', () => {
  it('creates the same mapping allocate would, found from both sides', () => {
    const t = table();
    const id = t.allocateId(UDP, HOST, 5000, 0);
    expect(id).toBeGreaterThanOrEqual(0);
    const m = t.get(id)!;
    expect(m.internal).toEqual(ep('192.0.2.10', 5000));
    expect(m.protocol).toBe('udp');
    expect(m.expiresAt).toBe(t.options.policies[UDP].establishedTimeoutMs);
    expect(t.externalPort(id)).toBe(m.external.port);
    expect(numberToIPv4(t.externalAddress(id))).toBe(m.external.address);
    expect(t.findInternal(UDP, HOST, 5000, 1)).toBe(id);
    expect(t.findExternal(UDP, t.externalAddress(id), t.externalPort(id), 1)).toBe(id);
    expect(t.lookupInternal('udp', ep('192.0.2.10', 5000), 1)!.id).toBe(id);
    // The object API finds it (no second mapping), and allocateId finds the object API's.
    const again = t.allocate('udp', ep('192.0.2.10', 5000), 1);
    expect(again.ok && again.created).toBe(false);
    expect(again.ok && again.mapping.id).toBe(id);
    const other = t.allocate('udp', ep('192.0.2.10', 5001), 1);
    expect(other.ok && t.allocateId(UDP, HOST, 5001, 2)).toBe(other.ok && other.mapping.id);
    expect(t.size).toBe(2);
  });

  it('refreshes an existing mapping like allocate', () => {
    const t = table({ udp: { establishedTimeoutMs: 100 } });
    const id = t.allocateId(UDP, HOST, 5000, 0);
    expect(t.allocateId(UDP, HOST, 5000, 50)).toBe(id);
    expect(t.get(id)!.expiresAt).toBe(150);
    t.handleTimeout(149);
    expect(t.findInternal(UDP, HOST, 5000, 149)).toBe(id);
    t.handleTimeout(150);
    expect(t.findInternal(UDP, HOST, 5000, 150)).toBe(-1);
    expect(t.externalPort(id)).toBe(-1);
    expect(t.externalAddress(id)).toBe(-1);
  });

  it('reports failures as negative codes naming ALLOCATE_FAILURES', () => {
    const full = table({ maxMappings: 1 });
    expect(full.allocateId(UDP, HOST, 1, 0)).toBeGreaterThanOrEqual(0);
    expect(ALLOCATE_FAILURES[-1 - full.allocateId(UDP, HOST, 2, 0)]).toBe('table-full');
    const perHost = table({ maxMappingsPerHost: 1 });
    perHost.allocateId(UDP, HOST, 1, 0);
    expect(ALLOCATE_FAILURES[-1 - perHost.allocateId(UDP, HOST, 2, 0)]).toBe('host-limit');
    const small = table({ udp: { portRange: { min: 40000, max: 40001 }, parityPreservation: false } });
    small.allocateId(UDP, HOST, 5001, 0);
    small.allocateId(UDP, HOST, 5002, 0);
    expect(ALLOCATE_FAILURES[-1 - small.allocateId(UDP, HOST, 5003, 0)]).toBe('exhausted');
    const one = table({ externalAddresses: [EXT] });
    one.addStaticAddress('192.0.2.10', EXT2);
    expect(ALLOCATE_FAILURES[-1 - one.allocateId(UDP, HOST, 3, 0)]).toBe('one-to-one');
  });

  it('throws on misuse', () => {
    const t = table();
    expect(() => t.allocateId(3, HOST, 1, 0)).toThrow();
    expect(() => t.allocateId(UDP, -1, 1, 0)).toThrow();
    expect(() => t.allocateId(UDP, 2 ** 32, 1, 0)).toThrow();
    expect(() => t.allocateId(UDP, 1.5, 1, 0)).toThrow();
    expect(() => t.allocateId(UDP, HOST, 65536, 0)).toThrow();
    expect(() => t.allocateId(UDP, HOST, -1, 0)).toThrow();
    const apdm = table({ udp: { mapping: 'address-and-port-dependent' } });
    expect(() => apdm.allocateId(UDP, HOST, 1, 0)).toThrow();
    expect(t.size).toBe(0);
  });

  it('gives the same external endpoints as the object API for the same sequence (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 65535 })), { maxLength: 60 }), (ops) => {
        const opts = { externalAddresses: [EXT, EXT2], random: seeded(3) };
        const a = new PortTable(opts);
        const b = new PortTable({ ...opts, random: seeded(3), initialCapacity: 4 });
        for (const [h, port] of ops) {
          const addr = HOST + h;
          const r = a.allocate('udp', ep(numberToIPv4(addr), port), 0);
          const id = b.allocateId(UDP, addr, port, 0);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          expect(id).toBe(r.mapping.id);
          expect(b.externalPort(id)).toBe(r.mapping.external.port);
          expect(numberToIPv4(b.externalAddress(id))).toBe(r.mapping.external.address);
        }
        expect(b.size).toBe(a.size);
      }),
    );
  });
});

describe('initialCapacity', () => {
  it('pre-sizes without changing behaviour, grows past it, and is validated', () => {
    const t = table({ initialCapacity: 2, maxMappings: 100 });
    const ids = [];
    for (let i = 0; i < 50; i++) ids.push(t.allocateId(UDP, HOST, 1000 + i, 0));
    expect(new Set(ids.map((id) => t.externalPort(id))).size).toBe(50);
    for (let i = 0; i < 50; i++) expect(t.findInternal(UDP, HOST, 1000 + i, 1)).toBe(ids[i]);
    expect(table({ initialCapacity: 1 << 20, maxMappings: 10 }).options.initialCapacity).toBe(1 << 20);
    expect(() => table({ initialCapacity: 0 })).toThrow();
    expect(() => table({ initialCapacity: 1.5 })).toThrow();
  });
});
