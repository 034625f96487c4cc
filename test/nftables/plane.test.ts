// The plane's logic against a stand-in nft (fake-nft.mjs) and a conntrack file the test writes:
// the nft child protocol, the channel life cycle and its events, prerequisite errors. No root
// needed; the same behaviour against the real kernel is in kernel.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatAlgError } from '../../src/core/errors.js';
import { NftShell, jsonObjectEnd, type ShellEnd } from '../../src/node/nftables/nft-shell.js';
import { NftablesDataPlane, DataPlaneUnavailableError, type NftablesDataPlaneOptions } from '../../src/node/nftables/index.js';
import { CH } from './stand-in.js';
import { shellStartFailure, tableFailureCause, parseOwner, ownerAlive, processStart } from '../../src/node/nftables/prerequisites.js';

const FAKE = join(__dirname, 'fake-nft.mjs');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nat-alg-fake-nft-'));
  writeFileSync(join(dir, 'conntrack'), '');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const fake = (): string[] => [process.execPath, FAKE, dir];
const commands = (): string[] => readFileSync(join(dir, 'commands.log'), 'utf8').trim().split('\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('NftShell', () => {
  it('finds each command\'s end by its marker and gives errors and documents to the right command', async () => {
    const ends: ShellEnd[] = [];
    const sh = new NftShell(fake(), 5000, (e) => ends.push(e));
    writeFileSync(join(dir, 'fail'), '^bad');
    writeFileSync(join(dir, 'counters'), JSON.stringify({ c1_up: 1234 }));
    const [a, b, c, d] = await Promise.all([sh.run('add element x'), sh.run('bad thing'), sh.run('list counter inet t c1_up', 1), sh.run('add element y')]);
    expect(a).toEqual({ error: '', docs: [] });
    expect(b.error).toMatch(/^Error: Could not process rule: No such file or directory\nbad thing/);
    expect(b.docs).toEqual([]);
    expect((c.docs[0] as { nftables: { counter?: { bytes: number } }[] }).nftables[1]?.counter?.bytes).toBe(1234);
    expect(d.error).toBe(''); // the caret under the previous marker is not this command's
    await expect(sh.run('two\nlines')).rejects.toThrow(/one line/);
    await sh.close();
    expect(ends).toEqual([{ kind: 'exited', code: 0, signal: null }]);
  });

  it('a command nft never answers kills the child; queued commands fail', async () => {
    writeFileSync(join(dir, 'hang'), '^stuck');
    let end: ShellEnd | null = null;
    const sh = new NftShell(fake(), 300, (e) => (end = e));
    const stuck = sh.run('stuck');
    const next = sh.run('add element z');
    await expect(stuck).rejects.toThrow(/nft ended/);
    await expect(next).rejects.toThrow(/nft ended/);
    expect(end).toMatchObject({ kind: 'exited', signal: 'SIGKILL' });
    await expect(sh.run('x')).rejects.toThrow(/not running/);
  });

  it('cuts concatenated JSON documents', () => {
    expect(jsonObjectEnd('{"a":"}"}{"b":1}')).toBe(9);
    expect(jsonObjectEnd('\n{"a":{"b":"\\"}"}}')).toBe(18);
    expect(jsonObjectEnd('{"a":')).toBe(-1);
  });
});

describe('prerequisite classification', () => {
  it('names the missing piece from what the system said', () => {
    const argv = ['ip', 'netns', 'exec', 'x', '/nonexistent/nft'];
    expect(shellStartFailure(['nft'], { kind: 'spawn-failed', code: 'ENOENT' }, '').cause).toBe('nft-missing');
    expect(shellStartFailure(argv, { kind: 'exited', code: 255, signal: null }, 'exec of "/nonexistent/nft" failed: No such file or directory').cause).toBe('nft-missing');
    expect(shellStartFailure(['nft'], { kind: 'exited', code: 1, signal: null }, 'netlink: Error: cache initialization failed: Operation not permitted').cause).toBe('no-cap-net-admin');
    expect(shellStartFailure(['nft'], { kind: 'exited', code: 139, signal: null }, 'Segmentation fault').cause).toBe('nft-failed');
    expect(tableFailureCause('Error: Could not process rule: Operation not permitted')).toBe('no-cap-net-admin');
    expect(tableFailureCause('Error: Could not process rule: Operation not supported')).toBe('no-nf-tables');
    expect(tableFailureCause('Error: Could not process rule: No such file or directory')).toBe('no-nf-tables');
    const e = new DataPlaneUnavailableError('ip-forward-off', 'net.ipv4.ip_forward is "0"');
    expect(e).toBeInstanceOf(NatAlgError);
    expect(e.kind).toBe('invalid-state');
    expect(e.message).toMatch(/^nftables data plane unavailable \(ip-forward-off\): net\.ipv4\.ip_forward is "0"; fix: .*sysctl -w net\.ipv4\.ip_forward=1/);
  });

  it('reads the owner of a table and tells a live one from a stale one', () => {
    expect(parseOwner('table inet t {\n\tcomment "nat-alg pid=42 start=777"\n}')).toEqual({ pid: 42, start: '777' });
    expect(parseOwner('table inet t {\n}')).toBeNull();
    const start = processStart(process.ppid)!;
    expect(ownerAlive({ pid: process.ppid, start }, process.pid)).toBe(true);
    expect(ownerAlive({ pid: process.ppid, start: `${start}1` }, process.pid)).toBe(false); // pid reused
    expect(ownerAlive({ pid: process.pid, start: processStart(process.pid)! }, process.pid)).toBe(false);
  });
});

