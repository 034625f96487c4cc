/**
 * The relay under test: the project's CLI (`node dist/cli.js ftp ...`), started in a namespace
 * (or on loopback) and stopped with SIGTERM. It prints one line when it accepts connections.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Side, Topology } from './netns.js';

// NAT_ALG_CLI points the tests at another build (say a copy that a concurrent `tsup` run, which
// empties dist/ first, cannot remove in the middle of a run).
export const CLI = process.env.NAT_ALG_CLI ?? join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export function cliAvailable(): boolean {
  return existsSync(CLI);
}

export interface RelayOptions {
  /** The CLI command: `ftp` (default) or `irc`. */
  readonly command?: 'ftp' | 'irc';
  readonly listen: string;
  readonly upstream: string;
  readonly publicAddress?: string;
  readonly dataPorts?: string;
  readonly extra?: readonly string[];
}

export interface RunningRelay {
  readonly process: ChildProcess;
  /** The line the relay printed when it was ready (it names the address it listens on). */
  readonly readyLine: string;
  /** Everything the relay printed so far (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<number | null>;
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function hostPort(host: string, port: number): string {
  return formatHostPort(host, port);
}

function cliArgs(o: RelayOptions): string[] {
  return [
    CLI, o.command ?? 'ftp', '--listen', o.listen, '--upstream', o.upstream, '--log', 'json',
    ...(o.publicAddress !== undefined ? ['--public-address', o.publicAddress] : []),
    ...(o.dataPorts !== undefined ? ['--data-ports', o.dataPorts] : []),
    ...(o.extra ?? []),
  ];
}

/** Starts the relay in `side` of `topo` (an extra namespace too), or in this namespace when `topo` is null. */
export async function startRelay<X extends string = never>(topo: Topology<X> | null, side: Side | X, o: RelayOptions): Promise<RunningRelay> {
  const args = cliArgs(o);
  const child = topo ? topo.spawn(side, process.execPath, args) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay not ready after 15 s: ${log}`)), 15_000);
    const onData = (): void => {
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before it was ready: ${log}`));
    });
  });
  return {
    process: child,
    readyLine: stdout.split('\n')[0] ?? '',
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
