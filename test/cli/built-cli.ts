/**
 * The built `dist/cli.js` for process tests: rebuilt when a source is newer, then copied to a
 * private directory (another build in the same tree must not pull it away mid-test), and started
 * with an environment of the test's choosing, waiting for its ready lines.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
const BUILT = resolve(ROOT, 'dist/cli.js');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** A private copy of a fresh dist/cli.js, in a directory of its own (removed by `cleanup`). */
export function prepareCli(): { cli: string; dir: string; cleanup: () => void } {
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < newest(resolve(ROOT, 'src'))) {
    const r = spawnSync('npx', ['tsup'], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nat-alg-cli-'));
  const cli = join(dir, 'cli.js');
  copyFileSync(BUILT, cli);
  return { cli, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The test runner's environment without NAT_ALG_* variables (they would reach the CLI's settings). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NAT_ALG_')) env[k] = v;
  return { ...env, ...extra };
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** The ready lines, in order, and the port of each. */
  readonly ready: readonly string[];
  readonly ports: readonly number[];
  stderr(): string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn `command` and wait for `lines` ready lines on stdout (or its exit, which fails). */
export function startProcess(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; lines: number; cwd?: string }): Promise<RunningCli> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env, ...(options.cwd ? { cwd: options.cwd } : {}) });
  let out = '';
  let err = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no ready lines; stdout: ${out}; stderr: ${err}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const ready = out.split('\n').slice(0, -1);
      if (ready.length < options.lines) return;
      clearTimeout(timer);
      const ports = ready.map((l) => Number(/listening on .*:(\d+), upstream/.exec(l)?.[1] ?? NaN));
      if (ports.some((p) => Number.isNaN(p))) return rej(new Error(`unexpected ready lines: ${out}`));
      res({ child, ready, ports, stderr: () => err, exit });
    });
    void exit.then((e) => {
      clearTimeout(timer);
      rej(new Error(`exited ${e.code} before ready; stdout: ${out}; stderr: ${err}`));
    });
  });
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
