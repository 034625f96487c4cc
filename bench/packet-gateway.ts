/**
 * packet.gateway_throughput: MB/s of a large RETR through `nat-alg nat` end to end, against a
 * process that forwards the same packets unchanged on the same TUN/socat path in the same run
 * (bench/packet-forwarder.mjs), in the lab of test/interop/tun-gateway.ts: curl in the client
 * namespace, vsftpd in the server namespace, and in the gateway namespace two TUN devices whose
 * packets socat carries as UDP datagrams to whichever of the two processes binds the link ports.
 * The two take turns on the same ports, in alternating order, round by round; the ratio is the
 * median of the per-round ratios. Timed from RETR to the end (curl's time_total -
 * time_pretransfer), so the control exchange does not count. Goal: ratio >= 0.8.
 *
 * Needs root (namespaces, TUN devices): otherwise recorded as skipped, with the reason.
 */

import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, type BenchResult } from './harness.js';
import { acquireInteropLock } from '../test/interop/lock.js';
import { must, which, type Topology } from '../test/interop/netns.js';
import { CLI, cliAvailable } from '../test/interop/relay.js';
import { startVsftpd } from '../test/interop/servers.js';
import { buildTunLab, LAB, LINK_FLAGS, startReady, startTunLinks } from '../test/interop/tun-gateway.js';

const NAME = 'packet.gateway_throughput';
const FILE_BYTES = 96 << 20;
const ROUNDS = 7;

function skipped(reason: string): BenchResult[] {
  return [{ name: NAME, value: 0, unit: 'MB/s', skipped: reason }];
}

export async function run(): Promise<BenchResult[]> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root (network namespaces and TUN devices)');
  else if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
  for (const cmd of ['ip', 'socat', 'vsftpd', 'curl']) if (!which(cmd)) missing.push(cmd);
  if (!cliAvailable()) missing.push('dist/cli.js');
  if (missing.length > 0) return skipped(`needs ${missing.join(', ')}`);

  const release = await acquireInteropLock(600_000);
  const base = mkdtempSync(join(tmpdir(), 'nat-alg-bench-packet-'));
  chmodSync(base, 0o755);
  let topo: Topology | null = null;
  try {
    topo = await buildTunLab({ serverRoutesInside: true });
    const t = topo;
    const server = await startVsftpd(t, 'out', LAB.server, 21, join(base, 'vsftpd'), new Uint8Array(1));
    // A sparse file: the server reads zeros from the page cache, the disk plays no part.
    const big = join(server.root, 'big.bin');
    writeFileSync(big, '');
    await must('truncate', ['-s', String(FILE_BYTES), big]);
    chmodSync(big, 0o644);

    const startForwarder = (): Promise<ChildProcess> =>
      startReady(t, 'gw', process.execPath, [resolve('bench/packet-forwarder.mjs'), String(LAB.insidePort), String(LAB.insidePort + 100), String(LAB.outsidePort), String(LAB.outsidePort + 100)], 'forwarder ready');
    const startNat = (): Promise<ChildProcess> =>
      startReady(t, 'gw', process.execPath, [CLI, 'nat', ...LINK_FLAGS, '--nat-address', LAB.nat, '--inside-network', '192.0.2.0/24', '--log', 'json'], 'nat-alg nat: inside udp:');

    // The link ports are bound before socat starts (it sends to them at once).
    let current: { kind: 'nat' | 'forwarder'; child: ChildProcess } = { kind: 'forwarder', child: await startForwarder() };
    await startTunLinks(t);
    const use = async (kind: 'nat' | 'forwarder'): Promise<void> => {
      if (current.kind === kind) return;
      await t.stop(current.child);
      current = { kind, child: await (kind === 'nat' ? startNat() : startForwarder()) };
    };
    const retr = async (): Promise<number> => {
      const r = await t.exec('in', 'curl', [
        '-sS', '-o', '/dev/null', '-w', '%{time_pretransfer} %{time_total} %{size_download}', '--max-time', '120', '--ftp-pasv',
        `ftp://${LAB.server}/big.bin`,
      ], { timeoutMs: 150_000 });
      const [pre, total, size] = r.stdout.trim().split(' ').map(Number);
      if (r.code !== 0 || size !== FILE_BYTES) throw new Error(`curl through the ${current.kind} failed: ${r.code} ${r.stdout} ${r.stderr}`);
      return size / (1 << 20) / (total! - pre!);
    };

    const nat: number[] = [];
    const fwd: number[] = [];
    const ratios: number[] = [];
    await retr(); // warm-up (forwarder)
    await use('nat');
    await retr(); // warm-up (NAT)
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first: load from elsewhere hits both alike.
      const order = i % 2 === 0 ? (['nat', 'forwarder'] as const) : (['forwarder', 'nat'] as const);
      const got: Partial<Record<'nat' | 'forwarder', number>> = {};
      for (const kind of order) {
        await use(kind);
        got[kind] = await retr();
      }
      nat.push(got.nat!);
      fwd.push(got.forwarder!);
      ratios.push(got.nat! / got.forwarder!);
    }
    await t.stop(current.child);
    return [
      {
        name: NAME,
        value: median(nat),
        unit: 'MB/s',
        baseline: median(fwd),
        ratio: median(ratios),
        note:
          `RETR of ${FILE_BYTES >> 20} MiB (EPSV), curl -> vsftpd through a gateway namespace whose two TUN devices socat joins to UDP ports: nat-alg nat (NAPT, FTP ALG on port 21) ` +
          `against a Node process forwarding the same datagrams unchanged on the same ports (bench/packet-forwarder.mjs); timed from RETR to the end; medians of ${ROUNDS} interleaved rounds, ` +
          `ratio = median of per-round ratios (NAT ${nat.map((x) => x.toFixed(0)).join('/')}, forwarder ${fwd.map((x) => x.toFixed(0)).join('/')} MB/s); 2 cores shared with other work; goal ratio >= 0.8`,
      },
    ];
  } finally {
    try {
      await topo?.destroy();
    } finally {
      rmSync(base, { recursive: true, force: true });
      release();
    }
  }
}
