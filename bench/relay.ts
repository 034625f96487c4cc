/**
 * Relay benchmarks (`npm run bench relay`). The relay runs in this thread; the FTP server and its
 * clients run in a worker thread, so that the relay has its own event loop as it would in real
 * life, and its memory can be read apart from theirs.
 *
 * - relay.throughput: MB/s of a large RETR (EPSV) through the relay, with the same transfer made
 *   directly to the server as the baseline, in interleaved rounds. Goal: ratio >= 0.8.
 * - relay.throughput_active: the same with EPRT: the server connects to the relay's listener and
 *   the relay connects to the client, so the bulk bytes enter through the accepted connection.
 * - relay.metrics_overhead: the relay's throughput (EPSV RETRs back to back for at least 1.5 s)
 *   with a metrics endpoint (createMetricsServer: its event-loop lag monitor included) scraped
 *   every second by a scraper in a worker, against the same without an endpoint, in interleaved
 *   pairs, as a ratio. Goal: >= 0.98.
 * - relay.sessions: sessions held at once, each with a transfer running, without an error.
 *   Goal: 1000.
 * - relay.idle_session_bytes: heap (plus external memory) of the relay per idle logged-in session,
 *   after a full GC. Goal: <= 64 KiB.
 * - relay.slowloris: ms for a normal client to log in and fetch 1 MiB through a relay with the
 *   default limits while 2,000 slow connections from 32 other addresses attack it (each sends
 *   one byte of a command every 2 s; refused and closed ones are opened again every 2 s), against
 *   the same fetch with no attack, as a ratio. Goal: at most 2, and the normal client never refused.
 */

import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { createFtpProxy, createMetricsServer, type FtpProxy } from '../src/node/index.js';
import { median, pairedRatio, type BenchResult } from './harness.js';

const THROUGHPUT_BYTES = 32 << 20;
const THROUGHPUT_ROUNDS = 25;
const SESSIONS = 1000;
const SESSION_FILE_BYTES = 256 << 10;
const IDLE_SESSIONS = 500;
const ATTACK_CONNECTIONS = 2000;
const ATTACK_ADDRESSES = 32;
const SLOW_FETCH_BYTES = 1 << 20;
const SLOW_ROUNDS = 15;
const OVERHEAD_PAIRS = 9;
/** Each sample of relay.metrics_overhead: RETRs back to back for at least this long (a scrape or more in it). */
const OVERHEAD_SAMPLE_MS = 1500;
const SCRAPE_INTERVAL_MS = 1000;

