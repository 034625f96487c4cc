/**
 * `--metrics HOST:PORT` and `--drain-delay SECONDS` of the relay commands: parsing, the endpoint
 * named on the ready line, a scrape, and the drain on a signal (/healthz says draining while the
 * relay still accepts, then it stops).
 */
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs, type FtpCommandOptions } from '../../src/cli/args.js';
import { ftpRelay, runFtpCommand } from '../../src/cli/ftp-command.js';
import { runIrcCommand } from '../../src/cli/irc-command.js';
import { runRelays } from '../../src/cli/relay-command.js';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { FakeIo, until } from './fake-io.js';


function ftpOptions(args: string[]): FtpCommandOptions {
  const r = parseArgs(['ftp', ...args]);
  if (r.kind !== 'run' || r.listeners[0]?.alg !== 'ftp') throw new Error(JSON.stringify(r));
  return r.listeners[0].options;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}


let server: FtpTestServer;
beforeAll(async () => {
  server = new FtpTestServer({ files: { 'f.txt': 'twelve bytes' } });
  await server.listen();
});
afterAll(() => server.close());

describe('--metrics and --drain-delay: parsing', () => {
  const base = ['--listen', '127.0.0.1:2121', '--upstream', '127.0.0.1:21'];
  it('reads both on ftp and irc', () => {
    for (const command of ['ftp', 'irc'] as const) {
      const r = parseArgs([command, ...base, '--metrics', '[::1]:9100', '--drain-delay=2.5']);
      expect(r.kind).toBe('run');
      if (r.kind !== 'run') continue;
      expect(r.listeners[0]!.alg).toBe(command);
      expect(r.listeners[0]!.options.metrics).toEqual({ family: 6, address: '::1', port: 9100 });
      expect(r.listeners[0]!.options.drainDelayMs).toBe(2500);
    }
    const r = parseArgs(['ftp', ...base]);
    expect(r.kind === 'run' && r.listeners[0]!.options.metrics === undefined && !r.listeners[0]!.options.drainDelayMs).toBe(true);
  });

  it('refuses bad values naming the flag', () => {
    for (const [args, message] of [
      [['--metrics', 'localhost'], /--metrics/],
      [['--metrics', '127.0.0.1'], /--metrics/],
      [['--drain-delay', '-1'], /--drain-delay/],
      [['--drain-delay', '3601'], /--drain-delay/],
      [['--metrics'], /--metrics/],
    ] as const) {
      const r = parseArgs(['ftp', ...base, ...args]);
      expect(r.kind).toBe('usage-error');
      if (r.kind === 'usage-error') expect(r.message).toMatch(message);
    }
  });
});

describe('--metrics on a running relay', () => {
  it('names the endpoint on the ready line, serves the counters, drains on a signal while still accepting, then stops', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(
      ftpOptions(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`, '--metrics', '127.0.0.1:0', '--drain-delay', '2']),
      io,
    );
    await until(() => io.stdout.length > 0 && io.signalled);
    const m = /listening on 127\.0\.0\.1:(\d+), upstream .*, metrics on 127\.0\.0\.1:(\d+)$/.exec(io.stdout[0]!);
    expect(m, io.stdout[0]).not.toBeNull();
    const [port, metricsPort] = [Number(m![1]), Number(m![2])];
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port }, { mode: 'pasv' });
    await client.login();
    expect(new TextDecoder().decode(await client.retrieve('f.txt'))).toBe('twelve bytes');
    await client.quit();
    await until(() => io.stderr.some((l) => l.includes(' session-close ')));
    const scrape = await get(metricsPort, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('nat_alg_sessions_total{relay="ftp",alg="ftp"} 1\n');
    expect(scrape.body).toContain('nat_alg_data_bytes_total{relay="ftp",alg="ftp",direction="to_client",plane="relay"} 12\n');
    expect(await get(metricsPort, '/healthz')).toEqual({ status: 200, body: 'ready\n' });

    io.signal('SIGTERM');
    expect(await get(metricsPort, '/healthz')).toEqual({ status: 503, body: 'draining\n' });
    expect(io.stderr.at(-1)).toMatch(/SIGTERM, draining: still accepting for 2 s$/);
    // Still accepting during the drain delay: a late client is served.
    const late = await FtpTestClient.connect({ host: '127.0.0.1', port }, { mode: 'pasv' });
    await late.login();
    expect(new TextDecoder().decode(await late.retrieve('f.txt'))).toBe('twelve bytes');
    await late.quit();
    expect(await done).toBe(0);
    expect(io.stderr.some((l) => /SIGTERM, shutting down/.test(l))).toBe(true);
    // The metrics endpoint is gone with the relay.
    await expect(get(metricsPort, '/healthz')).rejects.toThrow();
  });

  it('serves every listener of the process from one endpoint, labelled by listener', async () => {
    const io = new FakeIo();
    const base = ['--upstream', `127.0.0.1:${server.endpoint.port}`, '--metrics', '127.0.0.1:0'];
    const done = runRelays(
      [ftpRelay({ ...ftpOptions(['--listen', '127.0.0.1:0', ...base]), name: 'inside' }), ftpRelay({ ...ftpOptions(['--listen', '127.0.0.1:0', ...base]), name: 'outside' })],
      io,
    );
    await until(() => io.stdout.length === 2 && io.signalled);
    const ports = io.stdout.map((l) => /listening on 127\.0\.0\.1:(\d+), upstream .*, metrics on 127\.0\.0\.1:(\d+)$/.exec(l)!);
    expect(ports[0]![2]).toBe(ports[1]![2]);
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port: Number(ports[1]![1]) }, { mode: 'pasv' });
    await client.login();
    await client.retrieve('f.txt');
    await client.quit();
    await until(() => io.stderr.some((l) => l.includes(' session-close ')));
    const scrape = (await get(Number(ports[0]![2]), '/metrics')).body;
    expect(scrape).toContain('nat_alg_sessions_total{relay="inside",alg="ftp"} 0\n');
    expect(scrape).toContain('nat_alg_sessions_total{relay="outside",alg="ftp"} 1\n');
    io.signal('SIGTERM');
    expect(await done).toBe(0);
  });

  it('a second signal during the drain delay closes at once', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(
      ftpOptions(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`, '--drain-delay', '600']),
      io,
    );
    await until(() => io.signalled);
    io.signal('SIGTERM');
    io.signal('SIGINT');
    expect(await done).toBe(0);
    expect(io.stderr.at(-1)).toMatch(/SIGINT again, closing now/);
  });

  it('exits 1 naming the address when the metrics endpoint cannot listen', async () => {
    const io = new FakeIo();
    const code = await runIrcCommand(
      (() => {
        const r = parseArgs(['irc', '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:6667', '--metrics', '192.0.2.55:9100']);
        if (r.kind !== 'run' || r.listeners[0]?.alg !== 'irc') throw new Error(JSON.stringify(r));
        return r.listeners[0].options;
      })(),
      io,
    );
    expect(code).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/cannot listen for metrics on 192\.0\.2\.55:9100: EADDRNOTAVAIL/);
    expect(io.stdout).toEqual([]);
  });
});
