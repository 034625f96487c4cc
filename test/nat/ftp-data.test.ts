import { describe, it, expect } from 'vitest';
import type { FtpDataChannelRequest } from '../../src/core/ftp/types.js';
import { PortTable } from '../../src/core/mapping/index.js';
import { planFtpDataChannel, parseNat64Prefix, type FtpNatContext } from '../../src/core/nat/index.js';
import { ep, seeded, EXT } from '../mapping/helpers.js';

const newTable = () => new PortTable({ externalAddresses: [EXT], random: seeded(11) });

function request(over: Partial<FtpDataChannelRequest>): FtpDataChannelRequest {
  const base = { id: 1, mode: 'active', command: 'PORT', original: ep('192.0.2.10', 50000), family: 4, connector: 'server', ...over } as const;
  return { acceptFrom: null, target: base.original, oneShot: true, timeoutMs: null, label: base.command, ...base };
}

describe('FTP data-channel helper (pure NAT)', () => {
  it('active mode, client inside: external endpoint plus a pinhole for the server only', () => {
    const table = newTable();
    const ctx: FtpNatContext = { table, inside: 'client', clientAddress: '192.0.2.10', serverAddress: '198.51.100.7', owner: 'ctl-1' };
    const plan = planFtpDataChannel(request({}), ctx, 0);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.endpoint.address).toBe(EXT);
    expect(plan.expectation).toMatchObject({ owner: 'ctl-1', internal: ep('192.0.2.10', 50000), peer: { address: '198.51.100.7' } });
    expect(table.inbound('tcp', ep('198.51.100.66', 20), plan.endpoint, 1).ok).toBe(false);
    const hit = table.inbound('tcp', ep('198.51.100.7', 20), plan.endpoint, 1);
    expect(hit.ok && hit.via).toBe('expectation');
    expect(hit.ok && hit.mapping.internal).toEqual(ep('192.0.2.10', 50000));
  });

  it('passive mode, server inside: the 227 endpoint becomes external, pinhole for the client', () => {
    const table = newTable();
    const ctx: FtpNatContext = { table, inside: 'server', clientAddress: '198.51.100.20', serverAddress: '192.0.2.30', owner: 7 };
    const plan = planFtpDataChannel(request({ mode: 'passive', command: 'PASV', original: ep('192.0.2.30', 30001), connector: 'client' }), ctx, 0);
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.expectation?.peer).toEqual({ address: '198.51.100.20' });
    expect(table.inbound('tcp', ep('198.51.100.20', 61000), plan.endpoint, 1).ok).toBe(true);
    expect(table.inbound('tcp', ep('198.51.100.20', 61001), plan.endpoint, 2)).toMatchObject({ ok: false }); // one-shot, peer-locked
  });

  it('writer outside, reader inside: no pinhole, the endpoint passes unchanged (NAT44)', () => {
    const ctx: FtpNatContext = { table: newTable(), inside: 'client', clientAddress: '192.0.2.10', serverAddress: '198.51.100.7', owner: 1 };
    const plan = planFtpDataChannel(request({ mode: 'passive', command: 'PASV', original: ep('198.51.100.7', 40000), connector: 'client' }), ctx, 0);
    expect(plan).toEqual({ ok: true, endpoint: ep('198.51.100.7', 40000), expectation: null });
  });

  it('NAT64: an IPv4 server endpoint is shown to the IPv6 client under the prefix', () => {
    const nat64 = parseNat64Prefix('2001:db8:64::/96');
    const ctx: FtpNatContext = { table: newTable(), inside: 'client', clientAddress: '2001:db8:1::10', serverAddress: '198.51.100.7', owner: 1, nat64 };
    const plan = planFtpDataChannel(request({ mode: 'passive', command: 'EPSV', original: ep('198.51.100.7', 40000), family: 6, connector: 'client' }), ctx, 0);
    expect(plan).toEqual({ ok: true, endpoint: ep('2001:db8:64::c633:6407', 40000), expectation: null });
    // The IPv6 client's EPRT becomes an IPv4 external endpoint for the IPv4 server.
    const active = planFtpDataChannel(request({ mode: 'active', command: 'EPRT', original: ep('2001:db8:1::10', 50000), family: 4, connector: 'server' }), ctx, 0);
    expect(active.ok && active.endpoint.address).toBe(EXT);
    expect(active.ok && active.expectation?.internal).toEqual(ep('2001:db8:1::10', 50000));
  });

  it('refusals are values: family, owner limit, exhaustion; released requests cancel their pinhole', () => {
    const table = new PortTable({ externalAddresses: [EXT], random: seeded(1), maxExpectationsPerOwner: 1, tcp: { portRange: { min: 6000, max: 6001 } } });
    const ctx: FtpNatContext = { table, inside: 'client', clientAddress: '192.0.2.10', serverAddress: '198.51.100.7', owner: 'c' };
    expect(planFtpDataChannel(request({ family: 6 }), ctx, 0)).toEqual({ ok: false, reason: 'unsupported-family' });
    expect(table.listExpectations()).toHaveLength(0);
    const first = planFtpDataChannel(request({}), ctx, 0);
    expect(first.ok).toBe(true);
    expect(planFtpDataChannel(request({ original: ep('192.0.2.10', 50001) }), ctx, 0)).toEqual({ ok: false, reason: 'owner-limit' });
    if (first.ok && first.expectation) table.cancelExpectation(first.expectation.id); // data-channel-released
    expect(planFtpDataChannel(request({ original: ep('192.0.2.10', 50001) }), { ...ctx, owner: 'd' }, 0).ok).toBe(true);
    expect(planFtpDataChannel(request({ original: ep('192.0.2.10', 50002) }), { ...ctx, owner: 'e' }, 0).ok).toBe(true);
    expect(planFtpDataChannel(request({ original: ep('192.0.2.10', 50003) }), { ...ctx, owner: 'f' }, 0)).toEqual({ ok: false, reason: 'exhausted' });
    const noPrefix = { ...ctx, owner: 'g' };
    expect(planFtpDataChannel(request({ mode: 'passive', original: ep('198.51.100.7', 1), family: 6, connector: 'client' }), noPrefix, 0)).toEqual({ ok: false, reason: 'unsupported-family' });
  });
});
