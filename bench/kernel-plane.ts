/**
 * The nftables data plane against the kernel's own NAT (`npm run bench kernel`), in network
 * namespaces of its own (documentation addresses; netns.ts's in / gw / out): curl in the client
 * namespace, vsftpd in the server namespace, the relay (dist/cli.js) in the gateway namespace.
 *
 * - relay.kernel_plane.throughput / _active: MB/s of a large RETR through `nat-alg ftp
 *   --data-plane nftables` (EPSV / EPRT), against the same RETR through plain kernel NAT in the
 *   same gateway: a static DNAT of the control port and the server's passive ports, masquerade
 *   outwards, and for active mode a route and masquerade back to the client. Interleaved rounds,
 *   ratio = median of per-round ratios. Goal: >= 0.95 both ways. The relay's own data path runs
 *   in the same rounds, for the note.
 * - relay.kernel_plane.setup_ms / setup_p99_ms: ms from PASV sent to the data connection
 *   established, as the client sees it, median and p99 of many channels, nftables plane against
 *   the relay plane (baseline).
 *
 * Needs root (namespaces, nft): otherwise each result is recorded as skipped, with the reason.
 */

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, type BenchResult } from './harness.js';
import { acquireInteropLock } from '../test/interop/lock.js';
import { createTopology, INSIDE, must, OUTSIDE, setForwarding, which, type Topology } from '../test/interop/netns.js';
import { cliAvailable, startRelay, type RunningRelay } from '../test/interop/relay.js';
import { startVsftpd } from '../test/interop/servers.js';

const FILE_BYTES = 256 << 20;
const ROUNDS = 9;
const LATENCY_CHANNELS = 200;
const NAMES = ['relay.kernel_plane.throughput', 'relay.kernel_plane.throughput_active', 'relay.kernel_plane.setup_ms', 'relay.kernel_plane.setup_p99_ms'];

