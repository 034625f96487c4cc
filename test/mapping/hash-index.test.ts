import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HashIndex, hashWords } from '../../src/core/mapping/hash-index.js';
import { PortTable, type Mapping } from '../../src/core/mapping/index.js';
import { ipv4ToNumber } from '../../src/core/net/ip.js';
import { ep, seeded, EXT } from './helpers.js';

/**
 * A HashIndex whose hash the test chooses: `bits` low bits of k0 only, so keys collide on purpose
 * (and, with bits = 0, every key has the same home and the table is one long cluster).
 */
function weakIndex(bits: number, capacity = 8): HashIndex {
  const mask = bits === 0 ? 0 : (1 << bits) - 1;
  return new HashIndex(capacity, 0, (k0) => k0 & mask);
}

// Keys in these tests set k1 bit 18 (EXTRA_KEY), so the table asks homeOf for their hash.
const X = 1 << 18;
const home = (bits: number, k0: number): number => (bits === 0 ? 0 : k0 & ((1 << bits) - 1));

describe('HashIndex', () => {
  it('finds what it holds, reports slot and generation, misses what it does not', () => {
    const ix = weakIndex(3);
    const a = ix.insert(home(3, 5), 5, 1 | X, 40, 7);
    ix.insert(home(3, 13), 13, 1 | X, 41, 8); // same home as 5
    expect(ix.find(home(3, 5), 5, 1 | X)).toBe(a);
    expect(ix.slot(a)).toBe(40);
    expect(ix.gen(a)).toBe(7);
    const b = ix.find(home(3, 13), 13, 1 | X);
    expect(ix.slot(b)).toBe(41);
    expect(ix.gen(b)).toBe(8);
    expect(ix.find(home(3, 21), 21, 1 | X)).toBe(-1); // same home, absent
    expect(ix.find(home(3, 5), 5, 2 | X)).toBe(-1); // other second word
  });

  it('grows (by 4 while small) before the load passes 1/2, keeping every entry; hashes keys itself', () => {
    const ix = new HashIndex(8, 12345, () => {
      throw new Error('keys without extra bits are hashed by the table');
    });
    const seen = [ix.capacity];
    for (let k = 0; k < 1000; k++) {
      ix.insert(hashWords(k * 7919, k, 0, 12345), k * 7919, k, k, k & 3);
      expect(ix.size * 2).toBeLessThanOrEqual(ix.capacity);
      if (ix.capacity !== seen[seen.length - 1]) seen.push(ix.capacity);
    }
    expect(seen).toEqual([8, 32, 128, 512, 2048]);
    for (let k = 0; k < 1000; k += 2) ix.removeAt(ix.locate(hashWords(k * 7919, k, 0, 12345), k));
    for (let k = 0; k < 1000; k++) {
      const pos = ix.find(hashWords(k * 7919, k, 0, 12345), k * 7919, k);
      if (k % 2 === 0) {
        expect(pos).toBe(-1);
        continue;
      }
      expect(ix.slot(pos)).toBe(k);
      expect(ix.gen(pos)).toBe(k & 3);
    }
  });

  it('backward-shift deletion keeps one long cluster searchable (every key on one home)', () => {
    const ix = weakIndex(0, 64);
    for (let k = 0; k < 30; k++) ix.insert(0, k, X, k, 0);
    const rnd = seeded(4);
    const left = new Set(Array.from({ length: 30 }, (_, k) => k));
    while (left.size > 0) {
      const keys = [...left];
      const k = keys[Math.floor(rnd() * keys.length)]!;
      ix.removeAt(ix.locate(0, k));
      left.delete(k);
      for (const other of left) expect(ix.slot(ix.find(0, other, X))).toBe(other);
      expect(ix.find(0, k, X)).toBe(-1);
    }
    expect(ix.size).toBe(0);
    expect([...ix.slots()]).toEqual([]);
  });

  it('clusters that wrap past the end of the table shift back across it', () => {
    const cap = 16;
    const custom = new HashIndex(cap, 0, () => cap - 2); // every key homes two from the end
    for (let k = 0; k < 5; k++) custom.insert(cap - 2, k, 9 | X, k, 0); // positions cap-2, cap-1, 0, 1, 2
    expect(custom.locate(cap - 2, 2)).toBe(0);
    custom.removeAt(custom.locate(cap - 2, 0));
    for (let k = 1; k < 5; k++) expect(custom.slot(custom.find(cap - 2, k, 9 | X))).toBe(k);
    expect(custom.locate(cap - 2, 4)).toBe(1); // moved back by one, across the end
    expect(custom.size).toBe(4);
  });

  it('equal stored keys are all reachable with next', () => {
    const ix = weakIndex(2);
    ix.insert(1, 1, 5 | X, 10, 0);
    ix.insert(1, 9, 5 | X, 11, 0); // other key, same home
    ix.insert(1, 1, 5 | X, 12, 0); // same key again
    const first = ix.find(1, 1, 5 | X);
    const second = ix.next(first, 1, 5 | X);
    expect([ix.slot(first), ix.slot(second)]).toEqual([10, 12]);
    expect(ix.next(second, 1, 5 | X)).toBe(-1);
  });

  it('agrees with a Map under random inserts, deletes and lookups (fast-check)', () => {
    type Op = { op: 'put' | 'del' | 'get'; k0: number; k1: number };
    const opArb = fc.record({
      op: fc.constantFrom<'put' | 'del' | 'get'>('put', 'put', 'del', 'get'),
      k0: fc.integer({ min: 0, max: 40 }),
      k1: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      // bits -1: the table's own hash (keys without extra bits); 0-4: a weak hash through homeOf.
      fc.property(fc.integer({ min: -1, max: 4 }), fc.array(opArb, { maxLength: 300 }), (bits, ops: Op[]) => {
        const ix = bits < 0 ? new HashIndex(8, 99, () => -1) : weakIndex(bits, 8);
        const w = (k1: number): number => (bits < 0 ? k1 : k1 | X);
        const h = (k0: number, k1: number): number => (bits < 0 ? hashWords(k0, k1, 0, 99) : home(bits, k0));
        const model = new Map<string, { slot: number; gen: number }>();
        let nextSlot = 0;
        for (const { op, k0, k1 } of ops) {
          const key = `${k0}/${k1}`;
          const had = model.get(key);
          if (op === 'put' && !had) {
            const v = { slot: nextSlot++, gen: (k0 * 31 + k1) >>> 0 };
            ix.insert(h(k0, w(k1)), k0, w(k1), v.slot, v.gen);
            model.set(key, v);
          } else if (op === 'del' && had) {
            ix.removeAt(ix.locate(h(k0, w(k1)), had.slot));
            model.delete(key);
          }
          const pos = ix.find(h(k0, w(k1)), k0, w(k1));
          const want = model.get(key);
          if (want) {
            expect(pos).toBeGreaterThanOrEqual(0);
            expect(ix.slot(pos)).toBe(want.slot);
            expect(ix.gen(pos)).toBe(want.gen);
            expect(ix.next(pos, k0, w(k1))).toBe(-1);
          } else expect(pos).toBe(-1);
          expect(ix.size).toBe(model.size);
          expect(ix.size * 2).toBeLessThanOrEqual(ix.capacity);
        }
        // Every stored key is still found (no entry stranded behind a hole).
        for (const [key, v] of model) {
          const [k0, k1] = key.split('/').map(Number) as [number, number];
          expect(ix.slot(ix.find(h(k0, w(k1)), k0, w(k1)))).toBe(v.slot);
        }
        expect([...ix.slots()].sort((a, b) => a - b)).toEqual([...model.values()].map((v) => v.slot).sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('mapping lookups through the index', () => {
  it('address-and-port-dependent keys: one internal endpoint, many remotes, each found exactly', () => {
    const t = new PortTable({ externalAddresses: [EXT], random: seeded(3), udp: { mapping: 'address-and-port-dependent' }, maxMappingsPerHost: 5000 });
    const inside = ep('192.0.2.10', 5000);
    const ids = new Map<string, Mapping>();
    for (let r = 0; r < 3000; r++) {
      const remote = ep(`198.51.100.${1 + (r % 50)}`, 1000 + Math.floor(r / 50));
      const res = t.outbound('udp', inside, remote, 0);
      if (!res.ok) throw new Error(res.reason);
      ids.set(`${remote.address}:${remote.port}`, res.mapping);
    }
    expect(new Set([...ids.values()].map((m) => m.external.port)).size).toBe(3000);
    let n = 0;
    for (const [key, m] of ids) {
      const [address, port] = key.split(':') as [string, string];
      if (n++ % 2 === 0) expect(t.release(m.id)).toBe(true);
      else {
        expect(t.lookupInternal('udp', inside, 1, ep(address, Number(port)))?.id).toBe(m.id);
        expect(t.findInternal(1, ipv4ToNumber('192.0.2.10'), 5000, 1, ipv4ToNumber(address), Number(port))).toBe(m.id);
        expect(t.lookupExternal('udp', m.external, 1)?.id).toBe(m.id);
      }
    }
    expect(t.findInternal(1, ipv4ToNumber('192.0.2.10'), 5000, 1, ipv4ToNumber('198.51.100.99'), 1)).toBe(-1);
  });

  it('external side: a port reused by a reused slot answers with the new id only', () => {
    const t = new PortTable({ externalAddresses: [EXT], random: seeded(5), udp: { portRange: { min: 4000, max: 4000 }, privilegedRange: null } });
    const x = ipv4ToNumber(EXT);
    const first = t.allocate('udp', ep('192.0.2.1', 1), 0);
    if (!first.ok) throw new Error('setup');
    expect(t.findExternal(1, x, 4000, 1)).toBe(first.mapping.id);
    expect(t.release(first.mapping.id)).toBe(true);
    expect(t.findExternal(1, x, 4000, 1)).toBe(-1);
    const second = t.allocate('udp', ep('192.0.2.2', 2), 0);
    if (!second.ok) throw new Error('setup');
    expect(second.mapping.external.port).toBe(4000);
    expect(second.mapping.id).not.toBe(first.mapping.id);
    expect(t.findExternal(1, x, 4000, 1)).toBe(second.mapping.id);
    expect(t.findExternal(1, x, 4001, 1)).toBe(-1);
    expect(t.findExternal(0, x, 4000, 1)).toBe(-1); // other protocol
    expect(t.findExternal(1, ipv4ToNumber('203.0.113.99'), 4000, 1)).toBe(-1); // not ours
  });

  it('external side: a connection admitted by an expectation is found by its new id', () => {
    const t = new PortTable({ externalAddresses: [EXT], random: seeded(6) });
    const e = t.expect({ protocol: 'tcp', owner: 'c1', internal: ep('192.0.2.7', 20), peer: { address: '198.51.100.9' } }, 0);
    if (!e.ok) throw new Error('setup');
    const x = ipv4ToNumber(EXT);
    expect(t.findExternal(0, x, e.expectation.external.port, 1)).toBe(-1); // a reservation is no mapping
    const r = t.inbound('tcp', ep('198.51.100.9', 40000), e.expectation.external, 10);
    if (!r.ok) throw new Error(r.reason);
    expect(r.via).toBe('expectation');
    expect(t.findExternal(0, x, e.expectation.external.port, 11)).toBe(r.mapping.id);
  });

  it('past an unhandled deadline, lookups read the exact expiry of each mapping', () => {
    const t = new PortTable({ externalAddresses: [EXT], random: seeded(8) });
    const a = t.allocate('udp', ep('192.0.2.1', 1), 0);
    const b = t.allocate('udp', ep('192.0.2.2', 1), 100_000);
    if (!a.ok || !b.ok) throw new Error('setup');
    const k1 = ipv4ToNumber('192.0.2.1');
    const k2 = ipv4ToNumber('192.0.2.2');
    const x = ipv4ToNumber(EXT);
    // No handleTimeout: a is due at 300 000, b at 400 000.
    expect(t.findInternal(1, k1, 1, 299_999)).toBe(a.mapping.id);
    expect(t.findInternal(1, k1, 1, 300_000)).toBe(-1);
    expect(t.findExternal(1, x, a.mapping.external.port, 300_000)).toBe(-1);
    expect(t.findInternal(1, k2, 1, 300_000)).toBe(b.mapping.id);
    expect(t.findExternal(1, x, b.mapping.external.port, 399_999)).toBe(b.mapping.id);
    expect(t.findExternal(1, x, b.mapping.external.port, 400_000)).toBe(-1);
    t.handleTimeout(300_000);
    expect(t.pollTimeout()).toBe(400_000);
    expect(t.findInternal(1, k2, 1, 399_999)).toBe(b.mapping.id);
  });

  it('a refresh to an earlier expiry (established to transitory) is seen by lookups at once', () => {
    const t = new PortTable({ externalAddresses: [EXT], random: seeded(9) });
    const c = t.outbound('tcp', ep('192.0.2.1', 1), ep('198.51.100.1', 80), 0, 'established');
    const held = t.allocate('tcp', ep('192.0.2.3', 1), 0, { hold: true });
    if (!c.ok || !held.ok) throw new Error('setup');
    t.handleTimeout(0);
    expect(t.refresh(c.mapping.id, 1000, 'transitory')).toBe(true); // now expires at 241 000
    const k = ipv4ToNumber('192.0.2.1');
    expect(t.findInternal(0, k, 1, 240_999)).toBe(c.mapping.id);
    expect(t.findInternal(0, k, 1, 241_000)).toBe(-1);
    expect(t.findExternal(0, ipv4ToNumber(EXT), c.mapping.external.port, 241_000)).toBe(-1);
    // A held mapping never expires, on either side, whatever the time.
    expect(t.findInternal(0, ipv4ToNumber('192.0.2.3'), 1, 1e15)).toBe(held.mapping.id);
    expect(t.findExternal(0, ipv4ToNumber(EXT), held.mapping.external.port, 1e15)).toBe(held.mapping.id);
  });
});
