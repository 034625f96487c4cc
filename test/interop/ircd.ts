/**
 * A real IRC server for the interop tests: ngircd (Debian package) started in the foreground in a
 * namespace from a config written to a temporary directory, checked with `--configtest` first,
 * and waited for until it accepts a registration (a 001 reply), as vsftpd is waited for until it
 * greets (servers.ts).
 *
 * The config is the lab's, not Debian's: no include directory, no PAM, ident or DNS lookups (each
 * would delay every registration), no per-address connection limit (every client of a test comes
 * from the same address), CTCP passed through (ScrubCTCP = no: DCC is what the lab is for), and a
 * PID file in the run directory, writable by the unprivileged user ngircd switches to.
 */

import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { run, which, type Side, type Topology } from './netns.js';

export const IRCD_NAME = 'irc.lab.test';

/** ngircd refuses to run as root and switches to this user (nobody on Debian). */
const IRCD_UID = 65534;
const IRCD_GID = 65534;

export interface IrcdOptions {
  /** Addresses to listen on (IPv4 and IPv6 in one list). */
  readonly listen: readonly string[];
  readonly port: number;
  /**
   * A fresh directory for the config, PID file and empty include directory. It and its parents
   * must be open to the unprivileged user ngircd runs as (mkdtemp makes 0700 directories).
   */
  readonly dir: string;
}

export interface IrcdInstance {
  readonly side: Side;
  readonly listen: readonly string[];
  readonly port: number;
  readonly configPath: string;
  readonly config: string;
  readonly process: ChildProcess;
  /** What ngircd printed so far (it logs to stderr in the foreground), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The config the lab runs ngircd with (exported so the report and docs can quote it). */
export function ngircdConfig(o: IrcdOptions): string {
  return [
    '[Global]',
    `\tName = ${IRCD_NAME}`,
    '\tInfo = nat-alg interop lab',
    '\tAdminInfo1 = nat-alg interop lab',
    '\tAdminInfo2 = network namespaces',
    '\tAdminEMail = lab@irc.lab.test',
    `\tListen = ${o.listen.join(',')}`,
    `\tPorts = ${o.port}`,
    '\tMotdPhrase = "nat-alg lab"',
    `\tPidFile = ${join(o.dir, 'run', 'ngircd.pid')}`,
    `\tServerUID = ${IRCD_UID}`,
    `\tServerGID = ${IRCD_GID}`,
    '[Limits]',
    '\tMaxConnections = 0',
    '\tMaxConnectionsIP = 0',
    '\tMaxJoins = 0',
    '\tMaxNickLength = 30',
    '\tPingTimeout = 120',
    '\tPongTimeout = 20',
    '[Options]',
    '\tPAM = no',
    '\tIdent = no',
    '\tDNS = no',
    '\tScrubCTCP = no',
    '\tMorePrivacy = no',
    '\tRequireAuthPing = no',
    `\tIncludeDir = ${join(o.dir, 'conf.d')}`,
    '',
  ].join('\n');
}

/** Waits until a client in the namespace can register (001) at `host`:`port`. */
async function waitRegistration(topo: Topology, side: Side, host: string, port: number, nick: string, child: ChildProcess, output: () => string): Promise<void> {
  // Each probe and each retry registers its own nickname: a probe that has just quit may still
  // hold its nickname for a moment, and a 433 would leave the next one waiting for nothing.
  const js =
    'const net=require("net");const [h,p,nick]=process.argv.slice(1);let n=0;' +
    'const t=()=>{const s=net.connect({host:h,port:+p});let b="";' +
    's.on("data",d=>{b+=d;if(/^:\\S+ 001 /m.test(b)){s.end("QUIT\\r\\n");process.exit(0)}});' +
    's.once("connect",()=>s.write("NICK "+nick+"x"+n+"\\r\\nUSER probe 0 * :probe\\r\\n"));' +
    's.once("error",retry)};' +
    'const retry=()=>{if(++n>200)process.exit(1);setTimeout(t,50)};t()';
  const r = await topo.exec(side, process.execPath, ['-e', js, host, String(port), nick], { timeoutMs: 15_000 });
  if (r.code !== 0) {
    throw new Error(`ngircd at ${host} port ${port} did not register a client (exit ${child.exitCode}): ${r.stderr}\n${output()}`);
  }
}

export async function startNgircd(topo: Topology, side: Side, o: IrcdOptions): Promise<IrcdInstance> {
  if (o.listen.length === 0) throw new Error('ngircd needs an address to listen on');
  mkdirSync(join(o.dir, 'conf.d'), { recursive: true });
  mkdirSync(join(o.dir, 'run'), { recursive: true });
  chmodSync(o.dir, 0o755);
  chownSync(join(o.dir, 'run'), IRCD_UID, IRCD_GID);
  const config = ngircdConfig(o);
  const configPath = join(o.dir, 'ngircd.conf');
  writeFileSync(configPath, config, { mode: 0o644 });

  // --configtest exits 1 on errors; warnings (" - ..." lines) would mean the config drifted.
  const test = await run('ngircd', ['--configtest', '-f', configPath]);
  const warnings = test.stdout.split('\n').filter((l) => l.startsWith(' - '));
  if (test.code !== 0 || warnings.length > 0) {
    throw new Error(`ngircd --configtest (exit ${test.code}): ${warnings.join('; ') || test.stderr}`);
  }

  const child = topo.spawn(side, 'ngircd', ['-n', '-f', configPath]);
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const output = (): string => log;
  for (const [i, host] of o.listen.entries()) await waitRegistration(topo, side, host, o.port, `probe${i}`, child, output);
  return {
    side,
    listen: o.listen,
    port: o.port,
    configPath,
    config,
    process: child,
    output,
    stop: () => topo.stop(child),
  };
}

/** Whether ngircd is installed (for the prerequisite check). */
export function haveNgircd(): boolean {
  return which('ngircd') !== null;
}
