/**
 * proxy.handleConnection(socket, { upstream?, upstreamSocket? }): a relay that is handed the
 * connections an embedder accepted itself (its own net.Server here, standing for a proxy that
 * did TLS sniffing, PROXY protocol or access control first). Real sockets on loopback.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NatAlgError, type Endpoint } from '../../src/core/index.js';
import {
  createFtpProxy,
  createRelayDataPlane,
  type DataPlane,
  type FtpProxy,
  type FtpProxyLogEntry,
  type FtpProxyOptions,
  type HandleConnectionOptions,
  type SessionRefusedEvent,
  type UpstreamFailedEvent,
} from '../../src/node/index.js';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { connectRaw, deadPort, eventually, listenProxy, noLeaks, pattern, readUntilClose } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A server of the embedder's own: every connection it accepts goes to `onSocket`. */
async function embedder(onSocket: (s: net.Socket) => void, options: net.ServerOpts = {}): Promise<Endpoint> {
  const srv = net.createServer(options, (s) => onSocket(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  const a = srv.address() as net.AddressInfo;
  return { family: 4, address: a.address, port: a.port };
}

/** Where the relay reaches a test server, as `upstream` takes it. */
function hostPort(e: Endpoint): { host: string; port: number } {
  return { host: e.address, port: e.port };
}

async function ftpServer(files: Record<string, Uint8Array> = {}): Promise<FtpTestServer> {
  const server = new FtpTestServer({ host: '127.0.0.1', files });
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

/** A relay that never listens; shut down and checked for leaks after the test. */
function relay(options: Partial<FtpProxyOptions> & Pick<FtpProxyOptions, 'upstream'>): { proxy: FtpProxy; log: FtpProxyLogEntry[] } {
  const log: FtpProxyLogEntry[] = [];
  const proxy = createFtpProxy({ logger: (e) => log.push(e), ...options });
  cleanups.push(async () => {
    await proxy.shutdown({ graceMs: 0 });
    await noLeaks(proxy);
  });
  return { proxy, log };
}

function connectTo(target: Endpoint): net.Socket {
  return net.connect({ host: target.address, port: target.port });
}

async function transferBothModes(front: Endpoint, server: FtpTestServer): Promise<void> {
  for (const mode of ['pasv', 'port'] as const) {
    const body = pattern(300_000, mode === 'pasv' ? 3 : 4);
    server.files.set(`/${mode}.bin`, body);
    const client = await FtpTestClient.connect(front, { mode });
    await client.login();
    const got = await client.retrieve(`/${mode}.bin`);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(body))).toBe(0);
    await client.store(`/${mode}-up.bin`, body);
    expect(Buffer.compare(Buffer.from(server.files.get(`/${mode}-up.bin`)!), Buffer.from(body))).toBe(0);
    await client.quit();
  }
}

describe('handleConnection: sockets the embedder accepted', () => {
  it('relays a handed-over client to the configured upstream, on a relay that never listened', async () => {
    const server = await ftpServer();
    const { proxy, log } = relay({ upstream: hostPort(server.endpoint) });
    const opened: number[] = [];
    const closed: Array<{ sessionId: number; dataToClient: number }> = [];
    proxy.on('session-open', (e) => opened.push(e.sessionId));
    proxy.on('session-close', (e) => closed.push({ sessionId: e.sessionId, dataToClient: e.bytes.dataToClient }));
    // As docs/relay.md shows it: the embedder's server keeps sockets unread until handed over.
    const front = await embedder((s) => proxy.handleConnection(s), { pauseOnConnect: true });
    await transferBothModes(front, server);
    await noLeaks(proxy);
    expect(opened).toEqual([1, 2]);
    expect(closed.map((c) => c.sessionId)).toEqual([1, 2]);
    expect(closed.every((c) => c.dataToClient === 300_000)).toBe(true);
    expect(log.filter((e) => e.event === 'session-open')).toHaveLength(2);
    expect(proxy.address()).toBeNull();
  });

  it('{ upstream }: dials that server instead of the configured one', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const front = await embedder((s) => proxy.handleConnection(s, { upstream: hostPort(server.endpoint) }));
    await transferBothModes(front, server);
    expect(server.sessions).toHaveLength(2);
  });

  it('{ upstreamSocket } connected: the relay dials nothing; passive data goes to that socket\'s server', async () => {
    const server = await ftpServer();
    // The configured upstream is dead: a session that works proves the given socket was used.
    const { proxy } = relay({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const front = await embedder((s) => {
      s.pause();
      const up = connectTo(server.endpoint);
      up.once('connect', () => proxy.handleConnection(s, { upstreamSocket: up }));
    });
    await transferBothModes(front, server);
    expect(server.sessions).toHaveLength(2);
    // The server saw the relay's data connections (passive: to its own data port), never the client's.
    expect(server.dataConnections.length).toBe(4);
  });

  it('{ upstreamSocket } still connecting when handed over', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const front = await embedder((s) => proxy.handleConnection(s, { upstreamSocket: connectTo(server.endpoint) }));
    await transferBothModes(front, server);
  });

  it('{ upstreamSocket } whose greeting already arrived, unread: passed on once', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const front = await embedder((s) => {
      const up = connectTo(server.endpoint);
      // Wait until the 220 is in the socket's buffer (peeked, not consumed), then hand over.
      up.once('connect', () => {
        const poll = (): void => {
          if (up.readableLength > 0) proxy.handleConnection(s, { upstreamSocket: up });
          else setTimeout(poll, 5);
        };
        up.pause();
        up.read(0); // start reading into the buffer without taking anything out
        poll();
      });
    });
    const client = await FtpTestClient.connect(front);
    await client.login();
    expect(client.receivedLines().filter((l) => l.startsWith('220'))).toHaveLength(1);
    await client.quit();
  });

  it('counts handed-over sessions in the same limits as listened ones, and destroys a refused one\'s upstream socket', async () => {
    const server = await ftpServer();
    const { proxy, log } = relay({ upstream: hostPort(server.endpoint), maxSessions: 1 });
    const listened = await listenProxy(proxy, '127.0.0.1');
    const refused: SessionRefusedEvent[] = [];
    proxy.on('session-refused', (e) => refused.push(e));
    let upstreamOfRefused: net.Socket | null = null;
    const front = await embedder((s) => {
      upstreamOfRefused = connectTo(server.endpoint);
      proxy.handleConnection(s, { upstreamSocket: upstreamOfRefused });
    });
    // The slot is taken by a session the listener accepted...
    const first = await FtpTestClient.connect(listened);
    await first.login();
    expect(proxy.stats().sessions).toBe(1);
    // ...so the handed-over one is refused, with the ALG's farewell.
    expect(await readUntilClose(connectTo(front))).toBe('421 Too many connections\r\n');
    await eventually(() => upstreamOfRefused !== null && upstreamOfRefused.destroyed, 3000, 'upstream socket destroyed');
    expect(refused).toEqual([{ client: expect.objectContaining({ address: '127.0.0.1' }), reason: 'too many sessions' }]);
    expect(proxy.stats().sessionsRefused).toBe(1);
    await first.quit();
    await noLeaks(proxy);
    // And the other way round: a handed-over session holds the slot against the listener.
    const handed = await FtpTestClient.connect(front);
    await handed.login();
    expect(await readUntilClose(await connectRaw(listened))).toBe('421 Too many connections\r\n');
    expect(proxy.stats()).toMatchObject({ sessions: 1, unauthenticated: 0, sessionsRefused: 2 });
    await handed.quit();
    expect(log.filter((e) => e.event === 'session-refused')).toHaveLength(2);
  });

  it('maxUnauthenticatedPerClient counts handed-over sessions before their login', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint), maxUnauthenticatedPerClient: 1 });
    const front = await embedder((s) => proxy.handleConnection(s));
    const first = await FtpTestClient.connect(front);
    expect(await readUntilClose(connectTo(front))).toBe('421 Too many connections from your address not logged in\r\n');
    await first.login();
    const second = await FtpTestClient.connect(front);
    await second.login();
    expect(proxy.stats()).toMatchObject({ sessions: 2, unauthenticated: 0 });
    await first.quit();
    await second.quit();
  });

  it('after shutdown a handed-over socket gets the farewell and its upstream socket is closed', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint) });
    await proxy.shutdown({ graceMs: 0 });
    const refused: SessionRefusedEvent[] = [];
    proxy.on('session-refused', (e) => refused.push(e));
    let up: net.Socket | null = null;
    const front = await embedder((s) => {
      up = connectTo(server.endpoint);
      proxy.handleConnection(s, { upstreamSocket: up });
    });
    expect(await readUntilClose(connectTo(front))).toBe('421 Service shutting down\r\n');
    await eventually(() => up !== null && up.destroyed, 3000, 'upstream socket destroyed');
    expect(refused.map((e) => e.reason)).toEqual(['shutting down']);
    await expect(proxy.start()).rejects.toMatchObject({ code: 'ERR_NAT_ALG_INVALID_STATE' });
  });

  it('graceful shutdown closes an idle handed-over session with 421', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint) });
    const front = await embedder((s) => proxy.handleConnection(s));
    const client = await FtpTestClient.connect(front);
    await client.login();
    const stopping = proxy.shutdown({ graceMs: 5000 });
    expect((await client.readReply()).code).toBe(421);
    await stopping;
    expect(proxy.stats()).toMatchObject({ sessions: 0, sockets: 0 });
  });

  it('an upstream socket already closed, or one whose connect fails: 421 to the client and upstream-failed', async () => {
    const { proxy } = relay({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    const failed: UpstreamFailedEvent[] = [];
    const closes: string[] = [];
    proxy.on('upstream-failed', (e) => failed.push(e));
    proxy.on('session-close', (e) => closes.push(e.reason));
    const dead = await deadPort();
    let round = 0;
    const front = await embedder((s) => {
      const up = net.connect({ host: '127.0.0.1', port: dead });
      up.on('error', () => {});
      if (round++ === 0) {
        // Failed and closed before the handover.
        up.once('close', () => proxy.handleConnection(s, { upstreamSocket: up }));
      } else {
        proxy.handleConnection(s, { upstreamSocket: up }); // still connecting; fails after
      }
    });
    expect(await readUntilClose(connectTo(front))).toMatch(/^421 Upstream FTP server unavailable \(upstream socket already closed\)\r\n$/);
    expect(await readUntilClose(connectTo(front))).toMatch(/^421 Upstream FTP server unavailable \(ECONNREFUSED\)\r\n$/);
    await noLeaks(proxy);
    expect(failed.map((e) => e.reply)).toEqual([
      '421 Upstream FTP server unavailable (upstream socket already closed)',
      '421 Upstream FTP server unavailable (ECONNREFUSED)',
    ]);
    expect(failed.map((e) => e.sessionId)).toEqual([1, 2]);
    expect(closes).toHaveLength(2);
  });

  it('a client socket already destroyed is dropped without a throw, a session or a leak', async () => {
    const server = await ftpServer();
    const { proxy, log } = relay({ upstream: hostPort(server.endpoint) });
    const opened: unknown[] = [];
    proxy.on('session-open', (e) => opened.push(e));
    const ups: net.Socket[] = [];
    let handed = 0;
    const front = await embedder((s) => {
      const up = connectTo(server.endpoint);
      ups.push(up);
      s.destroy();
      // Once destroyed but not yet closed, once after its 'close'.
      if (handed++ === 0) proxy.handleConnection(s, { upstreamSocket: up });
      else s.once('close', () => proxy.handleConnection(s, { upstreamSocket: up }));
    });
    await readUntilClose(connectTo(front));
    await readUntilClose(connectTo(front));
    await eventually(() => ups.length === 2 && ups.every((u) => u.destroyed), 3000, 'upstream sockets destroyed');
    expect(opened).toEqual([]);
    expect(proxy.stats()).toMatchObject({ sessions: 0, sockets: 0, sessionsRefused: 0 });
    expect(log.filter((e) => e.event === 'connection-gone')).toHaveLength(2);
  });

  it('a client that resets right after the handover: the session ends, nothing leaks', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint) });
    const closes: string[] = [];
    proxy.on('session-close', (e) => closes.push(e.reason));
    const front = await embedder((s) => proxy.handleConnection(s));
    const c = connectTo(front);
    c.on('error', () => {});
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.resetAndDestroy();
    await eventually(() => closes.length === 1, 3000, 'session-close');
    await noLeaks(proxy);
  });

  it('rejects invalid arguments with NatAlgError before touching the sockets', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint) });
    const sockets: net.Socket[] = [];
    const front = await embedder((s) => sockets.push(s));
    const c = connectTo(front);
    await eventually(() => sockets.length === 1, 3000, 'accepted');
    const s = sockets[0]!;
    const up = new net.Socket();
    const bad: Array<[unknown, HandleConnectionOptions | undefined]> = [
      [{}, undefined],
      [s, { upstream: hostPort(server.endpoint), upstreamSocket: up }],
      [s, { upstream: { host: '', port: 21 } }],
      [s, { upstream: { host: '127.0.0.1', port: 70000 } }],
      [s, { upstreamSocket: {} as net.Socket }],
      [s, { upstreamSocket: s }],
    ];
    for (const [sock, opts] of bad) {
      let thrown: unknown = null;
      try {
        proxy.handleConnection(sock as net.Socket, opts);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(NatAlgError);
      expect((thrown as NatAlgError).code).toBe('ERR_NAT_ALG_INVALID_ARGUMENT');
    }
    // Untouched: still the caller's, still open.
    expect(s.destroyed).toBe(false);
    expect(proxy.stats()).toMatchObject({ sessions: 0, sockets: 0 });
    s.destroy();
    c.destroy();
    up.destroy();
  });

  it('refuses a socket handed over twice, as client or as upstream, with NatAlgError: one connection, one session', async () => {
    const server = await ftpServer();
    const { proxy } = relay({ upstream: hostPort(server.endpoint) });
    const sockets: net.Socket[] = [];
    const front = await embedder((s) => sockets.push(s));
    const c1 = connectTo(front);
    const c2 = connectTo(front);
    await eventually(() => sockets.length === 2, 3000, 'accepted');
    const [a, b] = sockets as [net.Socket, net.Socket];
    const up = connectTo(server.endpoint);
    proxy.handleConnection(a, { upstreamSocket: up });
    for (const [sock, opts] of [[a, {}], [b, { upstreamSocket: up }], [up, {}]] as Array<[net.Socket, HandleConnectionOptions]>) {
      let thrown: unknown = null;
      try {
        proxy.handleConnection(sock, opts);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(NatAlgError);
      expect((thrown as NatAlgError).code).toBe('ERR_NAT_ALG_INVALID_ARGUMENT');
      expect((thrown as Error).message).toMatch(/already handed/);
    }
    // The first session is whole: the client gets one greeting, through one session.
    const lines: string[] = [];
    c1.on('data', (d: Buffer) => lines.push(d.toString('latin1')));
    await eventually(() => lines.join('').includes('\r\n'), 3000, 'greeting');
    expect(proxy.stats()).toMatchObject({ sessions: 1 });
    expect(b.destroyed).toBe(false); // refused before it was touched: still the caller's
    c1.destroy();
    c2.destroy();
    b.destroy();
    await eventually(() => proxy.stats().sessions === 0, 3000, 'session gone');
  });
});

