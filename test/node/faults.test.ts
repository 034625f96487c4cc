import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createFtpProxy, type FtpProxy } from '../../src/node/index.js';
import { FtpTestClient, parsePasvReply } from '../../src/testing/index.js';
import { cleanupsAfterEach, connectRaw, deadPort, eventually, listenProxy, noLeaks, pattern, readUntilClose, rig } from './helpers.js';

const { cleanups, track } = cleanupsAfterEach();

async function bare(options: Parameters<typeof createFtpProxy>[0]): Promise<{ proxy: FtpProxy; relay: { family: 4 | 6; address: string; port: number } }> {
  const proxy = createFtpProxy(options);
  const relay = await listenProxy(proxy, '127.0.0.1');
  cleanups.push(async () => {
    await proxy.shutdown({ graceMs: 0 });
    await noLeaks(proxy);
  });
  return { proxy, relay };
}

describe('relay faults', () => {
  it('upstream down: the client gets 421 with the reason, nothing is left open', async () => {
    const { proxy, relay } = await bare({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const text = await readUntilClose(await connectRaw(relay));
    expect(text).toMatch(/^421 Upstream FTP server unavailable \(ECONNREFUSED\)\r\n$/);
    await noLeaks(proxy);
  });

  it('upstream silent: connect works, no greeting, 421 after the timeout', async () => {
    const silent = net.createServer(() => {});
    const held: net.Socket[] = [];
    silent.on('connection', (s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const { proxy, relay } = await bare({ upstream: { host: '127.0.0.1', port }, upstreamConnectTimeoutMs: 300 });
    const text = await readUntilClose(await connectRaw(relay));
    expect(text).toMatch(/^421 Upstream FTP server did not answer within 0.3 s\r\n$/);
    await noLeaks(proxy);
  });

  it('client vanishing mid-transfer: the server side is torn down too', async () => {
    const r = track(await rig());
    r.server.files.set('/big.bin', pattern(64 << 20, 3));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const reply = await client.expect('PASV', 2);
    const target = parsePasvReply(reply)!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    await client.expect('RETR /big.bin', 1);
    await new Promise<void>((resolve) => data.once('data', () => resolve()));
    // Gone: control and data without a word.
    data.destroy();
    client.close();
    await noLeaks(r.proxy);
    // The server's data connection was closed (reset or FIN), not left hanging.
    await eventually(() => r.server.sent().some((l) => /^4\d\d /.test(l) || /^226 /.test(l)), 5000, 'server to notice');
  });

  it('data connection never coming: the listener is closed after its timeout, the session goes on', async () => {
    const r = track(await rig({ dataListenTimeoutMs: 200 }));
    const closes: string[] = [];
    r.proxy.on('data-close', (e) => closes.push(e.reason));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    await client.expect('PASV', 2);
    expect(r.proxy.stats().listeners).toBe(1);
    await eventually(() => r.proxy.stats().listeners === 0, 3000, 'listener to close');
    expect(closes).toEqual(['no data connection in time']);
    await client.expect('NOOP', 2);
    await client.quit();
  });

  it('a foreign host connecting to a data listener is refused; the real client still gets the file', async () => {
    const r = track(await rig());
    const body = pattern(100_000, 9);
    r.server.files.set('/f.bin', body);
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const target = parsePasvReply(await client.expect('PASV', 2))!;
    const ep = { family: 4 as const, address: target.address, port: target.port };
    // 127.0.0.2 is another host as far as the relay can tell.
    const intruder = net.connect({ host: ep.address, port: ep.port, localAddress: '127.0.0.2' });
    const intruderGot = await readUntilClose(intruder);
    expect(intruderGot).toBe('');
    expect(intruder.bytesRead).toBe(0);
    await eventually(() => r.log.some((e) => e.event === 'data-rejected'), 2000, 'data-rejected log entry');
    const data = await connectRaw(ep);
    const chunks: Buffer[] = [];
    data.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise<void>((resolve) => data.on('close', () => resolve()));
    await client.expect('RETR /f.bin', 1);
    await done;
    expect((await client.readReply()).code).toBe(226);
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(body))).toBe(0);
    await client.quit();
  });

  it('an idle session gets 421 and is closed after idleTimeoutMs', async () => {
    const r = track(await rig({ idleTimeoutMs: 200 }));
    const closes: string[] = [];
    r.proxy.on('session-close', (e) => closes.push(e.reason));
    const client = await FtpTestClient.connect(r.relay);
    await client.login();
    const reply = await client.readReply();
    expect(reply.code).toBe(421);
    expect(reply.lines.join('')).toMatch(/Idle timeout/);
    await noLeaks(r.proxy);
    expect(closes).toHaveLength(1);
  });

  it('refuses sessions over the per-client limit with 421 Too many connections', async () => {
    const r = track(await rig({ maxSessionsPerClient: 1 }));
    const first = await FtpTestClient.connect(r.relay);
    const text = await readUntilClose(await connectRaw(r.relay));
    expect(text).toBe('421 Too many connections from your address\r\n');
    await first.login();
    await first.quit();
  });

  it('refuses sessions over the total limit', async () => {
    const r = track(await rig({ maxSessions: 1 }));
    const first = await FtpTestClient.connect(r.relay);
    const text = await readUntilClose(await connectRaw(r.relay, '127.0.0.3'));
    expect(text).toBe('421 Too many connections\r\n');
    await first.quit();
  });

  it('graceful shutdown: idle sessions get 421 at once, a running transfer finishes', async () => {
    const r = track(await rig());
    const body = pattern(8 << 20, 5);
    r.server.files.set('/f.bin', body);
    const idle = await FtpTestClient.connect(r.relay);
    const busy = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await busy.login();
    const target = parsePasvReply(await busy.expect('PASV', 2))!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    data.pause();
    const chunks: Buffer[] = [];
    await busy.expect('RETR /f.bin', 1);
    const stopping = r.proxy.shutdown({ graceMs: 10_000 });
    const idleReply = await idle.readReply();
    expect(idleReply.code).toBe(421);
    data.on('data', (c: Buffer) => chunks.push(c));
    data.resume();
    await new Promise<void>((resolve) => data.on('close', () => resolve()));
    expect(Buffer.concat(chunks).length).toBe(body.length);
    expect((await busy.readReply()).code).toBe(226);
    expect((await busy.readReply()).code).toBe(421);
    await stopping;
    expect(r.proxy.stats()).toEqual({ sessions: 0, sockets: 0, listeners: 0, unauthenticated: 0, dataRejected: 0, dataLimited: 0, sessionsRefused: 0 });
  });
});

describe('relay backpressure', () => {
  it('a client that stops reading stops the server: nothing piles up in the relay', async () => {
    const r = track(await rig());
    const size = 64 << 20;
    r.server.files.set('/big.bin', pattern(size, 11));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const target = parsePasvReply(await client.expect('PASV', 2))!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    data.pause();
    await client.expect('RETR /big.bin', 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Had the relay buffered the file, the server would be done by now.
    expect(r.server.sent().some((l) => l.startsWith('226'))).toBe(false);
    let got = 0;
    data.on('data', (c: Buffer) => (got += c.length));
    data.resume();
    await new Promise<void>((resolve) => data.on('close', () => resolve()));
    expect(got).toBe(size);
    expect((await client.readReply()).code).toBe(226);
    await client.quit();
  });
});

describe('relay backpressure, active', () => {
  it('a client that stops reading its active data connection stops the server; every byte arrives, in order', async () => {
    // Active: the server's data connection is the one accepted by the relay; its bytes take the
    // accepted connection's large-buffer reads to the relay's own connection to the client.
    const r = track(await rig());
    const size = 48 << 20;
    const body = pattern(size, 12);
    r.server.files.set('/big.bin', body);
    const closes: { toClient: number; toServer: number }[] = [];
    r.proxy.on('data-close', (e) => closes.push({ toClient: e.bytes.toClient, toServer: e.bytes.toServer }));
    const client = await FtpTestClient.connect(r.relay, { mode: 'port' });
    await client.login();
    const listener = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    await client.expect(`PORT 127,0,0,1,${port >> 8},${port & 255}`, 2);
    await client.expect('RETR /big.bin', 1);
    const data = await accepted;
    listener.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(r.server.sent().some((l) => l.startsWith('226'))).toBe(false);
    const chunks: Buffer[] = [];
    let reads = 0;
    data.on('data', (c: Buffer) => {
      chunks.push(c);
      // Stop now and then, so that the relay's writes back up part way.
      if (++reads % 64 === 0) {
        data.pause();
        setTimeout(() => data.resume(), 20);
      }
    });
    data.resume();
    await new Promise<void>((resolve) => data.on('close', () => resolve()));
    expect(Buffer.concat(chunks).equals(Buffer.from(body))).toBe(true);
    expect((await client.readReply()).code).toBe(226);
    await eventually(() => closes.length === 1);
    expect(closes).toEqual([{ toClient: size, toServer: 0 }]);
    await client.quit();
  });
});

describe('relay control-channel backpressure', () => {
  it('a client that stops reading a long reply pauses the server, and everything arrives after', async () => {
    const r = track(await rig());
    const line = `214-${'x'.repeat(96)}\r\n`;
    const count = 400_000; // about 40 MB of reply, far beyond every socket buffer
    r.server.script('HELP', (ctx) => ctx.sendRaw(line.repeat(count) + '214 end\r\n'));
    const sock = await connectRaw(r.relay);
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    await eventually(() => text.includes('220 '), 2000, 'greeting');
    sock.pause();
    sock.write('HELP\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    sock.resume();
    await eventually(() => text.endsWith('214 end\r\n'), 10_000, 'the whole reply');
    expect(text.length).toBeGreaterThan(line.length * count);
    sock.end('QUIT\r\n');
    await new Promise((resolve) => sock.on('close', resolve));
  });
});
