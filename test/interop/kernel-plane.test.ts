// The relay with `--data-plane nftables` between real peers in network namespaces (issue 10):
// the control connection is terminated and translated by the relay (dist/cli.js in the gateway
// namespace), every data channel is a kernel NAT redirect in the relay's table `inet nat_alg`.
// The gateway forwards (set by this test inside its own namespace; the relay never changes a
// sysctl) and the outside host has a route back through it, so anything the kernel forwarded
// without the relay's rule would get through: the forward guard must stop it.
//
// What runs (chosen to cover each axis once or more without the full cross product; docs/testing.md):
//   relay configurations  client inside IPv4 vsftpd, client inside IPv6 pyftpdlib,
//                         server inside IPv4 pyftpdlib, server inside IPv6 vsftpd: every client
//                         (curl PASV/EPSV/PORT/EPRT, lftp and ftplib passive and active);
//                         client inside FTP64 vsftpd: curl EPSV and EPRT, carried by the relay
//                         path per channel (logged)
//   hostile               a stranger at the announced port first (passive and active), bounce
//                         and low ports refused with no rule installed, a session dropped under
//                         a transfer (its flow reset, its rules gone), the forward guard, a
//                         crashed instance's table replaced, clear startup errors, shutdown
// After every cell the table must hold no element and no counter of a finished channel.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, curl, type ClientSpec, type Target } from './clients.js';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { checkPrerequisites, createTopology, INSIDE, must, OUTSIDE, run, setForwarding, which, type Side, type Topology } from './netns.js';
import { cliAvailable, CLI, hostPort, startRelay, type RunningRelay } from './relay.js';
import { randomPayload, readUpload, sha256, startPyftpdlib, startVsftpd, type FtpServerInstance, type ServerKind } from './servers.js';

const pre = await checkPrerequisites();
const haveNft = which('nft') !== null && which('setpriv') !== null;
const haveCli = cliAvailable();
const problems = [pre.reason, haveNft ? '' : 'nft (nftables) and setpriv', haveCli ? '' : 'dist/cli.js (run `npx tsup`)'].filter((p) => p !== '');
const ready = problems.length === 0;
const inCI = Boolean(process.env.CI);

describe('kernel data plane prerequisites', () => {
  it('has root, ip netns, nft, the servers, the clients and the built CLI', () => {
    if (ready) return;
    if (inCI) expect.fail(`kernel data-plane tests cannot run in CI: ${problems.join('; ')}`);
    console.warn(`kernel data-plane tests skipped: ${problems.join('; ')}`);
  });
});

const PROBE = join(import.meta.dirname, '..', 'nftables', 'ftp-probe.mjs');
const TABLE = 'nat_alg';
const SERVER_PORT: Record<ServerKind, number> = { vsftpd: 21, pyftpdlib: 2121 };
/** Addresses of strangers: a second host on the client's network and on the server's. */
const STRANGER = { in4: '192.0.2.3', in6: '2001:db8:1::3', out4: '198.51.100.3', out6: '2001:db8:2::3' } as const;
const download = randomPayload(256 * 1024);
const upload = randomPayload(96 * 1024 + 7);
const BIG = 24 * 1024 * 1024;

type Entry = Record<string, unknown>;

function entries(log: string): Entry[] {
  const out: Entry[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Entry);
    } catch {
      // Not a log entry.
    }
  }
  return out;
}

