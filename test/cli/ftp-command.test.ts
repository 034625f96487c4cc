/**
 * The `ftp` command driven in-process through a fake CliIo: ready line, log lines, shutdown on
 * a signal, exit codes. (test/cli/cli.test.ts runs the built binary for the same paths.)
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import * as net from 'node:net';
import { parseArgs, type FtpCommandOptions } from '../../src/cli/args.js';
import { runFtpCommand } from '../../src/cli/ftp-command.js';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { FakeIo, until } from './fake-io.js';


function options(args: string[]): FtpCommandOptions {
  const r = parseArgs(['ftp', ...args]);
  if (r.kind !== 'run' || r.listeners[0]?.alg !== 'ftp') throw new Error(JSON.stringify(r));
  return r.listeners[0].options;
}

let server: FtpTestServer;
beforeAll(async () => {
  server = new FtpTestServer({ files: { 'f.txt': 'twelve bytes' } });
  await server.listen();
});
afterAll(() => server.close());


describe('runFtpCommand', () => {
  it('prints one ready line, logs session events as text, and returns 0 after a signal', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(options(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`]), io);
    await until(() => io.stdout.length > 0 && io.signalled);
    expect(io.stdout).toHaveLength(1);
    const port = Number(/127\.0\.0\.1:(\d+), upstream/.exec(io.stdout[0]!)![1]);
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port }, { mode: 'pasv' });
    await client.login();
    expect(new TextDecoder().decode(await client.retrieve('f.txt'))).toBe('twelve bytes');
    expect((await client.command('PORT 192,0,2,1,4,1')).code).toBeGreaterThanOrEqual(500);
    await client.quit();
    await until(() => io.stderr.some((l) => l.includes(' session-close ')));
    expect(io.stderr.find((l) => l.includes(' session-open '))).toMatch(/^1970-01-01T00:00:00\.000Z info  session-open session=1 client=127\.0\.0\.1:\d+$/);
    expect(io.stderr.some((l) => / warn  command-refused session=1 command=PORT reason=foreign-address /.test(l))).toBe(true);
    expect(io.stderr.some((l) => / data-close .*bytes\.toClient=12/.test(l))).toBe(true);
    expect(io.stderr.some((l) => l.includes(' debug '))).toBe(false); // only with --verbose
    io.signal('SIGTERM');
    expect(await done).toBe(0);
    expect(io.stdout).toHaveLength(1);
  });

  it('logs debug entries as JSON with --verbose --log json', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(options(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`, '--log', 'json', '--verbose']), io);
    await until(() => io.signalled);
    const port = Number(/:(\d+), upstream/.exec(io.stdout[0]!)![1]);
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port }, { mode: 'epsv' });
    await client.login();
    await client.retrieve('f.txt');
    await client.quit();
    await until(() => io.stderr.some((l) => l.includes('"session-close"')));
    const entries = io.stderr.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const translated = entries.find((e) => e.event === 'line-translated');
    expect(translated).toMatchObject({ level: 'debug', session: 1, direction: 'server-to-client' });
    expect(String(translated!.before)).toMatch(/^229 /);
    io.signal('SIGINT');
    expect(await done).toBe(0);
  });

  it('closes at once on a second signal even with a session open', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(options(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`, '--grace', '60']), io);
    await until(() => io.signalled);
    const port = Number(/:(\d+), upstream/.exec(io.stdout[0]!)![1]);
    const client = await FtpTestClient.connect({ host: '127.0.0.1', port });
    await client.login();
    // Keep a transfer "running": the server will not answer RETR.
    server.script('RETR', () => undefined);
    try {
      client.sendRaw('EPSV\r\n');
      await client.readReply();
      client.sendRaw('RETR f.txt\r\n');
      io.signal('SIGTERM');
      io.signal('SIGTERM');
      expect(await done).toBe(0);
      expect(io.stderr.join('\n')).toMatch(/SIGTERM again, closing now/);
    } finally {
      server.unscript('RETR');
      client.close();
    }
  });

  it('passes the session limit on: a second client from the same address gets 421', async () => {
    const io = new FakeIo();
    const done = runFtpCommand(options(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.endpoint.port}`, '--max-sessions-per-client', '1']), io);
    await until(() => io.signalled);
    const port = Number(/:(\d+), upstream/.exec(io.stdout[0]!)![1]);
    const first = await FtpTestClient.connect({ host: '127.0.0.1', port });
    try {
      await expect(FtpTestClient.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 421 });
      expect(io.stderr.some((l) => l.includes(' session-refused '))).toBe(true);
    } finally {
      first.close();
    }
    io.signal('SIGTERM');
    expect(await done).toBe(0);
  });

  it('returns 1 with the reason when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const io = new FakeIo();
      expect(await runFtpCommand(options(['--listen', `127.0.0.1:${port}`, '--upstream', '127.0.0.1:21']), io)).toBe(1);
      expect(io.stdout).toEqual([]);
      expect(io.stderr).toEqual([`nat-alg ftp: cannot listen on 127.0.0.1:${port}: EADDRINUSE (address already in use)`]);
    } finally {
      blocker.close();
    }
  });
});
