// Hostile peers against the relay (dist/cli.js) in network namespaces, with real servers and
// clients: slow clients holding session slots (slowloris) while a normal client fetches a file,
// command lines with leading blanks or a tab after the verb, a server (pyftpdlib made to
// misbehave) answering passive commands in the wrong format, and FTPS through the relay.
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireInteropLock, INTEROP_LOCK_HOOK_TIMEOUT_MS, INTEROP_LOCK_WAIT_MS } from './lock.js';
import { checkPrerequisites, createTopology, INSIDE, OUTSIDE, which, type Topology } from './netns.js';
import { cliAvailable, hostPort, startRelay, type RunningRelay } from './relay.js';
import { makeCertificate, randomPayload, sha256, startPyftpdlib, startVsftpd, type FtpServerInstance } from './servers.js';

const pre = await checkPrerequisites();
const haveCli = cliAvailable();
const haveOpenssl = which('openssl') !== null;
const inCI = Boolean(process.env.CI);
const ready = pre.ok && haveCli && haveOpenssl;

describe('attack-test prerequisites', () => {
  it('has root, ip netns, vsftpd, pyftpdlib, curl, lftp, openssl and the built CLI', () => {
    const problems = [pre.reason, haveCli ? '' : 'dist/cli.js (run `npx tsup`)', haveOpenssl ? '' : 'openssl'].filter((p) => p !== '');
    if (problems.length === 0) return;
    if (inCI) expect.fail(`attack tests cannot run in CI: ${problems.join('; ')}`);
    console.warn(`attack tests skipped: ${problems.join('; ')}`);
  });
});

const download = randomPayload(200 * 1024);
const DIGEST = sha256(download);
const VSFTPD = 21;
const VSFTPD_TLS = 990;
const MISBEHAVING = { 'epsv-as-pasv': 2121, 'pasv-as-epsv': 2122, 'epsv-low-port': 2123 } as const;
/** Extra addresses of the client namespace: the attackers' (16) and a normal client's. */
const ATTACKERS = Array.from({ length: 16 }, (_, k) => `192.0.2.${100 + k}`);
const NORMAL = '192.0.2.50';

/** Opens connections from each address to the relay, sends one byte of a USER line on each and holds them. */
const SLOWLORIS = `
const net = require('net');
const [host, port, per, ...from] = process.argv.slice(1);
let held = 0, refused = 0, failed = 0, pending = 0;
const keep = [];
for (const a of from) for (let k = 0; k < +per; k++) {
  pending++;
  const s = net.connect({ host, port: +port, localAddress: a });
  let text = '';
  s.on('error', () => {});
  s.on('data', (d) => {
    text += d;
    if (!text.includes('\\n') || s.counted) return;
    s.counted = true;
    if (text.startsWith('220')) { held++; s.write('U'); keep.push(s); } else if (text.startsWith('421')) refused++; else failed++;
    if (--pending === 0) console.log(JSON.stringify({ held, refused, failed }));
  });
}
setInterval(() => {}, 1000);
`;