// ---- the plane over the stand-in -----------------------------------------------------------

/** A conntrack line of CH's key; `from` is the reply source (the target when we redirected it). */
function ct(state: string, sport: number, o: { assured?: boolean; from?: string; fromPort?: number } = {}): string {
  return `ipv4     2 tcp      6 100 ${state} src=192.0.2.2 dst=192.0.2.1 sport=${sport} dport=40000 src=${o.from ?? '198.51.100.2'} dst=198.51.100.1 sport=${o.fromPort ?? 7000} dport=${sport} ${o.assured ? '[ASSURED] ' : ''}mark=0 zone=0 use=2`;
}
function conntrack(...lines: string[]): void {
  writeFileSync(join(dir, 'conntrack'), lines.map((l) => `${l}\n`).join(''));
}

type Ev = { kind: string; arg: unknown };
async function startPlane(extra: Partial<NftablesDataPlaneOptions> = {}): Promise<{ plane: NftablesDataPlane; events: Ev[] }> {
  const plane = new NftablesDataPlane({
    tableName: 'nat_alg_fake',
    nftCommand: fake(),
    conntrackPath: join(dir, 'conntrack'),
    readSysctl: async () => '1',
    pollIntervalMs: 20,
    ...extra,
  });
  const events: Ev[] = [];
  for (const kind of ['connected', 'closed', 'expired', 'error'] as const) plane.on(kind, (arg: unknown) => events.push({ kind, arg }));
  await plane.start();
  return { plane, events };
}

