// The odd shapes real servers and clients use (docs: /work/shared/reference facts), through the
// real relay process on loopback: every passive reply must arrive naming the relay (127.0.0.3, a
// relay port) and its data connection must work; every active command must reach the server
// naming the relay and the server's connection must reach the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAvailable, startRelay, type RunningRelay } from './relay.js';
import { listenOnce, pasvEndpoint, RawClient, readAll, ScriptedServer } from './scripted.js';

const haveCli = cliAvailable();
const RELAY_HOST = '127.0.0.3';

describe('reply-shape prerequisites', () => {
  it('has the built CLI', () => {
    if (haveCli) return;
    if (process.env.CI) expect.fail('reply-shape tests cannot run in CI: no dist/cli.js');
    console.warn('reply-shape tests skipped: dist/cli.js not built (run `npx tsup`)');
  });
});

const p1 = (p: number): number => p >> 8;
const p2 = (p: number): number => p & 255;
const pad = (n: number): string => String(n).padStart(3, '0');

/** Passive replies to PASV as servers in the wild send them; `%` marks where the test port goes. */
const PASV_SHAPES: readonly [string, (p: number) => string][] = [
  ['parentheses', (p) => `227 Entering Passive Mode (127,0,0,1,${p1(p)},${p2(p)})\r\n`],
  ['trailing period', (p) => `227 Entering Passive Mode (127,0,0,1,${p1(p)},${p2(p)}).\r\n`],
  ['no parentheses', (p) => `227 Entering Passive Mode 127,0,0,1,${p1(p)},${p2(p)}\r\n`],
  ['equals sign', (p) => `227 =127,0,0,1,${p1(p)},${p2(p)}\r\n`],
  ['zero padded', (p) => `227 Entering Passive Mode (127,000,000,001,${pad(p1(p))},${pad(p2(p))})\r\n`],
  ['bare LF', (p) => `227 Entering Passive Mode (127,0,0,1,${p1(p)},${p2(p)})\n`],
  ['multi-line, address on the last line', (p) => `227-Entering Passive Mode\r\n227 (127,0,0,1,${p1(p)},${p2(p)})\r\n`],
  ['multi-line, address on the first line', (p) => `227-Entering Passive Mode (127,0,0,1,${p1(p)},${p2(p)})\r\n227 OK\r\n`],
];

const EPSV_SHAPES: readonly [string, (p: number) => string][] = [
  ['pipes', (p) => `229 Entering Extended Passive Mode (|||${p}|)\r\n`],
  ['another delimiter', (p) => `229 Entering Extended Passive Mode (!!!${p}!)\r\n`],
  ['bare LF', (p) => `229 Entering Extended Passive Mode (|||${p}|)\n`],
];

