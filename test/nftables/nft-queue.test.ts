// nft's command queue under load, over the stand-in nft (fake-nft.mjs with a per-command delay):
// the watchdog times the command nft works on, not the time commands wait behind it; the queue
// is bounded, and a channel that cannot be queued is refused (`capacity`), which the relay's
// kernel plane answers by carrying that channel on its own data path. Never a plane failure.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpoint } from '../../src/core/index.js';
import { createNftablesDataPlane } from '../../src/node/nftables/kernel-plane.js';
import type { NftablesDataPlane } from '../../src/node/nftables/index.js';
import { pasvSpec, sessionStub } from './session-stub.js';
import { CH, commands, FAKE_NFT, makeStandInPlane, removeDir, sleep, standInDir, until } from './stand-in.js';

let dir: string;
beforeEach(() => {
  dir = standInDir('nat-alg-nft-queue-');
});
afterEach(() => {
  removeDir(dir);
});

describe('nft command queue', () => {
  let plane: NftablesDataPlane | null = null;
  afterEach(async () => {
    await plane?.stop().catch(() => undefined);
    plane = null;
  });

  // An nft that answers every command, steadily, 40 ms each (a loaded host), a 1 s watchdog, and
  // 60 channels opened at once (60 PASVs from a few hundred sessions): the last waits ~2.4 s
  // behind the others, but nft is never wedged, so every open() succeeds and nothing fails.
  it('a burst of channels on a slow but working nft opens them all: queued time is not nft\'s', async () => {
    writeFileSync(join(dir, 'delay'), '40');
    const p = makeStandInPlane(dir, { commandTimeoutMs: 1000 });
    plane = p.plane;
    await plane.start();
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => plane!.open({ ...CH, id: 100 + i, announced: { address: CH.announced.address, port: 41000 + i } })),
    );
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(failed.slice(0, 1)).toEqual([]);
    expect(p.events.filter((e) => e.kind === 'error')).toEqual([]);
    expect(plane.size).toBe(60);
  }, 30_000);

  // The same burst with maxQueuedCommands 10: the opens beyond the bound are refused at once
  // with `capacity` (load shedding), the plane keeps working, and removals are never refused.
  it('beyond maxQueuedCommands open() is refused with capacity, no fault; closing still queues', async () => {
    writeFileSync(join(dir, 'delay'), '20');
    const logs: { event: string }[] = [];
    const p = makeStandInPlane(dir, { commandTimeoutMs: 1000, maxQueuedCommands: 10, logger: (e) => logs.push(e) });
    plane = p.plane;
    await plane.start();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => plane!.open({ ...CH, id: 200 + i, announced: { address: CH.announced.address, port: 42000 + i } })),
    );
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { kind?: string; message: string });
    expect(refused.length).toBe(20);
    expect(refused.every((e) => e.kind === 'capacity' && /maxQueuedCommands 10/.test(e.message))).toBe(true);
    expect(logs.filter((e) => e.event === 'open-refused')).toHaveLength(20);
    expect(plane.size).toBe(10);
    expect(p.events.filter((e) => e.kind === 'error')).toEqual([]);
    // Ten closes (four commands each) queue past the bound; then opening works again.
    await Promise.all(Array.from({ length: 10 }, (_, i) => plane!.close(200 + i)));
    expect(plane.size).toBe(0);
    await plane.open({ ...CH, id: 300 });
    expect(plane.size).toBe(1);
  }, 30_000);
});

describe('the relay\'s kernel plane when nft is behind', () => {
  // A channel the kernel plane cannot queue is carried by the relay path, as an FTP64 channel is:
  // the session hears `listening` from the relay's own listener, on the endpoint the placeholder
  // held, and the plane keeps running. (Addresses: a peer and a target that are not this host's,
  // else the channel would fall back before reaching nft.)
  it('falls back to the relay path per channel, logged, without failing', async () => {
    writeFileSync(join(dir, 'delay'), '200');
    const plane = createNftablesDataPlane({ nftCommand: [process.execPath, FAKE_NFT, dir], conntrackPath: join(dir, 'conntrack'), readSysctl: async () => '1', tableName: 'nat_alg_si', maxQueuedCommands: 1 });
    const failures: Error[] = [];
    await plane.start({ clientFamilies: [4], serverFamilies: [4], log: () => undefined, fail: (e) => failures.push(e) });
    const { host, listening, logs } = sessionStub();
    const sp = plane.forSession(host);
    try {
      for (let id = 1; id <= 3; id++) sp.listen(id, 'client', endpoint('127.0.0.1', 0), pasvSpec(id));
      await until(() => listening.length === 3, 10_000);
      const fallbacks = logs.filter((e) => e.event === 'data-plane-fallback');
      expect(fallbacks.length).toBeGreaterThanOrEqual(1);
      expect(fallbacks.every((e) => e.plane === 'relay' && /maxQueuedCommands 1/.test(String(e.reason)))).toBe(true);
      // The channels that fell back are the relay's; the others the kernel's.
      const planes = [1, 2, 3].map((id) => sp.planeOf(id));
      expect(planes.filter((p) => p === 'relay')).toHaveLength(fallbacks.length);
      expect(planes.filter((p) => p === 'nftables')).toHaveLength(3 - fallbacks.length);
      expect(failures).toEqual([]);
      expect(commands(dir).some((l) => l.includes('gate4'))).toBe(true);
    } finally {
      sp.destroyAll();
      await sleep(500);
      await plane.stop();
    }
  }, 30_000);
});