describe('NftablesDataPlane over a stand-in nft', () => {
  let plane: NftablesDataPlane | null = null;
  afterEach(async () => {
    await plane?.stop().catch(() => undefined);
    plane = null;
  });

  it('start creates the table in one transaction (create: fails if one appeared meanwhile), stop deletes it', async () => {
    const p = await startPlane();
    plane = p.plane;
    const log = commands();
    expect(log[0]).toBe('oneshot list table inet nat_alg_fake');
    expect(log[1]).toMatch(/^create table inet nat_alg_fake \{ comment "nat-alg pid=\d+ start=\d+"; \}; table inet nat_alg_fake \{ comment "nat-alg pid=\d+ start=\d+";/);
    await plane.stop();
    expect(commands().at(-1)).toBe('delete table inet nat_alg_fake');
  });

  it('SYN, established, FINs: connected, then closed with the counters, rules already removed', async () => {
    const p = await startPlane();
    plane = p.plane;
    writeFileSync(join(dir, 'counters'), JSON.stringify({ c1_up: 5000, c1_down: 300 }));
    await plane.open(CH);
    conntrack(ct('SYN_SENT', 50000));
    await sleep(60);
    expect(p.events).toEqual([]);
    conntrack(ct('ESTABLISHED', 50000, { assured: true }));
    await until(() => p.events.length === 1);
    expect(p.events[0]).toEqual({ kind: 'connected', arg: { id: 1, peer: { address: '192.0.2.2', port: 50000 } } });
    conntrack(ct('TIME_WAIT', 50000, { assured: true }));
    await until(() => p.events.length === 2);
    expect(p.events[1]).toEqual({ kind: 'closed', arg: { id: 1, bytes: { toTarget: 5000, fromTarget: 300 }, end: 'finished' } });
    expect(commands().some((l) => l.startsWith('add element inet nat_alg_fake gate4 { 192.0.2.2 . 192.0.2.1 . 40000 timeout 1s }; delete element'))).toBe(true);
    expect(plane.size).toBe(0);
    expect(await plane.close(1)).toBeNull();
  });

  it('a flow that never completed its handshake is nobody\'s (a SYN the target refused, or a forged one the peer reset): the channel still waits; a reset after the handshake is reset', async () => {
    const p = await startPlane();
    plane = p.plane;
    const admitted: number[] = [];
    plane.on('admitted', (e) => admitted.push(e.id));
    await plane.open(CH);
    await plane.open({ ...CH, id: 2, announced: { address: '192.0.2.1', port: 40001 } });
    conntrack(ct('CLOSE', 50000), ct('SYN_SENT', 50002), ct('CLOSE', 50001, { assured: true }).replace('dport=40000', 'dport=40001'));
    await until(() => p.events.filter((e) => e.kind === 'closed').length === 1);
    await sleep(100);
    expect(p.events.filter((e) => e.kind === 'closed').map((e) => e.arg)).toEqual([{ id: 2, bytes: { toTarget: 0, fromTarget: 0 }, end: 'reset' }]);
    expect(p.events.filter((e) => e.kind === 'connected').map((e) => (e.arg as { id: number }).id)).toEqual([2]);
    expect(admitted).toEqual([2]);
    // Channel 1 still waits for its peer's completed handshake.
    expect(plane.size).toBe(1);
    conntrack(ct('CLOSE', 50000), ct('ESTABLISHED', 50003, { assured: true }));
    await until(() => p.events.some((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 1));
    expect(p.events.find((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 1)?.arg).toEqual({ id: 1, peer: { address: '192.0.2.2', port: 50003 } });
  });

  it('refresh() reads conntrack at once: the admission is reported before it resolves, and before connected', async () => {
    const p = await startPlane({ pollIntervalMs: 60_000 });
    plane = p.plane;
    const order: string[] = [];
    plane.on('admitted', (e) => order.push(`admitted ${e.id} ${e.peer.port}`));
    plane.on('connected', (e) => order.push(`connected ${e.id}`));
    await plane.open(CH);
    conntrack(ct('ESTABLISHED', 50000, { assured: true }));
    await plane.refresh();
    expect(order).toEqual(['admitted 1 50000', 'connected 1']);
  });

  it('close(): a channel nobody used leaves no cut; a running flow is cut until conntrack shows it over', async () => {
    const p = await startPlane();
    plane = p.plane;
    await plane.open(CH);
    await plane.close(1);
    expect(commands().filter((l) => l.includes('add element inet nat_alg_fake cut4'))).toHaveLength(0);
    const cutLine = 'add element inet nat_alg_fake cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50001 timeout 600000ms }';
    await plane.open({ ...CH, id: 2 });
    conntrack(ct('ESTABLISHED', 50001, { assured: true }));
    await until(() => p.events.some((e) => e.kind === 'connected'));
    await plane.close(2);
    expect(commands().filter((l) => l.includes(cutLine))).toHaveLength(1);
    expect(plane.cutsPending).toBe(1);
    await sleep(100);
    expect(plane.cutsPending).toBe(1); // still running: the cut stays
    conntrack(ct('CLOSE', 50001, { assured: true })); // reset by the cut
    await until(() => plane!.cutsPending === 0);
    expect(commands().at(-1)).toBe('add element inet nat_alg_fake cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50001 timeout 1s }; delete element inet nat_alg_fake cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50001 }');
  });

  it('a flow that disappears after being established ended (vanished)', async () => {
    const p = await startPlane();
    plane = p.plane;
    await plane.open(CH);
    conntrack(ct('ESTABLISHED', 50000, { assured: true }));
    await until(() => p.events.length === 1);
    conntrack();
    await until(() => p.events.length === 2);
    expect(p.events[1]).toMatchObject({ kind: 'closed', arg: { end: 'vanished' } });
  });

  it('an unused redirect expires just after its timeout; so does one whose handshake was not complete when the gate lapsed (it can no longer claim), and that flow is cut', async () => {
    const p = await startPlane();
    plane = p.plane;
    const t0 = performance.now();
    await plane.open({ ...CH, timeoutMs: 150 });
    await plane.open({ ...CH, id: 2, announced: { address: '192.0.2.1', port: 40001 }, timeoutMs: 150 });
    conntrack(ct('SYN_SENT', 50001).replace('dport=40000', 'dport=40001'));
    await until(() => p.events.filter((e) => e.kind === 'expired').length === 2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    await sleep(200);
    expect(p.events.map((e) => e.kind)).toEqual(['expired', 'expired']);
    expect(plane.size).toBe(0);
    // Nobody used channel 1: its elements go, and no cut is left behind.
    expect(commands().filter((l) => l.includes('delete element inet nat_alg_fake gate4 { 192.0.2.2 . 192.0.2.1 . 40000 }'))).toHaveLength(1);
    expect(commands().filter((l) => l.includes('cut4 { 192.0.2.2 . 192.0.2.1 . 40000 '))).toHaveLength(0);
    // Channel 2's unfinished handshake is cut (a guard other than `all` would forward it).
    expect(commands().filter((l) => l.includes('cut4 { 192.0.2.2 . 192.0.2.1 . 40001 . 50001 timeout 600000ms }'))).toHaveLength(1);
    expect(plane.cutsPending).toBe(1);
  });

  it('flows of the key that existed before open() are not this channel\'s; flows not from the target are not ours', async () => {
    conntrack(ct('TIME_WAIT', 41000, { assured: true }));
    const p = await startPlane();
    plane = p.plane;
    await plane.open(CH);
    // A SYN refused by the gateway itself (not redirected): the reply comes from the announced address.
    conntrack(ct('TIME_WAIT', 41000, { assured: true }), ct('CLOSE', 42000, { from: '192.0.2.1', fromPort: 40000 }));
    await sleep(100);
    expect(p.events).toEqual([]);
    conntrack(ct('TIME_WAIT', 41000, { assured: true }), ct('ESTABLISHED', 43000, { assured: true }));
    await until(() => p.events.length === 1);
    expect(p.events[0]).toMatchObject({ kind: 'connected', arg: { peer: { port: 43000 } } });
  });

  it('two flows through one redirect are reported (the lookup-then-delete race)', async () => {
    const p = await startPlane();
    plane = p.plane;
    await plane.open(CH);
    conntrack(ct('ESTABLISHED', 50000, { assured: true }), ct('ESTABLISHED', 50001, { assured: true }));
    await until(() => p.events.some((e) => e.kind === 'error'));
    const fault = p.events.find((e) => e.kind === 'error')?.arg as { fault: string; channelId: number };
    expect(fault).toMatchObject({ fault: 'extra-connection', channelId: 1 });
  });

  it('misuse and refusals are typed; a refused open leaves nothing behind', async () => {
    const p = await startPlane({ families: [4] });
    plane = p.plane;
    await expect(plane.open({ ...CH, family: 6, peer: '2001:db8::2', announced: { address: '2001:db8::1', port: 1 }, target: { address: '2001:db8:1::2', port: 1 }, sourceAddress: '2001:db8:1::1' })).rejects.toMatchObject({ kind: 'invalid-argument' });
    writeFileSync(join(dir, 'fail'), 'gate4');
    await expect(plane.open(CH)).rejects.toMatchObject({ kind: 'invalid-state', message: expect.stringMatching(/nft refused channel 1/) });
    expect(plane.size).toBe(0);
    rmSync(join(dir, 'fail'));
    await plane.open(CH);
    expect(plane.size).toBe(1);
    expect(() => new NftablesDataPlane({ nftCommand: [] })).toThrow(NatAlgError);
    expect(() => new NftablesDataPlane({ tableName: 'bad-name' })).toThrow(NatAlgError);
    expect(() => new NftablesDataPlane({ pollIntervalMs: 0 })).toThrow(NatAlgError);
  });

  it('nft dying is an error event; later calls say the plane failed; stop() still cleans up', async () => {
    const p = await startPlane();
    plane = p.plane;
    writeFileSync(join(dir, 'die'), 'gate4');
    await expect(plane.open(CH)).rejects.toThrow(/nft ended/);
    await until(() => p.events.some((e) => e.kind === 'error'));
    expect(p.events.find((e) => e.kind === 'error')?.arg).toMatchObject({ fault: 'plane-failed' });
    await expect(plane.open({ ...CH, id: 9 })).rejects.toThrow(/the plane failed/);
    await plane.stop();
    expect(commands().at(-1)).toBe('oneshot delete table inet nat_alg_fake');
  });

  it('start fails with typed causes: nft missing, table refused, conntrack unreadable, forwarding off', async () => {
    const err = async (o: Partial<NftablesDataPlaneOptions>): Promise<DataPlaneUnavailableError> => {
      const pl = new NftablesDataPlane({ tableName: 'nat_alg_fake', nftCommand: fake(), conntrackPath: join(dir, 'conntrack'), readSysctl: async () => '1', ...o });
      const e = await pl.start().then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(DataPlaneUnavailableError);
      return e as DataPlaneUnavailableError;
    };
    expect((await err({ nftCommand: [join(dir, 'no-such-nft')] })).cause).toBe('nft-missing');
    expect((await err({ conntrackPath: join(dir, 'absent') })).cause).toBe('no-conntrack');
    expect(commands().at(-1)).toBe('delete table inet nat_alg_fake'); // the table made before is removed again
    expect((await err({ readSysctl: async (n) => (n === 'net.ipv6.conf.all.forwarding' ? '0\n' : '1\n') })).message).toMatch(/net\.ipv6\.conf\.all\.forwarding is "0"/);
    writeFileSync(join(dir, 'fail'), '^create table');
    expect((await err({})).cause).toBe('no-nf-tables');
  });
});
