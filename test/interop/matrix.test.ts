// The interop matrix: real clients (curl, lftp, Python's ftplib) and real servers (vsftpd,
// pyftpdlib) on both sides of a gateway namespace that does not forward, with the project's relay
// (dist/cli.js) on the gateway. Every cell downloads a file and uploads one and checks the bytes.
// Topology and what each cell proves: docs/testing.md.
import { mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type ClientSpec, type Target } from './clients.js';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { checkPrerequisites, createTopology, INSIDE, OUTSIDE, type Side, type Topology } from './netns.js';
import { cliAvailable, hostPort, startRelay, type RunningRelay } from './relay.js';
import {
  randomPayload,
  readUpload,
  sha256,
  startPyftpdlib,
  startVsftpd,
  type FtpServerInstance,
  type ServerKind,
} from './servers.js';

const pre = await checkPrerequisites();
const haveCli = cliAvailable();
const inCI = Boolean(process.env.CI);

describe('interop prerequisites', () => {
  it('has root, ip netns, vsftpd, pyftpdlib, curl, lftp and the built CLI', () => {
    const problems = [pre.reason, haveCli ? '' : 'dist/cli.js (run `npx tsup`)'].filter((p) => p !== '');
    if (problems.length === 0) return;
    // On a developer machine the interop tests are skipped with the reason; in CI they must run.
    if (inCI) expect.fail(`interop tests cannot run in CI: ${problems.join('; ')}`);
    console.warn(`interop tests skipped: ${problems.join('; ')}`);
  });
});

type Family = 'ipv4' | 'ipv6' | 'ftp64';
const SERVER_PORT: Record<ServerKind, number> = { vsftpd: 21, pyftpdlib: 2121 };
const KINDS: readonly ServerKind[] = ['vsftpd', 'pyftpdlib'];
/** The relay's `data-open` log entries (`--log json`, one JSON object per line). */
function dataOpens(log: string): { mode?: unknown; command?: unknown }[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as { event?: unknown; mode?: unknown; command?: unknown };
      } catch {
        return {};
      }
    })
    .filter((e) => e.event === 'data-open');
}

function eventCounts(log: string): Record<string, number> {
  const counts: Record<string, number> = { 'session-open': 0, 'session-close': 0, 'data-open': 0, 'data-close': 0 };
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as { event?: unknown };
      if (typeof e.event === 'string' && e.event in counts) counts[e.event] = (counts[e.event] ?? 0) + 1;
    } catch {
      // Not a log entry.
    }
  }
  return counts;
}

function balanced(c: Record<string, number>): boolean {
  return c['session-open'] === c['session-close'] && c['data-open'] === c['data-close'];
}

const CLIENT_ROWS = CLIENTS.map((c) => [c.name, c] as const);
const download = randomPayload(256 * 1024);
const upload = randomPayload(96 * 1024 + 7);

