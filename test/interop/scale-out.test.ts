// Scale-out (docs/scale-out.md): two relay instances (dist/cli.js, `nat-alg ftp --metrics`) in
// two namespaces behind HAProxy (Debian's, TCP mode) in a balancer namespace, one shared public
// address, each instance with its own --data-ports range that the balancer routes to it alone.
// HAProxy checks each instance's /healthz on its metrics port and connects transparently
// (`usesrc clientip`), so the relays see the real client address: the data-connection peer check
// and PORT/EPRT's address check work as without a balancer.
//
//   na-…-in (clients)        na-…-gw (balancer)                 na-…-ra / na-…-rb     na-…-out (server)
//   203.0.113.2  ────────  203.0.113.1 (VIP) haproxy          relay a 192.0.2.11   vsftpd 198.51.100.100
//                          br0 192.0.2.1 ──────────────────── relay b 192.0.2.12 ── br0
//   :21 → a|b (checked)  :40000-40099 → a only   :40100-40199 → b only   (data ranges: never checked)
//
// 1. 20 clients at once through the VIP (curl and lftp, passive and active): every file's sha256.
// 2. Slow transfers run on both; instance a gets SIGTERM (--drain-delay 1, --grace 30): /healthz
//    says draining, HAProxy takes it out of rotation, new clients go to b only, a's transfers
//    finish, a exits 0; no client sees a refused data connection.
// 3. The same with the nftables front host of docs/scale-out.md instead of HAProxy: its ruleset and
//    its health loop, taken from the document as they are, run on the balancer namespace.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type ClientSpec } from './clients.js';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { buildTopology, checkPrerequisites, must, which, type Topology } from './netns.js';
import { cliAvailable, startRelay, type RunningRelay } from './relay.js';
import { randomPayload, readUpload, sha256, startVsftpd, type FtpServerInstance } from './servers.js';
import { parseExposition, seriesKey } from '../node/prometheus.js';

const pre = await checkPrerequisites();
const problems = [
  pre.reason,
  which('haproxy') ? '' : 'haproxy',
  which('nft') ? '' : 'nft (nftables)',
  cliAvailable() ? '' : 'dist/cli.js (run `npx tsup`)',
].filter((p) => p !== '');
const ready = problems.length === 0;

describe('scale-out lab prerequisites', () => {
  it('has root, ip netns, haproxy, nft, vsftpd, the clients and the built CLI', () => {
    if (ready) return;
    if (process.env.CI) expect.fail(`scale-out lab cannot run in CI: ${problems.join('; ')}`);
    console.warn(`scale-out lab skipped: ${problems.join('; ')}`);
  });
});

const VIP = '203.0.113.1';
const CLIENT = '203.0.113.2';
const SERVER = '198.51.100.100';
const INSTANCES = {
  a: { ns: 'ra', inside: '192.0.2.11', upstreamSide: '198.51.100.11', ports: [40000, 40099] },
  b: { ns: 'rb', inside: '192.0.2.12', upstreamSide: '198.51.100.12', ports: [40100, 40199] },
} as const;
type Instance = keyof typeof INSTANCES;
const RELAY_PORT = 21;
const METRICS_PORT = 9100;
const download = randomPayload(1 << 20);
/**
 * vsftpd sends at most this many bytes a second per transfer: 1 MiB takes about 3.5 s, so a
 * transfer still runs when the drain begins. (A client-side limit would not do: the kernel's
 * socket buffers would take the whole file from the relay at once.)
 */
const SERVER_RATE = 300_000;

type Extra = 'ra' | 'rb';

