/**
 * `npm run bench`: runs every benchmark module and writes bench/results.json as a list of
 * `{ name, value, unit, baseline?, ratio?, note? }`. Pass names to run some modules only:
 * `node .build/bench/run.js ftp mapping`.
 */
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BenchResult } from './harness.js';

type Module = { run(): Promise<BenchResult[]> };

// Each area registers its module here. The in-process micro-benchmarks run first: the relay
// module's sockets, worker and garbage would otherwise be in the heap they are measured in.
const modules: Record<string, () => Promise<Module>> = {
  ftp: () => import('./ftp.js'),
  irc: () => import('./irc.js'),
  mapping: () => import('./mapping.js'),
  'packet-wire': () => import('./packet-wire.js'),
  packet: () => import('./packet.js'),
  relay: () => import('./relay.js'),
  // Network namespaces and the kernel's NAT: needs root, else recorded as skipped with the reason.
  kernel: () => import('./kernel-plane.js'),
};

/** Collect garbage between modules when node runs with --expose-gc (npm run bench does). */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const out = resolve('bench/results.json');
  // Keep results of modules not run this time, so a partial run does not erase the others.
  const previous: BenchResult[] = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as BenchResult[]) : [];
  const results = new Map<string, BenchResult>(previous.map((r) => [r.name, r]));
  for (const [name, load] of Object.entries(modules)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    collect();
    const mod = await load();
    for (const r of await mod.run()) {
      results.set(r.name, r);
      const ratio = r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(3)} (baseline ${fmt(r.baseline!)})` : '';
      if (r.skipped !== undefined) process.stdout.write(`${r.name.padEnd(28)} skipped: ${r.skipped}\n`);
      else process.stdout.write(`${r.name.padEnd(28)} ${fmt(r.value)} ${r.unit}${ratio}\n`);
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify([...results.values()], null, 2) + '\n');
  process.stdout.write(`wrote ${out}\n`);
}

function fmt(n: number): string {
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
