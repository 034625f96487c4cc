/**
 * The node relay against hostile clients on loopback sockets: slow clients holding session slots
 * (slowloris), a third party taking a data connection, and byte counts in every ending.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { FtpTestClient, parsePasvReply } from '../../src/testing/index.js';
import { cleanupsAfterEach, connectRaw, eventually, pattern, rig } from './helpers.js';

const { cleanups, track } = cleanupsAfterEach(10_000);

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

/** A TLS record header and body (no byte 0x0a: the test server reads lines and must stay silent). */
function tlsRecord(type: number, body: number[]): Buffer {
  return Buffer.from([type, 3, 1, body.length >> 8, body.length & 0xff, ...body]);
}
const FAKE_CLIENT_HELLO = tlsRecord(22, [1, 0, 0, 36, 3, 3, ...Array.from({ length: 34 }, (_, k) => 0x20 + k)]);

describe('AUTH TLS is no login', () => {
  it('sessions that send AUTH TLS and a ClientHello (or trickled records) stay "not logged in": the per-address cap holds and the login deadline closes them', async () => {
    const r = track(await rig({ maxUnauthenticatedPerClient: 3, loginTimeoutMs: 1500 }));
    r.server.script('AUTH', (ctx) => ctx.reply(234, 'Proceed with negotiation.'));
    const from = '127.0.1.3';
    const held: Array<{ socket: net.Socket; afterAuth: () => string; closed: Promise<void> }> = [];
    const ticks: NodeJS.Timeout[] = [];
    cleanups.push(async () => {
      for (const t of ticks) clearInterval(t);
      for (const h of held) h.socket.destroy();
    });
    for (let k = 0; k < 3; k++) {
      const a = await attacker(r.relay, from);
      expect(await a.first).toMatch(/^220 /);
      let text = '';
      a.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const closed = new Promise<void>((done) => a.socket.on('close', () => done()));
      a.socket.write('AUTH TLS\r\n');
      await eventually(() => text.includes('234 '), 5000, '234');
      const mark = text.length;
      if (k < 2) a.socket.write(FAKE_CLIENT_HELLO);
      else ticks.push(setInterval(() => a.socket.writable && a.socket.write(tlsRecord(22, [1])), 100)); // slow TLS bytes, one record at a time
      held.push({ socket: a.socket, afterAuth: () => text.slice(mark), closed });
    }
    await eventually(() => r.log.filter((e) => e.event === 'tls-started').length === 3, 5000, 'three tls-started');
    expect(r.proxy.stats().unauthenticated).toBe(3);
    // A fourth from the same address is over the budget of sessions not logged in.
    const fourth = await attacker(r.relay, from);
    expect((await fourth.first).trim()).toBe('421 Too many connections from your address not logged in');
    fourth.socket.destroy();
    // Another address is served as usual.
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv', localAddress: '127.0.2.1' });
    await client.login();
    await client.quit();
    // The login deadline ends all three; nothing is written into their TLS streams.
    for (const h of held) await h.closed;
    for (const h of held) expect(h.afterAuth()).toBe('');
    const reasons = r.log.filter((e) => e.event === 'session-close').map((e) => e['reason']);
    expect(reasons.filter((x) => x === 'Login timeout (TLS handshake not complete), closing control connection')).toHaveLength(3);
    expect(r.log.filter((e) => e.event === 'logged-in')).toHaveLength(1); // the normal client only
  });
});

