/**
 * The namespaces and peers of the nftables data-plane tests. netns.ts's three namespaces, with
 * the gateway forwarding (inside its own namespace only), a second address on the client side
 * (the intruder that is not the expected peer) and a route back from the server, so that a flow
 * the gateway forwards unrelayed would work if nothing dropped it.
 *
 *   in  (client)  eth0 192.0.2.2, 192.0.2.3 (intruder)      gw in0  192.0.2.1    2001:db8:1::1
 *                      2001:db8:1::2, 2001:db8:1::3          gw out0 198.51.100.1 2001:db8:2::1
 *   out (server)  eth0 198.51.100.2, 2001:db8:2::2, default route via the gateway
 */

import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { NftablesDataPlane } from '../../src/node/nftables/index.js';
import type { ForwardGuard, NftablesDataPlaneEvents, NftablesDataPlaneOptions } from '../../src/node/nftables/index.js';
import { createTopology, INSIDE, must, OUTSIDE, run, setForwarding, which, type RunResult, type Side, type Topology } from '../interop/netns.js';

export const PEER = join(__dirname, 'peer.mjs');
export const INTRUDER = { host4: '192.0.2.3', host6: '2001:db8:1::3' } as const;

export interface Prereqs {
  readonly ok: boolean;
  readonly reason: string;
}

/** Root, Linux, ip, nft, setpriv (for the missing-capability case). */
export async function checkKernelPrerequisites(): Promise<Prereqs> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root');
  for (const cmd of ['ip', 'nft', 'setpriv', 'sysctl']) if (!which(cmd)) missing.push(cmd);
  if (missing.length === 0) {
    const r = await run('ip', ['netns', 'list']);
    if (r.code !== 0) missing.push('working `ip netns`');
  }
  return { ok: missing.length === 0, reason: missing.length ? `missing: ${missing.join(', ')}` : '' };
}

