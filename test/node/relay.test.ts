import { afterEach, describe, expect, it } from 'vitest';
import { FtpTestClient, type TransferMode } from '../../src/testing/index.js';
import { connectRaw, eventually, noLeaks, pattern, rig, type Rig } from './helpers.js';

let current: Rig | null = null;

afterEach(async () => {
  if (!current) return;
  const r = current;
  current = null;
  await r.close();
  await noLeaks(r.proxy);
});

async function roundTrip(r: Rig, mode: TransferMode, size: number): Promise<FtpTestClient> {
  const body = pattern(size, size);
  r.server.files.set('/down.bin', body);
  const client = await FtpTestClient.connect(r.relay, { mode });
  await client.login();
  const got = await client.retrieve('/down.bin');
  expect(got.length).toBe(body.length);
  expect(Buffer.compare(Buffer.from(got), Buffer.from(body))).toBe(0);
  const up = pattern(size + 1, 7);
  await client.store('/up.bin', up);
  expect(Buffer.compare(Buffer.from(r.server.files.get('/up.bin')!), Buffer.from(up))).toBe(0);
  await client.quit();
  return client;
}

describe('relay on loopback, IPv4', () => {
  for (const mode of ['pasv', 'epsv', 'port', 'eprt'] as const) {
    it(`${mode}: download and upload byte for byte through the relay`, async () => {
      const r = (current = await rig());
      const opened: string[] = [];
      const closed: { toClient: number; toServer: number }[] = [];
      r.proxy.on('data-open', (e) => opened.push(e.command));
      r.proxy.on('data-close', (e) => closed.push({ toClient: e.bytes.toClient, toServer: e.bytes.toServer }));
      const client = await roundTrip(r, mode, 1 << 20);
      expect(opened).toHaveLength(2);
      // Every byte counted, whichever connection (accepted or the relay's own) carried the bulk.
      await eventually(() => closed.length === 2, 3000, 'data-close events');
      expect(closed).toEqual([{ toClient: 1 << 20, toServer: 0 }, { toClient: 0, toServer: (1 << 20) + 1 }]);
      // Client and server never met: every data connection had the relay at its other end.
      const serverPorts = new Set(r.server.dataConnections.flatMap((c) => [c.local.port, c.remote.port]));
      expect(client.dataPeers).toHaveLength(2);
      for (const p of client.dataPeers) expect(serverPorts.has(p.port)).toBe(false);
      await noLeaks(r.proxy);
    });
  }

  it('takes data ports from the configured range', async () => {
    const r = (current = await rig({ dataPorts: { min: 47100, max: 47109 } }));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const reply = await client.expect('PASV', 2);
    const m = /(\d+),(\d+)\)/.exec(reply.lines.join(''));
    const port = Number(m![1]) * 256 + Number(m![2]);
    expect(port).toBeGreaterThanOrEqual(47100);
    expect(port).toBeLessThanOrEqual(47109);
    await client.quit();
  });

  it('a spent data-port range refuses the next PASV with a clear reply; the port comes back', async () => {
    const r = (current = await rig({ dataPorts: { min: 47120, max: 47120 }, dataListenTimeoutMs: 300 }));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    await client.expect('PASV', 2);
    const refused = await client.command('PASV');
    expect(refused.code).toBeGreaterThanOrEqual(400);
    expect(refused.lines.join(' ')).toMatch(/no free data port/);
    // The first listener times out, its port is free again.
    await eventually(() => r.proxy.stats().listeners === 0, 3000, 'listener timeout');
    r.server.files.set('/f.bin', new TextEncoder().encode('hello'));
    expect(new TextDecoder().decode(await client.retrieve('/f.bin'))).toBe('hello');
    await client.quit();
  });

  it('reports session events with byte counts', async () => {
    const r = (current = await rig());
    const closes: Array<{ bytes: { dataToClient: number } }> = [];
    r.proxy.on('session-close', (e) => closes.push(e));
    await roundTrip(r, 'epsv', 4096);
    await noLeaks(r.proxy);
    expect(closes).toHaveLength(1);
    expect(closes[0]!.bytes.dataToClient).toBe(4096);
    expect(r.log.some((e) => e.event === 'session-open')).toBe(true);
  });
});

