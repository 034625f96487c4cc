/**
 * Loopback plumbing for the relay tests: an FTP test server, the relay in front of it, and a wait
 * until the relay holds no socket and no listener any more.
 */

import * as net from 'node:net';
import { afterEach } from 'vitest';
import { createFtpProxy, type FtpProxy, type FtpProxyLogEntry, type FtpProxyOptions } from '../../src/node/index.js';
import { FtpTestServer, type FtpTestServerOptions } from '../../src/testing/index.js';
import type { Endpoint } from '../../src/core/index.js';

export interface Rig {
  server: FtpTestServer;
  proxy: FtpProxy;
  /** Where clients connect: the relay. */
  relay: Endpoint;
  log: FtpProxyLogEntry[];
  close(): Promise<void>;
}

export function listenProxy(proxy: FtpProxy, host: string): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, host, () => {
      proxy.off('error', reject);
      const a = proxy.address() as net.AddressInfo;
      resolve({ family: a.family === 'IPv6' ? 6 : 4, address: a.address, port: a.port });
    });
  });
}

export async function rig(
  opts: { serverHost?: string; relayHost?: string; files?: FtpTestServerOptions['files'] } & Partial<FtpProxyOptions> = {},
): Promise<Rig> {
  const { serverHost, relayHost, files, ...proxyOptions } = opts;
  const server = new FtpTestServer({ host: serverHost ?? '127.0.0.1', ...(files ? { files } : {}) });
  const up = await server.listen();
  const log: FtpProxyLogEntry[] = [];
  const proxy = createFtpProxy({
    upstream: { host: up.address, port: up.port },
    logger: (e) => log.push(e),
    ...proxyOptions,
  });
  const relay = await listenProxy(proxy, relayHost ?? '127.0.0.1');
  return {
    server,
    proxy,
    relay,
    log,
    async close() {
      await proxy.shutdown({ graceMs: 0 });
      await server.close();
    },
  };
}

/** Resolve once `check` holds, polling; reject after `ms`. */
export async function eventually(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The relay holds nothing: no session, no socket, no data listener. */
export async function noLeaks(proxy: FtpProxy, ms = 5000): Promise<void> {
  await eventually(() => {
    const s = proxy.stats();
    return s.sessions === 0 && s.sockets === 0 && s.listeners === 0;
  }, ms, `no leaks (stats ${JSON.stringify(proxy.stats())})`);
}

/** Deterministic pseudo-random bytes (no Math.random: reproducible failures). */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Read a raw control connection until it closes; returns everything received. */
export function readUntilClose(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
}

export function connectRaw(target: Endpoint, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: target.address, port: target.port, ...(localAddress ? { localAddress } : {}) });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * A port free on 127.0.0.1 right now, above Linux's default ephemeral range (32768-60999), so that
 * no outgoing connection of another process takes it between this probe and the test's listen.
 * For tests that need a one-port data range (a fixed port inside the ephemeral range failed with
 * EADDRINUSE when a concurrent process's connection happened to hold it).
 */
export async function freeHighPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 61000 + Math.floor(Math.random() * 4000);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 61000-64999');
}

/**
 * A test file's cleanups, run after each test, last first; `track(rig)` adds closing the rig and
 * waiting (up to `leakWaitMs`) until its relay holds nothing.
 */
export function cleanupsAfterEach(leakWaitMs?: number): { cleanups: Array<() => Promise<void>>; track: (r: Rig) => Rig } {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  const track = (r: Rig): Rig => {
    cleanups.push(async () => {
      await r.close();
      await noLeaks(r.proxy, leakWaitMs);
    });
    return r;
  };
  return { cleanups, track };
}
