/**
 * Several listeners in one process, driven in-process through a fake CliIo: the ready lines come
 * together once all listen, a signal shuts all down (after the drain delay, during which they
 * still accept), a second signal cuts the wait short, a listener that cannot start stops the rest.
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { once } from 'node:events';
import * as net from 'node:net';
import { parseArgs, type ListenerPlan } from '../../src/cli/args.js';
import { runListeners } from '../../src/cli/listeners.js';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { FakeIo, until } from './fake-io.js';



let server: FtpTestServer;
beforeAll(async () => {
  server = new FtpTestServer({ files: { 'f.txt': 'twelve bytes' } });
  await server.listen();
});
afterAll(() => server.close());

function plans(config: unknown, argv: string[] = []): readonly ListenerPlan[] {
  const r = parseArgs(['--config', '/c.json', ...argv], { env: {}, readFile: () => JSON.stringify(config) });
  if (r.kind !== 'run') throw new Error(JSON.stringify(r));
  return r.listeners;
}

const portOf = (line: string) => Number(/:(\d+), upstream/.exec(line)![1]);

describe('runListeners', () => {
  it('runs two listeners, keeps accepting through the drain delay, then shuts both down', async () => {
    const up = `127.0.0.1:${server.endpoint.port}`;
    const io = new FakeIo();
    const done = runListeners(plans({ drainDelay: 0.4, grace: 1, listeners: [{ alg: 'ftp', listen: '127.0.0.1:0', upstream: up }, { alg: 'ftp', listen: '127.0.0.1:0', upstream: up }] }), io);
    await until(() => io.signalled);
    expect(io.stdout).toHaveLength(2);
    expect(io.stdout[0]).toMatch(/^nat-alg ftp\[0\]: listening on 127\.0\.0\.1:\d+, upstream /);
    expect(io.stdout[1]).toMatch(/^nat-alg ftp\[1\]: listening on 127\.0\.0\.1:\d+, upstream /);
    const ports = io.stdout.map(portOf);

    io.signal('SIGTERM');
    expect(io.stderr.filter((l) => l.includes('SIGTERM, draining: still accepting for 0.4 s'))).toHaveLength(2);
    // Inside the delay both still take sessions, each session's log line naming its listener.
    for (const port of ports) {
      const c = await FtpTestClient.connect({ host: '127.0.0.1', port }, { mode: 'pasv' });
      await c.login();
      expect(new TextDecoder().decode(await c.retrieve('f.txt'))).toBe('twelve bytes');
      await c.quit();
    }
    await until(() => io.stderr.filter((l) => / session-open .*listener=/.test(l)).length === 2);
    expect(io.stderr.some((l) => / session-open .*listener=0$/.test(l))).toBe(true);
    expect(io.stderr.some((l) => / session-open .*listener=1$/.test(l))).toBe(true);
    expect(await done).toBe(0);
    expect(io.stderr.filter((l) => /SIGTERM, shutting down \(\d+ sessions? open, grace 1 s\)/.test(l))).toHaveLength(2);
    for (const port of ports) {
      const s = net.connect(port, '127.0.0.1');
      const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).toBe('ECONNREFUSED');
    }
  });

  it('a second signal ends the drain delay at once', async () => {
    const io = new FakeIo();
    const done = runListeners(plans({ drainDelay: 3600, listeners: [{ alg: 'irc', name: 'chat', listen: '127.0.0.1:0', upstream: '127.0.0.1:6667' }] }), io);
    await until(() => io.signalled);
    io.signal('SIGINT');
    io.signal('SIGINT');
    expect(await done).toBe(0);
    expect(io.stderr).toContain('nat-alg irc[chat]: SIGINT again, closing now');
  });

  it('stops the listeners already started when a later one cannot listen, printing no ready line', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const io = new FakeIo();
      const code = await runListeners(
        plans({ listeners: [{ alg: 'ftp', name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:21' }, { alg: 'irc', name: 'b', listen: `127.0.0.1:${taken}`, upstream: '127.0.0.1:6667' }] }),
        io,
      );
      expect(code).toBe(1);
      expect(io.stdout).toEqual([]);
      expect(io.stderr).toEqual([`nat-alg irc[b]: cannot listen on 127.0.0.1:${taken}: EADDRINUSE (address already in use)`]);
    } finally {
      blocker.close();
    }
  });
});