describe.skipIf(!ready)('attacks on the relay, real peers in namespaces', () => {
  let topo: Topology;
  let release: () => void = () => undefined;
  let base: string;
  const servers: FtpServerInstance[] = [];
  const relays: RunningRelay[] = [];
  let relayPort = 3000;

  beforeAll(async () => {
    release = await acquireInteropLock(INTEROP_LOCK_WAIT_MS);
    base = mkdtempSync(join(tmpdir(), 'nat-alg-attacks-'));
    chmodSync(base, 0o755);
    topo = await createTopology();
    for (const a of [...ATTACKERS, NORMAL]) {
      const r = await topo.exec('in', 'ip', ['addr', 'add', `${a}/24`, 'dev', 'eth0']);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const cert = await makeCertificate(base);
    servers.push(await startVsftpd(topo, 'out', OUTSIDE.host4, VSFTPD, join(base, 'vsftpd'), download));
    servers.push(await startVsftpd(topo, 'out', OUTSIDE.host4, VSFTPD_TLS, join(base, 'vsftpd-tls'), download, cert));
    for (const [how, port] of Object.entries(MISBEHAVING)) {
      servers.push(await startPyftpdlib(topo, 'out', OUTSIDE.host4, port, join(base, how), download, pre.python, how));
    }
  }, INTEROP_LOCK_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    try {
      for (const r of relays) await r.stop();
      await topo?.destroy();
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  async function relay(upstreamPort: number, extra: string[] = []): Promise<{ port: number; r: RunningRelay }> {
    const port = relayPort++;
    const r = await startRelay(topo, 'gw', { listen: hostPort(INSIDE.gw4, port), upstream: hostPort(OUTSIDE.host4, upstreamPort), extra });
    relays.push(r);
    return { port, r };
  }

  /** curl in the client namespace fetching data.bin through the relay; its -v trace is returned. */
  async function curl(port: number, flags: string[], from: string = INSIDE.host4): Promise<{ code: number; trace: string; digest: string | null }> {
    const out = join(base, `curl-${port}-${Math.random().toString(36).slice(2)}.bin`);
    const r = await topo.exec('in', 'curl', [
      '-sS', '-v', '--max-time', '15', '--connect-timeout', '5', '--interface', from, ...flags, `ftp://${INSIDE.gw4}:${port}/data.bin`, '-o', out,
    ], { timeoutMs: 30_000 });
    let digest: string | null = null;
    try {
      digest = sha256(readFileSync(out));
    } catch {
      // Nothing downloaded.
    }
    return { code: r.code, trace: r.stdout + r.stderr, digest };
  }

  /** A raw control session from the client namespace: send lines, return every reply line. */
  async function raw(port: number, lines: string[]): Promise<string[]> {
    const js = `
const net = require('net');
const [host, port, ...lines] = process.argv.slice(1);
const s = net.connect({ host, port: +port });
let text = '', sent = false;
s.on('data', (d) => {
  text += d.toString('latin1');
  if (!sent && text.includes('\\n')) { sent = true; for (const l of lines) s.write(Buffer.from(JSON.parse(l), 'latin1')); setTimeout(() => { process.stdout.write(text); s.destroy(); }, 1500); }
});
s.on('error', (e) => { console.error(String(e)); process.exit(1); });`;
    const r = await topo.exec('in', process.execPath, ['-e', js, INSIDE.gw4, String(port), ...lines.map((l) => JSON.stringify(l))], { timeoutMs: 20_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.split('\r\n').filter((l) => l.length > 0);
  }

  it('slowloris: 16 addresses trickling bytes hold at most 8 sessions each; a normal client fetches its file meanwhile', async () => {
    const { port, r } = await relay(VSFTPD); // the documented defaults
    const attack = topo.spawn('in', process.execPath, ['-e', SLOWLORIS, INSIDE.gw4, String(port), '12', ...ATTACKERS]);
    let said = '';
    attack.stdout?.on('data', (d: Buffer) => (said += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!said.includes('\n') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(JSON.parse(said)).toEqual({ held: 128, refused: 64, failed: 0 });
      const got = await curl(port, ['--ftp-pasv'], NORMAL);
      expect(got.code, got.trace).toBe(0);
      expect(got.digest).toBe(DIGEST);
    } finally {
      await topo.stop(attack);
    }
    expect(r.output()).toContain('too many sessions from this client not logged in');
  }, 60_000);

  it('leading blanks, tabs and a tab after the verb: refused by the relay, never executed by vsftpd or pyftpdlib', async () => {
    for (const upstream of [VSFTPD, MISBEHAVING['epsv-as-pasv']]) {
      const { port, r } = await relay(upstream);
      const bounce = '504 Data address refused: it must be your own address.';
      const lines = await raw(port, [
        'USER anonymous\r\n', 'PASS x@\r\n',
        ' PORT 198,51,100,99,4,1\r\n', '\tPORT 198,51,100,99,4,1\r\n', 'PORT\t198,51,100,99,4,1\r\n', 'PORT\x0b198,51,100,99,4,1\r\n',
        'EPRT\t|1|198.51.100.99|1025|\r\n', ' EPRT |1|198.51.100.99|1025|\r\n', 'NOOP\r\n',
      ]);
      const refusals = lines.filter((l) => l === bounce);
      expect(refusals, lines.join(' | ')).toHaveLength(6);
      expect(lines[lines.length - 1], lines.join(' | ')).toMatch(/^200 /);
      const refused = r.output().split('\n').filter((l) => l.includes('"command-refused"') && l.includes('foreign-address'));
      expect(refused).toHaveLength(6);
    }
  }, 60_000);

  /** A raw control session from namespace `ns` that writes `pieces` 300 ms apart; returns every reply line. */
  async function rawPaced(ns: 'in' | 'gw', host: string, port: number, pieces: string[]): Promise<string[]> {
    const js = `
const net = require('net');
const [host, port, ...pieces] = process.argv.slice(1);
const s = net.connect({ host, port: +port });
s.setNoDelay(true);
let text = '', started = false;
s.on('data', (d) => {
  text += d.toString('latin1');
  if (started || !text.includes('\\n')) return;
  started = true;
  let k = 0;
  const next = () => {
    if (k < pieces.length) { s.write(Buffer.from(JSON.parse(pieces[k++]), 'latin1')); setTimeout(next, 300); }
    else setTimeout(() => { process.stdout.write(text); s.destroy(); }, 1500);
  };
  next();
});
s.on('error', (e) => { console.error(String(e)); process.exit(1); });`;
    const r = await topo.exec(ns, process.execPath, ['-e', js, host, String(port), ...pieces.map((l) => JSON.stringify(l))], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.split('\r\n').filter((l) => l.length > 0);
  }

  it('a command smuggled past pyftpdlib\'s 2048-byte buffer: pyftpdlib runs it when reached directly, the relay refuses the line whole', async () => {
    // pyftpdlib answers a line that grows past 2048 bytes with a 500 and runs the rest of it as a
    // command of its own. The smuggled PORT names the relay host itself at a high port; the line
    // is written in two pieces, split right after the 2049th byte.
    const line = 'NOOP ' + 'x'.repeat(2044) + `PORT ${OUTSIDE.gw4.replace(/\./g, ',')},200,1\r\n`;
    const pieces = ['USER anonymous\r\nPASS x@\r\n', line.slice(0, 2049), line.slice(2049), 'NOOP\r\n'];
    const upstream = MISBEHAVING['epsv-low-port']; // misbehaves on EPSV only
    const direct = await rawPaced('gw', OUTSIDE.host4, upstream, pieces);
    expect(direct.join('\n'), direct.join(' | ')).toMatch(/500 Command too long/);
    expect(direct.join('\n'), direct.join(' | ')).toMatch(/Active data connection|connect to specified address/);
    const { port } = await relay(upstream);
    const lines = await rawPaced('in', INSIDE.gw4, port, pieces);
    expect(lines, lines.join(' | ')).toContain('500 Command line too long.');
    expect(lines.join('\n')).not.toMatch(/Command too long|Active data connection|connect to specified address/);
    expect(lines[lines.length - 1], lines.join(' | ')).toMatch(/^200 /);
  }, 60_000);

  it('a server answering EPSV with a 227: translated through the relay, its own address and port never reach the client', async () => {
    const { port } = await relay(MISBEHAVING['epsv-as-pasv']);
    const got = await curl(port, ['--ftp-pasv']);
    // curl wants a 229 for EPSV; whatever it makes of the 227, it must only ever see the relay.
    expect(got.trace).not.toMatch(/198,51,100,2|198\.51\.100\.2/);
    expect(got.trace).toMatch(/< 227 Entering passive mode \(192,0,2,1,/i);
    if (got.code === 0) expect(got.digest).toBe(DIGEST);
  }, 60_000);

  it('a server answering PASV with a 229: translated to the relay port, the real port never reaches the client', async () => {
    const { port } = await relay(MISBEHAVING['pasv-as-epsv']);
    const got = await curl(port, ['--ftp-pasv', '--disable-epsv']);
    const real = /< 229 .*\|\|\|(\d+)\|/.exec(got.trace);
    expect(real, got.trace).not.toBeNull();
    const p = Number(real![1]);
    expect(p >= 31000 && p <= 31999, `port ${p} is one of pyftpdlib's passive ports`).toBe(false);
  }, 60_000);

  it('a server answering EPSV with a 227 naming port 22: replaced by 425, the client falls back and gets its file', async () => {
    const { port } = await relay(MISBEHAVING['epsv-low-port']);
    const got = await curl(port, ['--ftp-pasv']);
    expect(got.trace).toContain('< 425 Cannot open data connection (data port below 1024).');
    expect(got.trace).not.toMatch(/,0,22\)/);
    expect(got.code, got.trace).toBe(0);
    expect(got.digest).toBe(DIGEST);
  }, 60_000);

  it('FTPS through the relay: with AUTH passed the data connection fails (the relay cannot read the 229); the relay warns', async () => {
    const { port, r } = await relay(VSFTPD_TLS, ['--verbose']);
    const got = await curl(port, ['--ftp-pasv', '--ssl-reqd', '-k']);
    expect(got.code, got.trace).not.toBe(0);
    expect(got.digest).toBeNull();
    expect(r.output()).toMatch(/"event":"tls-started".*data connections can no longer be translated/);
    // A real handshake (OpenSSL on both ends) is seen to finish; the login inside TLS is not seen,
    // so the session never counts as logged in, and it ended for its own reasons, not the login deadline.
    expect(r.output()).toContain('"event":"tls-established"');
    expect(got.trace).toContain('230 '); // curl logged in, inside TLS
    expect(r.output()).not.toContain('"event":"logged-in"');
    expect(r.output()).not.toContain('Login timeout');
  }, 60_000);

  it('FTPS with --tls refuse: a client that requires TLS is told at AUTH; one that may go without gets its file', async () => {
    const { port, r } = await relay(VSFTPD_TLS, ['--tls', 'refuse']);
    const strict = await curl(port, ['--ftp-pasv', '--ssl-reqd', '-k']);
    expect(strict.code).toBe(64); // curl: requested SSL level failed
    expect(strict.trace).toContain('< 534 AUTH refused: this gateway must read the control channel to translate data connections.');
    const lenient = await curl(port, ['--ftp-pasv', '--ssl', '-k']);
    expect(lenient.code, lenient.trace).toBe(0);
    expect(lenient.digest).toBe(DIGEST);
    // lftp tries AUTH TLS by default and falls back to plain text when it is refused.
    const out = join(base, 'lftp-tls.bin');
    const l = await topo.exec('in', 'lftp', ['-c', [
      'set net:max-retries 1', 'set net:timeout 5', 'set cmd:fail-exit yes', 'set ftp:passive-mode on',
      `open -u anonymous,lftp@ ftp://${INSIDE.gw4}:${port}`, `get data.bin -o ${out}`, 'bye',
    ].join('; ')], { timeoutMs: 30_000 });
    expect(l.code, l.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(DIGEST);
    expect(r.output()).toContain('"reason":"tls-refused"');
  }, 60_000);
});