describe('one address and the shared data-port range', () => {
  it('13 sessions x 8 waiting PASV from one address take at most their share of 100 ports (12); another address is served', async () => {
    const r = track(await rig({ dataPorts: { min: 47200, max: 47299 } }));
    r.server.files.set('/f.bin', pattern(50_000, 7));
    const limits: unknown[] = [];
    r.proxy.on('data-limit', (e) => limits.push(e));
    const hog: FtpTestClient[] = [];
    cleanups.push(async () => {
      for (const c of hog) c.close();
    });
    const replies: string[] = [];
    for (let k = 0; k < 13; k++) {
      const c = await FtpTestClient.connect(r.relay, { mode: 'pasv', localAddress: '127.0.1.1' });
      hog.push(c);
      await c.login();
      for (let p = 0; p < 8; p++) replies.push((await c.command('PASV')).lines.join('\n'));
    }
    const granted = replies.filter((x) => /^227 /.test(x));
    const refused = replies.filter((x) => !/^227 /.test(x));
    expect(granted).toHaveLength(12);
    expect(new Set(refused)).toEqual(new Set(['425 Cannot open data connection (too many data connections waiting from your address).']));
    expect(r.proxy.stats().listeners).toBe(12);
    expect(r.proxy.stats().dataLimited).toBe(13 * 8 - 12);
    expect(limits[0]).toMatchObject({ client: { address: '127.0.1.1' }, command: 'PASV', limit: 12 });
    const logged = r.log.filter((e) => e.event === 'data-limit');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThanOrEqual(20); // the log line is rate-limited
    expect(logged[0]).toMatchObject({ level: 'warn', command: 'PASV', limit: 12 });
    // Another address: PASV, EPSV and a transfer work while the hog holds its 12.
    const client = await FtpTestClient.connect(r.relay, { mode: 'pasv', localAddress: '127.0.2.1' });
    await client.login();
    expect((await client.retrieve('/f.bin')).length).toBe(50_000);
    expect((await client.command('EPSV')).code).toBe(229);
    await client.quit();
    // Slots come back when waiting listeners go: the first hog session (8 of the 12) ends.
    hog.shift()!.close();
    await eventually(() => r.proxy.stats().listeners === 4, 5000, 'the first hog session gone');
    expect((await hog[0]!.command('PASV')).code).toBe(227);
  });
});

describe('a flood of refused connections', () => {
  it('each refused socket is gone by the time its 421 and FIN arrive (the peer holds its side open); the log stays bounded', async () => {
    const r = track(await rig({ maxSessionsPerClient: 2 }));
    const refusedEvents: unknown[] = [];
    r.proxy.on('session-refused', (e) => refusedEvents.push(e));
    const from = '127.0.1.7';
    const keep: net.Socket[] = [];
    cleanups.push(async () => {
      for (const s of keep) s.destroy();
    });
    for (let k = 0; k < 2; k++) {
      const a = await attacker(r.relay, from);
      expect(await a.first).toMatch(/^220 /);
      keep.push(a.socket);
    }
    const base = r.proxy.stats().sockets; // two sessions: client and upstream sockets
    const FLOOD = 200;
    const flood = Array.from({ length: FLOOD }, () => new Promise<{ socket: net.Socket; text: string }>((resolve, reject) => {
      // allowHalfOpen: the flood never closes its side; only the relay can end these connections.
      const socket = net.connect({ host: r.relay.address, port: r.relay.port, localAddress: from, allowHalfOpen: true });
      keep.push(socket);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('end', () => resolve({ socket, text }));
      socket.on('error', reject);
    }));
    const got = await Promise.all(flood);
    // Every refused connection had its 421, then the FIN; by then the relay holds none of them.
    expect(new Set(got.map((g) => g.text))).toEqual(new Set(['421 Too many connections from your address\r\n']));
    expect(r.proxy.stats().sockets).toBe(base);
    expect(r.proxy.stats().sessions).toBe(2);
    // Writing to one now meets a closed socket: the kernel answers with a reset (seen at a later write).
    const probe = got[0]!.socket;
    const reset = new Promise<string>((resolve) => probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)));
    const poke = setInterval(() => probe.writable && probe.write('NOOP\r\n'), 20);
    const code = await reset;
    clearInterval(poke);
    expect(code).toMatch(/ECONNRESET|EPIPE/);
    // Every refusal is counted and emitted; the log has the first 20 and then one summary.
    expect(refusedEvents).toHaveLength(FLOOD);
    expect(r.proxy.stats().sessionsRefused).toBe(FLOOD);
    expect(r.log.filter((e) => e.event === 'session-refused')).toHaveLength(20);
    for (const s of keep) s.destroy();
    await r.close();
    expect(r.log.filter((e) => e.event === 'log-suppressed')).toEqual([
      { level: 'warn', event: 'log-suppressed', suppressedEvent: 'session-refused', count: FLOOD - 20, intervalMs: 10_000 },
    ]);
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
