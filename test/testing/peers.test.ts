import { afterEach, describe, it, expect } from 'vitest';
import { FtpTestClient, FtpTestServer, formatReply, type TransferMode } from '../../src/testing/index.js';

const modes: TransferMode[] = ['pasv', 'epsv', 'port', 'eprt'];
const payload = new Uint8Array(200_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff);

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function start(host: string, options: ConstructorParameters<typeof FtpTestServer>[0] = {}) {
  const server = new FtpTestServer({ host, files: { 'pub/data.bin': payload, 'hello.txt': 'hello\n' }, ...options });
  const ep = await server.listen();
  cleanup.push(() => server.close());
  return { server, ep };
}

async function connect(server: FtpTestServer, mode: TransferMode) {
  const client = await FtpTestClient.connect(server.endpoint, { mode, timeoutMs: 5000 });
  cleanup.push(() => client.close());
  await client.login();
  return client;
}

describe('FtpTestClient against FtpTestServer', () => {
  for (const [family, host] of [
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const) {
    for (const mode of modes) {
      if (family === 'IPv6' && mode === 'pasv') continue; // PASV and PORT are IPv4-only
      if (family === 'IPv6' && mode === 'port') continue;
      it(`${family} ${mode}: retrieve, store, list`, async () => {
        const { server } = await start(host);
        const client = await connect(server, mode);
        const got = await client.retrieve('/pub/data.bin');
        expect(got).toEqual(payload);
        const up = payload.slice(1000, 150_000);
        await client.store('up/copy.bin', up);
        expect(server.files.get('/up/copy.bin')).toEqual(up);
        expect(await client.nlst('/')).toEqual(['hello.txt', 'pub', 'up']);
        expect(await client.list('pub')).toMatch(/^-rw-r--r-- .* 200000 .* data\.bin\r\n$/);
        await client.quit();
        // The server recorded the data connections and who took part in them.
        expect(server.dataConnections).toHaveLength(4);
        for (const d of server.dataConnections) {
          expect(d.mode).toBe(mode === 'pasv' || mode === 'epsv' ? 'passive' : 'active');
          expect(d.remote.address).toBe(host);
        }
        expect(client.dataPeers.every((p) => p.address === host)).toBe(true);
      });
    }
  }

  it('a dual-stack server on [::] sees IPv4 clients as plain IPv4 and accepts their PORT', async () => {
    const { server } = await start('::');
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port: server.endpoint.port }, { mode: 'port', timeoutMs: 5000 });
    cleanup.push(() => client.close());
    await client.login();
    expect(await client.retrieve('hello.txt')).toEqual(new TextEncoder().encode('hello\n'));
    expect(server.sessions[0]!.client.address).toBe('127.0.0.1');
    expect(server.dataConnections[0]!.remote.address).toBe('127.0.0.1');
  });

  it('listens where it is told in active modes', async () => {
    const { server } = await start('127.0.0.1');
    const client = await FtpTestClient.connect(server.endpoint, { mode: 'eprt', activeAddress: '::1', timeoutMs: 5000 });
    cleanup.push(() => client.close());
    await client.login();
    // The server is IPv4-only on this connection: an IPv6 EPRT is answered 522.
    await expect(client.retrieve('hello.txt')).rejects.toMatchObject({ code: 522 });
    expect(client.sent().at(-1)).toMatch(/^EPRT \|2\|::1\|\d+\|$/);
  });

  it('IPv6: PASV and PORT are refused with the usual codes', async () => {
    const { server } = await start('::1');
    const client = await connect(server, 'pasv');
    await expect(client.retrieve('hello.txt')).rejects.toMatchObject({ code: 425 });
    client.mode = 'port';
    await expect(client.retrieve('hello.txt')).rejects.toThrow(/PORT needs an IPv4/);
    const r = await client.command('PORT 127,0,0,1,8,1');
    expect(r.code).toBe(522);
  });

  it('records the control lines on both sides identically when nothing is in between', async () => {
    const { server } = await start('127.0.0.1');
    const client = await connect(server, 'epsv');
    await client.retrieve('hello.txt');
    await client.quit();
    await waitFor(() => server.sessions[0]!.isClosed);
    expect(server.received()).toEqual(client.sent());
    expect(server.sent()).toEqual(client.receivedLines());
    expect(client.sent()).toEqual(['USER anonymous', 'PASS nat-alg@example.com', 'EPSV', 'RETR hello.txt', 'QUIT']);
  });

  it('refuses PORT/EPRT naming another host or a low port, and connects to what it accepted', async () => {
    const { server } = await start('127.0.0.1');
    const client = await connect(server, 'port');
    expect((await client.command('PORT 192,0,2,1,4,1')).code).toBe(500);
    expect((await client.command('EPRT |1|192.0.2.1|1025|')).code).toBe(500);
    expect((await client.command('PORT 127,0,0,1,0,21')).code).toBe(500);
    expect((await client.command('EPRT |2|::1|2121|')).code).toBe(522);
    expect((await client.command('EPRT |9|x|2121|')).code).toBe(522);
    expect((await client.command('PORT 127,0,0,1,999,1')).code).toBe(501);
    // Accepted, but nothing listens there: the server tries to connect, as real servers do.
    expect((await client.command('EPRT |1|127.0.0.1|1|')).code).toBe(500);
    expect(await client.retrieve('hello.txt')).toEqual(new TextEncoder().encode('hello\n'));
  });

  it('answers 425 when the active endpoint does not accept', async () => {
    const { server } = await start('127.0.0.1', { dataTimeoutMs: 2000 });
    const client = await connect(server, 'eprt');
    const closedPort = await freePort();
    expect((await client.command(`EPRT |1|127.0.0.1|${closedPort}|`)).code).toBe(200);
    const first = await client.command('RETR hello.txt');
    expect(first.code).toBe(425);
  });

  it('after EPSV ALL refuses PORT, PASV and EPRT but serves EPSV', async () => {
    const { server } = await start('127.0.0.1');
    const client = await connect(server, 'epsv');
    expect((await client.command('EPSV ALL')).code).toBe(200);
    expect((await client.command('PASV')).code).toBe(500);
    expect((await client.command('PORT 127,0,0,1,8,1')).code).toBe(500);
    expect((await client.command('EPRT |1|127.0.0.1|2049|')).code).toBe(500);
    expect(await client.retrieve('hello.txt')).toHaveLength(6);
  });

  it('asks for a login first and knows the small commands', async () => {
    const { server } = await start('127.0.0.1');
    const client = await FtpTestClient.connect(server.endpoint);
    cleanup.push(() => client.close());
    expect((await client.command('PWD')).code).toBe(530);
    await client.login('someone', 'secret');
    expect((await client.command('SYST')).code).toBe(215);
    const feat = await client.command('FEAT');
    expect(feat.lines.length).toBeGreaterThan(2);
    expect(feat.message).toMatch(/EPSV/);
    expect((await client.command('TYPE I')).code).toBe(200);
    expect((await client.command('CWD pub')).code).toBe(250);
    expect((await client.command('PWD')).message).toBe('"/pub" is the current directory');
    expect((await client.command('SIZE data.bin')).message).toBe('200000');
    expect((await client.command('CWD /nope')).code).toBe(550);
    expect((await client.command('DELE data.bin')).code).toBe(250);
    expect(server.files.has('/pub/data.bin')).toBe(false);
    expect((await client.command('NOOP')).code).toBe(200);
    expect((await client.command('XYZZY')).code).toBe(502);
    expect((await client.command('RETR missing')).code).toBe(550);
    expect((await client.command('RETR /hello.txt')).code).toBe(425);
  });

  it('answers an overlong command line once with 500 and carries on', async () => {
    const { server } = await start('127.0.0.1');
    const client = await connect(server, 'epsv');
    client.sendRaw(`NOOP ${'x'.repeat(10_000)}\r\n`);
    expect((await client.readReply()).code).toBe(500);
    expect((await client.command('NOOP')).code).toBe(200);
  });
});