// A Prometheus scraper, in a worker of its own (a real one is another process): GET /metrics
// once at the start and every SCRAPE_INTERVAL_MS, reading each answer whole.
const SCRAPER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
let timer = null, scrapes = 0, failures = 0, bytes = 0;
const scrape = (port) => http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
  res.on('data', (d) => (bytes += d.length));
  res.on('end', () => (res.statusCode === 200 ? scrapes++ : failures++));
}).on('error', () => failures++);
parentPort.on('message', (m) => {
  if (m.type === 'start') { scrape(m.port); timer = setInterval(() => scrape(m.port), m.intervalMs); parentPort.postMessage({ type: 'started' }); }
  else if (m.type === 'stop') { clearInterval(timer); timer = null; parentPort.postMessage({ type: 'stopped', scrapes, failures, bytes }); }
  else if (m.type === 'exit') parentPort.close();
});
`;

// The peers' side, run in a worker. Plain JS: it loads the built `nat-alg/testing` bundle.
const PEERS = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const t = await import(workerData.testing);
  const files = {
    '/big.bin': new Uint8Array(workerData.bigBytes),
    '/small.bin': new Uint8Array(workerData.smallBytes),
    '/mid.bin': new Uint8Array(workerData.midBytes),
  };
  const server = new t.FtpTestServer({ files, dataTimeoutMs: 120000 });
  const ep = await server.listen();
  const held = [];
  parentPort.on('message', async (m) => {
    try {
      if (m.type === 'retr') {
        const c = await t.FtpTestClient.connect({ host: '127.0.0.1', port: m.port }, { mode: m.mode || 'epsv', timeoutMs: 120000 });
        await c.login();
        const t0 = performance.now();
        const got = await c.retrieve('/big.bin');
        const ms = performance.now() - t0;
        await c.quit();
        parentPort.postMessage({ type: 'retr', ms, bytes: got.length });
      } else if (m.type === 'fetch') {
        // A normal client: log in, fetch, quit; timed as a whole.
        const t0 = performance.now();
        try {
          const c = await t.FtpTestClient.connect({ host: '127.0.0.1', port: m.port }, { mode: 'epsv', timeoutMs: 30000 });
          await c.login();
          const got = await c.retrieve('/mid.bin');
          await c.quit();
          parentPort.postMessage({ type: 'fetch', ms: performance.now() - t0, ok: got.length === workerData.midBytes });
        } catch (e) {
          parentPort.postMessage({ type: 'fetch', ms: performance.now() - t0, ok: false, message: String(e) });
        }
      } else if (m.type === 'sessions') {
        const clients = [];
        let errors = 0;
        const open = async () => {
          const c = await t.FtpTestClient.connect({ host: '127.0.0.1', port: m.port }, { mode: 'epsv', timeoutMs: 120000 });
          await c.login();
          clients.push(c);
        };
        // Connect in batches so the listen backlog is not the thing being measured.
        for (let i = 0; i < m.count; i += 100) {
          const batch = [];
          for (let j = i; j < Math.min(m.count, i + 100); j++) batch.push(open().catch(() => errors++));
          await Promise.all(batch);
        }
        parentPort.postMessage({ type: 'opened', count: clients.length, errors });
        await new Promise((r) => parentPort.once('message', r));
        const results = await Promise.all(clients.map((c) => c.retrieve('/small.bin').then((b) => b.length === workerData.smallBytes, () => false)));
        const ok = results.filter(Boolean).length;
        await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
        parentPort.postMessage({ type: 'sessions', ok, errors: errors + (clients.length - ok) });
      } else if (m.type === 'idle') {
        for (let i = 0; i < m.count; i++) {
          const c = await t.FtpTestClient.connect({ host: '127.0.0.1', port: m.port });
          await c.login();
          held.push(c);
        }
        parentPort.postMessage({ type: 'idle', count: held.length });
      } else if (m.type === 'release') {
        await Promise.all(held.splice(0).map((c) => c.quit().catch(() => undefined)));
        parentPort.postMessage({ type: 'released' });
      } else if (m.type === 'stop') {
        await server.close();
        parentPort.close();
      }
    } catch (e) {
      parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) });
    }
  });
  parentPort.postMessage({ type: 'ready', port: ep.port });
})();
`;

