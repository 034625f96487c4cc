/**
 * The deployment files in examples/: the systemd unit is run the way systemd would run it (its
 * ExecStart and Environment, the program path swapped for dist/cli.js and the config for a test
 * one), its sandbox is checked, and `systemd-analyze verify` and `security --offline` judge it
 * when installed (required under CI: .ci/run installs systemd). The container recipe cannot be
 * built here; it is checked for consistency with the package (the paths it runs are in the
 * tarball, its user may bind the port its config listens on) and its command line is run too.
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { parseArgs } from '../../src/cli/args.js';
import { cleanEnv, prepareCli, ROOT, startProcess, waitFor } from './built-cli.js';

const UNIT = resolve(ROOT, 'examples/systemd/nat-alg.service');
const CONTAINERFILE = resolve(ROOT, 'examples/container/Containerfile');
const CONTAINER_CONFIG = resolve(ROOT, 'examples/container/config.json');

let cli: { cli: string; dir: string; cleanup: () => void };
let server: FtpTestServer;

beforeAll(async () => {
  cli = prepareCli();
  server = new FtpTestServer({ files: { 'unit.txt': 'served under the unit' } });
  await server.listen();
}, 120_000);

afterAll(async () => {
  await server.close();
  cli.cleanup();
});

/** `[Section]` → key → every value given (a key may repeat), comments and blank lines left out. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`unexpected unit line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** A test config: one FTP listener on loopback in front of the test server. */
function testConfig(name: string): string {
  const path = join(cli.dir, name);
  writeFileSync(path, JSON.stringify({ grace: 1, listeners: [{ name: 'unit', alg: 'ftp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${server.endpoint.port}` }] }));
  return path;
}

function commandAvailable(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('examples/systemd/nat-alg.service', () => {
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service')!;
  const one = (key: string): string | undefined => service.get(key)?.at(-1);

  it('is sandboxed: a dynamic user, only CAP_NET_BIND_SERVICE, a read-only system, IP sockets only', () => {
    expect(one('DynamicUser')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'], ['ProtectKernelModules', 'yes'], ['ProtectControlGroups', 'yes'], ['RestrictNamespaces', 'yes'],
      ['RestrictSUIDSGID', 'yes'], ['LockPersonality', 'yes'],
    ]) {
      expect(one(key!), key).toBe(value);
    }
    expect(one('RestrictAddressFamilies')!.split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(service.get('SystemCallFilter')).toContain('@system-service');
    // V8's JIT writes code and then runs it: the unit must leave this off (see the MDWE test below).
    expect(one('MemoryDenyWriteExecute') ?? 'no').toBe('no');
    // Graceful shutdown: SIGTERM, and more time to stop than the grace of the example config.
    expect(one('KillSignal')).toBe('SIGTERM');
    const grace = (JSON.parse(readFileSync(resolve(ROOT, 'examples/nat-alg.json'), 'utf8')) as { grace: number }).grace;
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThan(grace);
    // A usage error (exit 2) is a configuration mistake: no restart loop.
    expect(one('RestartPreventExitStatus')).toBe('2');
    // Its documentation is the installed package's copy of docs/cli.md.
    const doc = unit.get('Unit')!.get('Documentation')![0]!;
    expect(doc).toBe('file:/usr/local/lib/node_modules/nat-alg/docs/cli.md');
    const files = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    expect(files).toContain('docs');
  });

  it('starts the relay the way the unit does (its ExecStart and Environment), serves a session, stops on its KillSignal', async () => {
    const [program, ...args] = one('ExecStart')!.split(/\s+/);
    expect(program).toBe('/usr/local/bin/nat-alg'); // where `npm install -g` puts the package's bin
    expect(args).toEqual(['--config', '/etc/nat-alg/config.json']);
    const env: Record<string, string> = {};
    for (const assignment of service.get('Environment') ?? []) {
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
    expect(env).toMatchObject({ NAT_ALG_LOG: 'json' });
    const config = testConfig('unit.json');
    const argv = args.map((a) => (a === '/etc/nat-alg/config.json' ? config : a));
    const run = await startProcess(process.execPath, [cli.cli, ...argv], { env: cleanEnv(env), lines: 1, cwd: '/' });
    try {
      expect(run.ready[0]).toBe(`nat-alg ftp[unit]: listening on 127.0.0.1:${run.ports[0]}, upstream 127.0.0.1:${server.endpoint.port}`);
      const client = await FtpTestClient.connect({ host: '127.0.0.1', port: run.ports[0]! }, { mode: 'pasv', timeoutMs: 5000 });
      await client.login();
      expect(new TextDecoder().decode(await client.retrieve('unit.txt'))).toBe('served under the unit');
      await client.quit();
      // The unit's Environment reached the settings: the journal gets JSON lines.
      await waitFor(() => run.stderr().includes('"event":"session-close"'));
      expect(run.stderr().split('\n').filter((l) => l.includes('session-open')).every((l) => l.startsWith('{'))).toBe(true);
    } finally {
      run.child.kill(one('KillSignal') as NodeJS.Signals);
    }
    expect((await run.exit).code).toBe(0);
  });

  it('passes systemd-analyze verify, with a low exposure score from systemd-analyze security', () => {
    if (!commandAvailable('systemd-analyze')) {
      if (process.env.CI === 'true') throw new Error('systemd-analyze is missing (.ci/run installs systemd)');
      return;
    }
    // verify checks that ExecStart's program exists: point it at node and the built CLI.
    const text = readFileSync(UNIT, 'utf8')
      .replace('ExecStart=/usr/local/bin/nat-alg --config /etc/nat-alg/config.json', `ExecStart=${process.execPath} ${cli.cli} --config ${testConfig('verify.json')}`);
    expect(text).toContain(`ExecStart=${process.execPath}`);
    writeFileSync(join(cli.dir, 'nat-alg.service'), text);
    const verify = spawnSync('systemd-analyze', ['verify', './nat-alg.service'], { cwd: cli.dir, encoding: 'utf8', timeout: 60_000 });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).toBe(''); // no unknown key, no bad value
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', './nat-alg.service'], { cwd: cli.dir, encoding: 'utf8', timeout: 60_000 });
    const level = /Overall exposure level for nat-alg\.service: ([0-9.]+)/.exec(security.stdout);
    expect(level, security.stdout + security.stderr).not.toBeNull();
    expect(Number(level![1])).toBeLessThanOrEqual(2.5);
  });

  it('leaves MemoryDenyWriteExecute off for a reason: node aborts under the kernel\'s memory-deny-write-execute', () => {
    // PR_SET_MDWE (Linux 6.3+) is what systemd applies for MemoryDenyWriteExecute=yes where the
    // kernel has it. Without python3 or on an older kernel there is nothing to show.
    if (!commandAvailable('python3')) return;
    const script = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)',
      'os.execv(sys.argv[1], [sys.argv[1]] + sys.argv[2:])',
    ].join('\n');
    const jit = spawnSync('python3', ['-c', script, process.execPath, '-e', 'console.log("ran")'], { encoding: 'utf8', timeout: 30_000 });
    if (jit.status === 77) return;
    expect(jit.stdout).not.toContain('ran');
    expect(jit.stderr).toContain('Fatal error');
    // The way out, documented in docs/cli.md: node --jitless runs under it (slower).
    const jitless = spawnSync('python3', ['-c', script, process.execPath, '--jitless', '-e', 'console.log("ran")'], { encoding: 'utf8', timeout: 30_000 });
    expect(jitless.stdout).toContain('ran');
  });
});

describe('examples/container/Containerfile', () => {
  const text = readFileSync(CONTAINERFILE, 'utf8');
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const sp = l.indexOf(' ');
      return { op: l.slice(0, sp).toUpperCase(), arg: l.slice(sp + 1).trim() };
    });
  const arg = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.arg);
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string>; dependencies?: object };

  it('builds on node:20-slim, installs the packed package, and runs as a user that is not root', () => {
    expect(arg('FROM')).toEqual(['node:20-slim']);
    const copy = arg('COPY')[0]!.split(/\s+/);
    const run = arg('RUN').join(' ');
    expect(run).toMatch(new RegExp(`npm install --global .*${copy[1]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    expect(pkg.dependencies ?? {}).toEqual({}); // nothing to fetch at install time
    const user = arg('USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('runs a file that the package holds, with the config path its comments tell to mount', () => {
    const entrypoint = JSON.parse(arg('ENTRYPOINT')[0]!) as string[];
    const cmd = JSON.parse(arg('CMD')[0]!) as string[];
    expect(entrypoint[0]).toBe('node');
    const prefix = `/usr/local/lib/node_modules/${pkg.name}/`;
    expect(entrypoint[1]!.startsWith(prefix)).toBe(true);
    const inPackage = entrypoint[1]!.slice(prefix.length);
    expect(`./${inPackage}`).toBe(pkg.bin['nat-alg']);
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(pack.status, pack.stderr).toBe(0);
    const files = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain(inPackage);
    expect(cmd).toEqual(['--config', '/etc/nat-alg/config.json']);
    expect(text).toContain('examples/container/config.json:/etc/nat-alg/config.json:ro');
  });

  it('its example config listens where the unprivileged user may, on the port it exposes', () => {
    const r = parseArgs(['--config', CONTAINER_CONFIG], { env: {}, readFile: (p) => readFileSync(p, 'utf8') });
    if (r.kind !== 'run') throw new Error(JSON.stringify(r));
    const exposed = arg('EXPOSE').flatMap((e) => e.split(/\s+/)).map(Number);
    for (const l of r.listeners) {
      expect(l.options.listen.port).toBeGreaterThanOrEqual(1024);
      expect(exposed).toContain(l.options.listen.port);
    }
  });

  it('its command line runs: the image\'s ENV and CMD, the example config, the address overridden from the environment', async () => {
    const env: Record<string, string> = {};
    for (const e of arg('ENV')) for (const [, k, v] of e.matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
    expect(env).toMatchObject({ NAT_ALG_LOG: 'json' });
    const cmd = (JSON.parse(arg('CMD')[0]!) as string[]).map((a) => (a === '/etc/nat-alg/config.json' ? CONTAINER_CONFIG : a));
    // As `docker run -e NAT_ALG_LISTEN=...` would: the variable wins over the mounted file.
    const run = await startProcess(process.execPath, [cli.cli, ...cmd], { env: cleanEnv({ ...env, NAT_ALG_LISTEN: '127.0.0.1:0', NAT_ALG_UPSTREAM: `127.0.0.1:${server.endpoint.port}` }), lines: 1 });
    try {
      expect(run.ready[0]).toMatch(/^nat-alg ftp\[ftp\]: listening on 127\.0\.0\.1:\d+, upstream 127\.0\.0\.1:\d+$/);
      const client = await FtpTestClient.connect({ host: '127.0.0.1', port: run.ports[0]! }, { mode: 'epsv', timeoutMs: 5000 });
      await client.login();
      expect(new TextDecoder().decode(await client.retrieve('unit.txt'))).toBe('served under the unit');
      await client.quit();
    } finally {
      run.child.kill(arg('STOPSIGNAL')[0] as NodeJS.Signals);
    }
    expect((await run.exit).code).toBe(0);
  });
});
