import { describe, it, expect } from 'vitest';
import { table, ep, EXT } from './helpers.js';

const CLIENT = '192.0.2.10'; // inside
const SERVER = '198.51.100.7'; // outside

describe('expectations (pinholes)', () => {
  it('one-shot: the first matching connection consumes it', () => {
    const t = table();
    const e = t.expect({ protocol: 'tcp', owner: 'ctl-1', internal: ep(CLIENT, 50000), peer: { address: SERVER } }, 0);
    expect(e.ok).toBe(true);
    if (!e.ok) return;
    expect(e.expectation.external.address).toBe(EXT);
    expect(e.expectation.expiresAt).toBe(30_000);
    const first = t.inbound('tcp', ep(SERVER, 20), e.expectation.external, 10);
    expect(first.ok && first.via).toBe('expectation');
    expect(first.ok && first.mapping.internal).toEqual(ep(CLIENT, 50000));
    expect(first.ok && first.expectation?.id).toBe(e.expectation.id);
    expect(t.listExpectations()).toHaveLength(0);
    // The admitted connection is now a mapping; its peer keeps talking, others are refused.
    const again = t.inbound('tcp', ep(SERVER, 20), e.expectation.external, 20);
    expect(again.ok && again.via).toBe('mapping');
    expect(t.inbound('tcp', ep(SERVER, 21), e.expectation.external, 20)).toEqual({ ok: false, reason: 'filtered' });
    // Outbound from the data connection uses the same external endpoint.
    const out = t.outbound('tcp', ep(CLIENT, 50000), ep(SERVER, 20), 30);
    expect(out.ok && out.mapping.external).toEqual(e.expectation.external);
  });

  it('constrained to the peer address, and to its port when given', () => {
    const t = table();
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER, port: 20 } }, 0);
    if (!e.ok) throw new Error(e.reason);
    expect(t.inbound('tcp', ep('198.51.100.8', 20), e.expectation.external, 1)).toEqual({ ok: false, reason: 'no-mapping' });
    expect(t.inbound('tcp', ep(SERVER, 2020), e.expectation.external, 1)).toEqual({ ok: false, reason: 'no-mapping' });
    expect(t.inbound('tcp', ep(SERVER, 20), e.expectation.external, 1).ok).toBe(true);
  });

  it('for any peer (address null): the first peer to come consumes it, and the mapping is then locked to that peer', () => {
    const t = table();
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 5000), peer: { address: null } }, 0);
    if (!e.ok) throw new Error(e.reason);
    expect(t.hasExpectation(e.expectation.id)).toBe(true);
    const first = t.inbound('tcp', ep('203.0.113.77', 52000), e.expectation.external, 1);
    expect(first.ok && first.via).toBe('expectation');
    expect(t.hasExpectation(e.expectation.id)).toBe(false);
    expect(t.inbound('tcp', ep('203.0.113.78', 52000), e.expectation.external, 2)).toEqual({ ok: false, reason: 'filtered' });
  });

  it('time-limited: expires with an event and frees its port', () => {
    const t = table({ tcp: { portRange: { min: 7000, max: 7000 } } });
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER }, timeoutMs: 5000 }, 100);
    if (!e.ok) throw new Error(e.reason);
    expect(t.outbound('tcp', ep(CLIENT, 40000), ep(SERVER, 21), 101)).toEqual({ ok: false, reason: 'exhausted' });
    expect(t.pollTimeout()).toBe(5100);
    expect(t.inbound('tcp', ep(SERVER, 20), e.expectation.external, 5100).ok).toBe(false);
    t.handleTimeout(5100);
    expect(t.pollEvent()).toEqual({ type: 'expectation-expired', expectation: e.expectation });
    expect(t.outbound('tcp', ep(CLIENT, 40000), ep(SERVER, 21), 5101).ok).toBe(true);
  });

  it('reuses the endpoint-independent mapping of the internal endpoint', () => {
    const t = table({ tcp: { filtering: 'address-and-port-dependent' } });
    const m = t.outbound('tcp', ep(CLIENT, 50000), ep('198.51.100.99', 5), 0);
    if (!m.ok) throw new Error();
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER } }, 1);
    expect(e.ok && e.expectation.external).toEqual(m.mapping.external);
    expect(t.inbound('tcp', ep(SERVER, 20), m.mapping.external, 2)).toMatchObject({ ok: true, via: 'expectation' });
    expect(t.inbound('tcp', ep(SERVER, 20), m.mapping.external, 3)).toMatchObject({ ok: true, via: 'mapping' });
  });

  it('an explicit external endpoint held by someone else is port-in-use', () => {
    const t = table();
    const m = t.outbound('tcp', ep('192.0.2.20', 6000), ep(SERVER, 80), 0);
    if (!m.ok) throw new Error();
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER }, external: m.mapping.external }, 0);
    expect(e).toEqual({ ok: false, reason: 'port-in-use' });
    const free = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER }, external: ep(EXT, 45000) }, 0);
    expect(free.ok && free.expectation.external).toEqual(ep(EXT, 45000));
  });

  it('limits per owner and in total', () => {
    const t = table({ maxExpectationsPerOwner: 2, maxExpectations: 3 });
    const req = (owner: string, port: number) => ({ protocol: 'tcp' as const, owner, internal: ep(CLIENT, port), peer: { address: SERVER } });
    expect(t.expect(req('a', 50001), 0).ok).toBe(true);
    expect(t.expect(req('a', 50002), 0).ok).toBe(true);
    expect(t.expect(req('a', 50003), 0)).toEqual({ ok: false, reason: 'owner-limit' });
    expect(t.expect(req('b', 50004), 0).ok).toBe(true);
    expect(t.expect(req('c', 50005), 0)).toEqual({ ok: false, reason: 'expectation-limit' });
    expect(t.cancelOwner('a')).toBe(2);
    expect(t.expect(req('c', 50005), 0).ok).toBe(true);
    expect(t.stats().expectations).toBe(2);
  });

  it('cancel frees the reserved port at once', () => {
    const t = table({ tcp: { portRange: { min: 7000, max: 7000 } } });
    const e = t.expect({ protocol: 'tcp', owner: 1, internal: ep(CLIENT, 50000), peer: { address: SERVER } }, 0);
    if (!e.ok) throw new Error();
    expect(t.cancelExpectation(e.expectation.id)).toBe(true);
    expect(t.cancelExpectation(e.expectation.id)).toBe(false);
    expect(t.outbound('tcp', ep(CLIENT, 40000), ep(SERVER, 21), 1).ok).toBe(true);
  });
});
