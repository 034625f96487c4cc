import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFtpProxy, type FtpProxy } from '../../src/node/index.js';
import { FtpTestClient, parsePasvReply } from '../../src/testing/index.js';
import { connectRaw, eventually, listenProxy, noLeaks, pattern } from './helpers.js';

// A bare FTP server whose RETR trickles the file out in small writes: the relay then sees many
// small reads while the client is not reading, so its writes queue up. A read buffer reused too
// early would show up as corrupted bytes.
function trickleServer(body: Uint8Array, piece: number, resetAt = Infinity): net.Server {
  return net.createServer((ctl) => {
    let data: net.Server | null = null;
    ctl.write('220 trickle\r\n');
    ctl.setEncoding('latin1');
    let buf = '';
    ctl.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'USER') ctl.write('230 ok\r\n');
        else if (verb === 'PASV') {
          data = net.createServer((sock) => {
            data!.close();
            let at = 0;
            const next = () => {
              if (at >= resetAt) {
                sock.resetAndDestroy();
                ctl.write('426 connection reset\r\n');
                return;
              }
              if (at >= body.length) {
                sock.end(() => ctl.write('226 done\r\n'));
                return;
              }
              sock.write(body.subarray(at, at + piece));
              at += piece;
              setImmediate(next);
            };
            next();
          });
          data.listen(0, '127.0.0.1', () => {
            const p = (data!.address() as net.AddressInfo).port;
            ctl.write(`227 Entering Passive Mode (127,0,0,1,${p >> 8},${p & 255})\r\n`);
          });
        } else if (verb === 'RETR') ctl.write('150 here it comes\r\n');
        else if (verb === 'QUIT') ctl.end('221 bye\r\n');
        else ctl.write('200 ok\r\n');
      }
    });
    ctl.on('error', () => {});
  });
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('relay data path with many small reads', () => {
  it('keeps every byte when small reads queue up behind a paused client', async () => {
    const body = pattern(12_000_000, 21);
    const server = trickleServer(body, 1000);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const proxy: FtpProxy = createFtpProxy({ upstream: { host: '127.0.0.1', port } });
    const relay = await listenProxy(proxy, '127.0.0.1');
    cleanup = async () => {
      await proxy.shutdown({ graceMs: 0 });
      await noLeaks(proxy);
      server.close();
    };
    const client = await FtpTestClient.connect(relay, { mode: 'pasv' });
    await client.login();
    const target = parsePasvReply(await client.expect('PASV', 2))!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    data.pause();
    await client.expect('RETR f', 1);
    await new Promise((r) => setTimeout(r, 1500));
    const chunks: Buffer[] = [];
    data.on('data', (c: Buffer) => chunks.push(c));
    data.resume();
    await new Promise<void>((resolve) => data.on('close', () => resolve()));
    const got = Buffer.concat(chunks);
    expect(got.length).toBe(body.length);
    expect(got.equals(Buffer.from(body))).toBe(true);
    await client.quit();
  });

  it('keeps every byte when large reads meet a client that reads in fits and starts', async () => {
    // Large pieces go straight from the relay's read buffers to the client; a client that keeps
    // stopping leaves writes half taken by the kernel. A buffer read into again while the rest
    // of its write still waits would show up as corrupted bytes.
    const body = pattern(24_000_000, 23);
    const server = trickleServer(body, 20_000);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const proxy: FtpProxy = createFtpProxy({ upstream: { host: '127.0.0.1', port } });
    const relay = await listenProxy(proxy, '127.0.0.1');
    const closes: { toClient: number; toServer: number }[] = [];
    proxy.on('data-close', (e) => closes.push({ ...e.bytes }));
    cleanup = async () => {
      await proxy.shutdown({ graceMs: 0 });
      await noLeaks(proxy);
      server.close();
    };
    const client = await FtpTestClient.connect(relay, { mode: 'pasv' });
    await client.login();
    const target = parsePasvReply(await client.expect('PASV', 2))!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    const chunks: Buffer[] = [];
    let reads = 0;
    data.on('data', (c: Buffer) => {
      chunks.push(c);
      // Stop now and then for a moment, so the relay's writes back up part way.
      if (++reads % 50 === 0) {
        data.pause();
        setTimeout(() => data.resume(), 60);
      }
    });
    const closed = new Promise<void>((resolve) => data.on('close', () => resolve()));
    await client.expect('RETR f', 1);
    await closed;
    const got = Buffer.concat(chunks);
    expect(got.length).toBe(body.length);
    expect(got.equals(Buffer.from(body))).toBe(true);
    expect((await client.readReply()).code).toBe(226);
    await eventually(() => closes.length === 1);
    expect(closes).toEqual([{ toClient: body.length, toServer: 0 }]);
    await client.quit();
  });

  it('passes a reset of the server data connection on to the client as a reset', async () => {
    const body = pattern(2_000_000, 22);
    const server = trickleServer(body, 10_000, 500_000);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const proxy: FtpProxy = createFtpProxy({ upstream: { host: '127.0.0.1', port } });
    const relay = await listenProxy(proxy, '127.0.0.1');
    const closes: string[] = [];
    proxy.on('data-close', (e) => closes.push(e.reason));
    cleanup = async () => {
      await proxy.shutdown({ graceMs: 0 });
      await noLeaks(proxy);
      server.close();
    };
    const client = await FtpTestClient.connect(relay, { mode: 'pasv' });
    await client.login();
    const target = parsePasvReply(await client.expect('PASV', 2))!;
    const data = await connectRaw({ family: 4, address: target.address, port: target.port });
    let got = 0;
    let error = '';
    data.on('data', (c: Buffer) => (got += c.length));
    data.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const closed = new Promise<void>((resolve) => data.on('close', () => resolve()));
    await client.expect('RETR f', 1);
    await closed;
    expect(error).toBe('ECONNRESET');
    expect(got).toBeLessThan(body.length);
    expect((await client.readReply()).code).toBe(426);
    expect(closes).toEqual(['ECONNRESET']);
    await client.quit();
  });
});
