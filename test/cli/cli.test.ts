/**
 * End to end: the built `dist/cli.js` as a user runs it, with the test peers on either side.
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { FtpTestClient, FtpTestServer, type TransferMode } from '../../src/testing/index.js';

const root = resolve(__dirname, '../..');
const built = resolve(root, 'dist/cli.js');
let cli = built;

/** Newest modification time under a directory (to tell whether dist/cli.js is stale). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  if (!existsSync(built) || statSync(built).mtimeMs < newest(resolve(root, 'src'))) {
    const r = spawnSync('npx', ['tsup'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  }
  // dist/cli.js is one self-contained file. Run a private copy of it: other builds in the same
  // tree (tsup cleans dist/) must not pull it away in the middle of a test.
  const dir = mkdtempSync(join(tmpdir(), 'nat-alg-cli-'));
  cli = join(dir, 'cli.js');
  copyFileSync(built, cli);
}, 120_000);

interface Running {
  child: ChildProcess;
  ready: string;
  port: number;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn the CLI and wait for its ready line (or its exit). */
function startCli(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no ready line; stderr: ${err}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const ready = out.slice(0, nl);
      const m = /listening on .*:(\d+), upstream/.exec(ready);
      if (!m) return rej(new Error(`unexpected ready line: ${ready}`));
      res({ child, ready, port: Number(m[1]), stderr: () => err, exit });
    });
    void exit.then((e) => {
      clearTimeout(timer);
      rej(new Error(`exited ${e.code} before ready; stderr: ${err}`));
    });
  });
}

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const payload = new Uint8Array(300_000).map((_, i) => (i * 31 + 7) & 0xff);
let server: FtpTestServer;

beforeAll(async () => {
  server = new FtpTestServer({ files: { 'data.bin': payload } });
  await server.listen();
});
afterAll(async () => {
  await server.close();
  if (cli !== built) rmSync(dirname(cli), { recursive: true, force: true });
});