describe('handleConnection with a data plane that must start', () => {
  /** The relay's own plane under another name, so the relay waits for its start like any other's. */
  function countingPlane(): DataPlane & { starts: number; stops: number } {
    const inner = createRelayDataPlane();
    const plane = {
      name: 'counting',
      starts: 0,
      stops: 0,
      start: async () => {
        plane.starts++;
      },
      stop: async () => {
        plane.stops++;
      },
      forSession: inner.forSession,
    };
    return plane;
  }

  it('refuses until start() has resolved, then relays; shutdown stops the plane', async () => {
    const server = await ftpServer();
    const plane = countingPlane();
    const { proxy, log } = relay({ upstream: hostPort(server.endpoint), dataPlane: plane });
    const refused: SessionRefusedEvent[] = [];
    proxy.on('session-refused', (e) => refused.push(e));
    const front = await embedder((s) => proxy.handleConnection(s));
    expect(await readUntilClose(connectTo(front))).toBe('421 Service not available\r\n');
    expect(refused.map((e) => e.reason)).toEqual(['data plane not started']);
    expect(log.find((e) => e.event === 'session-refused')?.level).toBe('error');
    await proxy.start();
    await proxy.start(); // idempotent
    expect(plane.starts).toBe(1);
    await transferBothModes(front, server);
    await proxy.shutdown({ graceMs: 0 });
    expect(plane.stops).toBe(1);
  });

  it('start() rejects with the plane\'s error, and connections stay refused', async () => {
    const server = await ftpServer();
    const failing: DataPlane = {
      name: 'failing',
      start: () => Promise.reject(new Error('no kernel here')),
      stop: async () => undefined,
      forSession: createRelayDataPlane().forSession,
    };
    const { proxy } = relay({ upstream: hostPort(server.endpoint), dataPlane: failing });
    await expect(proxy.start()).rejects.toThrow('no kernel here');
    const front = await embedder((s) => proxy.handleConnection(s));
    expect(await readUntilClose(connectTo(front))).toBe('421 Service not available\r\n');
  });
});
