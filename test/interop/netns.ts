/**
 * Three network namespaces for the real-peer tests: an inside network, a gateway and an outside
 * network, joined by veth pairs. The gateway does not forward and the outside host has no route
 * back, so a connection between the two ends exists only if something on the gateway relays it.
 *
 *   na-<id>-in                      na-<id>-gw                        na-<id>-out
 *   eth0 192.0.2.2/24  ---------- in0 192.0.2.1/24
 *        2001:db8:1::2/64             2001:db8:1::1/64
 *                                  out0 198.51.100.1/24  ---------- eth0 198.51.100.2/24
 *                                       2001:db8:2::1/64                 2001:db8:2::2/64
 *   default route via the gateway   ip_forward=0, ipv6 forwarding=0  no route off its own net
 *
 * Namespaces are named with this process's pid and a counter, removed in `destroy()` and on
 * process exit, and names left by dead processes are removed before a new topology is made.
 */

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

// ip, sysctl and vsftpd live in sbin, which a CI job's PATH may lack; children inherit this PATH.
{
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d !== '');
  for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(dir)) dirs.push(dir);
  process.env.PATH = dirs.join(':');
}

export const INSIDE = {
  host4: '192.0.2.2',
  gw4: '192.0.2.1',
  host6: '2001:db8:1::2',
  gw6: '2001:db8:1::1',
} as const;
export const OUTSIDE = {
  host4: '198.51.100.2',
  gw4: '198.51.100.1',
  host6: '2001:db8:2::2',
  gw6: '2001:db8:2::1',
} as const;

export type Side = 'in' | 'gw' | 'out';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (the caller decides). */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, [...args], {
      timeout: opts.timeoutMs ?? 30_000,
      maxBuffer: 16 * 1024 * 1024,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean; message: string };
    const code = typeof e.code === 'number' ? e.code : -1;
    return { code, stdout: e.stdout ?? '', stderr: (e.stderr ?? '') + (e.killed ? ' [timed out]' : '') + (code === -1 ? ` ${e.message}` : '') };
  }
}

export async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

export function leftoverNamespaces(prefix: string): string[] {
  return listNamespaces().filter((n) => n.startsWith(prefix));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces that earlier runs left behind when their process died before teardown. */
function removeStale(): void {
  for (const name of listNamespaces()) {
    // Any side name: topologies with extra namespaces (edge-nat.ts) follow the same pattern.
    const m = /^na-(\d+)-\d+-[a-z]+$/.exec(name);
    if (m && !alive(Number(m[1]))) {
      try {
        execFileSync('ip', ['netns', 'del', name]);
      } catch {
        // Another run may have removed it meanwhile.
      }
    }
  }
}

const live = new Set<Topology<string>>();
let exitHookInstalled = false;
let counter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when afterAll never ran (a crash, a timeout): synchronous, best effort.
  process.on('exit', () => {
    for (const t of live) t.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const t of live) t.destroySync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

/**
 * The namespaces of one run. `X` names extra namespaces beyond in/gw/out (edge-nat.ts adds an
 * `edge`); they are made, torn down and checked for leftovers like the other three.
 */
export class Topology<X extends string = never> {
  readonly prefix: string;
  readonly ns: Readonly<Record<Side | X, string>>;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(prefix: string, extra: readonly X[] = []) {
    this.prefix = prefix;
    const ns: Record<string, string> = { in: `${prefix}in`, gw: `${prefix}gw`, out: `${prefix}out` };
    for (const x of extra) ns[x] = `${prefix}${x}`;
    this.ns = ns as Record<Side | X, string>;
  }

  /** Runs a command inside a namespace and waits for it. */
  exec(side: Side | X, cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.ns[side], cmd, ...args], opts);
  }

  /**
   * Starts a long-running process inside a namespace. `ip netns exec` execs the command in place,
   * so the child's pid is the process itself; it is killed in `destroy()` if still running.
   */
  spawn(side: Side | X, cmd: string, args: readonly string[], opts: { cwd?: string } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns[side], cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Stops one child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map((c) => this.stop(c)));
    for (const name of Object.values<string>(this.ns)) await run('ip', ['netns', 'del', name]);
    live.delete(this);
    const left = leftoverNamespaces(this.prefix);
    if (left.length > 0) throw new Error(`network namespaces left after teardown: ${left.join(', ')}`);
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) {
      try {
        if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const name of Object.values<string>(this.ns)) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // Not there (never made, or already removed).
      }
    }
    live.delete(this);
  }
}