describe('cleanup', () => {
  it('leaves no socket or listener behind after close, in every mode', async () => {
    const tcp = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    // Sockets of the tests above may still be closing; start from a quiet baseline.
    await waitFor(() => tcp() === 0, 5000);
    const before = tcp();
    const server = new FtpTestServer({ files: { 'f.bin': payload } });
    await server.listen();
    for (const mode of modes) {
      const client = await FtpTestClient.connect(server.endpoint, { mode });
      await client.login();
      await client.retrieve('f.bin');
      await client.store('g.bin', payload.subarray(0, 1000));
      if (mode === 'pasv') client.close(); // vanish without QUIT
      else await client.quit();
    }
    // A pending passive listener that nobody used, then the server closes under it.
    const idle = await FtpTestClient.connect(server.endpoint);
    await idle.login();
    expect((await idle.command('EPSV')).code).toBe(229);
    expect(tcp()).toBeGreaterThan(before);
    await server.close();
    idle.close();
    await waitFor(() => tcp() === before);
  });
});

describe('scripted server replies', () => {
  const shapes = ['standard', 'trailing-period', 'no-parentheses', 'equals', 'zero-padded', 'multi-line-first', 'multi-line-last'] as const;
  for (const shape of shapes) {
    it(`the client reads a 227 in the ${shape} shape, split across writes`, async () => {
      const { server } = await start('127.0.0.1');
      server.scriptPasv(shape, { splitAt: [3, 10, 27] });
      const client = await connect(server, 'pasv');
      expect(await client.retrieve('hello.txt')).toEqual(new TextEncoder().encode('hello\n'));
      const pasv = server.sent().filter((l) => l.startsWith('227'));
      expect(pasv.length).toBeGreaterThan(0);
    });
  }

  it('a 227 naming an unreachable address sends the client there (as a server behind NAT does)', async () => {
    const { server } = await start('127.0.0.1', { passiveAddress: '192.0.2.10' });
    const client = await FtpTestClient.connect(server.endpoint, { mode: 'pasv', timeoutMs: 300 });
    cleanup.push(() => client.close());
    await client.login();
    const r = await client.command('PASV');
    expect(r.message).toMatch(/\(192,0,2,10,\d+,\d+\)/);
  });

  it('scripts can delay, send raw bytes, and fall back to the default', async () => {
    const { server } = await start('127.0.0.1');
    const seen: string[] = [];
    server.script('NOOP', async (ctx) => {
      seen.push(ctx.argument);
      await ctx.delay(50);
      await ctx.runDefault();
    });
    server.scriptRaw('SYST', '215-line one\r\n215 UNIX\r\n', [4, 15]);
    server.script('SIZE', (ctx) => ctx.reply(213, ['a', 'b', '42']));
    const client = await connect(server, 'epsv');
    expect((await client.command('NOOP now')).code).toBe(200);
    expect(seen).toEqual(['now']);
    expect((await client.command('SYST')).lines).toEqual(['215-line one', '215 UNIX']);
    expect(server.sent()).toContain('215-line one'); // recorded whole although written in pieces
    expect((await client.command('SIZE x')).lines).toEqual(['213-a', ' b', '213 42']);
    server.unscript('SYST');
    expect((await client.command('SYST')).lines).toEqual(['215 UNIX Type: L8']);
  }, 20_000);

  it('records who came to a passive listener', async () => {
    const { server } = await start('127.0.0.1');
    const client = await connect(server, 'epsv');
    await client.retrieve('hello.txt');
    expect(server.dataConnections[0]).toMatchObject({ mode: 'passive', command: 'EPSV', remote: { address: '127.0.0.1' } });
    expect(client.dataPeers[0]!.port).toBe(server.dataConnections[0]!.local.port);
  });

  it('the greeting can be scripted: split, delayed, or never sent', async () => {
    const { server } = await start('127.0.0.1');
    server.script('CONNECT', async (ctx) => {
      await ctx.delay(30);
      await ctx.sendRaw('220-slow\r\n220 hello\r\n', { splitAt: [2, 9] });
    });
    const client = await FtpTestClient.connect(server.endpoint);
    cleanup.push(() => client.close());
    expect(client.greeting.lines).toEqual(['220-slow', '220 hello']);
    server.script('CONNECT', () => undefined); // a silent server
    await expect(FtpTestClient.connect(server.endpoint, { timeoutMs: 200 })).rejects.toThrow(/no reply within 200 ms/);
    server.script('CONNECT', (ctx) => ctx.reply(421, 'Too busy'));
    await expect(FtpTestClient.connect(server.endpoint)).rejects.toMatchObject({ code: 421 });
  });

  it('a multi-line greeting is read as one reply', async () => {
    const { server } = await start('127.0.0.1', { greeting: ['Welcome', 'to the test', 'server'] });
    const client = await FtpTestClient.connect(server.endpoint);
    cleanup.push(() => client.close());
    expect(client.greeting.lines).toEqual(['220-Welcome', ' to the test', '220 server']);
    expect(formatReply(220, ['Welcome', 'to the test', 'server'])).toBe('220-Welcome\r\n to the test\r\n220 server\r\n');
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