interface TableState {
  readonly exists: boolean;
  readonly comment: string;
  /** Elements per set or map. */
  readonly elements: Record<string, unknown[]>;
  /** Named counters of channels (c<n>_up / c<n>_down). */
  readonly channelCounters: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe.skipIf(!ready)(`relay with --data-plane nftables between real peers${ready ? '' : ` (skipped: ${problems.join('; ')})`}`, () => {
  let topo: Topology;
  let release: () => void = () => undefined;
  let base: string;
  let uploadFile: string;
  const servers = new Map<string, FtpServerInstance>();
  const server = (side: Side, kind: ServerKind, v: 4 | 6): FtpServerInstance => {
    const s = servers.get(`${side}-${kind}-${v}`);
    if (!s) throw new Error(`no ${kind} IPv${v} server in ${side}`);
    return s;
  };
  let cellNo = 0;
  let relayPort = 2200;

  async function table(): Promise<TableState> {
    const r = await topo.exec('gw', 'nft', ['-j', 'list', 'table', 'inet', TABLE]);
    if (r.code !== 0) return { exists: false, comment: '', elements: {}, channelCounters: [] };
    const doc = JSON.parse(r.stdout) as { nftables: Record<string, { name?: string; elem?: unknown[]; comment?: string }>[] };
    const elements: Record<string, unknown[]> = {};
    const channelCounters: string[] = [];
    for (const item of doc.nftables) {
      const set = item.set ?? item.map;
      if (set?.name) elements[set.name] = set.elem ?? [];
      if (item.counter?.name && /^c\d+_/.test(item.counter.name)) channelCounters.push(item.counter.name);
    }
    // nft 1.0.6 leaves the table's comment (its owner) out of the JSON listing.
    const text = await topo.exec('gw', 'nft', ['list', 'table', 'inet', TABLE]);
    const comment = /comment "([^"]*)"/.exec(text.stdout)?.[1] ?? '';
    return { exists: true, comment, elements, channelCounters };
  }

  /** What of finished channels is left: every element of every set and map, every channel counter. */
  function leftovers(t: TableState): string[] {
    const left: string[] = [];
    for (const [name, elems] of Object.entries(t.elements)) {
      if (name === 'guarded') continue;
      if (elems.length > 0) left.push(`${name}: ${JSON.stringify(elems)}`);
    }
    return [...left, ...t.channelCounters];
  }

  /** The table holds no rule of a finished session (waits for the plane to see the flows end). */
  async function expectClean(relay: RunningRelay | undefined): Promise<void> {
    let left: string[] = [];
    for (let i = 0; i < 60; i++) {
      left = leftovers(await table());
      if (left.length === 0) return;
      await sleep(50);
    }
    expect(left, `nft table ${TABLE} still holds channel state:\n${left.join('\n')}\nrelay log:\n${relay?.output().slice(-4000)}`).toEqual([]);
  }

