/**
 * createFtpTranslatorStreams with stream.pipeline() over real sockets: when the translator gives
 * the connection up, the client gets its 421, both pipelines fail with
 * ERR_NAT_ALG_TRANSLATOR_CLOSED and every socket is closed.
 */
import * as net from 'node:net';
import { pipeline } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createFtpTranslatorStreams, TranslatorClosedError, type FtpTranslatorStreamsOptions } from '../../src/node/index.js';
import { eventually } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(onSocket: (s: net.Socket) => void): Promise<number> {
  // Half-open allowed, as a gateway needs: a client's FIN must not cut the server's last reply.
  const srv = net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

interface Gateway {
  port: number;
  /** Each pipeline's error (null: it ended without one), per direction, per client. */
  results: Array<{ toServer?: NodeJS.ErrnoException | null; toClient?: NodeJS.ErrnoException | null }>;
  sockets: net.Socket[];
  upstreamReceived: () => string;
}

/** A server that greets and then reads; a gateway in front of it built from the streams and pipeline(). */
async function gateway(policy: FtpTranslatorStreamsOptions['policy']): Promise<Gateway> {
  let received = '';
  const upstreamPort = await serve((s) => {
    s.on('error', () => {});
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      received += d;
      if (received.endsWith('QUIT\r\n')) s.end('221 bye\r\n');
    });
    s.on('end', () => s.end());
    s.write('220 ready\r\n');
  });
  const g: Gateway = { port: 0, results: [], sockets: [], upstreamReceived: () => received };
  g.port = await serve((client) => {
    const server = net.connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true });
    g.sockets.push(client, server);
    const result: Gateway['results'][number] = {};
    g.results.push(result);
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      clientAddress: '127.0.0.1',
      serverAddress: '127.0.0.1',
      ...(policy !== undefined ? { policy } : {}),
      resolveDataChannel: () => null,
    });
    pipeline(client, clientToServer, server, (err) => (result.toServer = err ?? null));
    pipeline(server, serverToClient, client, (err) => (result.toClient = err ?? null));
  });
  return g;
}

/** What a client reads until the gateway's FIN; then the client closes too. */
function readUntilEnd(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    socket.on('end', () => {
      socket.destroy();
      resolve(text);
    });
  });
}

/** A client connected through the gateway, once it has read the greeting. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('error', reject);
    s.once('data', (d: Buffer) => {
      expect(d.toString('latin1')).toBe('220 ready\r\n');
      resolve(s);
    });
  });
}

describe('createFtpTranslatorStreams under pipeline(): the translator closing', () => {
  it('an over-long line under overlongLine close: 421, both pipelines report the code, every socket closes', async () => {
    const g = await gateway({ maxLineLength: 512, overlongLine: 'close' });
    const c = await connect(g.port);
    const seen = readUntilEnd(c);
    c.write('USER a\r\n');
    c.write(`STOR ${'x'.repeat(2000)}`); // never ends: the line passes maxLineLength
    const text = await seen;
    expect(text).toMatch(/^421 .*\r\n$/);
    await eventually(() => g.results[0]?.toServer !== undefined && g.results[0]?.toClient !== undefined, 5000, 'both pipelines done');
    for (const err of [g.results[0]!.toServer!, g.results[0]!.toClient!]) {
      expect(err).toBeInstanceOf(TranslatorClosedError);
      expect(err.code).toBe('ERR_NAT_ALG_TRANSLATOR_CLOSED');
    }
    expect((g.results[0]!.toClient as TranslatorClosedError).reason).toMatch(/line/);
    await eventually(() => g.sockets.every((s) => s.destroyed), 3000, 'gateway sockets closed');
    // The server got the line before, and nothing of the over-long one.
    expect(g.upstreamReceived()).toBe('USER a\r\n');
  });

  it('a line trickled past policy.lineTimeoutMs: the same, from the translator\'s timer', async () => {
    const g = await gateway({ lineTimeoutMs: 200 });
    const c = await connect(g.port);
    const seen = readUntilEnd(c);
    c.write('NOO'); // and never the rest
    expect(await seen).toMatch(/^421 .*\r\n$/);
    await eventually(() => g.results[0]?.toServer !== undefined && g.results[0]?.toClient !== undefined, 5000, 'both pipelines done');
    expect(g.results[0]!.toServer!.code).toBe('ERR_NAT_ALG_TRANSLATOR_CLOSED');
    expect(g.results[0]!.toClient!.code).toBe('ERR_NAT_ALG_TRANSLATOR_CLOSED');
    await eventually(() => g.sockets.every((s) => s.destroyed), 3000, 'gateway sockets closed');
  });

  it('a normal end is not an error: QUIT, both sides close, both pipelines end cleanly', async () => {
    const g = await gateway(undefined);
    const c = await connect(g.port);
    const seen = readUntilEnd(c);
    c.end('QUIT\r\n');
    expect(await seen).toBe('221 bye\r\n');
    await eventually(() => g.results[0]?.toServer !== undefined && g.results[0]?.toClient !== undefined, 5000, 'both pipelines done');
    expect(g.results[0]).toEqual({ toServer: null, toClient: null });
  });

  it('a consumer that never reads the farewell: the streams still fail (after the linger)', async () => {
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      clientAddress: '127.0.0.1',
      serverAddress: '127.0.0.1',
      policy: { maxLineLength: 512, overlongLine: 'close' },
      resolveDataChannel: () => null,
    });
    const errors: Array<[string, unknown]> = [];
    clientToServer.on('error', (e) => errors.push(['c2s', e]));
    serverToClient.on('error', (e) => errors.push(['s2c', e]));
    clientToServer.resume();
    serverToClient.write('220 ready\r\n');
    clientToServer.write('x'.repeat(600)); // serverToClient is never read: its 220 and 421 stay queued
    await eventually(() => errors.length === 2, 5000, 'both streams failed');
    expect(errors.map(([which, e]) => [which, (e as TranslatorClosedError).code]).sort()).toEqual([
      ['c2s', 'ERR_NAT_ALG_TRANSLATOR_CLOSED'],
      ['s2c', 'ERR_NAT_ALG_TRANSLATOR_CLOSED'],
    ]);
  });
});
