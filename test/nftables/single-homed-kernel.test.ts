// The nftables data plane on a single-homed relay, against the real kernel, in network
// namespaces of this file's own (prefix nfsh-<pid>-), documentation addresses only: the
// admission rule against a blind forger from another network (only a completed handshake
// claims a channel), cuts that a new channel of the same key cannot lift, and a same-named table
// of the administrator's left alone. Needs root; under CI=true a missing prerequisite fails.
//
// A single-homed relay, the usual way a relay sits on the Internet: one interface, a default
// route, clients and the server all somewhere behind the router (so the reverse-path check
// passes every source).
//
//   in (client)       192.0.2.2       ---- r c0 192.0.2.254
//   a (attacker)      198.51.100.66   ---- r a0 198.51.100.254      r: a router, forwarding
//   out (server)      203.0.113.10    ---- r s0 203.0.113.9
//   gw (relay)        203.0.113.1     ---- r g0 203.0.113.2         gw: eth0 only, default via r
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireInteropLock } from '../interop/lock.js';
import { leftoverNamespaces, must, run, Topology } from '../interop/netns.js';
import { NftablesDataPlane, type KernelChannel, type NftablesDataPlaneEvents } from '../../src/node/nftables/index.js';
import { checkKernelPrerequisites, connect, listen, type Listener } from './lab.js';

const pre = await checkKernelPrerequisites();
const inCI = Boolean(process.env.CI);

const GW = '203.0.113.1';
const CLIENT = '192.0.2.2';
const SERVER = '203.0.113.10';
const MB = 1024 * 1024;

describe('single-homed kernel tests prerequisites', () => {
  it('has Linux, root, ip netns, nft', () => {
    if (pre.ok) return;
    if (inCI) expect.fail(`single-homed kernel tests cannot run in CI: ${pre.reason}`);
    console.warn(`single-homed kernel tests skipped: ${pre.reason}`);
  });
});

type Extra = 'r' | 'a';

