/**
 * Real FTP clients for the interop matrix, each run inside a namespace for one session that
 * downloads `data.bin` and uploads a file. Settings are chosen so that a client really uses the
 * data-channel mode named and really uses the address the (translated) reply carries:
 * - curl uses the 227 address unless --ftp-skip-pasv-ip; EPSV/PASV/EPRT/PORT picked by flags.
 *   Over IPv6 curl always uses EPSV and EPRT (PASV and PORT cannot name an IPv6 address).
 * - lftp: `ftp:fix-pasv-address no` (use the 227 address as sent), `ftp:auto-passive-mode no`
 *   (never fall back from active to passive and hide a failure).
 * - ftplib: `trust_server_pasv_ipv4_address = True` (by default it ignores the 227 address).
 */

import type { RunResult, Side, Topology } from './netns.js';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface ClientJob {
  readonly target: Target;
  /** Where the client writes the downloaded `data.bin`. */
  readonly downloadTo: string;
  /** Local file the client uploads, and the name it gets in the server's `upload/`. */
  readonly uploadFrom: string;
  readonly uploadName: string;
  /** Python with ftplib (any python3). */
  readonly python: string;
}

export interface ClientSpec {
  readonly name: string;
  /** What the client should send to open data channels over IPv4 (over IPv6 it is EPSV/EPRT). */
  readonly expects: 'PASV' | 'EPSV' | 'PORT' | 'EPRT';
  run(topo: Topology, side: Side, job: ClientJob): Promise<RunResult>;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The builders below take `trace`: the client then writes its protocol trace (curl -v, lftp
 * debug, ftplib debuglevel 1) to its output, for tests that read the replies the client was given.
 */
export function curl(name: string, expects: ClientSpec['expects'], flags: readonly string[], trace = false): ClientSpec {
  return {
    name,
    expects,
    run(topo, side, job) {
      const base = `ftp://${urlHost(job.target.host)}:${job.target.port}/`;
      const common = ['-sS', ...(trace ? ['-v'] : []), '--max-time', '10', '--connect-timeout', '5', ...flags];
      return topo.exec(side, 'curl', [
        ...common, `${base}data.bin`, '-o', job.downloadTo,
        '--next', ...common, '-T', job.uploadFrom, `${base}upload/${job.uploadName}`,
      ], { timeoutMs: 30_000 });
    },
  };
}

export function lftp(name: string, passive: boolean, trace = false): ClientSpec {
  return {
    name,
    expects: passive ? 'PASV' : 'PORT',
    run(topo, side, job) {
      const script = [
        ...(trace ? ['debug 5'] : []),
        `set ftp:passive-mode ${passive ? 'on' : 'off'}`,
        'set ftp:auto-passive-mode no',
        'set ftp:fix-pasv-address no',
        'set net:max-retries 1',
        'set net:timeout 5',
        'set cmd:fail-exit yes',
        `open -u anonymous,lftp@ ftp://${urlHost(job.target.host)}:${job.target.port}`,
        `get data.bin -o ${job.downloadTo}`,
        `put ${job.uploadFrom} -o upload/${job.uploadName}`,
        'bye',
      ].join('; ');
      return topo.exec(side, 'lftp', ['-c', script], { timeoutMs: 30_000 });
    },
  };
}

const FTPLIB = `
import ftplib, sys
host, port, mode, down, up, name, debug = sys.argv[1:8]
f = ftplib.FTP(timeout=8)
f.set_debuglevel(int(debug))
f.trust_server_pasv_ipv4_address = True
f.connect(host, int(port))
f.login()
f.set_pasv(mode == "passive")
with open(down, "wb") as out:
    f.retrbinary("RETR data.bin", out.write)
with open(up, "rb") as src:
    f.storbinary("STOR upload/" + name, src)
f.quit()
`;

export function ftplib(name: string, passive: boolean, trace = false): ClientSpec {
  return {
    name,
    expects: passive ? 'PASV' : 'PORT',
    run(topo, side, job) {
      return topo.exec(side, job.python, [
        '-c', FTPLIB, job.target.host, String(job.target.port), passive ? 'passive' : 'active',
        job.downloadTo, job.uploadFrom, job.uploadName, trace ? '1' : '0',
      ], { timeoutMs: 30_000 });
    },
  };
}

export const CLIENTS: readonly ClientSpec[] = [
  curl('curl EPSV', 'EPSV', ['--ftp-pasv']),
  curl('curl PASV', 'PASV', ['--ftp-pasv', '--disable-epsv', '--no-ftp-skip-pasv-ip']),
  curl('curl EPRT', 'EPRT', ['--ftp-port', '-']),
  curl('curl PORT', 'PORT', ['--ftp-port', '-', '--disable-eprt']),
  lftp('lftp passive', true),
  lftp('lftp active', false),
  ftplib('ftplib passive', true),
  ftplib('ftplib active', false),
];
