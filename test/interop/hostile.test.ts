// Hostile peers against the real relay process (dist/cli.js) on loopback: a client that tries an
// FTP bounce or a privileged data port, endless lines in either direction, and passive replies and
// PORT commands split at every byte position. The scripted server records every byte it gets, so
// "nothing was forwarded" is checked on the far side, not inferred from the reply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAvailable, startRelay, type RunningRelay } from './relay.js';
import { listenOnce, memoryOf, pasvEndpoint, RawClient, readAll, ScriptedServer } from './scripted.js';

const haveCli = cliAvailable();
const inCI = Boolean(process.env.CI);
const onLinux = process.platform === 'linux';

// The relay listens on 127.0.0.3 and the client connects from 127.0.0.1, so a translated passive
// reply visibly names another address than the server's 127.0.0.1.
const RELAY_HOST = '127.0.0.3';
const MiB = 1024 * 1024;
// Endless lines are this long. Holding one would cost at least as much; garbage from reading it
// in 64 KiB pieces costs the relay's node process tens of MiB of peak RSS before V8 collects it.
const INPUT = 256 * MiB;
const GROWTH_LIMIT = 96 * MiB;

function reportGrowth(before: { rss: number }, after: { rss: number; peak: number }): void {
  if (!process.env.NAT_ALG_INTEROP_LOG) return;
  console.log(`relay RSS before ${(before.rss / MiB).toFixed(1)} MiB, peak after ${(after.peak / MiB).toFixed(1)} MiB`);
}

describe('hostile-peer prerequisites', () => {
  it('has the built CLI and /proc', () => {
    const problems = [haveCli ? '' : 'dist/cli.js (run `npx tsup`)', onLinux ? '' : 'Linux /proc'].filter((p) => p);
    if (problems.length === 0) return;
    if (inCI) expect.fail(`hostile-peer tests cannot run in CI: ${problems.join('; ')}`);
    console.warn(`hostile-peer tests skipped: ${problems.join('; ')}`);
  });
});

