// The relay's kernel plane settles before control input while a channel waits, so that the
// session does not see a RETR before the data connection made before it. A read of conntrack
// costs the host's whole table, and a client decides how many control lines it sends (NOOPs while
// its PASV waits), so settle() asks nft for the waiting channel's counter (it counts only the
// connection that claimed the channel) and reads conntrack only once that moved. Over
// the stand-in nft (fake-nft.mjs) and a conntrack file of 20000 flows; no root.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const reads = { path: '', count: 0 };
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const readFile = ((...args: Parameters<typeof real.readFile>) => {
    if (args[0] === reads.path) reads.count++;
    return real.readFile(...args);
  }) as typeof real.readFile;
  return { ...real, default: { ...real, readFile }, readFile };
});

const { createNftablesDataPlane } = await import('../../src/node/nftables/kernel-plane.js');
const { sessionStub, pasvSpec } = await import('./session-stub.js');
const { endpoint } = await import('../../src/core/index.js');

const STAND_IN = join(__dirname, 'fake-nft.mjs');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nat-alg-settle-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});


/** A session of the kernel plane with one channel waiting for its peer (gid `gid`), over the stand-in nft. */
async function waitingChannel(plane: ReturnType<typeof createNftablesDataPlane>, id = 1) {
  const { host, listening } = sessionStub();
  const sp = plane.forSession(host);
  sp.listen(id, 'client', endpoint('127.0.0.1', 0), pasvSpec(id));
  for (let i = 0; i < 300 && listening.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(listening.length).toBe(1);
  return sp;
}

/** Counter listings nft was asked for so far. */
function counterListings(): number {
  const log = join(dir, 'commands.log');
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('list counter')).length : 0;
}

function conntrackOf(flows: number): string {
  const conntrack = join(dir, 'conntrack');
  const lines: string[] = [];
  for (let i = 0; i < flows; i++) {
    lines.push(`ipv4     2 udp      17 29 src=192.0.2.9 dst=192.0.2.1 sport=5353 dport=${20000 + (i % 20000)} [UNREPLIED] src=192.0.2.1 dst=192.0.2.9 sport=${20000 + (i % 20000)} dport=5353 mark=0 zone=0 use=2`);
  }
  writeFileSync(conntrack, `${lines.join('\n')}\n`);
  reads.path = conntrack;
  return conntrack;
}

function kernelPlane(conntrack: string) {
  return createNftablesDataPlane({ nftCommand: [process.execPath, STAND_IN, dir], conntrackPath: conntrack, readSysctl: async () => '1', tableName: 'nat_alg_si' });
}
const START = { clientFamilies: [4 as const], serverFamilies: [4 as const], log: () => undefined, fail: () => undefined };

describe('settle() before control input, while a kernel channel waits', () => {
  // A host conntrack table of 20000 flows (any busy gateway; remote parties add entries at will)
  // and 200 control chunks while one kernel channel waits for its peer (what SessionDriver.input()
  // does before each chunk it hands the session): no read per chunk (200 reads of 20000 lines
  // took ~8.7 s of this process before the bound), only the background poll's. No timing is
  // asserted, only the count of reads. Once the channel's counter moved (a connection claimed it)
  // the next settle does read: the line after the connection is ordered after it.
  // (Addresses: 203.0.113.77 / 198.51.100.77, not this host's: a peer on the relay host would make
  // the channel fall back to the relay path.)
  it('200 control inputs while a channel waits do not cost 200 reads of the whole conntrack table', async () => {
    const plane = kernelPlane(conntrackOf(20_000));
    await plane.start(START);
    const sp = await waitingChannel(plane);
    try {
      const before = reads.count;
      for (let i = 0; i < 200; i++) await sp.settle(); // what SessionDriver does before each control chunk
      const perInput = reads.count - before;
      expect(perInput).toBeLessThanOrEqual(20);
      // A connection claims the channel: its counter moves, and the next settle reads conntrack.
      writeFileSync(join(dir, 'counters'), JSON.stringify({ c1_up: 60 }));
      const beforeClaim = reads.count;
      await sp.settle();
      expect(reads.count - beforeClaim).toBeGreaterThanOrEqual(1);
    } finally {
      sp.destroyAll();
      await new Promise((r) => setTimeout(r, 100));
      await plane.stop();
    }
  }, 60_000);
  // Many sessions send lines at once, each with a channel waiting: one listing of the table's
  // counters answers every settle that asks while it is due (one runs, one waits), not one nft
  // command per line and channel (100 here before the counters were read together).
  it('concurrent settles of 20 sessions share the counters\' listings: at most two, not one per line and channel', async () => {
    const plane = kernelPlane(conntrackOf(10));
    await plane.start(START);
    const sessions = [];
    for (let i = 1; i <= 20; i++) sessions.push(await waitingChannel(plane, i));
    try {
      const before = counterListings();
      await Promise.all(sessions.flatMap((sp) => Array.from({ length: 5 }, () => sp.settle())));
      expect(counterListings() - before).toBeGreaterThanOrEqual(1);
      expect(counterListings() - before).toBeLessThanOrEqual(2);
    } finally {
      for (const sp of sessions) sp.destroyAll();
      await new Promise((r) => setTimeout(r, 100));
      await plane.stop();
    }
  }, 60_000);

  // The order guarantee: a settle asked while a listing runs must not take that listing's answer
  // (it may have read the counters before the connection that came before the caller's line). The
  // stand-in nft reads counters when it takes a command up and answers 300 ms later; the claim
  // lands in between, and the second settle must see it and read conntrack.
  it('a settle asked while a listing runs waits for the next listing, which sees a claim made meanwhile', async () => {
    const plane = kernelPlane(conntrackOf(10));
    await plane.start(START);
    const sp = await waitingChannel(plane);
    try {
      writeFileSync(join(dir, 'delay'), '300');
      const started = join(dir, 'started.log');
      const listingsStarted = () => (existsSync(started) ? readFileSync(started, 'utf8').split('\n').filter((l) => l.startsWith('list counters')).length : 0);
      const first = sp.settle();
      for (let i = 0; i < 500 && listingsStarted() === 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(listingsStarted()).toBe(1); // the first listing has read the counters: nothing moved yet
      writeFileSync(join(dir, 'counters'), JSON.stringify({ c1_up: 60 })); // a connection claims the channel
      const beforeSecond = reads.count;
      const second = sp.settle();
      await Promise.all([first, second]);
      expect(listingsStarted()).toBe(2);
      expect(reads.count - beforeSecond).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(join(dir, 'delay'), { force: true });
      sp.destroyAll();
      await new Promise((r) => setTimeout(r, 100));
      await plane.stop();
    }
  }, 60_000);
});
