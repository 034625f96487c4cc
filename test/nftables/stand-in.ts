// Shared by the plane's tests that run over the stand-in nft (fake-nft.mjs) and a conntrack file
// the test writes: no root needed.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftablesDataPlane, type KernelChannel, type NftablesDataPlaneOptions } from '../../src/node/nftables/index.js';

export const FAKE_NFT = join(__dirname, 'fake-nft.mjs');

/** A fresh directory for the stand-in's files, with an empty conntrack table. */
export function standInDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'conntrack'), '');
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every line the stand-in was given, in order (`oneshot ...` for one-shot runs). */
export function commands(dir: string): string[] {
  return existsSync(join(dir, 'commands.log')) ? readFileSync(join(dir, 'commands.log'), 'utf8').trim().split('\n') : [];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

export const CH: KernelChannel = {
  id: 1,
  family: 4,
  peer: '192.0.2.2',
  announced: { address: '192.0.2.1', port: 40000 },
  target: { address: '198.51.100.2', port: 7000 },
  sourceAddress: '198.51.100.1',
  timeoutMs: 30_000,
};

/** A conntrack line of CH's key (announced port `port`), redirected to CH's target. */
export function ct(state: string, sport: number, port = 40000, assured = true): string {
  return `ipv4     2 tcp      6 100 ${state} src=192.0.2.2 dst=192.0.2.1 sport=${sport} dport=${port} src=198.51.100.2 dst=198.51.100.1 sport=7000 dport=${sport} ${assured ? '[ASSURED] ' : ''}mark=0 zone=0 use=2`;
}

export function writeConntrack(dir: string, ...lines: string[]): void {
  writeFileSync(join(dir, 'conntrack'), lines.map((l) => `${l}\n`).join(''));
}

export type Ev = { kind: string; arg: unknown };

export function makeStandInPlane(dir: string, extra: Partial<NftablesDataPlaneOptions> = {}): { plane: NftablesDataPlane; events: Ev[] } {
  const plane = new NftablesDataPlane({
    tableName: 'nat_alg_si',
    nftCommand: [process.execPath, FAKE_NFT, dir],
    conntrackPath: join(dir, 'conntrack'),
    readSysctl: async () => '1',
    pollIntervalMs: 20,
    ...extra,
  });
  const events: Ev[] = [];
  for (const kind of ['admitted', 'connected', 'closed', 'expired', 'error'] as const) plane.on(kind, (arg: unknown) => events.push({ kind, arg }));
  return { plane, events };
}
