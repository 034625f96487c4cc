// The packet NAT end to end on the real Linux stack: a client network, a gateway whose kernel only
// routes (into two TUN devices, no NAT, no conntrack helper) and a server network, joined by
// `nat-alg nat` alone (dist/cli.js, its links carried by socat as one packet per UDP datagram).
// curl and lftp against vsftpd and pyftpdlib, passive and active, EPSV and EPRT; a client behind
// the NAT and a server behind a port forward; an IPv6-only client through NAT64 and FTP64; a 227
// split across two segments by a scripted server; a rewritten segment dropped once on the way
// (nftables) and sent again; tcpdump -vv on both sides of the NAT reporting every checksum right.
//
// The lab (namespaces, TUN devices, socat, policy routes) is test/interop/tun-gateway.ts.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type ClientSpec } from './clients.js';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { checkPrerequisites, must, run, which, type RunResult, type Topology } from './netns.js';
import { CLI, cliAvailable } from './relay.js';
import { randomPayload, readUpload, sha256, startPyftpdlib, startVsftpd, type FtpServerInstance } from './servers.js';
import { buildTunLab, LAB, LINK_FLAGS, startReady, startTunLinks } from './tun-gateway.js';

const pre = await checkPrerequisites();
const missing = [pre.ok ? '' : pre.reason, cliAvailable() ? '' : 'dist/cli.js (run `npx tsup`)'];
for (const cmd of ['socat', 'tcpdump', 'nft']) if (!which(cmd)) missing.push(cmd);
if (pre.ok && !existsSync('/dev/net/tun')) missing.push('/dev/net/tun (TUN devices)');
const reason = missing.filter((m) => m !== '').join('; ');
const inCI = Boolean(process.env.CI);

describe('packet NAT interop prerequisites', () => {
  it('has root, ip netns, TUN, socat, tcpdump, nft, the servers, the clients and the built CLI', () => {
    if (reason === '') return;
    if (inCI) expect.fail(`packet NAT interop tests cannot run in CI: ${reason}`);
    console.warn(`packet NAT interop tests skipped: ${reason}`);
  });
});

const NAT = LAB.nat;
const INSIDE_SERVER = LAB.insideServer;
const SERVER = LAB.server;
const PREFIX = LAB.nat64Prefix;
const SERVER_V6 = LAB.server6;
const download = randomPayload(1024 * 1024 + 13);
const upload = randomPayload(300 * 1024 + 5);

function byName(name: string): ClientSpec {
  const c = CLIENTS.find((x) => x.name === name);
  if (!c) throw new Error(`no client ${name}`);
  return c;
}