describe.skipIf(!haveCli)('odd shapes through the relay', () => {
  let upstream: ScriptedServer;
  let relay: RunningRelay;
  let relayPort = 0;

  beforeAll(async () => {
    upstream = new ScriptedServer();
    const port = await upstream.listen('127.0.0.1');
    relay = await startRelay(null, 'gw', { listen: `${RELAY_HOST}:0`, upstream: `127.0.0.1:${port}` });
    relayPort = Number(/:(\d+)\b/.exec(relay.readyLine.replace(/upstream.*$/, ''))?.[1]);
    expect(relayPort, relay.readyLine).toBeGreaterThan(0);
  });

  afterAll(async () => {
    const code = await relay?.stop();
    await upstream?.close();
    expect(code, relay?.output().slice(-3000)).toBe(0);
  });

  async function session(): Promise<RawClient> {
    const client = await RawClient.open(RELAY_HOST, relayPort);
    expect(await client.reply()).toMatch(/^220 /);
    return client;
  }

  it.each(PASV_SHAPES)('227 with %s is translated and its data connection works', async (_name, shape) => {
    const data = await listenOnce('127.0.0.1', 'passive data');
    upstream.onLine((l, c) => void c.write(l.toUpperCase() === 'PASV' ? shape(data.port) : '200 ok\r\n'));
    const client = await session();
    await client.write('PASV\r\n');
    const reply = (await client.reply()) ?? '';
    expect(reply).toMatch(/^227[ -]/);
    const ep = pasvEndpoint(reply);
    expect(ep.host, reply).toBe(RELAY_HOST);
    expect(ep.port).not.toBe(data.port);
    expect(await readAll(RELAY_HOST, ep.port)).toBe('passive data');
    client.close();
    data.server.close();
  });

  it.each(EPSV_SHAPES)('229 with %s is translated and its data connection works', async (_name, shape) => {
    const data = await listenOnce('127.0.0.1', 'extended passive data');
    upstream.onLine((l, c) => void c.write(l.toUpperCase() === 'EPSV' ? shape(data.port) : '200 ok\r\n'));
    const client = await session();
    await client.write('EPSV\r\n');
    const reply = (await client.reply()) ?? '';
    const m = /^229 .*\((.)\1\1(\d+)\1\)/.exec(reply);
    expect(m, reply).not.toBeNull();
    const port = Number(m?.[2]);
    expect(port).not.toBe(data.port);
    expect(await readAll(RELAY_HOST, port)).toBe('extended passive data');
    client.close();
    data.server.close();
  });

  it('a lower-case pasv is paired with its 227', async () => {
    const data = await listenOnce('127.0.0.1', 'lower case');
    upstream.onLine((l, c) => void c.write(l === 'pasv' ? PASV_SHAPES[0]![1](data.port) : '200 ok\r\n'));
    const client = await session();
    await client.write('pasv\r\n');
    const ep = pasvEndpoint((await client.reply()) ?? '');
    expect(ep.host).toBe(RELAY_HOST);
    expect(await readAll(RELAY_HOST, ep.port)).toBe('lower case');
    client.close();
  });

  it('two commands in one chunk and their two replies in one chunk', async () => {
    const data = await listenOnce('127.0.0.1', 'pipelined');
    upstream.onLine((l, c) => {
      // Answer both at once, in one write, when the second arrives.
      if (l === 'PASV') c.write(`200 Switching to Binary mode.\r\n${PASV_SHAPES[0]![1](data.port)}`);
    });
    const client = await session();
    await client.write('TYPE I\r\nPASV\r\n');
    expect(await client.reply()).toBe('200 Switching to Binary mode.');
    const ep = pasvEndpoint((await client.reply()) ?? '');
    expect(ep.host).toBe(RELAY_HOST);
    expect(await readAll(RELAY_HOST, ep.port)).toBe('pipelined');
    client.close();
  });

  it('a 227 nobody asked for is translated all the same: the client only ever sees the relay', async () => {
    upstream.onLine((l, c) => void c.write(l === 'NOOP' ? '227 Entering Passive Mode (127,0,0,1,156,64)\r\n' : '200 ok\r\n'));
    const client = await session();
    await client.write('NOOP\r\n');
    const reply = (await client.reply()) ?? '';
    expect(reply).toMatch(/^227 Entering Passive Mode \(/);
    expect(pasvEndpoint(reply).host).toBe(RELAY_HOST);
    client.close();
  });

  it.each([
    ['PORT', (p: number) => `PORT 127,0,0,1,${p1(p)},${p2(p)}\r\n`],
    ['lower-case port', (p: number) => `port 127,0,0,1,${p1(p)},${p2(p)}\r\n`],
    ['EPRT', (p: number) => `EPRT |1|127.0.0.1|${p}|\r\n`],
    ['PORT with a bare LF', (p: number) => `PORT 127,0,0,1,${p1(p)},${p2(p)}\n`],
  ] as const)('%s reaches the server naming the relay, and the active connection works', async (_name, shape) => {
    const data = await listenOnce('127.0.0.1', 'active data');
    const seen: { host: string; port: number }[] = [];
    upstream.onLine(async (l, c) => {
      if (!/^(PORT|EPRT) /i.test(l)) return void c.write('200 ok\r\n');
      c.write('200 Command okay.\r\n');
      const m = /^EPRT \|1\|([\d.]+)\|(\d+)\|/i.exec(l);
      const ep = m ? { host: m[1] ?? '', port: Number(m[2]) } : pasvEndpoint(l);
      seen.push(ep);
      const body = await readAll(ep.host, ep.port).catch((e: Error) => `error ${e.message}`);
      c.write(`226 got ${body}\r\n`);
    });
    const client = await session();
    await client.write(shape(data.port));
    expect(await client.reply()).toBe('200 Command okay.');
    expect(await client.reply()).toBe('226 got active data');
    expect(seen).toHaveLength(1);
    // The server was told the relay's endpoint, not the client's.
    expect(seen[0]?.port).not.toBe(data.port);
    client.close();
  });
});