// Slow clients, in a worker of their own, as slowloris tools run them: each connection sends one
// byte of a USER line every 2 s and never finishes it, and every 2 s the attacker opens again the
// connections that were refused or closed, so that it keeps trying with all 2,000.
const ATTACKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { port, connections, addresses } = workerData;
let stopping = false, open = 0, refused = 0, held = 0;
const sockets = new Set();
function attack(address) {
  if (stopping) return;
  const s = net.connect({ host: '127.0.0.1', port, localAddress: address });
  sockets.add(s);
  open++;
  let greeted = false;
  let timer = null;
  s.on('data', (d) => {
    if (greeted) return;
    greeted = true;
    if (String(d).startsWith('421')) { refused++; return; }
    held++;
    timer = setInterval(() => s.write('U'), 2000);
    s.write('U');
  });
  s.on('error', () => {});
  s.on('close', () => {
    sockets.delete(s);
    open--;
    if (timer) { clearInterval(timer); held--; }
    dead.push(address);
  });
}
const dead = [];
const reopen = setInterval(() => { for (const a of dead.splice(0)) attack(a); }, 2000);
for (let k = 0; k < connections; k++) attack('127.0.3.' + (1 + (k % addresses)));
const report = setInterval(() => parentPort.postMessage({ type: 'state', open, held, refused }), 250);
parentPort.on('message', () => {
  stopping = true;
  clearInterval(report);
  clearInterval(reopen);
  for (const s of sockets) s.destroy();
  setTimeout(() => parentPort.close(), 100);
});
`;

type Msg = { type: string; [k: string]: unknown };

class Peers {
  private readonly worker: Worker;
  private readonly inbox: Msg[] = [];
  private waiter: ((m: Msg) => void) | null = null;

  private readonly dir: string;

  constructor() {
    // A private copy of the built test peers: a rebuild of dist/ during the run cannot pull it away.
    // testing.js loads the core from shared chunks (tsup.config.ts), so every ESM file is copied,
    // beside a package.json that makes them ES modules there too.
    this.dir = mkdtempSync(join(tmpdir(), 'nat-alg-bench-'));
    for (const f of readdirSync('dist')) if (f.endsWith('.js') && f !== 'cli.js') copyFileSync(resolve('dist', f), join(this.dir, f));
    writeFileSync(join(this.dir, 'package.json'), '{"type":"module"}\n');
    const testing = join(this.dir, 'testing.js');
    this.worker = new Worker(PEERS, {
      eval: true,
      workerData: {
        testing: pathToFileURL(testing).href,
        bigBytes: THROUGHPUT_BYTES,
        smallBytes: SESSION_FILE_BYTES,
        midBytes: SLOW_FETCH_BYTES,
      },
    });
    this.worker.on('message', (m: Msg) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.inbox.push(m);
    });
  }

  next(): Promise<Msg> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((r) => (this.waiter = r));
  }

  async ask(m: Msg): Promise<Msg> {
    this.worker.postMessage(m);
    const reply = await this.next();
    if (reply.type === 'error') throw new Error(`peer worker: ${String(reply.message)}`);
    return reply;
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ type: 'stop' });
    await new Promise((r) => this.worker.once('exit', r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export async function run(): Promise<BenchResult[]> {
  const peers = new Peers();
  const ready = await peers.next();
  const serverPort = Number(ready.port);
  const proxy = createFtpProxy({
    upstream: { host: '127.0.0.1', port: serverPort },
    maxSessions: SESSIONS + 100,
    maxSessionsPerClient: SESSIONS + 100,
    maxUnauthenticatedPerClient: SESSIONS + 100,
    // Every bench client comes from 127.0.0.1: its 1000 RETRs at once wait for their data
    // connections together (the default per-client budget, 32, would refuse all but 32).
    maxPendingDataChannelsPerClient: SESSIONS + 100,
    upstreamConnectTimeoutMs: 60_000,
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const relayPort = (proxy.address() as AddressInfo).port;
  const results: BenchResult[] = [];

  // Throughput, interleaved with the direct baseline: passive (the relay connects to the server,
  // which sends), then active (the server connects to the relay, whose listener side sends).
  results.push(await throughput(peers, relayPort, serverPort, 'epsv', 'relay.throughput'));
  results.push(await throughput(peers, relayPort, serverPort, 'eprt', 'relay.throughput_active'));
  results.push(await metricsOverhead(peers, proxy, relayPort));

  // Concurrent sessions, each with a transfer running.
  let peak = 0;
  const onOpen = () => (peak = Math.max(peak, proxy.stats().sessions));
  proxy.on('session-open', onOpen);
  const opened = await peers.ask({ type: 'sessions', port: relayPort, count: SESSIONS });
  const held = proxy.stats().sessions;
  const done = await peers.ask({ type: 'go' });
  proxy.off('session-open', onOpen);
  results.push({
    name: 'relay.sessions',
    value: Number(done.ok),
    unit: 'sessions',
    note: `${SESSIONS} clients logged in at once (${held} held by the relay, peak ${peak}, ${Number(opened.errors)} failed to open), then all RETR ${SESSION_FILE_BYTES >> 10} KiB at once: ${Number(done.ok)} complete, ${Number(done.errors)} errors; goal 1000 without error`,
  });
  await waitIdle(proxy);

  // Memory per idle session.
  const gc = gcFunction();
  const heap = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const before = heap();
  await peers.ask({ type: 'idle', port: relayPort, count: IDLE_SESSIONS });
  const after = heap();
  await peers.ask({ type: 'release' });
  results.push({
    name: 'relay.idle_session_bytes',
    value: (after - before) / IDLE_SESSIONS,
    unit: 'bytes',
    note: `heapUsed + external of the relay thread after GC, ${IDLE_SESSIONS} idle logged-in sessions; socket buffers in the kernel not included; goal <= 65536`,
  });

  await proxy.shutdown({ graceMs: 1000 });
  results.push(...(await slowloris(peers, serverPort)));
  await peers.stop();
  return results;
}

/**
 * MB/s of a large RETR through the relay against the same RETR made directly to the server, in
 * interleaved pairs (which goes first alternates; each pair gives one ratio), medians of each.
 */
async function throughput(peers: Peers, relayPort: number, serverPort: number, mode: 'epsv' | 'eprt', name: string): Promise<BenchResult> {
  const through: number[] = [];
  const direct: number[] = [];
  const ratios: number[] = [];
  const mbps = (m: Msg) => Number(m.bytes) / (1 << 20) / (Number(m.ms) / 1000);
  await peers.ask({ type: 'retr', port: relayPort, mode }); // warm-up
  await peers.ask({ type: 'retr', port: serverPort, mode });
  let relayBusyMs = 0;
  let relayedBytes = 0;
  for (let i = 0; i < THROUGHPUT_ROUNDS; i++) {
    // Alternate which goes first, and compare each pair: load from other processes hits both alike.
    const pair: number[] = [];
    for (const port of i % 2 === 0 ? [relayPort, serverPort] : [serverPort, relayPort]) {
      const before = performance.eventLoopUtilization();
      const m = await peers.ask({ type: 'retr', port, mode });
      if (port === relayPort) {
        relayBusyMs += performance.eventLoopUtilization(before).active;
        relayedBytes += Number(m.bytes);
      }
      pair.push(mbps(m));
    }
    const [viaRelay, withoutRelay] = i % 2 === 0 ? [pair[0]!, pair[1]!] : [pair[1]!, pair[0]!];
    through.push(viaRelay);
    direct.push(withoutRelay);
    ratios.push(viaRelay / withoutRelay);
  }
  const how = mode === 'epsv' ? 'EPSV (the relay connects to the server)' : 'EPRT (the server connects to the relay, which connects to the client)';
  return {
    name,
    value: median(through),
    unit: 'MB/s',
    baseline: median(direct),
    ratio: median(ratios),
    note: `RETR of ${THROUGHPUT_BYTES >> 20} MiB over loopback, ${how}, relay in its own thread, peers in a worker; medians of ${THROUGHPUT_ROUNDS} interleaved pairs against the same RETR made directly, ratio = median of per-pair ratios; relay thread busy ${Math.round(relayBusyMs / (relayedBytes / 2 ** 30))} ms per GiB relayed; goal ratio >= 0.8`,
  };
}

/**
 * The relay's throughput with a scraped metrics endpoint against without, in interleaved pairs
 * (which goes first alternates), each sample RETRs back to back for OVERHEAD_SAMPLE_MS.
 */
async function metricsOverhead(peers: Peers, proxy: FtpProxy, relayPort: number): Promise<BenchResult> {
  const scraper = new Worker(SCRAPER, { eval: true });
  const ask = (m: Msg): Promise<Msg> =>
    new Promise((resolve) => {
      scraper.once('message', (r: Msg) => resolve(r));
      scraper.postMessage(m);
    });
  /** MB/s of RETRs back to back for at least OVERHEAD_SAMPLE_MS. */
  const sample = async (): Promise<number> => {
    let bytes = 0;
    let ms = 0;
    while (ms < OVERHEAD_SAMPLE_MS) {
      const m = await peers.ask({ type: 'retr', port: relayPort, mode: 'epsv' });
      bytes += Number(m.bytes);
      ms += Number(m.ms);
    }
    return bytes / (1 << 20) / (ms / 1000);
  };
  const withMetrics = async (): Promise<{ mbps: number; scrapes: number; failures: number; bytes: number }> => {
    const server = createMetricsServer({ proxies: [proxy] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await ask({ type: 'start', port, intervalMs: SCRAPE_INTERVAL_MS });
    const mbps = await sample();
    const stopped = await ask({ type: 'stop' });
    await new Promise<void>((r) => server.close(() => r()));
    return { mbps, scrapes: Number(stopped.scrapes), failures: Number(stopped.failures), bytes: Number(stopped.bytes) };
  };
  await peers.ask({ type: 'retr', port: relayPort, mode: 'epsv' }); // warm-up
  const on: number[] = [];
  const off: number[] = [];
  let last = { scrapes: 0, failures: 0, bytes: 0 };
  for (let i = 0; i < OVERHEAD_PAIRS; i++) {
    let a = 0;
    let b = 0;
    if (i % 2 === 0) {
      const r = await withMetrics();
      a = r.mbps;
      last = r;
      b = await sample();
    } else {
      b = await sample();
      const r = await withMetrics();
      a = r.mbps;
      last = r;
    }
    on.push(a);
    off.push(b);
  }
  await new Promise((r) => {
    scraper.once('exit', r);
    scraper.postMessage({ type: 'exit' });
  });
  return {
    name: 'relay.metrics_overhead',
    value: median(on),
    unit: 'MB/s',
    baseline: median(off),
    ratio: pairedRatio(on, off),
    note: `EPSV RETRs of ${THROUGHPUT_BYTES >> 20} MiB back to back for >= ${OVERHEAD_SAMPLE_MS} ms per sample through the relay, with createMetricsServer (event-loop lag monitor on) scraped every ${SCRAPE_INTERVAL_MS} ms by a worker against without, ${OVERHEAD_PAIRS} interleaved pairs, ratio = median of per-pair ratios; ${last.scrapes} scrapes in all (${last.failures} failed, ${last.bytes} bytes); goal ratio >= 0.98`,
  };
}

/** A normal client's fetch through a relay with the default limits, with and without slow attackers. */
async function slowloris(peers: Peers, serverPort: number): Promise<BenchResult[]> {
  const proxy = createFtpProxy({ upstream: { host: '127.0.0.1', port: serverPort } });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  let failures = 0;
  const fetch = async (): Promise<number> => {
    const m = await peers.ask({ type: 'fetch', port });
    if (m.ok !== true) failures++;
    return Number(m.ms);
  };
  const quiet: number[] = [];
  const attacked: number[] = [];
  await fetch(); // warm-up
  for (let i = 0; i < SLOW_ROUNDS; i++) quiet.push(await fetch());
  const attacker = new Worker(ATTACKER, { eval: true, workerData: { port, connections: ATTACK_CONNECTIONS, addresses: ATTACK_ADDRESSES } });
  let state = { open: 0, held: 0, refused: 0 };
  attacker.on('message', (m: Msg) => (state = { open: Number(m.open), held: Number(m.held), refused: Number(m.refused) }));
  // Steady state: every attacking address holds what the relay lets it hold.
  const until = Date.now() + 20_000;
  while (Date.now() < until && proxy.stats().unauthenticated < ATTACK_ADDRESSES * 8) await new Promise((r) => setTimeout(r, 100));
  const heldByRelay = proxy.stats().unauthenticated;
  for (let i = 0; i < SLOW_ROUNDS; i++) attacked.push(await fetch());
  const during = { ...state };
  attacker.postMessage('stop');
  await new Promise((r) => attacker.once('exit', r));
  await waitIdle(proxy);
  for (let i = 0; i < SLOW_ROUNDS; i++) quiet.push(await fetch());
  await proxy.shutdown({ graceMs: 1000 });
  const value = median(attacked);
  const baseline = median(quiet);
  return [
    {
      name: 'relay.slowloris',
      value,
      unit: 'ms',
      baseline,
      ratio: value / baseline,
      note: `login + EPSV RETR of 1 MiB + QUIT by a normal client, median of ${SLOW_ROUNDS} under attack against ${2 * SLOW_ROUNDS} without (before and after); ${ATTACK_CONNECTIONS} slow connections from ${ATTACK_ADDRESSES} addresses (127.0.3.x), one byte every 2 s each, refused ones opened again every 2 s, ${heldByRelay} held by the relay at the start, ${during.refused} refusals by the end; default limits; normal client failures: ${failures}; goal ratio <= 2 and no failure`,
    },
  ];
}

async function waitIdle(proxy: { stats(): { sessions: number; sockets: number } }): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end && (proxy.stats().sessions > 0 || proxy.stats().sockets > 0)) {
    await new Promise((r) => setTimeout(r, 50));
  }
}
