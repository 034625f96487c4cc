/**
 * What must hold before the plane may install anything, and how a failure is named: nft present
 * and answering, CAP_NET_ADMIN (found out by creating the table, the only test that is true for
 * wrappers like `ip netns exec` or sudo too), nf_tables with the pieces the ruleset uses,
 * forwarding on for each family served, and a readable conntrack table. Nothing here changes the
 * system; a missing prerequisite is a DataPlaneUnavailableError, never a fallback.
 */

import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { DataPlaneUnavailableError, type DataPlaneUnavailableCause } from './errors.js';
import type { ForwardingSysctl } from './types.js';
import type { ShellEnd } from './nft-shell.js';

export const FORWARDING: Record<4 | 6, ForwardingSysctl> = { 4: 'net.ipv4.ip_forward', 6: 'net.ipv6.conf.all.forwarding' };

/** Reads a sysctl of this process's network namespace. */
export async function readSysctlFile(name: ForwardingSysctl): Promise<string> {
  return readFile(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8');
}

export async function checkForwarding(read: (name: ForwardingSysctl) => Promise<string>, family: 4 | 6): Promise<void> {
  const name = FORWARDING[family];
  let value: string;
  try {
    value = (await read(name)).trim();
  } catch (err) {
    throw new DataPlaneUnavailableError('ip-forward-off', `${name} could not be read`, err instanceof Error ? err.message : String(err));
  }
  if (value !== '1') {
    throw new DataPlaneUnavailableError('ip-forward-off', `${name} is ${JSON.stringify(value)}, but an IPv${family} data channel is a forwarded flow`);
  }
}

/** The nft child could not be started or died before answering. */
export function shellStartFailure(argv: readonly string[], end: ShellEnd, stderr: string): DataPlaneUnavailableError {
  const cmd = argv.join(' ');
  // ENOENT from spawn (nft itself missing), or a wrapper such as `ip netns exec` that could not exec it.
  if ((end.kind === 'spawn-failed' && end.code === 'ENOENT') || /exec of .* failed: No such file or directory|not found/i.test(stderr)) {
    return new DataPlaneUnavailableError('nft-missing', `\`${cmd}\` could not be run`, end.kind === 'spawn-failed' ? end.code : stderr);
  }
  if (end.kind === 'spawn-failed' && (end.code === 'EACCES' || end.code === 'EPERM')) {
    return new DataPlaneUnavailableError('nft-missing', `\`${cmd}\` is not executable`, end.code);
  }
  if (/Operation not permitted|you must be root/i.test(stderr)) {
    return new DataPlaneUnavailableError('no-cap-net-admin', `\`${cmd}\` runs without CAP_NET_ADMIN`, stderr);
  }
  return new DataPlaneUnavailableError('nft-failed', `\`${cmd}\` did not answer as nft does`, stderr);
}

/** nft refused to create the table: which prerequisite is missing. */
export function tableFailureCause(stderr: string): DataPlaneUnavailableCause {
  if (/Operation not permitted|you must be root|Permission denied/i.test(stderr)) return 'no-cap-net-admin';
  // Missing kernel pieces show as EOPNOTSUPP/EPROTONOSUPPORT/ENOENT (unknown chain type or expression).
  if (/not supported|No such file or directory|Unknown|not available/i.test(stderr)) return 'no-nf-tables';
  return 'nft-failed';
}

/**
 * Who owns a table: written into the table's comment, read back at start so that a second
 * plane with the same table name does not delete a running one's rules. A process id with its
 * start time (field 22 of /proc/PID/stat), so that a reused pid is not taken for the owner.
 */
export interface Owner {
  readonly pid: number;
  readonly start: string;
}

export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // field 22 is the 20th after the name
  } catch {
    return null;
  }
}

export function ownerTag(pid: number): string {
  return `nat-alg pid=${pid} start=${processStart(pid) ?? 'unknown'}`;
}

export function parseOwner(listing: string): Owner | null {
  const m = /comment "nat-alg pid=(\d+) start=([0-9a-z]+)"/.exec(listing);
  return m ? { pid: Number(m[1]), start: m[2]! } : null;
}

/** The owner is a running process that is not this one (a stale table is anyone else's). */
export function ownerAlive(owner: Owner, self: number): boolean {
  if (owner.pid === self) return false;
  const start = processStart(owner.pid);
  return start !== null && start === owner.start;
}