function haproxyConfig(socket: string): string {
  const dataSection = (name: Instance): string[] => {
    const i = INSTANCES[name];
    return [
      `frontend data_${name}`,
      `  bind ${VIP}:${i.ports[0]}-${i.ports[1]}`,
      `  default_backend data_${name}`,
      `backend data_${name}`,
      // Never checked: a draining instance still takes the data connections of its running sessions.
      '  source 0.0.0.0 usesrc clientip',
      `  server ${name} ${i.inside}`,
    ];
  };
  return [
    'global',
    '  maxconn 2000',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 2',
    '  option redispatch',
    'frontend ftp_control',
    `  bind ${VIP}:21`,
    '  default_backend relays',
    'backend relays',
    '  balance roundrobin',
    '  source 0.0.0.0 usesrc clientip',
    '  option httpchk GET /healthz',
    '  http-check expect status 200',
    `  default-server check port ${METRICS_PORT} inter 300 fall 1 rise 2`,
    `  server a ${INSTANCES.a.inside}:${RELAY_PORT}`,
    `  server b ${INSTANCES.b.inside}:${RELAY_PORT}`,
    ...dataSection('a'),
    ...dataSection('b'),
    '',
  ].join('\n');
}

/** One command to HAProxy's runtime API (a unix socket: reachable from any namespace). */
function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.end(`${command}\n`);
  });
}

/** The status (UP, DOWN, ...) of each server of backend `relays`. */
async function relayStatus(socket: string): Promise<Record<string, string>> {
  const csv = await haproxyCommand(socket, 'show stat');
  const out: Record<string, string> = {};
  for (const line of csv.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'relays' && (f[1] === 'a' || f[1] === 'b')) out[f[1]] = (f[17] ?? '').split(' ')[0]!;
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Entry = Record<string, unknown>;
function entries(log: string): Entry[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Entry];
      } catch {
        return [];
      }
    });
}

