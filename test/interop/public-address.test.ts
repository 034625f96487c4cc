// The relay behind a real NAT (edge-nat.ts): outside clients reach 203.0.113.1, an edge router
// forwards the control port and the relay's data-port range to the relay's private address
// 198.51.100.2, and the relay fronts vsftpd and pyftpdlib on 192.0.2.2. With --public-address the
// passive replies name the edge's public address and every client works; without it the same
// clients are told the relay's private address and must fail, which proves the option matters.
// Topology and what each test proves: docs/testing.md, "A relay behind a NAT".
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkNftables,
  createEdgeNatTopology,
  DATA_PORTS,
  EDGE,
  PUBLIC_CONTROL_PORT,
  RELAY_CONTROL_PORT,
  type EdgeTopology,
} from './edge-nat.js';
import { curl as curlSpec, ftplib as ftplibSpec, lftp as lftpSpec, type ClientSpec } from './clients.js';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { checkPrerequisites, which, type RunResult } from './netns.js';
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
const haveNft = which('nft') !== null;
const nftProblem = pre.ok && haveNft ? await checkNftables() : '';
const haveCli = cliAvailable();
const problems = [pre.reason, haveNft ? '' : 'nft (nftables)', nftProblem, haveCli ? '' : 'dist/cli.js (run `npx tsup`)'].filter(
  (p) => p !== '',
);
const ready = problems.length === 0;
const inCI = Boolean(process.env.CI);

describe('public-address prerequisites', () => {
  it('has root, ip netns, nftables with NAT, the servers, the clients and the built CLI', () => {
    if (ready) return;
    // On a developer machine the test is skipped with the reason; in CI it must run.
    if (inCI) expect.fail(`public-address tests cannot run in CI: ${problems.join('; ')}`);
    console.warn(`public-address tests skipped: ${problems.join('; ')}`);
  });
});

const SERVER_PORT: Record<ServerKind, number> = { vsftpd: 21, pyftpdlib: 2121 };
const TARGET = { host: EDGE.public, port: PUBLIC_CONTROL_PORT };
const DATA_RANGE = `${DATA_PORTS.min}-${DATA_PORTS.max}`;
const download = randomPayload(192 * 1024);
const upload = randomPayload(64 * 1024 + 3);

/**
 * A client of the matrix (clients.ts), run from the outside namespace with its protocol trace on,
 * so the test can read the 227/229 the client was given.
 */
interface Client extends ClientSpec {
  readonly mode: 'passive' | 'active';
  readonly command: ClientSpec['expects'];
}

function traced(spec: ClientSpec): Client {
  const passive = spec.expects === 'PASV' || spec.expects === 'EPSV';
  return { ...spec, mode: passive ? 'passive' : 'active', command: spec.expects };
}

const curl = (name: string, command: ClientSpec['expects'], flags: readonly string[]) => traced(curlSpec(name, command, flags, true));
const lftp = (name: string, passive: boolean) => traced(lftpSpec(name, passive, true));
const ftplib = (name: string, passive: boolean) => traced(ftplibSpec(name, passive, true));

// curl has skipped the 227's address by default since 7.74.0 (it reuses the control connection's
// address): --no-ftp-skip-pasv-ip makes it connect where the 227 says, as lftp and ftplib do here.
const CURL_EPSV = curl('curl EPSV', 'EPSV', ['--ftp-pasv']);
const CURL_PASV = curl('curl PASV', 'PASV', ['--ftp-pasv', '--disable-epsv', '--no-ftp-skip-pasv-ip']);
const CURL_PORT = curl('curl PORT', 'PORT', ['--ftp-port', '-', '--disable-eprt']);
const PASV_CLIENTS: readonly Client[] = [CURL_PASV, lftp('lftp passive', true), ftplib('ftplib passive', true)];
const CLIENTS: readonly Client[] = [
  CURL_EPSV,
  ...PASV_CLIENTS,
  curl('curl EPRT', 'EPRT', ['--ftp-port', '-']),
  CURL_PORT,
  lftp('lftp active', false),
  ftplib('ftplib active', false),
];

/** The relay's JSON log entries (`--log json`, one object per line). */
function entries(log: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log entry.
    }
  }
  return out;
}

