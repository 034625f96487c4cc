// Cuts name flows (key . the peer's port), over the stand-in nft (fake-nft.mjs) and a conntrack
// file the test writes. A channel closed under its flow cuts that flow; a new channel of the same
// key (same peer, same announced address and port: the data-port range is drawn at random, or
// another session of a client behind the same NAT address) must neither lift that cut nor take
// the old flow for its own. The kernel's view: single-homed-kernel.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NftablesDataPlane } from '../../src/node/nftables/index.js';
import { CH, commands, ct, makeStandInPlane, removeDir, sleep, standInDir, until, writeConntrack } from './stand-in.js';

let dir: string;
beforeEach(() => {
  dir = standInDir('nat-alg-cut-per-flow-');
});
afterEach(() => {
  removeDir(dir);
});

describe('cuts of closed channels and a new channel of the same key', () => {
  let plane: NftablesDataPlane | null = null;
  afterEach(async () => {
    await plane?.stop().catch(() => undefined);
    plane = null;
  });

  it('a cut flow stays cut when a new channel reuses its key, and is not the new channel\'s flow', async () => {
    const p = makeStandInPlane(dir);
    plane = p.plane;
    await plane.start();
    await plane.open(CH);
    writeConntrack(dir, ct('ESTABLISHED', 50000));
    await until(() => p.events.some((e) => e.kind === 'connected'));
    await plane.close(1);
    expect(plane.cutsPending).toBe(1);
    expect(commands(dir).filter((l) => l.includes('cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 timeout 600000ms }'))).toHaveLength(1);
    // The old flow is idle but alive: still ESTABLISHED in conntrack.
    const before = commands(dir).length;
    await plane.open({ ...CH, id: 2 });
    const after = commands(dir).slice(before);
    expect(after.filter((l) => l.includes('cut4'))).toEqual([]);
    await sleep(100);
    expect(plane.cutsPending).toBe(1);
    // The old flow is not taken for channel 2's; channel 2's own flow is.
    expect(p.events.filter((e) => e.kind === 'admitted').map((e) => (e.arg as { id: number }).id)).toEqual([1]);
    writeConntrack(dir, ct('ESTABLISHED', 50000), ct('ESTABLISHED', 50001));
    await until(() => p.events.some((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 2));
    expect(p.events.find((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 2)?.arg).toEqual({ id: 2, peer: { address: '192.0.2.2', port: 50001 } });
    expect(p.events.filter((e) => e.kind === 'error')).toEqual([]);
    // The old flow is reset by its cut: the cut goes, channel 2 stays.
    writeConntrack(dir, ct('CLOSE', 50000), ct('ESTABLISHED', 50001));
    await until(() => plane!.cutsPending === 0);
    expect(commands(dir).at(-1)).toBe('add element inet nat_alg_si cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 timeout 1s }; delete element inet nat_alg_si cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 }');
    expect(plane.size).toBe(1);
  });

  it('closing a channel cuts every flow of it that may still run: the claimed one and handshakes that lost', async () => {
    const p = makeStandInPlane(dir);
    plane = p.plane;
    await plane.start();
    await plane.open(CH);
    // Two half-done handshakes (SYNs forged with the peer's address, or the peer's extra
    // attempts) and the flow that claimed the channel; one more flow is already over.
    writeConntrack(dir, ct('SYN_SENT', 50010, 40000, false), ct('SYN_RECV', 50011, 40000, false), ct('ESTABLISHED', 50012), ct('CLOSE', 50013, 40000, false));
    await until(() => p.events.some((e) => e.kind === 'connected'));
    expect(p.events.find((e) => e.kind === 'admitted')?.arg).toEqual({ id: 1, peer: { address: '192.0.2.2', port: 50012 } });
    await plane.close(1);
    const last = commands(dir).at(-1)!;
    expect(last).toContain('add element inet nat_alg_si won4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50012 timeout 1s }; delete element inet nat_alg_si won4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50012 }');
    expect(last).toMatch(/add element inet nat_alg_si cut4 \{ 192\.0\.2\.2 \. 192\.0\.2\.1 \. 40000 \. 50012 timeout 600000ms, 192\.0\.2\.2 \. 192\.0\.2\.1 \. 40000 \. 50010 timeout 600000ms, 192\.0\.2\.2 \. 192\.0\.2\.1 \. 40000 \. 50011 timeout 600000ms \}$/);
    expect(plane.cutsPending).toBe(3);
  });
});