/**
 * Makes the empty namespaces of a topology (loopback up, nothing else), registered for teardown,
 * and hands them to `wire`. If anything fails, everything made so far is removed again.
 */
export async function buildTopology<X extends string>(
  extra: readonly X[],
  wire: (topo: Topology<X>) => Promise<void>,
): Promise<Topology<X>> {
  removeStale();
  installExitHook();
  const topo = new Topology<X>(`na-${process.pid}-${counter++}-`, extra);
  live.add(topo);
  try {
    for (const ns of Object.values<string>(topo.ns)) {
      await must('ip', ['netns', 'add', ns]);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await wire(topo);
  } catch (err) {
    await topo.destroy().catch(() => undefined);
    throw err;
  }
  return topo;
}

/** Builds the three namespaces. On any failure the partial topology is removed again. */
export function createTopology(): Promise<Topology> {
  return buildTopology([], async (topo) => {
    const { in: nsIn, gw, out } = topo.ns;
    await must('ip', ['link', 'add', 'eth0', 'netns', nsIn, 'type', 'veth', 'peer', 'name', 'in0', 'netns', gw]);
    await must('ip', ['link', 'add', 'eth0', 'netns', out, 'type', 'veth', 'peer', 'name', 'out0', 'netns', gw]);
    const addrs: [string, string, string][] = [
      [nsIn, 'eth0', `${INSIDE.host4}/24`],
      [nsIn, 'eth0', `${INSIDE.host6}/64`],
      [gw, 'in0', `${INSIDE.gw4}/24`],
      [gw, 'in0', `${INSIDE.gw6}/64`],
      [gw, 'out0', `${OUTSIDE.gw4}/24`],
      [gw, 'out0', `${OUTSIDE.gw6}/64`],
      [out, 'eth0', `${OUTSIDE.host4}/24`],
      [out, 'eth0', `${OUTSIDE.host6}/64`],
    ];
    for (const [ns, dev, cidr] of addrs) {
      // nodad: an IPv6 address is usable at once instead of after duplicate address detection.
      await must('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : [])]);
    }
    for (const [ns, dev] of [[nsIn, 'eth0'], [gw, 'in0'], [gw, 'out0'], [out, 'eth0']] as const) {
      await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    // The inside host sends everything to the gateway, which drops what is not addressed to it.
    await must('ip', ['-n', nsIn, 'route', 'add', 'default', 'via', INSIDE.gw4]);
    await must('ip', ['-n', nsIn, '-6', 'route', 'add', 'default', 'via', INSIDE.gw6]);
    await must('ip', ['netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    await must('ip', ['netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
  });
}

/**
 * Turns IPv4 and IPv6 forwarding on or off inside one namespace of a topology (a namespace's
 * sysctls are its own: the host's are untouched). Used by tests of kernel data planes, which
 * need a forwarding gateway; createTopology() leaves it off.
 */
export async function setForwarding<X extends string>(topo: Topology<X>, side: Side | X, on: boolean): Promise<void> {
  const v = on ? '1' : '0';
  await must('ip', ['netns', 'exec', topo.ns[side], 'sysctl', '-qw', `net.ipv4.ip_forward=${v}`, `net.ipv6.conf.all.forwarding=${v}`]);
}

export interface Prerequisites {
  readonly ok: boolean;
  readonly reason: string;
  /** A python3 that can import pyftpdlib (Debian's, not necessarily the first on PATH). */
  readonly python: string;
}

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return null;
}

export async function findPythonWithPyftpdlib(): Promise<string | null> {
  for (const py of ['/usr/bin/python3', which('python3')]) {
    if (py && (await run(py, ['-c', 'import pyftpdlib'])).code === 0) return py;
  }
  return null;
}

/** What the real-peer tests need: root, `ip`, the servers and the clients. */
export async function checkPrerequisites(): Promise<Prerequisites> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root');
  for (const cmd of ['ip', 'vsftpd', 'curl', 'lftp']) if (!which(cmd)) missing.push(cmd);
  const python = await findPythonWithPyftpdlib();
  if (!python) missing.push('python3 with pyftpdlib');
  if ((await run('getent', ['passwd', 'ftp'])).code !== 0) missing.push('the "ftp" user (vsftpd anonymous)');
  if (missing.length === 0 && (await run('ip', ['netns', 'list'])).code !== 0) missing.push('working `ip netns`');
  return {
    ok: missing.length === 0,
    reason: missing.length === 0 ? '' : `missing: ${missing.join(', ')}`,
    python: python ?? 'python3',
  };
}
