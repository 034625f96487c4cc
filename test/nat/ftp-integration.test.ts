import { describe, it, expect } from 'vitest';
import { FtpTranslator } from '../../src/core/ftp/index.js';
import type { FtpEvent } from '../../src/core/ftp/types.js';
import { PortTable } from '../../src/core/mapping/index.js';
import { planFtpDataChannel, type FtpNatContext } from '../../src/core/nat/index.js';
import { ep, seeded, EXT } from '../mapping/helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : '');

function drain(ftp: FtpTranslator): FtpEvent[] {
  const out: FtpEvent[] = [];
  for (let e = ftp.pollEvent(); e; e = ftp.pollEvent()) out.push(e);
  return out;
}

describe('FtpTranslator + planFtpDataChannel (pure NAT, client inside)', () => {
  it('rewrites PORT to the external endpoint and the server reaches the client once', () => {
    const table = new PortTable({ externalAddresses: [EXT], random: seeded(21) });
    const ftp = new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.7' });
    const ctx: FtpNatContext = { table, inside: 'client', clientAddress: '192.0.2.10', serverAddress: '198.51.100.7', owner: 'ctl' };

    ftp.handleData('client-to-server', enc('PORT 192,0,2,10,195,80\r\n'), 0);
    const req = drain(ftp).find((e) => e.type === 'data-channel-request');
    expect(req?.type).toBe('data-channel-request');
    if (req?.type !== 'data-channel-request') return;
    expect(req.request.original).toEqual(ep('192.0.2.10', 50000));
    const plan = planFtpDataChannel(req.request, ctx, 0);
    if (!plan.ok) throw new Error(plan.reason);
    ftp.resolveDataChannel(req.request.id, plan.endpoint);
    let line = '';
    for (let b = ftp.pollOutput('client-to-server'); b; b = ftp.pollOutput('client-to-server')) line += dec(b);
    const p = plan.endpoint.port;
    expect(line).toBe(`PORT 203,0,113,1,${p >> 8},${p & 255}\r\n`);

    const hit = table.inbound('tcp', ep('198.51.100.7', 20), plan.endpoint, 100);
    expect(hit).toMatchObject({ ok: true, via: 'expectation' });
    expect(hit.ok && hit.mapping.internal).toEqual(ep('192.0.2.10', 50000));
    expect(table.inbound('tcp', ep('198.51.100.99', 20), plan.endpoint, 100).ok).toBe(false);
    table.cancelOwner('ctl');
    expect(table.listExpectations()).toHaveLength(0);
  });
});