describe('nat-alg ftp (dist/cli.js)', () => {
  it('relays transfers in every mode, logs JSON lines, and exits 0 on SIGTERM', async () => {
    const up = server.endpoint;
    const run = await startCli(['ftp', '--listen', '127.0.0.1:0', '--upstream', `${up.address}:${up.port}`, '--log', 'json']);
    try {
      expect(run.ready).toBe(`nat-alg ftp: listening on 127.0.0.1:${run.port}, upstream ${up.address}:${up.port}`);
      for (const mode of ['pasv', 'epsv', 'port', 'eprt'] as TransferMode[]) {
        const client = await FtpTestClient.connect({ host: '127.0.0.1', port: run.port }, { mode, timeoutMs: 5000 });
        await client.login();
        expect(await client.retrieve('data.bin')).toEqual(payload);
        await client.store(`up-${mode}.bin`, payload.subarray(5, 70_000));
        expect(server.files.get(`/up-${mode}.bin`)).toEqual(payload.subarray(5, 70_000));
        await client.quit();
      }
      // Data connections at the server came from the relay, not from the client directly.
      expect(server.dataConnections.length).toBeGreaterThanOrEqual(8);
      await waitFor(() => run.stderr().includes('"session-close"'));
      const entries = run
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; session?: number });
      expect(entries.some((e) => e.event === 'session-open' && typeof e.session === 'number')).toBe(true);
      expect(entries.some((e) => e.event === 'data-open')).toBe(true);
    } finally {
      run.child.kill('SIGTERM');
    }
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(run.stderr()).toMatch(/SIGTERM, shutting down/);
  });

  it('serves an IPv6 client on [::1] in front of an IPv4 server, with text logs', async () => {
    const up = server.endpoint;
    const run = await startCli(['ftp', '--listen', '[::1]:0', '--upstream', `${up.address}:${up.port}`]);
    try {
      expect(run.ready).toMatch(/^nat-alg ftp: listening on \[::1\]:\d+, upstream /);
      const client = await FtpTestClient.connect({ host: '::1', port: run.port }, { mode: 'epsv', timeoutMs: 5000 });
      await client.login();
      expect(await client.retrieve('data.bin')).toEqual(payload);
      await client.quit();
      await waitFor(() => / session-open session=\d+ client=\[::1\]:\d+/.test(run.stderr()));
    } finally {
      run.child.kill('SIGINT');
    }
    expect((await run.exit).code).toBe(0);
  });

  it('lets a running transfer finish after SIGTERM', async () => {
    const up = server.endpoint;
    const run = await startCli(['ftp', '--listen', '127.0.0.1:0', '--upstream', `${up.address}:${up.port}`, '--grace', '5']);
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port: run.port }, { mode: 'epsv', timeoutMs: 5000 });
    await client.login();
    // Slow the server's answer so that the signal arrives while the transfer is under way.
    server.script('RETR', async (ctx) => {
      await ctx.delay(500);
      await ctx.runDefault();
    });
    try {
      const got = client.retrieve('data.bin');
      await new Promise((r) => setTimeout(r, 200));
      run.child.kill('SIGTERM');
      expect(await got).toEqual(payload);
    } finally {
      server.unscript('RETR');
      client.close();
    }
    expect((await run.exit).code).toBe(0);
  });

  it('takes the hardening flags: line and login timeouts, line length, overlong policy, TLS refusal', async () => {
    const up = server.endpoint;
    const run = await startCli([
      'ftp', '--listen', '127.0.0.1:0', '--upstream', `${up.address}:${up.port}`,
      '--line-timeout', '0.3', '--login-timeout', '5', '--max-line-length', '200', '--overlong-line', 'close', '--tls', 'refuse',
      '--data-listen-timeout', '2', '--upstream-connect-timeout', '3', '--max-unauthenticated-per-client', '2',
    ]);
    try {
      const talk = async (lines: string[], localAddress = '127.0.0.1'): Promise<string> => {
        const s = net.connect({ host: '127.0.0.1', port: run.port, localAddress });
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('error', () => {});
        const closed = new Promise((r) => s.once('close', r));
        await new Promise((r) => s.once('connect', r));
        await waitFor(() => got.includes('\n'));
        for (const l of lines) s.write(l);
        await closed;
        return got;
      };
      const hold = async (): Promise<{ socket: net.Socket; text: () => string }> => {
        const socket = net.connect({ host: '127.0.0.1', port: run.port });
        let got = '';
        socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
        socket.on('error', () => {});
        await waitFor(() => got.includes('\n'));
        return { socket, text: () => got };
      };
      // Two sessions not logged in from this address are the most; a third is refused.
      const a = await hold();
      const b = await hold();
      expect(a.text()).toMatch(/^220 /);
      expect(b.text()).toMatch(/^220 /);
      expect(await talk([])).toBe('421 Too many connections from your address not logged in\r\n');
      // AUTH is refused, and the session goes on in plain text.
      a.socket.write('AUTH TLS\r\n');
      await waitFor(() => a.text().includes('534 '));
      expect(a.text()).toContain('534 AUTH refused: this gateway must read the control channel to translate data connections.\r\n');
      a.socket.destroy();
      b.socket.destroy();
      // A line trickled past 0.3 s, and an over-long line under 'close', end the session with 421
      // (from another address: the two sessions above may not have gone yet).
      expect(await talk(['US'], '127.0.0.5')).toMatch(/421 Command line not complete within 0.3 s, closing control connection\.\r\n$/);
      expect(await talk(['SITE ' + 'x'.repeat(300)], '127.0.0.5')).toMatch(/421 Command line too long, closing control connection\.\r\n$/);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect((await run.exit).code).toBe(0);
  });

  it('--max-pending-data-channels-per-client: a second waiting PASV from the address gets 425, logged as data-limit', async () => {
    const up = server.endpoint;
    const run = await startCli(['ftp', '--listen', '127.0.0.1:0', '--upstream', `${up.address}:${up.port}`, '--max-pending-data-channels-per-client', '1', '--log', 'json']);
    try {
      const a = await FtpTestClient.connect({ family: 4, address: '127.0.0.1', port: run.port }, { mode: 'pasv' });
      const b = await FtpTestClient.connect({ family: 4, address: '127.0.0.1', port: run.port }, { mode: 'pasv' });
      await a.login();
      await b.login();
      expect((await a.command('PASV')).code).toBe(227);
      const refused = await b.command('PASV');
      expect(refused.lines).toEqual(['425 Cannot open data connection (too many data connections waiting from your address).']);
      await waitFor(() => run.stderr().includes('"event":"data-limit"'));
      expect(run.stderr()).toMatch(/"level":"warn","event":"data-limit".*"command":"PASV","limit":1/);
      a.close();
      b.close();
    } finally {
      run.child.kill('SIGTERM');
    }
    expect((await run.exit).code).toBe(0);
  });

  it('exits 1 with a clear message when the listen address is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = runCli(['ftp', '--listen', `127.0.0.1:${port}`, '--upstream', '127.0.0.1:21']);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE (address already in use)`);
    } finally {
      blocker.close();
    }
  });

  it('exits 2 with a message on bad arguments, 0 on --help and --version', () => {
    const bad = runCli(['ftp', '--listen', '::1:21', '--upstream', '127.0.0.1:21']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^nat-alg: --listen: .*brackets.*\nTry "nat-alg ftp --help"\.\n$/);
    const missing = runCli(['ftp', '--listen', '127.0.0.1:2121']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--upstream HOST:PORT is required');
    const none = runCli([]);
    expect(none.status).toBe(2);
    const help = runCli(['ftp', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: nat-alg ftp --listen HOST:PORT --upstream HOST:PORT/);
    for (const flag of [
      '--public-address', '--data-ports', '--allow-foreign-address', '--allow-low-ports', '--log', '--line-timeout', '--login-timeout',
      '--data-listen-timeout', '--upstream-connect-timeout', '--max-line-length', '--overlong-line', '--tls', '--max-unauthenticated-per-client',
      '--max-pending-data-channels-per-client',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const version = runCli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^nat-alg \d+\.\d+\.\d+\n$/);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