describe.skipIf(!pre.ok)(`real peers in network namespaces${pre.ok ? '' : ` (skipped: ${pre.reason})`}`, () => {
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

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    base = mkdtempSync(join(tmpdir(), 'nat-alg-interop-'));
    chmodSync(base, 0o755); // vsftpd's ftp user must reach its anon_root below this
    uploadFile = join(base, 'upload.bin');
    writeFileSync(uploadFile, upload);
    topo = await createTopology();
    const starts: Promise<FtpServerInstance>[] = [];
    for (const side of ['in', 'out'] as const) {
      const net = side === 'in' ? INSIDE : OUTSIDE;
      for (const v of [4, 6] as const) {
        const host = v === 4 ? net.host4 : net.host6;
        const dir = (kind: string): string => join(base, `${side}-${kind}-${v}`);
        starts.push(startVsftpd(topo, side, host, SERVER_PORT.vsftpd, dir('vsftpd'), download));
        starts.push(startPyftpdlib(topo, side, host, SERVER_PORT.pyftpdlib, dir('pyftpdlib'), download, pre.python));
      }
    }
    for (const s of await Promise.all(starts)) servers.set(`${s.side}-${s.kind}-${s.host.includes(':') ? 6 : 4}`, s);
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      await topo?.destroy(); // throws if a namespace is left behind
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  /** One cell: the client downloads data.bin and uploads a file; both must arrive intact. */
  async function transfer(
    side: Side,
    target: Target,
    srv: FtpServerInstance,
    client: ClientSpec,
    relay?: RunningRelay,
  ): Promise<void> {
    const logBefore = relay?.output().length ?? 0;
    const work = mkdtempSync(join(base, 'cell-'));
    const downloadTo = join(work, 'data.bin');
    const uploadName = `cell-${++cellNo}-${client.name.replace(/\W+/g, '-')}.bin`;
    const r = await client.run(topo, side, { target, downloadTo, uploadFrom: uploadFile, uploadName, python: pre.python });
    let got: Buffer | null = null;
    try {
      got = readFileSync(downloadTo);
    } catch {
      // Reported below with the client's output.
    }
    const context =
      `${client.name} -> ${hostPort(target.host, target.port)} exited ${r.code}\n` +
      `stdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}\n` +
      (relay ? `relay log (tail):\n${relay.output().slice(-6000)}` : '');
    expect(got === null ? 'nothing downloaded' : sha256(got), context).toBe(sha256(download));
    const up = readUpload(srv, uploadName);
    expect(up === null ? 'nothing uploaded' : sha256(up), context).toBe(sha256(upload));
    expect(r.code, context).toBe(0);
    if (relay) {
      // The relay logs one data-open per data channel with the command that set it up: proves
      // that the client used the mode this cell names (over IPv6, PASV/PORT become EPSV/EPRT).
      const passive = client.expects === 'PASV' || client.expects === 'EPSV';
      const v6 = target.host.includes(':');
      const command = v6 ? (passive ? 'EPSV' : 'EPRT') : client.expects;
      let opens: { mode?: unknown; command?: unknown }[] = [];
      for (let i = 0; i < 40 && opens.length < 2; i++) {
        opens = dataOpens(relay.output().slice(logBefore));
        if (opens.length < 2) await new Promise((res) => setTimeout(res, 25));
      }
      expect(opens.length, context).toBe(2);
      for (const o of opens) expect({ mode: o.mode, command: o.command }, context).toEqual({ mode: passive ? 'passive' : 'active', command });
    }
  }

  describe('topology', () => {
    it('the gateway does not forward', async () => {
      const r = await topo.exec('gw', 'sysctl', ['-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']);
      expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(['0', '0']);
    });

    it.each([
      ['inside', 'in', OUTSIDE.host4],
      ['inside', 'in', OUTSIDE.host6],
      ['outside', 'out', INSIDE.host4],
      ['outside', 'out', INSIDE.host6],
    ] as const)('a host %s (%s) cannot reach %s directly', async (_label, side, host) => {
      const js =
        'const s=require("net").connect({host:process.argv[1],port:21,timeout:1500});' +
        's.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(3));s.on("timeout",()=>process.exit(4))';
      const r = await topo.exec(side, process.execPath, ['-e', js, host], { timeoutMs: 10_000 });
      expect(r.code).not.toBe(0);
      expect([3, 4]).toContain(r.code);
    });
  });

  // Without the relay, from the gateway (which sits on both networks): proves the servers, the
  // client settings and the harness before any relay is involved.
  describe.each(
    KINDS.flatMap((kind) => ([4, 6] as const).map((v) => [kind, v] as const)),
  )('direct from the gateway to %s over IPv%s', (kind, v) => {
    it.each(CLIENT_ROWS)('%s', async (_name, client) => {
      const srv = server('out', kind, v);
      await transfer('gw', { host: srv.host, port: srv.port }, srv, client);
    });
  });

  interface RelayCell {
    deployment: 'client inside' | 'server inside';
    family: Family;
    kind: ServerKind;
  }
  const relayCells: RelayCell[] = [];
  for (const deployment of ['client inside', 'server inside'] as const) {
    for (const family of ['ipv4', 'ipv6', 'ftp64'] as const) {
      for (const kind of KINDS) relayCells.push({ deployment, family, kind });
    }
  }

  describe.skipIf(!haveCli)(`through the relay${haveCli ? '' : ' (skipped: dist/cli.js not built)'}`, () => {
    let relayPort = 2100;
    describe.each(relayCells.map((c) => [c.deployment, c.family, c.kind] as const))('%s, %s, %s', (deployment, family, kind) => {
      let relay: RunningRelay;
      // Forward: clients inside, servers outside, the relay listens on its inside address.
      // Reverse: servers inside (private), clients outside; the relay listens on the wildcard
      // address and announces its outside address with --public-address.
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
        relay = await startRelay(topo, 'gw', {
          listen: forward ? hostPort(target.host, port) : hostPort(clientV6 ? '::' : '0.0.0.0', port),
          upstream: hostPort(srv.host, srv.port),
          ...(forward ? { dataPorts: '40000-40999' } : { publicAddress: target.host }),
        });
      });

      afterAll(async () => {
        // Every session and data channel the cells opened has been closed by the relay once the
        // clients are gone: nothing leaks between cells.
        let counts = eventCounts(relay?.output() ?? '');
        for (let i = 0; i < 40 && !balanced(counts); i++) {
          await new Promise((r) => setTimeout(r, 50));
          counts = eventCounts(relay?.output() ?? '');
        }
        const code = await relay?.stop();
        if (process.env.NAT_ALG_INTEROP_LOG) console.log(`relay ${deployment} ${family} ${kind}:\n${relay?.output()}`);
        expect(code, `relay did not exit cleanly on SIGTERM:\n${relay?.output().slice(-3000)}`).toBe(0);
        expect(counts['session-open'], 'sessions seen by the relay').toBe(CLIENTS.length);
        expect(counts['session-close']).toBe(counts['session-open']);
        expect(counts['data-close']).toBe(counts['data-open']);
      });

      it.each(CLIENT_ROWS)('%s', async (_name, client) => {
        const srv = server(serverSide, kind, serverV);
        await transfer(clientSide, target, srv, client, relay);
      });
    });
  });
});