describe.skipIf(reason !== '')(`packet NAT between TUN devices${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let topo: Topology;
  let release: () => void = () => undefined;
  let base: string;
  let nat: ChildProcess;
  let natLog = '';
  let vsftpd: FtpServerInstance;
  let pyftpd: FtpServerInstance;
  let insideVsftpd: FtpServerInstance;
  let uploadFile: string;
  let uploads = 0;

  const gw = (cmd: string, args: readonly string[]): Promise<string> => must('ip', ['netns', 'exec', topo.ns.gw, cmd, ...args]);

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    base = mkdtempSync(join(tmpdir(), 'nat-alg-packet-'));
    chmodSync(base, 0o755);
    uploadFile = join(base, 'upload.bin');
    writeFileSync(uploadFile, upload);
    chmodSync(uploadFile, 0o644);
    topo = await buildTunLab();
    // nat-alg first: socat gives up when its UDP peer refuses.
    nat = await startReady(
      topo,
      'gw',
      process.execPath,
      [
        CLI, 'nat',
        ...LINK_FLAGS,
        '--nat-address', NAT, '--inside-network', '192.0.2.0/24',
        '--nat64', PREFIX,
        '--forward', `tcp:${NAT}:21=${INSIDE_SERVER}:21`,
        '--forward', `tcp:${NAT}:2122=${INSIDE_SERVER}:2122`,
        '--alg', 'ftp:21', '--alg', 'ftp:2121', '--alg', 'ftp:2122',
        '--log', 'json', '--verbose',
      ],
      'nat-alg nat: inside udp:',
      (s) => (natLog += s),
    );
    await startTunLinks(topo);
    vsftpd = await startVsftpd(topo, 'out', SERVER, 21, join(base, 'vsftpd'), download);
    pyftpd = await startPyftpdlib(topo, 'out', SERVER, 2121, join(base, 'pyftpdlib'), download, pre.python);
    insideVsftpd = await startVsftpd(topo, 'in', INSIDE_SERVER, 21, join(base, 'vsftpd-inside'), download);
    writeFileSync(join(base, 'data.bin'), download);
    chmodSync(join(base, 'data.bin'), 0o644);
    await startReady(topo, 'in', process.execPath, [join(import.meta.dirname, 'servers', 'split-reply-server.mjs'), INSIDE_SERVER, '2122', join(base, 'data.bin')], 'READY');
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      await topo?.destroy();
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  /** tcpdump on a gateway interface into `file`, resolved once it listens. */
  async function capture(iface: string, file: string, snaplen: number, filter: string[] = []): Promise<ChildProcess> {
    const child = topo.spawn('gw', 'tcpdump', ['-i', iface, '-nn', '-s', String(snaplen), '-Z', 'root', '-U', '-w', file, ...filter]);
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
    });
    return child;
  }

  /** One client session: download data.bin and upload a file; both checked by their sha256. */
  async function session(clientName: string, side: 'in' | 'out', host: string, port: number, server: FtpServerInstance): Promise<void> {
    const name = `up-${++uploads}.bin`;
    const to = join(base, `down-${uploads}.bin`);
    const r = await byName(clientName).run(topo, side, {
      target: { host, port },
      downloadTo: to,
      uploadFrom: uploadFile,
      uploadName: name,
      python: pre.python,
    });
    expect(r.code, `${clientName} against ${host}:${port}: ${r.stderr}\n${natLog.slice(-3000)}`).toBe(0);
    expect(sha256(readFileSync(to))).toBe(sha256(download));
    expect(sha256(readUpload(server, name) ?? Buffer.alloc(0))).toBe(sha256(upload));
  }

  describe('a client behind the NAT, servers outside', () => {
    for (const c of ['curl EPSV', 'curl PASV', 'curl EPRT', 'curl PORT', 'lftp passive', 'lftp active']) {
      it(`${c} with vsftpd`, () => session(c, 'in', SERVER, 21, vsftpd), 60_000);
    }
    for (const c of ['curl PASV', 'curl PORT']) {
      it(`${c} with pyftpdlib`, () => session(c, 'in', SERVER, 2121, pyftpd), 60_000);
    }
  });

  describe('an IPv6-only client through NAT64 and FTP64', () => {
    for (const c of ['curl EPSV', 'curl EPRT']) {
      it(`${c} with vsftpd at [${SERVER_V6}]`, () => session(c, 'in', SERVER_V6, 21, vsftpd), 60_000);
    }
  });

  describe('a server behind a port forward, the client outside', () => {
    for (const c of ['curl PASV', 'curl EPSV', 'curl PORT', 'lftp passive']) {
      it(`${c} with vsftpd at ${NAT}:21`, () => session(c, 'out', NAT, 21, insideVsftpd), 60_000);
    }
  });

  it('a 227 split across two TCP segments is translated whole', async () => {
    const to = join(base, 'split.bin');
    const r = await topo.exec('out', 'curl', ['-sS', '-v', '--max-time', '15', '--ftp-pasv', '--disable-epsv', `ftp://${NAT}:2122/data.bin`, '-o', to], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/227 Entering Passive Mode \(203,0,113,1,\d+,\d+\)/);
    expect(r.stderr).not.toContain('192,0,2');
    expect(sha256(readFileSync(to))).toBe(sha256(download));
  }, 60_000);

  it('a rewritten PORT dropped on its way out is sent again by the client and rewritten the same', async () => {
    const pcap = join(base, 'retransmit.pcap');
    const rules = `table inet natalgtest {\n chain dropone {\n  type filter hook forward priority 0; policy accept;\n  oifname "out0" tcp dport 21 @ih,0,32 0x504f5254 quota until 100 bytes counter drop\n }\n}\n`;
    writeFileSync(join(base, 'drop.nft'), rules);
    await gw('nft', ['-f', join(base, 'drop.nft')]);
    const dump = await capture('tout', pcap, 256);
    try {
      await session('curl PORT', 'in', SERVER, 21, vsftpd);
    } finally {
      await new Promise((r) => setTimeout(r, 300));
      await topo.stop(dump);
    }
    const counter = await gw('nft', ['list', 'table', 'inet', 'natalgtest']);
    await gw('nft', ['delete', 'table', 'inet', 'natalgtest']);
    expect(counter).toMatch(/counter packets 1 /);
    const text = (await run('tcpdump', ['-nn', '-A', '-r', pcap])).stdout;
    const ports = text.split('\n').filter((l) => l.includes('FTP: PORT 203,0,113,1,'));
    expect(ports.length, text.slice(0, 2000)).toBe(2);
    // The same segment both times: sequence range and bytes.
    const strip = (l: string) => l.replace(/^\S+ /, '').replace(/TS val \d+ ecr \d+/, '');
    expect(strip(ports[0]!)).toBe(strip(ports[1]!));
  }, 60_000);

  it('tcpdump -vv on both sides of the NAT reports every checksum correct', async () => {
    const pin = join(base, 'tin.pcap');
    const pout = join(base, 'tout.pcap');
    const dumps = [await capture('tin', pin, 0), await capture('tout', pout, 0)];
    try {
      await session('curl PASV', 'in', SERVER, 21, vsftpd);
      await session('curl PORT', 'in', SERVER, 21, vsftpd);
      await session('curl EPSV', 'in', SERVER_V6, 21, vsftpd);
      await session('curl PASV', 'out', NAT, 21, insideVsftpd);
    } finally {
      await new Promise((r) => setTimeout(r, 300));
      for (const d of dumps) await topo.stop(d);
    }
    for (const p of [pin, pout]) {
      const r: RunResult = await run('tcpdump', ['-nn', '-vv', '-r', p], { timeoutMs: 60_000 });
      const out = r.stdout;
      expect(out.split('\n').length).toBeGreaterThan(100);
      expect(out).not.toMatch(/incorrect|bad cksum|wrong/i);
      expect((out.match(/\(correct\)/g) ?? []).length).toBeGreaterThan(100);
    }
  }, 120_000);

  it('the gateway\'s kernel translated nothing: no NAT chain, no conntrack helper', async () => {
    const rules = await gw('nft', ['list', 'ruleset']);
    expect(rules).not.toMatch(/type nat|ct helper|masquerade|snat|dnat/);
    const helpers = await run('ip', ['netns', 'exec', topo.ns.gw, 'sh', '-c', 'cat /proc/net/nf_conntrack 2>/dev/null | grep -c helper= || true']);
    expect(helpers.stdout.trim() === '' || helpers.stdout.trim() === '0').toBe(true);
  });

  it('nothing went wrong in the gateway', () => {
    expect(nat.exitCode).toBeNull();
    const entries = natLog.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string });
    expect(entries.some((e) => e.event === 'data-channel')).toBe(true);
    expect(entries.filter((e) => e.event === 'data-channel-refused')).toEqual([]);
  });
});