describe.skipIf(!ready)(`scale-out: two relays behind HAProxy${ready ? '' : ` (skipped: ${problems.join('; ')})`}`, () => {
  let topo: Topology<Extra>;
  let release: () => void = () => undefined;
  let dir: string;
  let server: FtpServerInstance;
  const relays = {} as Record<Instance, RunningRelay>;
  let socket: string;
  let haproxy: ChildProcess;
  let clientNo = 0;

  async function startInstance(name: Instance): Promise<void> {
    const i = INSTANCES[name];
    relays[name] = await startRelay(topo, i.ns, {
      listen: `${i.inside}:${RELAY_PORT}`,
      upstream: `${SERVER}:21`,
      publicAddress: VIP,
      dataPorts: `${i.ports[0]}-${i.ports[1]}`,
      extra: ['--metrics', `${i.inside}:${METRICS_PORT}`, '--drain-delay', '1', '--grace', '30'],
    });
    expect(relays[name].readyLine).toContain(`metrics on ${i.inside}:${METRICS_PORT}`);
  }

  const channelsOpened = (s: Map<string, number>): number =>
    metric(s, 'nat_alg_data_channels_total', { mode: 'passive', plane: 'relay' }) + metric(s, 'nat_alg_data_channels_total', { mode: 'active', plane: 'relay' });

  /**
   * Slow downloads on both instances; SIGTERM to a once one runs there; wait until `outOfRotation`;
   * then new clients (all must land on b), a's transfers finish, a exits 0.
   */
  async function drainA(balancer: string, outOfRotation: () => Promise<boolean>): Promise<void> {
    const openedOnA = channelsOpened(await scrape('a'));
    const slow = Array.from({ length: 8 }, (_, i) => slowDownload(i % 2 === 1));
    // Transfers are running on a.
    await until('a transfer on instance a', async () => channelsOpened(await scrape('a')) >= openedOnA + 2);
    expect(metric(await scrape('a'), 'nat_alg_sessions_open')).toBeGreaterThan(0);

    const exited = new Promise<number | null>((resolve) => relays.a.process.once('exit', (code) => resolve(code)));
    relays.a.process.kill('SIGTERM');
    await until('a says draining', async () => (await health('a')) === 'draining 503', 5000);
    expect(await health('b')).toBe('ready 200');
    await until(`${balancer} to take a out of rotation`, outOfRotation, 8000);
    const opensOnA = entries(relays.a.output()).filter((e) => e.event === 'session-open').length;
    const totalOnB = metric(await scrape('b'), 'nat_alg_sessions_total');

    // New clients while a drains: all on b.
    const fresh = ['curl EPSV', 'curl EPRT', 'lftp passive', 'lftp active'].map((n) => CLIENTS.find((c) => c.name === n)!);
    const freshFailures = (await Promise.all(fresh.map((s) => runClient(s)))).filter((f) => f !== null);
    expect(freshFailures).toEqual([]);
    expect(entries(relays.a.output()).filter((e) => e.event === 'session-open').length).toBe(opensOnA);
    expect(metric(await scrape('b'), 'nat_alg_sessions_total')).toBeGreaterThanOrEqual(totalOnB + fresh.length);

    // a's running transfers finish, then a exits by itself within its grace period.
    expect((await Promise.all(slow)).filter((f) => f !== null)).toEqual([]);
    expect(await exited).toBe(0);
    const aLog = relays.a.output();
    expect(aLog).toMatch(/SIGTERM, draining: still accepting for 1 s/);
    expect(aLog).toMatch(/SIGTERM, shutting down \([1-9]\d* sessions? open, grace 30 s\)/);
    expect(aLog).not.toMatch(/closing now/);
    const aEntries = entries(aLog);
    expect(aEntries.filter((e) => e.event === 'data-rejected')).toEqual([]);
    // Every transfer on a ended complete, none cut by the shutdown.
    const closes = aEntries.filter((e) => e.event === 'data-close');
    expect(closes.length).toBeGreaterThan(0);
    expect(closes.filter((e) => e.reason !== 'transfer complete')).toEqual([]);
    expect(await health('b')).toBe('ready 200');
    expect(metric(await scrape('b'), 'nat_alg_data_rejected_total')).toBe(0);
  }

  /** 6 clients at once (curl and lftp, passive and active) through the VIP; both instances used. */
  async function mixedClients(count: number): Promise<void> {
    const named = (names: string[]) => names.map((n) => CLIENTS.find((c) => c.name === n)!);
    const passive = named(['curl EPSV', 'curl PASV', 'lftp passive']);
    const active = named(['curl EPRT', 'curl PORT', 'lftp active']);
    const specs = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? passive : active)[(i >> 1) % 3]!);
    const before = { a: await scrape('a'), b: await scrape('b') };
    const failures = (await Promise.all(specs.map((s) => runClient(s)))).filter((f) => f !== null);
    expect(failures).toEqual([]);
    const [a, b] = [await scrape('a'), await scrape('b')];
    for (const [name, s] of [['a', a], ['b', b]] as const) {
      expect(metric(s, 'nat_alg_sessions_total') - metric(before[name], 'nat_alg_sessions_total'), `sessions on ${name}`).toBeGreaterThan(0);
      // The relays see the clients' own address (transparent balancer): nothing refused, nothing stolen.
      expect(metric(s, 'nat_alg_data_rejected_total'), name).toBe(0);
      expect([...s.keys()].filter((k) => k.startsWith('nat_alg_commands_refused_total') || k.startsWith('nat_alg_sessions_refused_total')), name).toEqual([]);
    }
    const delta = (mode: string) =>
      (['a', 'b'] as const).reduce((n, k) => n + metric(k === 'a' ? a : b, 'nat_alg_data_channels_total', { mode, plane: 'relay' }) - metric(before[k], 'nat_alg_data_channels_total', { mode, plane: 'relay' }), 0);
    // Each client: one download and one upload, in its mode.
    expect(delta('passive')).toBe(count);
    expect(delta('active')).toBe(count);
    const bytes = (s: Map<string, number>) => metric(s, 'nat_alg_data_bytes_total', { direction: 'to_client', plane: 'relay' });
    expect(bytes(a) - bytes(before.a) + bytes(b) - bytes(before.b)).toBe(count * download.length);
    const peers = entries(relays.a.output()).concat(entries(relays.b.output())).filter((e) => e.event === 'data-open').map((e) => String(e.peer));
    expect(peers.filter((p) => !p.startsWith(`${SERVER}:`) && !p.startsWith(`${CLIENT}:`))).toEqual([]);
  }

  async function scrape(name: Instance): Promise<Map<string, number>> {
    const r = await topo.exec('gw', 'curl', ['-sS', '--max-time', '3', `http://${INSTANCES[name].inside}:${METRICS_PORT}/metrics`]);
    if (r.code !== 0) throw new Error(`scrape of ${name} failed: ${r.stderr}`);
    return parseExposition(r.stdout).samples;
  }
  const metric = (samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number =>
    samples.get(seriesKey(name, { relay: 'ftp', alg: 'ftp', ...labels })) ?? 0;

  async function health(name: Instance): Promise<string> {
    const r = await topo.exec('gw', 'curl', ['-sS', '--max-time', '3', '-w', ' %{http_code}', `http://${INSTANCES[name].inside}:${METRICS_PORT}/healthz`]);
    return r.stdout.replace(/\s+/g, ' ').trim();
  }

  /** One client session through the VIP: download (checked) and upload (checked). */
  async function runClient(spec: ClientSpec): Promise<string | null> {
    const n = clientNo++;
    const job = {
      target: { host: VIP, port: 21 },
      downloadTo: join(dir, `down-${n}.bin`),
      uploadFrom: join(dir, `up-${n}.bin`),
      uploadName: `up-${n}.bin`,
      python: pre.python,
    };
    const up = randomPayload(64 * 1024 + n);
    writeFileSync(job.uploadFrom, up);
    const r = await spec.run(topo, 'in', job);
    if (r.code !== 0) return `${spec.name} #${n}: exit ${r.code}: ${r.stderr.trim()}`;
    if (sha256(readFileSync(job.downloadTo)) !== sha256(download)) return `${spec.name} #${n}: download differs`;
    const got = readUpload(server, job.uploadName);
    if (!got || sha256(got) !== sha256(up)) return `${spec.name} #${n}: upload differs`;
    return null;
  }

  /** A download alone (it takes seconds: SERVER_RATE), passive or active. */
  async function slowDownload(active: boolean): Promise<string | null> {
    const n = clientNo++;
    const to = join(dir, `slow-${n}.bin`);
    const r = await topo.exec('in', 'curl', [
      '-sS', '--max-time', '40', '--connect-timeout', '5',
      ...(active ? ['--ftp-port', '-'] : ['--ftp-pasv']), `ftp://${VIP}:21/data.bin`, '-o', to,
    ], { timeoutMs: 60_000 });
    if (r.code !== 0) return `slow ${active ? 'active' : 'passive'} #${n}: exit ${r.code}: ${r.stderr.trim()}`;
    if (sha256(readFileSync(to)) !== sha256(download)) return `slow #${n}: download differs`;
    return null;
  }

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    dir = mkdtempSync(join(tmpdir(), 'nat-alg-scale-'));
    chmodSync(dir, 0o755);
    socket = join(dir, 'haproxy.sock');
    topo = await buildTopology<Extra>(['ra', 'rb'], async (t) => {
      const { in: cl, gw: lb, out: sv, ra, rb } = t.ns;
      await must('ip', ['link', 'add', 'eth0', 'netns', cl, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', lb]);
      await must('ip', ['-n', lb, 'link', 'add', 'br0', 'type', 'bridge']);
      await must('ip', ['-n', sv, 'link', 'add', 'br0', 'type', 'bridge']);
      for (const [name, ns] of [['ra', ra], ['rb', rb]] as const) {
        await must('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', name, 'netns', lb]);
        await must('ip', ['-n', lb, 'link', 'set', name, 'master', 'br0', 'up']);
        await must('ip', ['link', 'add', 'srv0', 'netns', ns, 'type', 'veth', 'peer', 'name', name, 'netns', sv]);
        await must('ip', ['-n', sv, 'link', 'set', name, 'master', 'br0', 'up']);
      }
      const addrs: [string, string, string][] = [
        [cl, 'eth0', `${CLIENT}/24`],
        [lb, 'wan0', `${VIP}/24`],
        [lb, 'br0', '192.0.2.1/24'],
        [sv, 'br0', `${SERVER}/24`],
        [ra, 'eth0', `${INSTANCES.a.inside}/24`],
        [ra, 'srv0', `${INSTANCES.a.upstreamSide}/24`],
        [rb, 'eth0', `${INSTANCES.b.inside}/24`],
        [rb, 'srv0', `${INSTANCES.b.upstreamSide}/24`],
      ];
      for (const [ns, dev, cidr] of addrs) {
        await must('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
        await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      }
      await must('ip', ['-n', cl, 'route', 'add', 'default', 'via', VIP]);
      // The relays answer clients through the balancer (transparent proxying needs the replies
      // there) and reach clients for active data connections through it (it forwards).
      await must('ip', ['-n', ra, 'route', 'add', 'default', 'via', '192.0.2.1']);
      await must('ip', ['-n', rb, 'route', 'add', 'default', 'via', '192.0.2.1']);
      await must('ip', ['netns', 'exec', lb, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // Transparent proxying (usesrc clientip): replies to HAProxy's client-addressed connections
      // are delivered to HAProxy, not forwarded.
      const rules = join(dir, 'tproxy.nft');
      writeFileSync(rules, [
        'table ip natalg_lab {',
        '  chain pre {',
        '    type filter hook prerouting priority mangle;',
        '    meta l4proto tcp socket transparent 1 meta mark set 1 accept',
        '  }',
        '}',
        '',
      ].join('\n'));
      await must('ip', ['netns', 'exec', lb, 'nft', '-f', rules]);
      await must('ip', ['-n', lb, 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
      await must('ip', ['-n', lb, 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100']);
    });
    server = await startVsftpd(topo, 'out', SERVER, 21, join(dir, 'vsftpd'), download, undefined, [`anon_max_rate=${SERVER_RATE}`]);
    for (const name of ['a', 'b'] as const) await startInstance(name);
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(socket));
    haproxy = topo.spawn('gw', 'haproxy', ['-db', '-f', cfg]);
    let haproxyLog = '';
    haproxy.stderr?.on('data', (d: Buffer) => (haproxyLog += d.toString()));
    haproxy.stdout?.on('data', (d: Buffer) => (haproxyLog += d.toString()));
    await until(`HAProxy to see both relays up (${haproxyLog})`, async () => {
      const s = await relayStatus(socket).catch(() => ({}) as Record<string, string>);
      return s.a === 'UP' && s.b === 'UP';
    });
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      for (const r of Object.values(relays)) await r.stop();
      await topo?.destroy();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
      release();
    }
  }, 60_000);

  it('20 clients at once through the balancer, passive and active: every file intact, both instances used', async () => {
    await mixedClients(20);
  }, 120_000);

  it('one instance drained mid-run: out of rotation first, its transfers finish in the grace period, new sessions go to the other', async () => {
    await drainA('HAProxy', async () => (await relayStatus(socket)).a === 'DOWN');
  }, 120_000);

  it('the nftables front host of docs/scale-out.md (DNAT, its health loop): clients both ways, then a drained the same way', async () => {
    await topo.stop(haproxy);
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'scale-out.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### nftables DNAT on a front host'));
    const blocks = [...section.matchAll(/```(?:sh)?\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const [ruleset, loop] = [blocks[0]!, blocks[1]!];
    expect(ruleset).toContain('table ip ftp_front');
    expect(loop).toContain('flush chain ip ftp_front control');
    writeFileSync(join(dir, 'ftp-front.nft'), ruleset);
    writeFileSync(join(dir, 'ftp-front-health'), loop, { mode: 0o755 });
    await startInstance('a'); // a new instance a: the last one was drained
    await must('ip', ['netns', 'exec', topo.ns.gw, 'nft', '-f', join(dir, 'ftp-front.nft')]);
    topo.spawn('gw', 'sh', [join(dir, 'ftp-front-health')]);
    await mixedClients(6);
    await drainA('the health loop', async () => {
      const r = await topo.exec('gw', 'nft', ['list', 'chain', 'ip', 'ftp_front', 'control']);
      return r.code === 0 && !r.stdout.includes(INSTANCES.a.inside) && r.stdout.includes(INSTANCES.b.inside);
    });
  }, 120_000);
});