async function buildSingleHomed(): Promise<Topology<Extra>> {
  const prefix = `nfsh-${process.pid}-`;
  for (const n of leftoverNamespaces('nfsh-')) {
    const m = /^nfsh-(\d+)-/.exec(n);
    if (m && !isAlive(Number(m[1]))) await run('ip', ['netns', 'del', n]);
  }
  const topo = new Topology<Extra>(prefix, ['r', 'a']);
  try {
    for (const ns of Object.values<string>(topo.ns)) {
      await must('ip', ['netns', 'add', ns]);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const { in: c, gw, out: s, r, a } = topo.ns;
    const links: [string, string, string, string, string, string][] = [
      // ns, dev, address, router dev, router address, prefix
      [c, 'eth0', CLIENT, 'c0', '192.0.2.254', '24'],
      [a, 'eth0', '198.51.100.66', 'a0', '198.51.100.254', '24'],
      [s, 'eth0', SERVER, 's0', '203.0.113.9', '30'],
      [gw, 'eth0', GW, 'g0', '203.0.113.2', '30'],
    ];
    for (const [ns, dev, addr, rdev, raddr, len] of links) {
      await must('ip', ['link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', rdev, 'netns', r]);
      await must('ip', ['-n', ns, 'addr', 'add', `${addr}/${len}`, 'dev', dev]);
      await must('ip', ['-n', r, 'addr', 'add', `${raddr}/${len}`, 'dev', rdev]);
      await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await must('ip', ['-n', r, 'link', 'set', rdev, 'up']);
      await must('ip', ['-n', ns, 'route', 'add', 'default', 'via', raddr]);
    }
    for (const [ns, keys] of [
      [r, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']],
      [gw, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']],
    ] as const) {
      for (const k of keys) await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', k]);
    }
    // The attacker can put any source address on its packets (no BCP 38 on its uplink): it
    // holds the client's address on lo, so a socket can bind it; replies go to the real client.
    await must('ip', ['-n', a, 'addr', 'add', `${CLIENT}/32`, 'dev', 'lo']);
    for (const k of ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0']) await must('ip', ['netns', 'exec', a, 'sysctl', '-qw', k]);
  } catch (err) {
    await topo.destroy().catch(() => undefined);
    throw err;
  }
  return topo;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

type Recorded = { kind: keyof NftablesDataPlaneEvents; arg: unknown };

describe.skipIf(!pre.ok)(`nftables data plane on a single-homed relay${pre.ok ? '' : ` (skipped: ${pre.reason})`}`, () => {
  let topo: Topology<Extra>;
  let release: () => void = () => undefined;
  const listeners: Listener[] = [];
  let plane: NftablesDataPlane;
  const events: Recorded[] = [];

  beforeAll(async () => {
    release = await acquireInteropLock(600_000);
    topo = await buildSingleHomed();
    plane = new NftablesDataPlane({
      tableName: 'nat_alg_sh',
      nftCommand: ['ip', 'netns', 'exec', topo.ns.gw, 'nft'],
      readSysctl: async (name) => (await must('ip', ['netns', 'exec', topo.ns.gw, 'sysctl', '-n', name])).trim(),
      families: [4],
      pollIntervalMs: 50,
    });
    for (const kind of ['connected', 'closed', 'expired', 'error'] as const) plane.on(kind, (arg: unknown) => events.push({ kind, arg }));
    await plane.start();
  }, 660_000);

  afterAll(async () => {
    try {
      await plane?.stop().catch(() => undefined);
      for (const l of listeners) await topo?.stop(l.child);
      await topo?.destroy();
    } finally {
      release();
    }
  });

  const channel = (id: number, port: number, targetPort: number): KernelChannel => ({
    id,
    family: 4,
    peer: CLIENT,
    announced: { address: GW, port },
    target: { address: SERVER, port: targetPort },
    sourceAddress: GW,
    timeoutMs: 30_000,
  });

  it('the topology works: the expected peer gets through a redirect', async () => {
    const l = await listen(topo as unknown as Topology, 'out', SERVER, 7300, 0);
    listeners.push(l);
    await plane.open(channel(1, 40300, 7300));
    const r = await connect(topo as unknown as Topology, 'in', GW, 40300, 1000);
    expect(r.event).toBe('done');
    expect((await l.wait('received')).bytes).toBe(1000);
  }, 30_000);

  // A blind attacker on another network (198.51.100.66), who never sees the control connection,
  // sends SYNs with the client's source address to 50 ports around the client's channel
  // (spraying the data-port range costs one SYN per port). Every forged SYN to the channel's port
  // is redirected (the reverse-path check passes: the client is behind the default route too),
  // but none can claim the channel: the server's SYN-ACK goes to the real client, which resets
  // it. The client then connects and gets through, as it does through the relay path's listener
  // (a plain listener on the relay, sprayed the same way: the control case).
  it('a blind forged SYN from another network does not use up the expected peer\'s redirect', async () => {
    const l = await listen(topo as unknown as Topology, 'out', SERVER, 7100, 0);
    listeners.push(l);
    await plane.open(channel(10, 40100, 7100));
    // The relay data path's equivalent: a listener on the relay itself.
    const relayPath = await listen(topo as unknown as Topology, 'gw', GW, 40200, 0);
    listeners.push(relayPath);

    const spray =
      'const net=require("net");const [h,from,lo,hi]=process.argv.slice(1);let n=0;' +
      'for(const [a,b] of [[+lo,+hi],[40200,40200]])for(let p=a;p<=b;p++){n++;' +
      'const s=net.connect({host:h,port:p,localAddress:from});s.on("error",()=>{});' +
      'setTimeout(()=>{s.destroy();if(--n===0)process.exit(0)},1000)}';
    await topo.exec('a', process.execPath, ['-e', spray, GW, CLIENT, '40075', '40124']);
    await sleep(200);

    // The relay path: the client still gets its connection.
    const viaRelayPath = await connect(topo as unknown as Topology, 'in', GW, 40200, 1000);
    expect(viaRelayPath.event).toBe('done');
    // The kernel path: it should too.
    const viaKernel = await connect(topo as unknown as Topology, 'in', GW, 40100, 1000);
    expect({ event: viaKernel.event, failure: viaKernel.failure }).toEqual({ event: 'done', failure: null });
  }, 30_000);

  // The control case of the next test: a flow closed by the relay, with no new channel of its
  // key, is cut: the server never gets the client's second megabyte.
  it('control: a flow closed by the relay is cut when it sends again', async () => {
    const l = await listen(topo as unknown as Topology, 'out', SERVER, 7500, 0);
    listeners.push(l);
    await plane.open(channel(30, 40500, 7500));
    const flow = connect(topo as unknown as Topology, 'in', GW, 40500, MB, { holdMs: 4000, more: MB, timeoutMs: 8000 });
    for (let i = 0; i < 200 && !events.some((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 30); i++) await sleep(20);
    await l.wait('accepted');
    await plane.close(30);
    await flow;
    await sleep(500);
    // The server's socket may close (the client's reset can reach it), but only with the first megabyte.
    expect(l.lines.filter((x) => x.event === 'received' && (x.bytes ?? 0) > MB).map((x) => x.bytes)).toEqual([]);
  }, 30_000);

  // Channel 20's flow (client -> server) is established and idle (the client waits 4 s before
  // its second megabyte); the relay closes the channel, which cuts that flow. Then a new channel
  // for the same client gets the same announced port (a random port from the range, or a PASV
  // loop until it comes up). The cut names the flow, and comes before every other rule: the
  // closed flow's second megabyte is still refused, and it cannot claim channel 21. (Stand-in
  // view: cut-per-flow.test.ts.)
  it('a flow closed by the relay stays closed when the same key is opened again', async () => {
    const l = await listen(topo as unknown as Topology, 'out', SERVER, 7400, 0);
    listeners.push(l);
    await plane.open(channel(20, 40400, 7400));
    const flow = connect(topo as unknown as Topology, 'in', GW, 40400, MB, { holdMs: 4000, more: MB, timeoutMs: 8000 });
    for (let i = 0; i < 200 && !events.some((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 20); i++) await sleep(20);
    await l.wait('accepted');
    await plane.close(20);
    expect(plane.cutsPending).toBe(1);
    await plane.open(channel(21, 40400, 7401));
    await flow;
    await sleep(500);
    // As in the control case: the server never gets the second megabyte.
    expect(l.lines.filter((x) => x.event === 'received' && (x.bytes ?? 0) > MB).map((x) => x.bytes)).toEqual([]);
    // Nor did the closed flow claim channel 21.
    expect(events.filter((e) => e.kind === 'connected' && (e.arg as { id: number }).id === 21)).toEqual([]);
    await plane.close(21);
  }, 30_000);

  // The relay host's own firewall, `table inet filter` as Debian's /etc/nftables.conf makes it
  // (no nat-alg owner comment), and a plane started with tableName 'filter': start() fails
  // (foreign-table), the firewall stays as it was. (Stand-in view: table-ownership.test.ts.)
  it('start() leaves a same-named table of the administrator alone', async () => {
    const fw = 'table inet filter { chain input { type filter hook input priority filter; policy accept; tcp dport 2222 drop; }; }';
    const nft = (...args: string[]) => run('ip', ['netns', 'exec', topo.ns.gw, 'nft', ...args]);
    expect((await nft(fw)).code).toBe(0);
    const other = new NftablesDataPlane({
      tableName: 'filter',
      nftCommand: ['ip', 'netns', 'exec', topo.ns.gw, 'nft'],
      readSysctl: async () => '1',
      families: [4],
      forwardGuard: { kind: 'none' },
    });
    other.on('error', () => undefined);
    const started = await other.start().then(
      () => true,
      (e: unknown) => {
        expect(e).toMatchObject({ cause: 'foreign-table' });
        return false;
      },
    );
    const listed = (await nft('list', 'table', 'inet', 'filter')).stdout;
    if (started) await other.stop().catch(() => undefined);
    await nft('delete', 'table', 'inet', 'filter');
    expect(started).toBe(false);
    expect(listed).toContain('tcp dport 2222 drop');
  }, 30_000);
});
