import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PortTable, type MappingBehavior, type Protocol } from '../../src/core/mapping/index.js';
import { formatEndpoint } from '../../src/core/net/ip.js';
import { ep, seeded, EXT, EXT2 } from './helpers.js';

type Op =
  | { kind: 'out'; protocol: Protocol; host: number; port: number; remote: number }
  | { kind: 'in'; protocol: Protocol; remote: number; extPort: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'release'; pick: number }
  | { kind: 'timeout' };

const protocolArb = fc.constantFrom<Protocol>('tcp', 'udp');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('out' as const), protocol: protocolArb, host: fc.integer({ min: 1, max: 4 }), port: fc.integer({ min: 1020, max: 1030 }), remote: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('in' as const), protocol: protocolArb, remote: fc.integer({ min: 1, max: 3 }), extPort: fc.integer({ min: 2000, max: 2011 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'timeout' as const }) },
);

/** A small table where collisions and exhaustion are frequent. */
function smallTable(seed: number, mapping: MappingBehavior): PortTable {
  const range = { portRange: { min: 2000, max: 2011 }, privilegedRange: { min: 900, max: 903 }, mapping };
  return new PortTable({ externalAddresses: [EXT, EXT2], random: seeded(seed), tcp: range, udp: range, maxMappingsPerHost: 10 });
}

