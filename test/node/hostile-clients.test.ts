/**
 * The node relay against hostile clients on loopback sockets: slow clients holding session slots
 * (slowloris), a third party taking a data connection, and byte counts in every ending.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FtpTestClient, parsePasvReply } from '../../src/testing/index.js';
import { connectRaw, eventually, noLeaks, pattern, rig, type Rig } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function track(r: Rig): Rig {
  cleanups.push(async () => {
    await r.close();
    await noLeaks(r.proxy, 10_000);
  });
  return r;
}

/** Connect from `from` and read what comes until the first line end or the close. */
function attacker(relay: { address: string; port: number }, from: string): Promise<{ socket: net.Socket; first: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: relay.address, port: relay.port, localAddress: from });
    socket.on('error', () => {});
    let text = '';
    const first = new Promise<string>((done) => {
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\n')) done(text);
      });
      socket.on('close', () => done(text));
    });
    socket.once('connect', () => resolve({ socket, first }));
    socket.once('error', reject);
  });
}

describe('slow clients (slowloris)', () => {
  it('16 addresses trickling bytes hold at most 8 unauthenticated sessions each; a 17th address gets through', async () => {
    const r = track(await rig({ loginTimeoutMs: 60_000 }));
    r.server.files.set('/f.bin', pattern(100_000, 4));
    const held: net.Socket[] = [];
    const refused: string[] = [];
    cleanups.push(async () => {
      for (const s of held) s.destroy();
    });
    // Each attacker address tries far more than the per-address budget.
    for (let a = 0; a < 16; a++) {
      const from = `127.0.1.${a + 1}`;
      for (let k = 0; k < 12; k++) {
        const { socket, first } = await attacker(r.relay, from);
        const greeting = await first;
        if (greeting.startsWith('421')) {
          refused.push(greeting.trim());
          socket.destroy();
          continue;
        }
        expect(greeting).toMatch(/^220 /);
        socket.write('U'); // the start of a USER line, never finished
        held.push(socket);
      }
    }
    expect(held).toHaveLength(16 * 8);
    expect(refused).toHaveLength(16 * 4);
    expect(new Set(refused)).toEqual(new Set(['421 Too many connections from your address not logged in']));
    expect(r.proxy.stats().unauthenticated).toBe(128);
    // A normal client from another address logs in and fetches a file meanwhile.
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv', localAddress: '127.0.2.1' });
    await client.login();
    expect((await client.retrieve('/f.bin')).length).toBe(100_000);
    await client.quit();
  });

  it('a trickled line is closed by the line timeout; a silent never-login by the login timeout', async () => {
    const r = track(await rig({ policy: { lineTimeoutMs: 300 }, loginTimeoutMs: 800 }));
    const started = Date.now();
    const trickler = await attacker(r.relay, '127.0.1.1');
    await trickler.first;
    const tick = setInterval(() => trickler.socket.writable && trickler.socket.write('x'), 50);
    cleanups.push(async () => clearInterval(tick));
    let trickled = '';
    trickler.socket.on('data', (d: Buffer) => (trickled += d.toString('latin1')));
    await new Promise<void>((done) => trickler.socket.on('close', () => done()));
    clearInterval(tick);
    expect(trickled).toContain('421 Command line not complete within 0.3 s, closing control connection.');
    expect(Date.now() - started).toBeLessThan(5000);

    const silent = await attacker(r.relay, '127.0.1.2');
    await silent.first;
    let said = '';
    silent.socket.on('data', (d: Buffer) => (said += d.toString('latin1')));
    await new Promise<void>((done) => silent.socket.on('close', () => done()));
    expect(said).toContain('421 Login timeout, closing control connection');
  });
});

describe('a third party at a data port', () => {
  it('is refused, logged at warn with both endpoints, and counted', async () => {
    const r = track(await rig());
    const rejected: unknown[] = [];
    r.proxy.on('data-rejected', (e) => rejected.push(e));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const reply = await client.expect('PASV', 2);
    const target = { family: 4 as const, ...parsePasvReply(reply.lines.join(''))! };
    // Refused with a reset: the connect itself may fail, or the socket closes right after.
    await connectRaw(target, '127.0.0.9').then(
      (thief) =>
        new Promise<void>((done) => {
          thief.on('error', () => done());
          thief.on('close', () => done());
        }),
      () => undefined,
    );
    await eventually(() => rejected.length === 1, 3000, 'data-rejected');
    expect(rejected[0]).toMatchObject({ peer: { address: '127.0.0.9' }, local: { port: target.port }, expected: '127.0.0.1' });
    const log = r.log.find((e) => e.event === 'data-rejected');
    expect(log).toMatchObject({ level: 'warn', peer: { address: '127.0.0.9' }, local: { port: target.port } });
    expect(r.proxy.stats().dataRejected).toBe(1);
    await client.quit();
  });
});

