// The relay's kernel plane settles before control input while a channel waits, so that the
// session does not see a RETR before the data connection made before it. A read of conntrack
// costs the host's whole table, and a client decides how many control lines it sends (NOOPs while
// its PASV waits), so settle() asks nft for the waiting channel's counter (it counts only the
// connection that claimed the channel) and reads conntrack only once that moved. Over
// the stand-in nft (fake-nft.mjs) and a conntrack file of 20000 flows; no root.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const { endpoint } = await import('../../src/core/index.js');
type DataPlaneHost = import('../../src/node/data-plane.js').DataPlaneHost;
type ChannelSpec = import('../../src/node/data-plane.js').ChannelSpec;

const STAND_IN = join(__dirname, 'fake-nft.mjs');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nat-alg-settle-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

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
    const conntrack = join(dir, 'conntrack');
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      lines.push(`ipv4     2 udp      17 29 src=192.0.2.9 dst=192.0.2.1 sport=5353 dport=${20000 + (i % 20000)} [UNREPLIED] src=192.0.2.1 dst=192.0.2.9 sport=${20000 + (i % 20000)} dport=5353 mark=0 zone=0 use=2`);
    }
    writeFileSync(conntrack, `${lines.join('\n')}\n`);
    reads.path = conntrack;

    const plane = createNftablesDataPlane({ nftCommand: [process.execPath, STAND_IN, dir], conntrackPath: conntrack, readSysctl: async () => '1', tableName: 'nat_alg_si' });
    await plane.start({ clientFamilies: [4], serverFamilies: [4], log: () => undefined, fail: () => undefined });
    let listening = false;
    const session = {
      handleDataListening: () => {
        listening = true;
      },
      handleDataListenFailed: (_id: number, why: string) => {
        throw new Error(`listen failed: ${why}`);
      },
      handleDataIncoming: () => true,
      handleDataConnected: () => undefined,
      handleDataConnectFailed: () => undefined,
      handleDataClosed: () => undefined,
    };
    const host: DataPlaneHost = {
      session: session as unknown as DataPlaneHost['session'],
      handles: { socketOpened: () => undefined, listenerOpened: () => undefined },
      step: (fn) => fn(),
      adopt: () => undefined,
      report: () => undefined,
      log: () => undefined,
    };
    const sp = plane.forSession(host);
    const spec: ChannelSpec = {
      request: {
        id: 1, connector: 'client', acceptFrom: '203.0.113.77', original: endpoint('198.51.100.77', 7000), target: endpoint('198.51.100.77', 7000),
        family: 4, oneShot: true, timeoutMs: null, label: 'PASV',
      },
      plan: {
        listenSide: 'client', bindAddress: '127.0.0.1', advertiseAddress: '127.0.0.1', expectedPeer: '203.0.113.77',
        connectSide: 'server', connectTarget: endpoint('198.51.100.77', 7000), connectFrom: '198.51.100.78',
      },
      timeoutMs: 30_000,
    };
    try {
      sp.listen(1, 'client', endpoint('127.0.0.1', 0), spec);
      for (let i = 0; i < 300 && !listening; i++) await new Promise((r) => setTimeout(r, 10));
      expect(listening).toBe(true);

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
});