describe('mapping table properties', () => {
  it('no shared external endpoint; found from both sides until expiry; expiry exact', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.constantFrom<MappingBehavior>('endpoint-independent', 'address-dependent', 'address-and-port-dependent'),
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        (seed, mapping, ops) => {
          const t = smallTable(seed, mapping);
          let now = 0;
          // Model: id -> expiresAt (null = never) as the table promised when last told.
          const model = new Map<number, number | null>();
          for (const op of ops) {
            if (op.kind === 'out') {
              const r = t.outbound(op.protocol, ep(`192.0.2.${op.host}`, op.port), ep(`198.51.100.${op.remote}`, 80), now);
              if (r.ok) {
                expect(r.mapping.expiresAt).toBe(now + (op.protocol === 'udp' ? 300_000 : 240_000));
                model.set(r.mapping.id, r.mapping.expiresAt);
              }
            } else if (op.kind === 'in') {
              const r = t.inbound(op.protocol, ep(`198.51.100.${op.remote}`, 80), ep(EXT, op.extPort), now);
              if (r.ok && r.mapping.expiresAt !== null) model.set(r.mapping.id, r.mapping.expiresAt);
            } else if (op.kind === 'advance') {
              now += op.ms;
            } else if (op.kind === 'release') {
              const ids = [...model.keys()];
              if (ids.length > 0) {
                const id = ids[op.pick % ids.length]!;
                // Live mappings are always releasable; an expired one until handleTimeout collects it.
                const held = t.get(id) !== null;
                if (model.get(id)! > now) expect(held).toBe(true);
                expect(t.release(id)).toBe(held);
                expect(t.get(id)).toBeNull();
                model.delete(id);
              }
            } else {
              const due = t.pollTimeout();
              const earliest = Math.min(...[...model.values()].map((v) => v ?? Infinity), Infinity);
              // pollTimeout is exact: the earliest expiry of a mapping not yet collected.
              const uncollected = [...model.entries()].filter(([id]) => t.get(id) !== null).map(([, v]) => v ?? Infinity);
              expect(due ?? Infinity).toBe(Math.min(Infinity, ...uncollected));
              expect(earliest).toBeLessThanOrEqual(due ?? Infinity);
              t.handleTimeout(now);
              for (let e = t.pollEvent(); e; e = t.pollEvent()) {
                if (e.type !== 'mapping-expired') continue;
                expect(e.mapping.expiresAt).toBe(model.get(e.mapping.id));
                expect(e.mapping.expiresAt!).toBeLessThanOrEqual(now);
                model.delete(e.mapping.id);
              }
            }
            // Invariants after every step.
            const seen = new Set<string>();
            for (const m of t.mappings()) {
              const key = `${m.protocol} ${formatEndpoint(m.external)}`;
              expect(seen.has(key)).toBe(false);
              seen.add(key);
            }
            for (const [id, expiresAt] of model) {
              const m = t.get(id);
              const alive = expiresAt === null || expiresAt > now;
              if (!alive) continue; // collected or not, it must not be found (checked below)
              expect(m).not.toBeNull();
              expect(t.lookupExternal(m!.protocol, m!.external, now)?.id).toBe(id);
              if (mapping === 'endpoint-independent') expect(t.lookupInternal(m!.protocol, m!.internal, now)?.id).toBe(id);
              expect(m!.expiresAt).toBe(expiresAt);
            }
            for (const [id, expiresAt] of model) {
              if (expiresAt !== null && expiresAt <= now) {
                const m = t.get(id);
                if (m) expect(t.lookupExternal(m.protocol, m.external, now)).toBeNull();
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('exhaustion is reported exactly when every port of the range is held', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.integer({ min: 1, max: 40 }), (seed, size) => {
        const t = new PortTable({ externalAddresses: [EXT], random: seeded(seed), udp: { portRange: { min: 40000, max: 40000 + size - 1 }, parityPreservation: seed % 2 === 0 } });
        const ports = new Set<number>();
        for (let i = 0; i < size; i++) {
          const r = t.outbound('udp', ep('192.0.2.1', 10000 + i), ep('198.51.100.1', 1), 0);
          expect(r.ok).toBe(true);
          if (r.ok) ports.add(r.mapping.external.port);
        }
        expect(ports.size).toBe(size);
        expect(t.outbound('udp', ep('192.0.2.1', 20000), ep('198.51.100.1', 1), 0)).toEqual({ ok: false, reason: 'exhausted' });
      }),
      { numRuns: 60 },
    );
  });
});

describe('expectation properties', () => {
  type XOp =
    | { kind: 'expect'; owner: number; port: number; peer: number; withPort: boolean }
    | { kind: 'hit'; peer: number; peerPort: number; pick: number }
    | { kind: 'out'; port: number }
    | { kind: 'advance'; ms: number }
    | { kind: 'cancel'; owner: number };
  const xop: fc.Arbitrary<XOp> = fc.oneof(
    fc.record({ kind: fc.constant('expect' as const), owner: fc.integer({ min: 1, max: 3 }), port: fc.integer({ min: 5000, max: 5005 }), peer: fc.integer({ min: 1, max: 2 }), withPort: fc.boolean() }),
    fc.record({ kind: fc.constant('hit' as const), peer: fc.integer({ min: 1, max: 2 }), peerPort: fc.constantFrom(20, 21), pick: fc.nat() }),
    fc.record({ kind: fc.constant('out' as const), port: fc.integer({ min: 5000, max: 5008 }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
    fc.record({ kind: fc.constant('cancel' as const), owner: fc.integer({ min: 1, max: 3 }) }),
  );

  it('one-shot, peer-constrained, time-limited, bounded, and never sharing a port', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.array(xop, { minLength: 1, maxLength: 80 }), (seed, ops) => {
        const t = new PortTable({
          externalAddresses: [EXT],
          random: seeded(seed),
          tcp: { portRange: { min: 7000, max: 7007 } },
          maxExpectationsPerOwner: 2,
          maxExpectations: 4,
        });
        let now = 0;
        const consumed = new Set<number>();
        for (const op of ops) {
          if (op.kind === 'expect') {
            const r = t.expect({ protocol: 'tcp', owner: op.owner, internal: ep('192.0.2.10', op.port), peer: op.withPort ? { address: `198.51.100.${op.peer}`, port: 20 } : { address: `198.51.100.${op.peer}` } }, now);
            if (r.ok) expect(r.expectation.expiresAt).toBe(now + 30_000);
          } else if (op.kind === 'hit') {
            const list = t.listExpectations();
            if (list.length === 0) continue;
            const x = list[op.pick % list.length]!;
            const peer = ep(`198.51.100.${op.peer}`, op.peerPort);
            const before = t.listExpectations().filter((e) => e.external.port === x.external.port);
            const r = t.inbound('tcp', peer, x.external, now);
            if (r.ok && r.via === 'expectation') {
              const used = r.expectation!;
              expect(consumed.has(used.id)).toBe(false);
              consumed.add(used.id);
              expect(used.peer.address).toBe(peer.address);
              if (used.peer.port !== undefined) expect(used.peer.port).toBe(peer.port);
              expect(used.expiresAt).toBeGreaterThan(now);
              expect(r.mapping.internal).toEqual(used.internal);
              expect(t.listExpectations().some((e) => e.id === used.id)).toBe(false);
            } else if (!r.ok) {
              // Nobody waiting at that endpoint admits this peer, unless the connection would
              // repeat an inside 4-tuple already in use (then the pinhole stays for a real one).
              const admits = before.filter((e) => e.expiresAt > now && e.peer.address === peer.address && (e.peer.port === undefined || e.peer.port === peer.port));
              for (const e of admits) {
                const clash = t.lookupInternal('tcp', e.internal, now, peer);
                expect(clash).not.toBeNull();
                expect(clash!.external.port).not.toBe(x.external.port);
                expect(t.listExpectations().some((y) => y.id === e.id)).toBe(true);
              }
            }
          } else if (op.kind === 'out') {
            t.outbound('tcp', ep('192.0.2.20', op.port), ep('198.51.100.9', 80), now);
          } else if (op.kind === 'advance') {
            now += op.ms;
            t.handleTimeout(now);
            while (t.pollEvent()) { /* drain */ }
          } else {
            t.cancelOwner(op.owner);
          }
          const list = t.listExpectations();
          expect(list.length).toBeLessThanOrEqual(4);
          for (const o of [1, 2, 3]) expect(list.filter((e) => e.owner === o).length).toBeLessThanOrEqual(2);
          for (const e of list) expect(e.expiresAt).toBeGreaterThan(now);
          // An external port is held by one internal endpoint at a time, mapping or pinhole.
          const holder = new Map<number, string>();
          for (const m of t.mappings()) {
            if (m.expiresAt !== null && m.expiresAt <= now) continue;
            const who = formatEndpoint(m.internal);
            expect(holder.get(m.external.port) ?? who).toBe(who);
            holder.set(m.external.port, who);
          }
          for (const e of list) {
            const who = formatEndpoint(e.internal);
            expect(holder.get(e.external.port) ?? who).toBe(who);
            holder.set(e.external.port, who);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