describe.skipIf(!haveCli || !onLinux)('hostile peers against the relay', () => {
  let upstream: ScriptedServer;
  let relay: RunningRelay;
  let relayPort = 0;

  beforeAll(async () => {
    upstream = new ScriptedServer();
    const port = await upstream.listen('127.0.0.1');
    relay = await startRelay(null, 'gw', { listen: `${RELAY_HOST}:0`, upstream: `127.0.0.1:${port}` });
    const m = /:(\d+)\b/.exec(relay.readyLine.replace(/upstream.*$/, ''));
    relayPort = Number(m?.[1]);
    expect(relayPort, relay.readyLine).toBeGreaterThan(0);
  });

  afterAll(async () => {
    const code = await relay?.stop();
    await upstream?.close();
    expect(code, relay?.output().slice(-3000)).toBe(0);
  });

  async function session(): Promise<{ client: RawClient; index: number }> {
    const before = upstream.received.length;
    const client = await RawClient.open(RELAY_HOST, relayPort);
    expect(await client.reply()).toMatch(/^220 /);
    // The relay has opened its upstream connection by the time the greeting arrived.
    return { client, index: before };
  }

  const refusedCommands = [
    ['PORT naming a third host (bounce)', 'PORT 198,51,100,99,4,1\r\n'],
    ['EPRT naming a third host (bounce)', 'EPRT |1|198.51.100.99|1025|\r\n'],
    ['EPRT naming a third IPv6 host', 'EPRT |2|2001:db8::99|1025|\r\n'],
    ['PORT to a privileged port', 'PORT 127,0,0,1,0,25\r\n'],
    ['EPRT to a privileged port', 'EPRT |1|127.0.0.1|21|\r\n'],
    ['lower-case port naming a third host', 'port 198,51,100,99,4,1\r\n'],
  ] as const;

  it.each(refusedCommands)('%s: the client gets a 5xx, the server sees nothing of it', async (_name, line) => {
    upstream.onLine((l, c) => void c.write(l.toUpperCase() === 'NOOP' ? '200 NOOP ok\r\n' : '502 unexpected\r\n'));
    const { client, index } = await session();
    await client.write(line);
    expect(await client.reply()).toMatch(/^5\d\d /);
    // The session goes on: the next command reaches the server and its answer comes back.
    await client.write('NOOP\r\n');
    expect(await client.reply()).toBe('200 NOOP ok');
    client.close();
    const got = Buffer.concat(upstream.received[index] ?? []).toString('latin1');
    expect(got).toBe('NOOP\r\n');
  });

  /**
   * Writes `total` bytes of `fill` after `head` (and then `tail`), following backpressure, and
   * fails clearly if the relay stops reading for 10 s instead of hanging the test.
   */
  async function pump(client: RawClient, head: string, fill: number, total: number, tail: string): Promise<number> {
    await client.write(head);
    const chunk = Buffer.alloc(64 * 1024, fill);
    let sent = 0;
    while (sent < total && !client.closed) {
      const wrote = client.write(chunk);
      const stalled = new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 10_000).unref());
      if ((await Promise.race([wrote, stalled])) === 'stalled') {
        throw new Error(`the relay stopped reading after ${(sent / MiB).toFixed(1)} MiB and did not close`);
      }
      sent += chunk.length;
    }
    await client.write(tail);
    return sent;
  }

  for (const [name, head, fill] of [
    ['PORT line', 'PORT 127,0,0,1,', 0x31],
    ['command line of any verb', 'SITE ', 0x41],
  ] as const) {
    it(`an endless ${name} is answered 500 at once, never forwarded, and the connection is closed after 64 KiB`, async () => {
      upstream.onLine((l, c) => void c.write(l === 'NOOP' ? '200 NOOP ok\r\n' : '500 what\r\n'));
      const pid = relay.process.pid ?? 0;
      const before = await memoryOf(pid);
      const { client, index } = await session();
      const sent = await pump(client, head, fill, INPUT, '\r\nNOOP\r\n');
      // The 500 as soon as the line passed the cap, then the 421 once 64 KiB of it were dropped.
      expect(await client.reply(10_000)).toBe('500 Command line too long.');
      expect(await client.reply(10_000)).toBe('421 Too many over-long lines, closing control connection.');
      expect(await client.reply(10_000)).toBeNull();
      // The relay read a bounded amount (socket buffers included), not the 256 MiB offered.
      expect(sent).toBeLessThan(32 * MiB);
      client.close();
      const after = await memoryOf(pid);
      const received = Buffer.concat(upstream.received[index] ?? []).toString('latin1');
      expect(received).toBe('');
      reportGrowth(before, after);
      expect(after.peak - before.rss).toBeLessThan(GROWTH_LIMIT);
    });
  }

  it('an endless 227 reply is not passed on whole and does not grow memory', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x31);
    upstream.onLine(async (l, c) => {
      if (l !== 'PASV') return void c.write('200 ok\r\n');
      c.write('227 Entering Passive Mode (127,0,0,1,');
      for (let sent = 0; sent < INPUT && !c.destroyed; sent += chunk.length) {
        if (!c.write(chunk)) {
          // Both listeners go once either fires: left behind, they pile up on the socket.
          await new Promise<void>((r) => {
            const done = (): void => {
              c.off('drain', done).off('close', done);
              r();
            };
            c.once('drain', done).once('close', done);
          });
        }
      }
      if (!c.destroyed) c.write(').\r\n');
    });
    const pid = relay.process.pid ?? 0;
    const before = await memoryOf(pid);
    const { client } = await session();
    let toClient = 0;
    client.socket.on('data', (d: Buffer) => (toClient += d.length));
    await client.write('PASV\r\n');
    // A replaced reply (an error code) or a closed connection; never 256 MiB of digits.
    const got = await client.reply(30_000);
    if (got !== null) expect(got).toMatch(/^[45]\d\d /);
    client.close();
    const after = await memoryOf(pid);
    expect(toClient).toBeLessThan(64 * 1024);
    reportGrowth(before, after);
    expect(after.peak - before.rss).toBeLessThan(GROWTH_LIMIT);
  }, 60_000);

  it('an endless multi-line reply does not grow memory and the relay keeps serving', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    upstream.onLine(async (l, c) => {
      if (l !== 'STAT') return void c.write('200 ok\r\n');
      c.write('211-');
      for (let sent = 0; sent < INPUT && !c.destroyed; sent += chunk.length) {
        if (!c.write(chunk)) {
          // Both listeners go once either fires: left behind, they pile up on the socket.
          await new Promise<void>((r) => {
            const done = (): void => {
              c.off('drain', done).off('close', done);
              r();
            };
            c.once('drain', done).once('close', done);
          });
        }
      }
      if (!c.destroyed) c.write('\r\n211 end\r\n');
    });
    const pid = relay.process.pid ?? 0;
    const before = await memoryOf(pid);
    const { client } = await session();
    await client.write('STAT\r\n');
    // A line of no interest to the gateway: it may stream through, or the reply may be cut.
    const got = await client.reply(30_000);
    if (got !== null) expect(got).toMatch(/^211 end$|^211 end\r?$|^[45]\d\d /m);
    client.close();
    const after = await memoryOf(pid);
    reportGrowth(before, after);
    expect(after.peak - before.rss).toBeLessThan(GROWTH_LIMIT);
    // And the relay still serves new sessions.
    upstream.onLine((_l, c) => void c.write('200 NOOP ok\r\n'));
    const next = await session();
    await next.client.write('NOOP\r\n');
    expect(await next.client.reply()).toBe('200 NOOP ok');
    next.client.close();
  }, 60_000);

  const pasvReplies = [
    ['227', (p: number) => `227 Entering Passive Mode (127,0,0,1,${p >> 8},${p & 255}).\r\n`, 'PASV'],
    ['229', (p: number) => `229 Entering Extended Passive Mode (|||${p}|)\r\n`, 'EPSV'],
  ] as const;

  describe.each(pasvReplies)('a %s reply split at every byte position', (_code, format, command) => {
    const sample = format(40000);
    const positions = Array.from({ length: sample.length - 1 }, (_, i) => i + 1);

    it.each(positions)('split after byte %i arrives translated and the data flows', async (k) => {
      const data = await listenOnce('127.0.0.1', `payload split ${k}`);
      const reply = Buffer.from(format(data.port), 'latin1');
      upstream.onLine(async (l, c) => {
        if (l !== command) return void c.write('200 ok\r\n');
        c.write(reply.subarray(0, k));
        await new Promise((r) => setTimeout(r, 15));
        c.write(reply.subarray(k));
      });
      const { client } = await session();
      await client.write(`${command}\r\n`);
      const got = await client.reply();
      expect(got).not.toBeNull();
      let port: number;
      if (command === 'PASV') {
        const ep = pasvEndpoint(got ?? '');
        expect(got).toMatch(/^227 /);
        expect(ep.host).toBe(RELAY_HOST);
        port = ep.port;
      } else {
        const m = /^229 .*\(\|\|\|(\d+)\|\)/.exec(got ?? '');
        expect(m, got ?? '').not.toBeNull();
        port = Number(m?.[1]);
      }
      expect(port).not.toBe(data.port);
      expect(await readAll(RELAY_HOST, port)).toBe(`payload split ${k}`);
      client.close();
      data.server.close();
    });
  });

  describe('a PORT command split at every byte position', () => {
    const sample = 'PORT 127,0,0,1,156,64\r\n';
    const positions = Array.from({ length: sample.length - 1 }, (_, i) => i + 1);

    it.each(positions)('split after byte %i arrives translated and the data flows', async (k) => {
      const data = await listenOnce('127.0.0.1', `active split ${k}`);
      const line = Buffer.from(`PORT 127,0,0,1,${data.port >> 8},${data.port & 255}\r\n`, 'latin1');
      const seen: { host: string; port: number }[] = [];
      upstream.onLine(async (l, c) => {
        if (!l.startsWith('PORT ')) return void c.write('200 ok\r\n');
        const ep = pasvEndpoint(l);
        seen.push(ep);
        c.write('200 PORT ok\r\n');
        // The server side of an active transfer: connect to what the (translated) PORT named.
        const body = await readAll(ep.host, ep.port).catch((e: Error) => `error ${e.message}`);
        c.write(`226 got ${body}\r\n`);
      });
      const { client } = await session();
      await client.write(line.subarray(0, k));
      await new Promise((r) => setTimeout(r, 15));
      await client.write(line.subarray(k));
      expect(await client.reply()).toBe('200 PORT ok');
      expect(await client.reply()).toBe(`226 got active split ${k}`);
      expect(seen.length).toBe(1);
      expect(seen[0]?.port).not.toBe(data.port);
      // The client's own listener was reached (through the relay: the server only knew `seen`).
      expect(await data.peer).toMatch(/127\.0\.0\.\d+$/);
      client.close();
    });
  });
});