describe('relay on loopback, IPv6 and FTP64', () => {
  for (const mode of ['epsv', 'eprt'] as const) {
    it(`IPv6 ${mode}: client and server on ::1`, async () => {
      const r = (current = await rig({ serverHost: '::1', relayHost: '::1' }));
      await roundTrip(r, mode, 256 * 1024);
    });

    it(`FTP64 ${mode}: client on ::1, upstream on 127.0.0.1`, async () => {
      const r = (current = await rig({ serverHost: '127.0.0.1', relayHost: '::1' }));
      await roundTrip(r, mode, 256 * 1024);
      const upstreamSaw = r.server.received().filter((l) => /^(PORT|EPRT|PASV|EPSV)/.test(l));
      // The IPv4 server sees IPv4 commands only.
      expect(upstreamSaw.every((l) => (mode === 'epsv' ? l === 'PASV' : l.startsWith('PORT ')))).toBe(true);
    });
  }
});

describe('relay listening on :: (dual stack)', () => {
  for (const mode of ['pasv', 'port'] as const) {
    it(`${mode}: an IPv4 client (seen as ::ffff:127.0.0.1) is served as IPv4`, async () => {
      const r = (current = await rig({ relayHost: '::' }));
      const body = pattern(200_000, 12);
      r.server.files.set('/f.bin', body);
      const client = await FtpTestClient.connect({ host: '127.0.0.1', port: r.relay.port }, { mode });
      await client.login();
      expect(Buffer.compare(Buffer.from(await client.retrieve('/f.bin')), Buffer.from(body))).toBe(0);
      await client.quit();
    });
  }
});

describe('deployments', () => {
  it('server behind the gateway: passive replies carry publicAddress, data still flows', async () => {
    // The relay pretends to sit behind a NAT whose public address is 127.0.0.4; the test plays
    // that NAT by connecting to the relay's own address with the advertised port.
    const r = (current = await rig({ publicAddress: '127.0.0.4' }));
    const body = pattern(300_000, 4);
    r.server.files.set('/f.bin', body);
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const reply = await client.expect('PASV', 2);
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply.lines.join(''));
    expect(m).not.toBeNull();
    expect(m!.slice(1, 5).join('.')).toBe('127.0.0.4');
    const port = Number(m![5]) * 256 + Number(m![6]);
    const data = await connectRaw({ family: 4, address: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    data.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => data.on('close', () => resolve()));
    await client.expect('RETR /f.bin', 1);
    await closed;
    expect((await client.readReply()).code).toBe(226);
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(body))).toBe(0);
    await client.quit();
  });

  it('the upstream closing the control connection closes the client side too', async () => {
    const r = (current = await rig());
    const client = await FtpTestClient.connect(r.relay);
    await client.login();
    const closed = new Promise<string>((resolve) => client.readReply().then(() => resolve('reply'), (e: Error) => resolve(e.message)));
    await eventually(() => r.server.sessions.length === 1, 2000, 'server session');
    r.server.sessions[0]!.close();
    expect(await closed).toMatch(/closed/);
    await noLeaks(r.proxy);
  });
});

describe('FtpProxy API', () => {
  it('listen({ port, host }), address(), close(cb) once the last session is gone', async () => {
    const { FtpTestServer } = await import('../../src/testing/index.js');
    const { createFtpProxy } = await import('../../src/node/index.js');
    const server = new FtpTestServer();
    const up = await server.listen();
    const proxy = createFtpProxy({ upstream: { host: up.address, port: up.port } });
    await new Promise<void>((resolve) => proxy.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const a = proxy.address();
    expect(a && typeof a === 'object' && a.address).toBe('127.0.0.1');
    const port = (a as { port: number }).port;
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port });
    let closed = false;
    proxy.close(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    // Like net.Server: running sessions go on after close().
    expect(closed).toBe(false);
    await client.login();
    await client.quit();
    await eventually(() => closed, 5000, 'close callback');
    expect(proxy.stats()).toEqual({ sessions: 0, sockets: 0, listeners: 0, unauthenticated: 0, dataRejected: 0, dataLimited: 0, sessionsRefused: 0 });
    await server.close();
  });

  it('rejects bad options with typed errors', async () => {
    const { createFtpProxy } = await import('../../src/node/index.js');
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 0 } })).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, publicAddress: 'nope' })).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }),
    );
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, publicAddress: ['192.0.2.1', '192.0.2.2'] })).toThrow(
      expect.objectContaining({ kind: 'invalid-argument', message: expect.stringContaining('at most one per family') }),
    );
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, publicAddress: ['192.0.2.1', '2001:db8::1'] })).not.toThrow();
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, dataPorts: { min: 10, max: 5 } })).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }),
    );
    for (const clientPrefixLength6 of [0, 129, 64.5]) {
      expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, clientPrefixLength6 })).toThrow(
        expect.objectContaining({ kind: 'invalid-argument' }),
      );
    }
  });
});