describe('byte counts in every ending', () => {
  for (const mode of ['pasv', 'port'] as const) {
    it(`${mode}: QUIT right after a 20 MB RETR: data-close and session-close count every byte (5 runs)`, async () => {
      const size = 20 << 20;
      const r = track(await rig());
      r.server.files.set('/big.bin', pattern(size, 9));
      const dataCloses: number[] = [];
      const sessionCloses: number[] = [];
      r.proxy.on('data-close', (e) => dataCloses.push(e.bytes.toClient));
      r.proxy.on('session-close', (e) => sessionCloses.push(e.bytes.dataToClient));
      for (let run = 0; run < 5; run++) {
        const client = await FtpTestClient.connect(r.relay, { mode });
        await client.login();
        expect((await client.retrieve('/big.bin')).length).toBe(size);
        await client.quit();
      }
      await eventually(() => sessionCloses.length === 5, 10_000, 'five session-close events');
      expect(dataCloses).toEqual([size, size, size, size, size]);
      expect(sessionCloses).toEqual([size, size, size, size, size]);
    });
  }

  it('a client that closes its control connection before its data connection: every byte counted', async () => {
    const size = 20 << 20;
    const r = track(await rig());
    r.server.files.set('/big.bin', pattern(size, 9));
    const dataCloses: number[] = [];
    const sessionCloses: number[] = [];
    r.proxy.on('data-close', (e) => dataCloses.push(e.bytes.toClient));
    r.proxy.on('session-close', (e) => sessionCloses.push(e.bytes.dataToClient));
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await client.login();
    const reply = await client.expect('PASV', 2);
    const target = parsePasvReply(reply.lines.join(''))!;
    // Half-open allowed: after the relay's FIN our side of the data connection stays open.
    const data = net.connect({ host: target.address, port: target.port, allowHalfOpen: true });
    await new Promise((resolve) => data.once('connect', resolve));
    let received = 0;
    data.on('data', (d: Buffer) => (received += d.length));
    const eof = new Promise<void>((resolve) => data.on('end', () => resolve()));
    client.sendRaw('RETR /big.bin\r\n');
    await eof; // all of it, but the data connection stays open on our side
    expect(received).toBe(size);
    await client.quit(); // 226, 221, control closed
    await new Promise((resolve) => setTimeout(resolve, 200));
    data.destroy();
    await eventually(() => sessionCloses.length === 1, 5000, 'session-close');
    expect(dataCloses).toEqual([size]);
    expect(sessionCloses).toEqual([size]);
  });

  for (const how of ['closed', 'crashed'] as const) {
    it(`a server ${how} mid-transfer: the count is what the relay delivered to the client`, async () => {
      const r = track(await rig());
      r.server.files.set('/big.bin', pattern(64 << 20, 2));
      const counted: number[] = [];
      const sessionCounted: number[] = [];
      r.proxy.on('data-close', (e) => counted.push(e.bytes.toClient));
      r.proxy.on('session-close', (e) => sessionCounted.push(e.bytes.dataToClient));
      const client = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
      await client.login();
      const reply = await client.expect('PASV', 2);
      const target = { family: 4 as const, ...parsePasvReply(reply.lines.join(''))! };
      const data = await connectRaw(target);
      let received = 0;
      let killed = false;
      const done = new Promise<void>((resolve) => {
        data.on('data', (d: Buffer) => {
          received += d.length;
          if (received > 8 << 20 && !killed) {
            // Read slowly from here so that the relay has bytes queued when the server goes.
            killed = true;
            data.pause();
            if (how === 'closed') void r.server.close();
            else r.server.crash();
            setTimeout(() => data.resume(), 300);
          }
        });
        data.on('close', () => resolve());
        data.on('error', () => {});
      });
      client.sendRaw('RETR /big.bin\r\n');
      await done;
      await eventually(() => sessionCounted.length === 1, 5000, 'session-close');
      expect(counted).toHaveLength(1);
      expect(received).toBeGreaterThan(8 << 20);
      expect(received).toBeLessThan(64 << 20);
      if (how === 'closed') expect(counted[0]).toBe(received);
      // A reset may take bytes already in flight to the client with it: never more than delivered.
      else expect(counted[0]).toBeGreaterThanOrEqual(received);
      expect(sessionCounted[0]).toBe(counted[0]);
      client.close();
    });
  }
});