  function nftRelay(o: { listen: string; upstream: string; publicAddress?: string; dataPorts?: string; extra?: readonly string[] }): Promise<RunningRelay> {
    return startRelay(topo, 'gw', { ...o, extra: ['--data-plane', 'nftables', ...(o.extra ?? [])] });
  }

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    base = mkdtempSync(join(tmpdir(), 'nat-alg-kplane-'));
    chmodSync(base, 0o755);
    uploadFile = join(base, 'upload.bin');
    writeFileSync(uploadFile, upload);
    topo = await createTopology();
    // Strangers on both networks (deprecated IPv6: never chosen as a source unless bound), and a
    // route back from the outside: a flow forwarded without the relay's rule would work.
    await must('ip', ['-n', topo.ns.in, 'addr', 'add', `${STRANGER.in4}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', topo.ns.in, 'addr', 'add', `${STRANGER.in6}/64`, 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
    await must('ip', ['-n', topo.ns.out, 'addr', 'add', `${STRANGER.out4}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', topo.ns.out, 'addr', 'add', `${STRANGER.out6}/64`, 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
    await must('ip', ['-n', topo.ns.out, 'route', 'add', 'default', 'via', OUTSIDE.gw4]);
    await must('ip', ['-n', topo.ns.out, '-6', 'route', 'add', 'default', 'via', OUTSIDE.gw6]);
    await setForwarding(topo, 'gw', true);
    const big = randomPayload(BIG);
    const starts: Promise<FtpServerInstance>[] = [];
    for (const [side, kind, v] of [
      ['out', 'vsftpd', 4], ['out', 'pyftpdlib', 6], ['in', 'pyftpdlib', 4], ['in', 'vsftpd', 6],
    ] as const) {
      const net = side === 'in' ? INSIDE : OUTSIDE;
      const host = v === 4 ? net.host4 : net.host6;
      const dir = join(base, `${side}-${kind}-${v}`);
      starts.push(kind === 'vsftpd' ? startVsftpd(topo, side, host, SERVER_PORT.vsftpd, dir, download) : startPyftpdlib(topo, side, host, SERVER_PORT.pyftpdlib, dir, download, pre.python));
    }
    for (const s of await Promise.all(starts)) {
      servers.set(`${s.side}-${s.kind}-${s.host.includes(':') ? 6 : 4}`, s);
      writeFileSync(join(s.root, 'big.bin'), big);
      chmodSync(join(s.root, 'big.bin'), 0o644);
    }
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      await topo?.destroy();
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  /** One cell: download and upload through the relay; the kernel carried both data channels. */
  async function transfer(side: Side, target: Target, srv: FtpServerInstance, client: ClientSpec, relay: RunningRelay, plane: 'nftables' | 'relay'): Promise<void> {
    const logBefore = relay.output().length;
    const work = mkdtempSync(join(base, 'cell-'));
    const downloadTo = join(work, 'data.bin');
    const uploadName = `cell-${++cellNo}-${client.name.replace(/\W+/g, '-')}.bin`;
    const r = await client.run(topo, side, { target, downloadTo, uploadFrom: uploadFile, uploadName, python: pre.python });
    let got: Buffer | null = null;
    try {
      got = readFileSync(downloadTo);
    } catch {
      // Reported below.
    }
    const context = () =>
      `${client.name} -> ${hostPort(target.host, target.port)} exited ${r.code}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}\n` +
      `relay log (tail):\n${relay.output().slice(-5000)}`;
    expect(got === null ? 'nothing downloaded' : sha256(got), context()).toBe(sha256(download));
    const up = readUpload(srv, uploadName);
    expect(up === null ? 'nothing uploaded' : sha256(up), context()).toBe(sha256(upload));
    expect(r.code, context()).toBe(0);
    // Two channels, each opened and closed on the plane that carried it, with the mode the client used.
    let log: Entry[] = [];
    for (let i = 0; i < 80; i++) {
      log = entries(relay.output().slice(logBefore));
      if (log.filter((e) => e.event === 'data-close').length >= 2) break;
      await sleep(25);
    }
    const opens = log.filter((e) => e.event === 'data-open');
    const closes = log.filter((e) => e.event === 'data-close');
    expect(opens.length, context()).toBe(2);
    expect(closes.length, context()).toBe(2);
    const passive = client.expects === 'PASV' || client.expects === 'EPSV';
    const command = target.host.includes(':') ? (passive ? 'EPSV' : 'EPRT') : client.expects;
    for (const o of opens) expect({ mode: o.mode, command: o.command, plane: o.plane }, context()).toEqual({ mode: passive ? 'passive' : 'active', command, plane });
    for (const c of closes) expect(c.plane, context()).toBe(plane);
    if (plane === 'nftables') {
      // The kernel's counters: whole IP packets, more than the payload each way by their headers
      // (52-72 bytes a segment; a sender that writes small pieces on a fast path sends segments
      // of a few hundred bytes: 11-15% over was seen), far less than twice it (a counter that
      // also counted the other direction, or a second flow).
      const bytes = closes.map((c) => c.bytes as { toClient: number; toServer: number; measure: string });
      expect(bytes.map((b) => b.measure)).toEqual(['ip', 'ip']);
      const down = bytes.find((b) => b.toClient >= download.length);
      const upb = bytes.find((b) => b.toServer >= upload.length);
      expect(down, JSON.stringify(bytes)).toBeDefined();
      expect(upb, JSON.stringify(bytes)).toBeDefined();
      expect(down!.toClient).toBeLessThan(download.length * 1.5);
      expect(upb!.toServer).toBeLessThan(upload.length * 1.5);
    }
    await expectClean(relay);
  }

  interface Config {
    readonly deployment: 'client inside' | 'server inside';
    readonly family: 'ipv4' | 'ipv6' | 'ftp64';
    readonly kind: ServerKind;
    readonly clients: readonly ClientSpec[];
  }
  const FTP64_CLIENTS = [curl('curl EPSV', 'EPSV', ['--ftp-pasv']), curl('curl EPRT', 'EPRT', ['--ftp-port', '-'])];
  const configs: Config[] = [
    { deployment: 'client inside', family: 'ipv4', kind: 'vsftpd', clients: CLIENTS },
    { deployment: 'client inside', family: 'ipv6', kind: 'pyftpdlib', clients: CLIENTS },
    { deployment: 'server inside', family: 'ipv4', kind: 'pyftpdlib', clients: CLIENTS },
    { deployment: 'server inside', family: 'ipv6', kind: 'vsftpd', clients: CLIENTS },
    { deployment: 'client inside', family: 'ftp64', kind: 'vsftpd', clients: FTP64_CLIENTS },
  ];

  describe.each(configs.map((c) => [c.deployment, c.family, c.kind, c] as const))('%s, %s, %s', (deployment, family, kind, cfg) => {
    let relay: RunningRelay | undefined;
    const clientSide: Side = deployment === 'client inside' ? 'in' : 'out';
    const serverSide: Side = deployment === 'client inside' ? 'out' : 'in';
    const clientNet = clientSide === 'in' ? INSIDE : OUTSIDE;
    const clientV6 = family !== 'ipv4';
    const serverV = family === 'ipv6' ? 6 : 4;
    const port = relayPort++;
    const target: Target = { host: clientV6 ? clientNet.gw6 : clientNet.gw4, port };

    beforeAll(async () => {
      const srv = server(serverSide, kind, serverV);
      const forward = deployment === 'client inside';
      relay = await nftRelay({
        listen: forward ? hostPort(target.host, port) : hostPort(clientV6 ? '::' : '0.0.0.0', port),
        upstream: hostPort(srv.host, srv.port),
        ...(forward ? { dataPorts: '40000-40999' } : { publicAddress: target.host }),
      });
      expect(relay.readyLine).toMatch(/data plane nftables/);
    });

    afterEach(async () => {
      await expectClean(relay);
    });

    afterAll(async () => {
      const code = await relay?.stop();
      const log = entries(relay?.output() ?? '');
      expect(code, `relay did not exit cleanly on SIGTERM:\n${relay?.output().slice(-3000)}`).toBe(0);
      const count = (event: string) => log.filter((e) => e.event === event).length;
      expect(count('session-open')).toBe(cfg.clients.length);
      expect(count('session-close')).toBe(count('session-open'));
      expect(count('data-close')).toBe(count('data-open'));
      if (family === 'ftp64') {
        // Every channel changes family: the kernel serves none, each says why it took the relay path.
        const fallbacks = log.filter((e) => e.event === 'data-plane-fallback');
        expect(fallbacks.length).toBe(count('data-open'));
        for (const f of fallbacks) expect(f.reason).toMatch(/FTP64/);
      }
      // Shutdown removed the table.
      expect((await table()).exists).toBe(false);
    });

    it.each(cfg.clients.map((c) => [c.name, c] as const))('%s', async (_name, client) => {
      await transfer(clientSide, target, server(serverSide, kind, serverV), client, relay!, family === 'ftp64' ? 'relay' : 'nftables');
    });
  });

  async function probe(side: Side, host: string, port: number, ...args: string[]): Promise<Entry[]> {
    const r = await topo.exec(side, process.execPath, [PROBE, args[0]!, host, String(port), ...args.slice(1)], { timeoutMs: 30_000 });
    const lines = entries(r.stdout);
    if (r.code !== 0) throw new Error(`probe ${args.join(' ')} exited ${r.code}: ${r.stdout} ${r.stderr}`);
    return lines;
  }

  /** A stranger on the client's network tries the announced passive port before the client. */
  async function strangerFirst(relay: RunningRelay, v: 4 | 6, port: number): Promise<void> {
    const before = relay.output().length;
    const steps = await probe('in', v === 4 ? INSIDE.gw4 : INSIDE.gw6, port, 'intruder-passive', 'data.bin', v === 4 ? STRANGER.in4 : STRANGER.in6);
    const stranger = steps.find((s) => s.event === 'stranger')!;
    const data = steps.find((s) => s.event === 'data')!;
    expect(stranger.bytes, JSON.stringify(steps)).toBe(0);
    expect(data.sha256, JSON.stringify(steps)).toBe(sha256(download));
    let log: Entry[] = [];
    for (let i = 0; i < 80 && !log.some((e) => e.event === 'data-close'); i++) {
      log = entries(relay.output().slice(before));
      await sleep(25);
    }
    const rejected = log.filter((e) => e.event === 'data-rejected');
    expect(rejected.length, relay.output().slice(-3000)).toBe(1);
    expect(String(rejected[0]!.peer)).toContain(v === 4 ? STRANGER.in4 : STRANGER.in6);
    expect(log.filter((e) => e.event === 'data-open').map((e) => e.plane)).toEqual(['nftables']);
    expect(log.filter((e) => e.event === 'data-close').map((e) => e.plane)).toEqual(['nftables']);
  }

  describe('hostile peers, IPv6, pyftpdlib', () => {
    let relay: RunningRelay | undefined;
    const port = relayPort++;
    beforeAll(async () => {
      relay = await nftRelay({ listen: hostPort(INSIDE.gw6, port), upstream: hostPort(OUTSIDE.host6, 2121), dataPorts: '42000-42999' });
    });
    afterEach(async () => {
      await expectClean(relay);
    });
    afterAll(async () => {
      expect(await relay?.stop()).toBe(0);
      expect((await table()).exists).toBe(false);
    });

    it('passive: a stranger at the announced port first gets nothing; the client gets the file', async () => {
      await strangerFirst(relay!, 6, port);
    });
  });

  describe('hostile peers and failures, IPv4, vsftpd', () => {
    let relay4: RunningRelay | undefined;
    const port4 = relayPort++;

    beforeAll(async () => {
      relay4 = await nftRelay({ listen: hostPort(INSIDE.gw4, port4), upstream: hostPort(OUTSIDE.host4, 21), dataPorts: '41000-41999', extra: ['--verbose'] });
    });

    afterEach(async () => {
      await expectClean(relay4);
    });

    afterAll(async () => {
      expect(await relay4?.stop()).toBe(0);
      expect((await table()).exists).toBe(false);
    });

    it('passive: a stranger at the announced port first gets nothing; the client gets the file', async () => {
      await strangerFirst(relay4!, 4, port4);
    });

    it('IPv4 active: a stranger on the server\'s network at the announced port first gets nothing; the server\'s connection goes through', async () => {
      const before = relay4!.output().length;
      const go = join(base, `go-${Date.now()}`);
      const running = probe('in', INSIDE.gw4, port4, 'active-wait', 'data.bin', go);
      // The port the relay announced to the server (its data-listening entry, logged with --verbose).
      let listening: Entry | undefined;
      for (let i = 0; i < 200 && !listening; i++) {
        listening = entries(relay4!.output().slice(before)).find((e) => e.event === 'data-listening' && e.side === 'server');
        if (!listening) await sleep(25);
      }
      expect(listening, relay4!.output().slice(-2000)).toBeDefined();
      const announced = String(listening!.local);
      const announcedPort = Number(announced.split(':').pop());
      const js =
        'const s=require("net").connect({host:process.argv[1],port:+process.argv[2],localAddress:process.argv[3]});let n=0;' +
        's.on("data",d=>n+=d.length);s.on("error",e=>{console.log(JSON.stringify({n,e:e.code}));process.exit(0)});' +
        's.on("close",()=>{console.log(JSON.stringify({n,e:null}));process.exit(0)});setTimeout(()=>{console.log(JSON.stringify({n,e:"open"}));process.exit(0)},1500)';
      const stranger = await topo.exec('out', process.execPath, ['-e', js, OUTSIDE.gw4, String(announcedPort), STRANGER.out4]);
      expect(JSON.parse(stranger.stdout.trim()).n).toBe(0);
      writeFileSync(go, '');
      const steps = await running;
      const data = steps.find((s) => s.event === 'data')!;
      expect(data.sha256, JSON.stringify(steps)).toBe(sha256(download));
      // The client saw the relay's inside address (SNAT), not the server's.
      expect(String(data.from).replace(/^::ffff:/, '')).toBe(INSIDE.gw4);
      const log = entries(relay4!.output().slice(before));
      expect(log.filter((e) => e.event === 'data-rejected').map((e) => String(e.peer))).toEqual([expect.stringContaining(STRANGER.out4)]);
      expect(log.filter((e) => e.event === 'data-open').map((e) => [e.mode, e.plane])).toEqual([['active', 'nftables']]);
    });

    it('bounce and low ports are refused before anything reaches the kernel', async () => {
      const before = relay4!.output().length;
      const steps = await probe('in', INSIDE.gw4, port4, 'commands',
        'PORT 198,51,100,2,156,64', // the server itself (bounce)
        'EPRT |1|192.0.2.3|40000|', // another host on the client's network
        'PORT 192,0,2,2,0,22', // the client's ssh
        'EPRT |2|2001:db8:1::2|25|',
        'NOOP');
      const replies = steps.filter((s) => s.event === 'reply').map((s) => String(s.reply));
      expect(replies.slice(0, 4).every((r) => /^5\d\d /.test(r)), JSON.stringify(replies)).toBe(true);
      expect(replies[4]).toMatch(/^200 /);
      const log = entries(relay4!.output().slice(before));
      expect(log.filter((e) => e.event === 'command-refused')).toHaveLength(4);
      expect(log.filter((e) => e.event === 'data-listening')).toHaveLength(0);
      expect(leftovers(await table())).toEqual([]);
    });

    it('a session dropped under a running transfer: the flow is reset and the channel\'s rules go', async () => {
      const before = relay4!.output().length;
      const steps = await probe('in', INSIDE.gw4, port4, 'cut', 'big.bin');
      const data = steps.find((s) => s.event === 'data')!;
      // Cut short: reset by the kernel when it next sent, or ended by the server whose control
      // connection the relay closed at the same moment (whichever comes first); never the whole file.
      expect(data.bytes as number, JSON.stringify(steps)).toBeGreaterThan(0);
      expect(data.bytes as number, JSON.stringify(steps)).toBeLessThan(BIG);
      expect(data.closed, JSON.stringify(steps)).toBe(true);
      let log: Entry[] = [];
      for (let i = 0; i < 80 && !log.some((e) => e.event === 'data-close'); i++) {
        log = entries(relay4!.output().slice(before));
        await sleep(25);
      }
      const close = log.find((e) => e.event === 'data-close')!;
      expect(close.plane).toBe('nftables');
      expect((close.bytes as { toClient: number }).toClient).toBeGreaterThan(0);
      // The flow was cut, and the cut went once conntrack saw the flow over.
      await expectClean(relay4);
      const closeEntry = entries(relay4!.output().slice(before)).find((e) => e.event === 'nftables-channel-close');
      expect(closeEntry?.cut, relay4!.output().slice(-3000)).toBe(true);
      expect(entries(relay4!.output().slice(before)).some((e) => e.event === 'nftables-cut-removed'), relay4!.output().slice(-3000)).toBe(true);
    });

    it('the forward guard drops forwarding the relay did not install; without the relay the same connection goes through', async () => {
      const js =
        'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]});' +
        's.on("connect",()=>{console.log("connected");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});' +
        'setTimeout(()=>{console.log("timeout");process.exit(0)},1500)';
      const direct = await topo.exec('in', process.execPath, ['-e', js, OUTSIDE.host4, '21']);
      expect(direct.stdout.trim()).toBe('timeout');
      const r = await topo.exec('gw', 'nft', ['list', 'counter', 'inet', TABLE, 'guard_drops']);
      expect(r.stdout).toMatch(/packets [1-9]/);
    });
  });

  describe('start, crash and shutdown', () => {
    it('without the relay\'s table the gateway forwards that same connection (the control case of the guard test)', async () => {
      expect((await table()).exists).toBe(false);
      const js =
        'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]});' +
        's.on("connect",()=>{console.log("connected");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});' +
        'setTimeout(()=>{console.log("timeout");process.exit(0)},1500)';
      const direct = await topo.exec('in', process.execPath, ['-e', js, OUTSIDE.host4, '21']);
      expect(direct.stdout.trim()).toBe('connected');
    });

    it('a crashed relay\'s table is replaced at the next start; shutdown removes it', async () => {
      const port = relayPort++;
      const first = await nftRelay({ listen: hostPort(INSIDE.gw4, port), upstream: hostPort(OUTSIDE.host4, 21), dataPorts: '43000-43999' });
      const pid1 = first.process.pid;
      // A channel waiting for its peer when the relay dies.
      const waiting = topo.exec('in', process.execPath, [PROBE, 'hold', INSIDE.gw4, String(port), 'EPSV'], { timeoutMs: 15_000 });
      let t = await table();
      for (let i = 0; i < 100 && (t.elements.gate4 ?? []).length === 0; i++) {
        await sleep(25);
        t = await table();
      }
      expect((t.elements.gate4 ?? []).length).toBe(1);
      expect(t.comment).toContain(`pid=${pid1}`);
      first.process.kill('SIGKILL');
      await new Promise((r) => first.process.once('exit', r));
      await waiting;
      const stale = await table();
      expect(stale.exists).toBe(true);
      const second = await nftRelay({ listen: hostPort(INSIDE.gw4, port), upstream: hostPort(OUTSIDE.host4, 21), dataPorts: '43000-43999' });
      const fresh = await table();
      expect(fresh.comment).toContain(`pid=${second.process.pid}`);
      expect(leftovers(fresh)).toEqual([]);
      const work = mkdtempSync(join(base, 'crash-'));
      const r = await CLIENTS[0]!.run(topo, 'in', { target: { host: INSIDE.gw4, port }, downloadTo: join(work, 'd.bin'), uploadFrom: uploadFile, uploadName: 'crash.bin', python: pre.python });
      expect(r.code, second.output()).toBe(0);
      expect(await second.stop()).toBe(0);
      expect((await table()).exists).toBe(false);
    });

    it.each([
      ['forwarding off', 'ip-forward-off', /sysctl -w net\.ipv4\.ip_forward=1/],
      ['no CAP_NET_ADMIN', 'no-cap-net-admin', /CAP_NET_ADMIN/],
      ['no nft', 'nft-missing', /apt-get install nftables/],
    ] as const)('%s: the relay does not start, and says why and how to fix it', async (what, cause, fix) => {
      const args = [CLI, 'ftp', '--listen', hostPort(INSIDE.gw4, 2299), '--upstream', hostPort(OUTSIDE.host4, 21), '--data-plane', 'nftables'];
      let r;
      if (what === 'forwarding off') {
        await must('ip', ['netns', 'exec', topo.ns.gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
        try {
          r = await topo.exec('gw', process.execPath, args, { timeoutMs: 20_000 });
        } finally {
          await setForwarding(topo, 'gw', true);
        }
      } else if (what === 'no CAP_NET_ADMIN') {
        r = await topo.exec('gw', 'setpriv', ['--inh-caps=-net_admin', '--bounding-set=-net_admin', process.execPath, ...args], { timeoutMs: 20_000 });
      } else {
        r = await run('ip', ['netns', 'exec', topo.ns.gw, 'env', 'PATH=/nonexistent', process.execPath, ...args], { timeoutMs: 20_000 });
      }
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`(${cause})`);
      expect(r.stderr).toMatch(fix);
      expect(r.stderr).toContain('fix:');
      // Nothing was left behind, and no sysctl was changed by the relay.
      expect((await table()).exists).toBe(false);
    });
  });
});
