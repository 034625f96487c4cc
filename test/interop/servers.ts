/**
 * Real FTP servers for the interop tests, started inside a namespace from configs written to a
 * temporary directory: vsftpd (one instance per address family, in the foreground) and pyftpdlib
 * (servers/pyftpd_server.py). Each serves anonymous logins from its own root with `data.bin` to
 * download and a writable `upload/` directory.
 */

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { run, type Side, type Topology } from './netns.js';

export type ServerKind = 'vsftpd' | 'pyftpdlib';

export interface FtpServerInstance {
  readonly kind: ServerKind;
  readonly side: Side;
  readonly host: string;
  readonly port: number;
  readonly root: string;
  readonly process: ChildProcess;
}

/** The file every cell downloads, and its digest. */
export const DOWNLOAD_NAME = 'data.bin';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function makeRoot(dir: string, download: Uint8Array): string {
  const root = join(dir, 'root');
  mkdirSync(join(root, 'upload'), { recursive: true });
  writeFileSync(join(root, DOWNLOAD_NAME), download);
  chmodSync(root, 0o755);
  chmodSync(join(root, DOWNLOAD_NAME), 0o644);
  // vsftpd refuses a chroot it could write to; uploads go to a directory the ftp user owns.
  chmodSync(join(root, 'upload'), 0o777);
  return root;
}

async function ftpUid(): Promise<number | null> {
  const r = await run('getent', ['passwd', 'ftp']);
  const uid = Number(r.stdout.split(':')[2]);
  return r.code === 0 && Number.isInteger(uid) ? uid : null;
}

/** Waits until `host`:`port` answers with a 220 greeting, connecting from inside the namespace. */
async function waitGreeting(topo: Topology, side: Side, host: string, port: number, child: ChildProcess): Promise<void> {
  const js =
    'const net=require("net");const [h,p]=process.argv.slice(1);let n=0;' +
    'const t=()=>{const s=net.connect({host:h,port:+p});s.once("data",d=>{s.destroy();' +
    'if(String(d).startsWith("220"))process.exit(0);retry()});s.once("error",retry)};' +
    'const retry=()=>{if(++n>200)process.exit(1);setTimeout(t,50)};t()';
  const r = await topo.exec(side, process.execPath, ['-e', js, host, String(port)], { timeoutMs: 15_000 });
  if (r.code !== 0) {
    throw new Error(`${host} port ${port} did not greet (exit ${child.exitCode}): ${r.stderr}`);
  }
}

/** A self-signed certificate and key for a TLS server, written to `dir` (openssl from Debian). */
export async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=nat-alg-test', '-days', '2', '-keyout', key, '-out', cert]);
  if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  chmodSync(key, 0o600);
  return { cert, key };
}

export async function startVsftpd(
  topo: Topology,
  side: Side,
  host: string,
  port: number,
  dir: string,
  download: Uint8Array,
  tls?: { readonly cert: string; readonly key: string },
  /** More vsftpd.conf lines (they win over the defaults above them). */
  extra: readonly string[] = [],
): Promise<FtpServerInstance> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const root = makeRoot(dir, download);
  const uid = await ftpUid();
  if (uid !== null) chownSync(join(root, 'upload'), uid, -1);
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  chmodSync(empty, 0o755);
  const v6 = host.includes(':');
  const conf = [
    `listen=${v6 ? 'NO' : 'YES'}`,
    `listen_ipv6=${v6 ? 'YES' : 'NO'}`,
    v6 ? `listen_address6=${host}` : `listen_address=${host}`,
    `listen_port=${port}`,
    'background=NO',
    'seccomp_sandbox=NO',
    'isolate=NO',
    'isolate_network=NO',
    'anonymous_enable=YES',
    'local_enable=NO',
    'no_anon_password=YES',
    `anon_root=${root}`,
    'ftp_username=ftp',
    'write_enable=YES',
    'anon_upload_enable=YES',
    'anon_world_readable_only=YES',
    `secure_chroot_dir=${empty}`,
    'pasv_enable=YES',
    'port_enable=YES',
    'connect_from_port_20=NO',
    'pasv_min_port=30000',
    'pasv_max_port=30999',
    'xferlog_enable=NO',
    'syslog_enable=NO',
    'dirmessage_enable=NO',
    'max_per_ip=0',
    'max_clients=0',
    // FTPS (RFC 4217) on request: AUTH TLS accepted, anonymous included, plain text still allowed.
    ...(tls
      ? [
          'ssl_enable=YES', 'allow_anon_ssl=YES', 'force_anon_data_ssl=NO', 'force_anon_logins_ssl=NO',
          'force_local_data_ssl=NO', 'force_local_logins_ssl=NO', 'require_ssl_reuse=NO',
          `rsa_cert_file=${tls.cert}`, `rsa_private_key_file=${tls.key}`,
        ]
      : []),
    ...extra,
  ];
  const confPath = join(dir, 'vsftpd.conf');
  writeFileSync(confPath, conf.join('\n') + '\n', { mode: 0o600 });
  const child = topo.spawn(side, 'vsftpd', [confPath]);
  await waitGreeting(topo, side, host, port, child);
  return { kind: 'vsftpd', side, host, port, root, process: child };
}

export async function startPyftpdlib(
  topo: Topology,
  side: Side,
  host: string,
  port: number,
  dir: string,
  download: Uint8Array,
  python: string,
  misbehave = '',
): Promise<FtpServerInstance> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const root = makeRoot(dir, download);
  const script = join(import.meta.dirname, 'servers', 'pyftpd_server.py');
  const child = topo.spawn(side, python, [
    '-W', 'ignore', script, '--host', host, '--port', String(port), '--root', root, '--passive-ports', '31000-31999',
    ...(misbehave ? ['--misbehave', misbehave] : []),
  ]);
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`pyftpdlib did not start: ${err}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pyftpdlib exited (${code}): ${err}`));
    });
  });
  if (!ready.startsWith('READY')) throw new Error(`pyftpdlib said: ${ready}`);
  return { kind: 'pyftpdlib', side, host, port, root, process: child };
}

export function readUpload(server: FtpServerInstance, name: string): Buffer | null {
  try {
    return readFileSync(join(server.root, 'upload', name));
  } catch {
    return null;
  }
}

export function randomPayload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Whether anything accepts TCP connections at `host`:`port` from this (root) namespace. */
export function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