export async function createLab(): Promise<Topology> {
  const topo = await createTopology();
  const nsIn = topo.ns.in;
  await must('ip', ['-n', nsIn, 'addr', 'add', `${INTRUDER.host4}/24`, 'dev', 'eth0']);
  // Deprecated (preferred_lft 0): never picked as a source address unless a socket binds it, so
  // the client's own connections keep coming from the expected peer's address.
  await must('ip', ['-n', nsIn, 'addr', 'add', `${INTRUDER.host6}/64`, 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
  await must('ip', ['-n', topo.ns.out, 'route', 'add', 'default', 'via', OUTSIDE.gw4]);
  await must('ip', ['-n', topo.ns.out, '-6', 'route', 'add', 'default', 'via', OUTSIDE.gw6]);
  await setForwarding(topo, 'gw', true);
  return topo;
}

export function nftIn(topo: Topology): string[] {
  return ['ip', 'netns', 'exec', topo.ns.gw, 'nft'];
}

/** A sysctl of the gateway namespace (the default reader would read the test process's own). */
export function gwSysctl(topo: Topology): NftablesDataPlaneOptions['readSysctl'] {
  return async (name) => (await must('ip', ['netns', 'exec', topo.ns.gw, 'sysctl', '-n', name])).trim();
}

export type Recorded = { [K in keyof NftablesDataPlaneEvents]: { kind: K; at: number; args: NftablesDataPlaneEvents[K] } }[keyof NftablesDataPlaneEvents];

/** A plane in the gateway namespace with every event recorded. */
export function makePlane(topo: Topology, table: string, extra: Partial<NftablesDataPlaneOptions> = {}, guard: ForwardGuard = { kind: 'all' }) {
  const plane = new NftablesDataPlane({
    tableName: table,
    nftCommand: nftIn(topo),
    readSysctl: gwSysctl(topo),
    pollIntervalMs: 50,
    forwardGuard: guard,
    ...extra,
  });
  const events: Recorded[] = [];
  const record = (kind: keyof NftablesDataPlaneEvents) => (arg: unknown) => {
    events.push({ kind, at: performance.now(), args: [arg] } as Recorded);
  };
  plane.on('connected', record('connected'));
  plane.on('closed', record('closed'));
  plane.on('expired', record('expired'));
  plane.on('error', record('error'));
  return { plane, events };
}

/** Waits for an event of `kind` about channel `id`. */
export async function waitEvent<K extends keyof NftablesDataPlaneEvents>(
  events: Recorded[],
  kind: K,
  id: number | null,
  timeoutMs = 10_000,
): Promise<NftablesDataPlaneEvents[K][0]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const e of events) {
      if (e.kind !== kind) continue;
      const a = e.args[0] as { id?: number; channelId?: number | null };
      if (id === null || a.id === id || a.channelId === id) return e.args[0] as NftablesDataPlaneEvents[K][0];
    }
    if (performance.now() > deadline) throw new Error(`no ${kind} event for channel ${id} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface ListenerLine {
  event: 'listening' | 'accepted' | 'received';
  from?: string;
  fromPort?: number;
  bytes?: number;
  sha256?: string;
  sentSha256?: string;
  failure?: string | null;
}

/** A listening peer; `lines` fills as it reports. */
export class Listener {
  readonly lines: ListenerLine[] = [];
  private buf = '';
  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as ListenerLine);
        } catch {
          // Not ours.
        }
      }
    });
  }

  count(event: ListenerLine['event']): number {
    return this.lines.filter((l) => l.event === event).length;
  }

  async wait(event: ListenerLine['event'], n = 1, timeoutMs = 10_000): Promise<ListenerLine> {
    const deadline = performance.now() + timeoutMs;
    while (this.count(event) < n) {
      if (performance.now() > deadline) throw new Error(`listener: no ${n}th ${event} within ${timeoutMs} ms (${JSON.stringify(this.lines)})`);
      if (this.child.exitCode !== null) throw new Error(`listener exited ${this.child.exitCode}`);
      await sleep(10);
    }
    return this.lines.filter((l) => l.event === event)[n - 1]!;
  }
}

export async function listen(topo: Topology, side: Side, host: string, port: number, send: number, fast = false): Promise<Listener> {
  const l = new Listener(topo.spawn(side, process.execPath, [PEER, 'listen', host, String(port), String(send), ...(fast ? ['--fast'] : [])]));
  await l.wait('listening');
  return l;
}

export interface ConnectResult {
  event: 'done' | 'error' | 'timeout';
  connected: boolean;
  failure: string | null;
  localPort: number | null;
  ms: number;
  sentSha256: string;
  bytes: number;
  sha256: string;
}

export interface ConnectOptions {
  from?: string;
  holdMs?: number;
  more?: number;
  timeoutMs?: number;
  /** No digests (throughput runs). */
  fast?: boolean;
}

export async function connect(topo: Topology, side: Side, host: string, port: number, send: number, o: ConnectOptions = {}): Promise<ConnectResult> {
  const args = [PEER, 'connect', host, String(port), String(send)];
  if (o.from) args.push('--from', o.from);
  if (o.holdMs) args.push('--hold', String(o.holdMs), '--more', String(o.more ?? 0));
  args.push('--timeout', String(o.timeoutMs ?? 3000));
  if (o.fast) args.push('--fast');
  const r = await topo.exec(side, process.execPath, args, { timeoutMs: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ConnectResult;
  } catch {
    throw new Error(`peer connect printed ${JSON.stringify(r.stdout)} ${r.stderr}`);
  }
}

/** A plain Node relay in the gateway (accept, connect on, pipe): the user-space path's floor. */
export async function nodePipe(topo: Topology, host: string, port: number, toHost: string, toPort: number): Promise<Listener> {
  const l = new Listener(topo.spawn('gw', process.execPath, [PEER, 'pipe', host, String(port), toHost, String(toPort)]));
  await l.wait('listening');
  return l;
}

/** nft in the gateway namespace, as an administrator would look. */
export function nft(topo: Topology, ...args: string[]): Promise<RunResult> {
  return run('ip', ['netns', 'exec', topo.ns.gw, 'nft', ...args]);
}

export { INSIDE, OUTSIDE };