/** Every 227/229 reply in a client's trace (curl `< 227 …`, lftp `<--- 227 …`, ftplib `*resp* '227 …'`). */
function passiveReplies(r: RunResult): string[] {
  return [...`${r.stdout}\n${r.stderr}`.matchAll(/\b(22[79] [^\n'"]*)/g)].map((m) => m[1] ?? '');
}

/** The data endpoint a 227 names, as `a.b.c.d:port`. */
function pasvEndpoint(reply: string): string | null {
  const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply);
  if (!m) return null;
  const n = m.slice(1).map(Number);
  return `${n[0]}.${n[1]}.${n[2]}.${n[3]}:${(n[4] ?? 0) * 256 + (n[5] ?? 0)}`;
}

/** Waits until the relay has logged a close for every session it opened, then counts. */
async function settledCounts(relay: RunningRelay | undefined): Promise<Record<string, number>> {
  const count = (): Record<string, number> => {
    const c: Record<string, number> = { 'session-open': 0, 'session-close': 0, 'data-open': 0, 'data-close': 0 };
    for (const e of entries(relay?.output() ?? '')) if (typeof e.event === 'string' && e.event in c) c[e.event] = (c[e.event] ?? 0) + 1;
    return c;
  };
  let c = count();
  for (let i = 0; i < 40 && c['session-open'] !== c['session-close']; i++) {
    await new Promise((r) => setTimeout(r, 50));
    c = count();
  }
  return c;
}

function inDataRange(endpoint: string | null): boolean {
  const port = Number(endpoint?.split(':').pop());
  return port >= DATA_PORTS.min && port <= DATA_PORTS.max;
}

describe.skipIf(!ready)(`relay behind an edge NAT${ready ? '' : ` (skipped: ${problems.join('; ')})`}`, () => {
  let topo: EdgeTopology;
  let release: () => void = () => undefined;
  let base: string;
  let uploadFile: string;
  const servers = new Map<ServerKind, FtpServerInstance>();
  const server = (kind: ServerKind): FtpServerInstance => {
    const s = servers.get(kind);
    if (!s) throw new Error(`no ${kind} server`);
    return s;
  };
  let cellNo = 0;

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    base = mkdtempSync(join(tmpdir(), 'nat-alg-edge-'));
    chmodSync(base, 0o755); // vsftpd's ftp user must reach its anon_root below this
    uploadFile = join(base, 'upload.bin');
    writeFileSync(uploadFile, upload);
    topo = await createEdgeNatTopology();
    const [v, p] = await Promise.all([
      startVsftpd(topo, 'in', EDGE.server, SERVER_PORT.vsftpd, join(base, 'vsftpd'), download),
      startPyftpdlib(topo, 'in', EDGE.server, SERVER_PORT.pyftpdlib, join(base, 'pyftpdlib'), download, pre.python),
    ]);
    servers.set('vsftpd', v);
    servers.set('pyftpdlib', p);
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      await topo?.destroy(); // throws if a namespace is left behind
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  interface Outcome {
    readonly result: RunResult;
    readonly downloaded: Buffer | null;
    readonly uploaded: Buffer | null;
    readonly replies: string[];
    /** The relay's log entries written during this client's session. */
    readonly log: Record<string, unknown>[];
    readonly context: string;
  }

  async function session(client: Client, kind: ServerKind, relay: RunningRelay): Promise<Outcome> {
    const logBefore = relay.output().length;
    const work = mkdtempSync(join(base, 'cell-'));
    const downloadTo = join(work, 'data.bin');
    const uploadName = `cell-${++cellNo}-${client.name.replace(/\W+/g, '-')}.bin`;
    const result = await client.run(topo, 'out', { target: TARGET, downloadTo, uploadFrom: uploadFile, uploadName, python: pre.python });
    let downloaded: Buffer | null = null;
    try {
      downloaded = readFileSync(downloadTo);
    } catch {
      // Nothing downloaded; the caller decides whether that is right.
    }
    // data-open/data-close entries may trail the client's exit by a moment.
    await new Promise((r) => setTimeout(r, 50));
    const context =
      `${client.name} -> ${hostPort(TARGET.host, TARGET.port)} exited ${result.code}\n` +
      `stdout: ${result.stdout.slice(-2500)}\nstderr: ${result.stderr.slice(-2500)}\n` +
      `relay log (tail):\n${relay.output().slice(-5000)}`;
    return {
      result,
      downloaded,
      uploaded: readUpload(server(kind), uploadName),
      replies: passiveReplies(result),
      log: entries(relay.output().slice(logBefore)),
      context,
    };
  }

  describe('topology', () => {
    it('only the edge forwards', async () => {
      const forwarding: Record<string, string> = {};
      for (const side of ['out', 'edge', 'gw', 'in'] as const) {
        forwarding[side] = (await topo.exec(side, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim();
      }
      expect(forwarding).toEqual({ out: '0', edge: '1', gw: '0', in: '0' });
    });

    it('the edge has no conntrack helper (it cannot translate FTP itself)', async () => {
      const r = await topo.exec('edge', 'nft', ['list', 'ruleset']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/dnat to 198\.51\.100\.2/);
      expect(r.stdout).not.toMatch(/helper/);
    });

    it('the outside reaches exactly the published ports, and nothing behind the edge', async () => {
      // Stand-in listeners where the relay will listen: its control port and a data port.
      const js =
        'const net=require("net");let n=0;for(const p of process.argv.slice(1))' +
        'net.createServer(s=>s.destroy()).listen(+p,"0.0.0.0",()=>{if(++n===process.argv.length-1)console.log("up")})';
      const listener = topo.spawn('gw', process.execPath, ['-e', js, String(RELAY_CONTROL_PORT), String(DATA_PORTS.min), '39999']);
      try {
        await new Promise<void>((resolve, reject) => {
          listener.stdout?.once('data', () => resolve());
          listener.once('exit', (code) => reject(new Error(`stand-in listener exited ${code}`)));
        });
        const probe =
          'const s=require("net").connect({host:process.argv[1],port:+process.argv[2],timeout:1500});' +
          's.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(3));s.on("timeout",()=>process.exit(4))';
        const reach = async (side: 'out' | 'in', host: string, port: number): Promise<number> =>
          (await topo.exec(side, process.execPath, ['-e', probe, host, String(port)], { timeoutMs: 10_000 })).code;
        const got = {
          publicControl: await reach('out', EDGE.public, PUBLIC_CONTROL_PORT),
          publicData: await reach('out', EDGE.public, DATA_PORTS.min),
          unpublishedPort: await reach('out', EDGE.public, 39999),
          relayPrivateControl: await reach('out', EDGE.relay, RELAY_CONTROL_PORT),
          relayPrivateData: await reach('out', EDGE.relay, DATA_PORTS.min),
          server: await reach('out', EDGE.server, SERVER_PORT.vsftpd),
          serverToClient: await reach('in', EDGE.client, 22),
        };
        // 3 = refused/unreachable at once (the edge resets, or there is no route).
        expect(got).toEqual({
          publicControl: 0,
          publicData: 0,
          unpublishedPort: 3,
          relayPrivateControl: 3,
          relayPrivateData: 3,
          server: 3,
          serverToClient: 3,
        });
      } finally {
        await topo.stop(listener);
      }
    });

    it.each(['vsftpd', 'pyftpdlib'] as const)('%s names its private address in its own 227', async (kind) => {
      const js = 'import ftplib,sys\nf=ftplib.FTP(timeout=5)\nf.connect(sys.argv[1],int(sys.argv[2]))\nf.login()\nprint(f.sendcmd("PASV"))\nf.quit()';
      const r = await topo.exec('gw', pre.python, ['-c', js, EDGE.server, String(SERVER_PORT[kind])]);
      expect(r.stdout, r.stderr).toMatch(/^227 .*\b192,0,2,2,\d+,\d+/);
    });
  });

  describe.each(['vsftpd', 'pyftpdlib'] as const)('%s', (kind) => {
    const relayOptions = (publicAddress: boolean) => ({
      listen: `0.0.0.0:${RELAY_CONTROL_PORT}`,
      upstream: hostPort(EDGE.server, SERVER_PORT[kind]),
      dataPorts: DATA_RANGE,
      ...(publicAddress ? { publicAddress: EDGE.public } : {}),
      // Logs each translated line: the server's own 227 and what the client was given.
      extra: ['--verbose'],
    });

    describe(`with --public-address ${EDGE.public} --data-ports ${DATA_RANGE}`, () => {
      let relay: RunningRelay;
      beforeAll(async () => {
        relay = await startRelay(topo, 'gw', relayOptions(true));
      });
      afterAll(async () => {
        // Every session and data channel of the group was closed: nothing leaks behind the NAT.
        const counts = await settledCounts(relay);
        const code = await relay?.stop();
        if (process.env.NAT_ALG_INTEROP_LOG) console.log(`relay ${kind} with --public-address:\n${relay?.output()}`);
        expect(code, `relay did not exit cleanly on SIGTERM:\n${relay?.output().slice(-3000)}`).toBe(0);
        expect(counts['session-open'], 'sessions seen by the relay').toBe(CLIENTS.length);
        expect(counts['session-close']).toBe(counts['session-open']);
        expect(counts['data-open']).toBe(2 * CLIENTS.length);
        expect(counts['data-close']).toBe(counts['data-open']);
      });

      it.each(CLIENTS.map((c) => [c.name, c] as const))('%s transfers both ways through the edge', async (_name, client) => {
        const o = await session(client, kind, relay);
        expect(o.downloaded === null ? 'nothing downloaded' : sha256(o.downloaded), o.context).toBe(sha256(download));
        expect(o.uploaded === null ? 'nothing uploaded' : sha256(o.uploaded), o.context).toBe(sha256(upload));
        expect(o.result.code, o.context).toBe(0);

        // The relay saw the client's real address (DNAT keeps the source), and opened both data
        // channels in the mode this client names.
        const opened = o.log.filter((e) => e.event === 'session-open');
        expect(opened.map((e) => String(e.client).split(':')[0]), o.context).toEqual([EDGE.client]);
        const opens = o.log.filter((e) => e.event === 'data-open');
        expect(opens.map((e) => [e.mode, e.command]), o.context).toEqual([
          [client.mode, client.command],
          [client.mode, client.command],
        ]);

        if (client.command === 'PASV') {
          // The server named its private address; the client was given the edge's public address
          // and a port of the published range, and connected there.
          expect(o.replies.length, o.context).toBe(2);
          for (const reply of o.replies) {
            const ep = pasvEndpoint(reply);
            expect(ep?.split(':')[0], o.context).toBe(EDGE.public);
            expect(inDataRange(ep), `${reply} outside ${DATA_RANGE}`).toBe(true);
          }
          const rewrites = o.log.filter((e) => e.event === 'line-translated' && String(e.before).startsWith('227'));
          expect(rewrites.length, o.context).toBe(2);
          for (const r of rewrites) {
            expect(pasvEndpoint(String(r.before))?.split(':')[0], o.context).toBe(EDGE.server);
            expect(pasvEndpoint(String(r.after))?.split(':')[0], o.context).toBe(EDGE.public);
          }
        } else if (client.command === 'EPSV') {
          expect(o.replies.length, o.context).toBe(2);
          for (const reply of o.replies) {
            const port = /\(\|\|\|(\d+)\|\)/.exec(reply)?.[1];
            expect(inDataRange(`x:${port}`), `${reply} outside ${DATA_RANGE}`).toBe(true);
          }
        } else {
          // Active: the relay connected out to the client's own endpoint, through the edge's
          // masquerading.
          for (const e of opens) expect(String(e.target).split(':')[0], o.context).toBe(EDGE.client);
        }
      });
    });

    describe('without --public-address (negative control)', () => {
      let relay: RunningRelay;
      beforeAll(async () => {
        relay = await startRelay(topo, 'gw', relayOptions(false));
      });
      afterAll(async () => {
        const counts = await settledCounts(relay);
        const code = await relay?.stop();
        if (process.env.NAT_ALG_INTEROP_LOG) console.log(`relay ${kind} without --public-address:\n${relay?.output()}`);
        expect(code, `relay did not exit cleanly on SIGTERM:\n${relay?.output().slice(-3000)}`).toBe(0);
        // The failed sessions ended too (the clients gave up and closed their control connections).
        // curl opens a second session for its upload after the failed download, hence "at least".
        expect(counts['session-open'], 'sessions seen by the relay').toBeGreaterThanOrEqual(PASV_CLIENTS.length + 2);
        expect(counts['session-close']).toBe(counts['session-open']);
      });

      it.each(PASV_CLIENTS.map((c) => [c.name, c] as const))(
        '%s fails: the 227 names the relay\'s private address',
        async (_name, client) => {
          const o = await session(client, kind, relay);
          expect(o.result.code, o.context).not.toBe(0);
          expect(o.downloaded === null || o.downloaded.length === 0, o.context).toBe(true);
          expect(o.uploaded, o.context).toBeNull();
          expect(o.replies.length, o.context).toBeGreaterThan(0);
          for (const reply of o.replies) expect(pasvEndpoint(reply)?.split(':')[0], o.context).toBe(EDGE.relay);
          // Not for want of a listener: the relay opened one on a published port for the client.
          const listening = o.log.filter((e) => e.event === 'data-listening');
          expect(listening.length, o.context).toBeGreaterThan(0);
          for (const e of listening) expect(inDataRange(String(e.local)), o.context).toBe(true);
        },
      );

      // The same relay and edge work where no address is carried: only the 227's address is wrong.
      it.each([CURL_EPSV, CURL_PORT].map((c) => [c.name, c] as const))('%s still works: only the 227\'s address is wrong', async (_name, client) => {
        const o = await session(client, kind, relay);
        expect(o.downloaded === null ? 'nothing downloaded' : sha256(o.downloaded), o.context).toBe(sha256(download));
        expect(o.uploaded === null ? 'nothing uploaded' : sha256(o.uploaded), o.context).toBe(sha256(upload));
        expect(o.result.code, o.context).toBe(0);
      });
    });
  });
});
