import { describe, it, expect } from 'vitest';
import { NatAlgError } from '../../src/core/errors.js';
import { PortAllocator } from '../../src/core/mapping/index.js';
import { ep, seeded } from './helpers.js';

describe('PortAllocator (relay data ports from LO-HI)', () => {
  it('hands out distinct ports in range until exhausted, then reuses released ones', () => {
    const a = new PortAllocator({ address: '127.0.0.1', range: { min: 50000, max: 50004 }, random: seeded(1) });
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = a.allocate('tcp', ep('192.0.2.1', 1000 + i), 0);
      if (!r.ok) throw new Error(r.reason);
      expect(r.endpoint).toEqual(ep('127.0.0.1', r.port));
      got.push(r.port);
    }
    expect([...got].sort()).toEqual([50000, 50001, 50002, 50003, 50004]);
    expect(a.allocate('tcp', ep('192.0.2.1', 2000), 0)).toEqual({ ok: false, reason: 'exhausted' });
    expect(a.isHeld('tcp', got[2]!, 0)).toBe(true);
    const again = a.allocate('tcp', ep('192.0.2.1', 1002), 0);
    expect(again.ok && again.port).toBe(got[2]); // same owner endpoint: same port
    expect(again.ok && a.release(again.id)).toBe(true);
    expect(a.isHeld('tcp', got[2]!, 0)).toBe(false);
    const next = a.allocate('tcp', ep('192.0.2.1', 2000), 0);
    expect(next.ok && next.port).toBe(got[2]);
    // Held ports never expire on their own.
    a.handleTimeout(1e15);
    expect(a.pollTimeout()).toBeNull();
    expect(a.isHeld('tcp', got[0]!, 1e15)).toBe(true);
  });

  it('with ttlMs, an unreleased port comes back by itself', () => {
    const a = new PortAllocator({ address: '127.0.0.1', range: { min: 50000, max: 50000 }, random: seeded(1), ttlMs: 1000 });
    const r = a.allocate('tcp', ep('192.0.2.1', 1), 0);
    expect(r.ok).toBe(true);
    expect(a.pollTimeout()).toBe(1000);
    a.handleTimeout(1000);
    expect(a.pollEvent()?.type).toBe('mapping-expired');
    expect(a.allocate('tcp', ep('192.0.2.1', 2), 1000).ok).toBe(true);
  });

  it('releaseOwner, per-owner limit, validation', () => {
    const a = new PortAllocator({ address: '::1', range: { min: 1, max: 100 }, random: seeded(2), maxPortsPerOwner: 1 });
    expect(a.allocate('tcp', ep('::1', 1), 0).ok).toBe(true);
    expect(a.allocate('tcp', ep('::1', 2), 0)).toEqual({ ok: false, reason: 'host-limit' });
    expect(a.releaseOwner('tcp', ep('::1', 1), 0)).toBe(true);
    expect(a.allocate('tcp', ep('::1', 2), 0).ok).toBe(true);
    expect(() => new PortAllocator({ address: '127.0.0.1', range: { min: 10, max: 5 }, random: seeded() })).toThrow(NatAlgError);
    expect(() => new PortAllocator({ address: '127.0.0.1', range: { min: 0, max: 5 }, random: seeded() })).toThrow(NatAlgError);
  });
});

describe('PortAllocator.allocatePort (no owner)', () => {
  it('a different free port per call while held; exhausted is a value; released ports return', () => {
    const a = new PortAllocator({ address: '127.0.0.1', range: { min: 40000, max: 40002 }, random: seeded(8) });
    const r = [a.allocatePort('tcp', 0), a.allocatePort('tcp', 0), a.allocatePort('tcp', 0)];
    const ports = r.map((x) => (x.ok ? x.port : -1));
    expect([...ports].sort()).toEqual([40000, 40001, 40002]);
    expect(a.allocatePort('tcp', 0)).toEqual({ ok: false, reason: 'exhausted' });
    expect(a.allocatePort('udp', 0).ok).toBe(true); // protocols are separate
    const first = r[0]!;
    if (!first.ok) throw new Error();
    expect(a.release(first.id)).toBe(true);
    const again = a.allocatePort('tcp', 0);
    expect(again.ok && again.port).toBe(first.port);
  });
});