function skipped(reason: string): BenchResult[] {
  return NAMES.map((name) => ({ name, value: 0, unit: name.endsWith('_ms') ? 'ms' : 'MB/s', skipped: reason }));
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

export async function run(): Promise<BenchResult[]> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root (network namespaces and nft)');
  for (const cmd of ['ip', 'nft', 'vsftpd', 'curl']) if (!which(cmd)) missing.push(cmd);
  if (!cliAvailable()) missing.push('dist/cli.js');
  if (missing.length > 0) return skipped(`needs ${missing.join(', ')}`);

  const release = await acquireInteropLock(600_000);
  const base = mkdtempSync(join(tmpdir(), 'nat-alg-bench-kernel-'));
  chmodSync(base, 0o755);
  let topo: Topology | null = null;
  const relays: RunningRelay[] = [];
  try {
    topo = await createTopology();
    const t = topo;
    await setForwarding(t, 'gw', true);
    // Active baseline: the server reaches the client through the gateway, which masquerades.
    await must('ip', ['-n', t.ns.out, 'route', 'add', `${INSIDE.host4.replace(/\d+$/, '0')}/24`, 'via', OUTSIDE.gw4]);
    // One vsftpd for the relays; one for the plain NAT, announcing the gateway's address in 227
    // and taking PORT for the client's own address from the masqueraded control connection.
    const file = new Uint8Array(1);
    const [relayed, natted] = await Promise.all([
      startVsftpd(t, 'out', OUTSIDE.host4, 21, join(base, 'vs-relay'), file),
      startVsftpd(t, 'out', OUTSIDE.host4, 2121, join(base, 'vs-nat'), file, undefined, [
        `pasv_address=${INSIDE.gw4}`, 'pasv_min_port=31000', 'pasv_max_port=31999', 'port_promiscuous=YES',
      ]),
    ]);
    for (const root of [relayed.root, natted.root]) {
      // A sparse file: the server reads zeros from the page cache, the disk plays no part.
      const big = join(root, 'big.bin');
      writeFileSync(big, '');
      await must('truncate', ['-s', String(FILE_BYTES), big]);
      chmodSync(big, 0o644);
    }
    await must('ip', ['netns', 'exec', t.ns.gw, 'nft', [
      'table ip nat_alg_bench {',
      `chain pre { type nat hook prerouting priority dstnat; policy accept;`,
      `iifname "in0" ip daddr ${INSIDE.gw4} tcp dport 2121 dnat to ${OUTSIDE.host4}:2121;`,
      `iifname "in0" ip daddr ${INSIDE.gw4} tcp dport 31000-31999 dnat to ${OUTSIDE.host4}; };`,
      `chain post { type nat hook postrouting priority srcnat; policy accept;`,
      `oifname "out0" ct status dnat masquerade; oifname "in0" ip saddr ${OUTSIDE.host4} masquerade; };`,
      '}',
    ].join(' ')]);
    // The kernel plane's relay: guard none, so that the plain NAT's flows are forwarded too
    // (a guard adds the same few rule lookups to its own flows either way).
    const kernelRelay = await startRelay(t, 'gw', {
      listen: `${INSIDE.gw4}:2100`, upstream: `${OUTSIDE.host4}:21`, dataPorts: '40000-40999',
      extra: ['--data-plane', 'nftables', '--nft-forward-guard', 'none'],
    });
    relays.push(kernelRelay);
    const userRelay = await startRelay(t, 'gw', { listen: `${INSIDE.gw4}:2101`, upstream: `${OUTSIDE.host4}:21`, dataPorts: '41000-41999' });
    relays.push(userRelay);

    // MB/s of the transfer itself: from the moment curl is about to send RETR (time_pretransfer,
    // after login and the data-channel command) to the end, so that the control exchanges, which
    // take one more hop through a relay, do not count against its data plane.
    const retr = async (port: number, active: boolean): Promise<number> => {
      const r = await t.exec('in', 'curl', [
        '-sS', '-o', '/dev/null', '-w', '%{time_pretransfer} %{time_total} %{size_download}', '--max-time', '60',
        ...(active ? ['--ftp-port', '-'] : ['--ftp-pasv']), `ftp://${INSIDE.gw4}:${port}/big.bin`,
      ], { timeoutMs: 90_000 });
      const [pre, total, size] = r.stdout.trim().split(' ').map(Number);
      if (r.code !== 0 || size !== FILE_BYTES) throw new Error(`curl to port ${port} (${active ? 'active' : 'passive'}) failed: ${r.code} ${r.stdout} ${r.stderr}`);
      return size / (1 << 20) / (total! - pre!);
    };

    const results: BenchResult[] = [];
    for (const active of [false, true]) {
      const kernel: number[] = [];
      const nat: number[] = [];
      const user: number[] = [];
      const ratios: number[] = [];
      await retr(2100, active); // warm-up
      await retr(2121, active);
      for (let i = 0; i < ROUNDS; i++) {
        // Alternate which goes first: load from elsewhere hits both alike.
        const order = i % 2 === 0 ? ([2100, 2121] as const) : ([2121, 2100] as const);
        const got: Record<number, number> = {};
        for (const port of order) got[port] = await retr(port, active);
        kernel.push(got[2100]!);
        nat.push(got[2121]!);
        ratios.push(got[2100]! / got[2121]!);
        user.push(await retr(2101, active));
      }
      const mode = active ? 'EPRT (the server connects)' : 'EPSV (the client connects)';
      results.push({
        name: active ? 'relay.kernel_plane.throughput_active' : 'relay.kernel_plane.throughput',
        value: median(kernel),
        unit: 'MB/s',
        baseline: median(nat),
        ratio: median(ratios),
        note:
          `RETR of ${FILE_BYTES >> 20} MiB, curl -> vsftpd across a gateway namespace (veth), ${mode}, timed from RETR to the end (curl's time_total - time_pretransfer): nat-alg ftp --data-plane nftables against plain kernel NAT ` +
          `(static DNAT + masquerade${active ? ', route and masquerade back for the active connection' : ''}) in the same run; medians of ${ROUNDS} interleaved rounds, ratio = median of per-round ratios; ` +
          `the relay's own data path in the same rounds: median ${median(user).toFixed(0)} MB/s (ratio ${(median(user) / median(nat)).toFixed(2)} to the kernel NAT); 2 cores shared with other work; goal ratio >= 0.95`,
      });
    }

    const latency = async (port: number): Promise<number[]> => {
      const r = await t.exec('in', process.execPath, [resolve('bench/kernel-latency-client.mjs'), INSIDE.gw4, String(port), String(LATENCY_CHANNELS), 'small.bin'], { timeoutMs: 120_000 });
      const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { samples?: number[]; error?: string };
      if (!out.samples) throw new Error(`latency client on port ${port}: ${out.error ?? r.stderr}`);
      return out.samples;
    };
    writeFileSync(join(relayed.root, 'small.bin'), 'x');
    chmodSync(join(relayed.root, 'small.bin'), 0o644);
    await latency(2100).then(() => latency(2101)); // warm-up
    const kernelMs = await latency(2100);
    const userMs = await latency(2101);
    const how = `ms from PASV sent to the data connection established, as the client (in the client namespace) sees it, ${LATENCY_CHANNELS} channels in one session each (each then carries a 1-byte RETR to its end), vsftpd behind the relay`;
    results.push({
      name: 'relay.kernel_plane.setup_ms',
      value: median(kernelMs),
      unit: 'ms',
      baseline: median(userMs),
      ratio: median(kernelMs) / median(userMs),
      note: `median ${how}: nftables plane (placeholder bind + one nft transaction before the 227 goes out) against the relay plane (baseline); p99 ${quantile(kernelMs, 0.99).toFixed(2)} ms against ${quantile(userMs, 0.99).toFixed(2)} ms`,
    });
    results.push({
      name: 'relay.kernel_plane.setup_p99_ms',
      value: quantile(kernelMs, 0.99),
      unit: 'ms',
      baseline: quantile(userMs, 0.99),
      ratio: quantile(kernelMs, 0.99) / quantile(userMs, 0.99),
      note: `p99 ${how}: nftables plane against the relay plane (baseline)`,
    });
    return results;
  } finally {
    for (const r of relays) await r.stop().catch(() => undefined);
    await topo?.destroy().catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
    release();
  }
}
