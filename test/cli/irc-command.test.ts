/**
 * The `irc` command: its flags (the relay flags shared with `ftp`, its own DCC ones, the ftp-only
 * ones refused), and the command driven in-process through a fake CliIo: ready line, a translated
 * offer logged, shutdown on a signal.
 */
import { describe, it, expect } from 'vitest';
import * as net from 'node:net';
import { once } from 'node:events';
import { IRC_USAGE, MAIN_USAGE, parseArgs, type IrcCommandOptions } from '../../src/cli/args.js';
import { runIrcCommand } from '../../src/cli/irc-command.js';
import { FakeIo, until } from './fake-io.js';

const base = ['irc', '--listen', '127.0.0.1:6667', '--upstream', '198.51.100.7:6667'];

function options(args: string[]): IrcCommandOptions {
  const r = parseArgs([...base, ...args]);
  if (r.kind !== 'run' || r.listeners[0]?.alg !== 'irc') throw new Error(JSON.stringify(r));
  return r.listeners[0].options;
}

describe('nat-alg irc flags', () => {
  it('takes the relay flags and its own', () => {
    expect(options(['--offer-timeout', '120', '--max-waiting-offers', '4', '--max-line-length', '1024', '--overlong-line', 'close', '--allow-low-ports', '--line-timeout', '5'])).toMatchObject({
      listen: { family: 4, address: '127.0.0.1', port: 6667 },
      upstream: { host: '198.51.100.7', port: 6667 },
      offerTimeoutMs: 120_000, maxWaitingOffers: 4, maxLineLength: 1024, overlongLine: 'close', allowLowPorts: true, allowForeignAddress: false, lineTimeoutMs: 5000,
    });
  });

  it('refuses ftp-only flags and out-of-range values, pointing at its own help', () => {
    expect(parseArgs([...base, '--tls', 'refuse'])).toMatchObject({ kind: 'usage-error', message: 'unknown option --tls', topic: 'irc' });
    expect(parseArgs([...base, '--max-line-length', '256'])).toMatchObject({ kind: 'usage-error', topic: 'irc', message: expect.stringContaining('512 to 65536') });
    expect(parseArgs([...base, '--max-waiting-offers', '0'])).toMatchObject({ kind: 'usage-error', topic: 'irc' });
    // Below a millisecond: refused here, naming the flag, not later by the translator's policy.
    expect(parseArgs([...base, '--offer-timeout', '0.0001'])).toMatchObject({ kind: 'usage-error', topic: 'irc', message: expect.stringContaining('--offer-timeout') });
    expect(parseArgs([...base, '--line-timeout', '0.0004'])).toMatchObject({ kind: 'usage-error', topic: 'irc' });
    expect(options(['--offer-timeout', '0.001'])).toMatchObject({ offerTimeoutMs: 1 });
    expect(parseArgs(['ftp', '--listen', '127.0.0.1:21', '--upstream', '198.51.100.7:21', '--offer-timeout', '3'])).toMatchObject({ kind: 'usage-error', topic: 'ftp' });
    expect(parseArgs(['irc', '--help'])).toEqual({ kind: 'help', topic: 'irc' });
    expect(IRC_USAGE).toContain('nat-alg irc --listen HOST:PORT --upstream HOST:PORT');
    expect(MAIN_USAGE).toContain('irc ');
  });
});



describe('runIrcCommand', () => {
  it('relays, logs a translated offer in JSON, and stops on SIGTERM', async () => {
    const server = net.createServer((s) => {
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        if (d.includes('NICK')) s.write(':irc.test 001 alice :Welcome\r\n');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const up = (server.address() as net.AddressInfo).port;
    const io = new FakeIo();
    const done = runIrcCommand(parseIrc(up), io);
    await until(() => io.stdout.length > 0);
    const m = /^nat-alg irc: listening on 127\.0\.0\.1:(\d+), upstream 127\.0\.0\.1:\d+$/.exec(io.stdout[0]!);
    expect(m, io.stdout[0]).not.toBeNull();
    const client = net.connect(Number(m![1]), '127.0.0.1');
    client.setEncoding('latin1');
    let got = '';
    client.on('data', (d: string) => (got += d));
    client.write('NICK alice\r\n');
    await until(() => got.includes('001'));
    client.write('PRIVMSG bob :\x01DCC SEND a 2130706433 5000 1\x01\r\n');
    await until(() => io.stderr.some((l) => l.includes('"line-translated"')));
    const entry = JSON.parse(io.stderr.find((l) => l.includes('"line-translated"'))!);
    expect(entry).toMatchObject({ level: 'debug', event: 'line-translated', direction: 'client-to-server' });
    expect(entry.after).toMatch(/^PRIVMSG bob :\x01DCC SEND a 2130706433 \d+ 1\x01$/);
    io.signal('SIGTERM');
    expect(await done).toBe(0);
    client.destroy();
    server.close();
  });
});

function parseIrc(upstreamPort: number): IrcCommandOptions {
  const r = parseArgs(['irc', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstreamPort}`, '--log', 'json', '--verbose']);
  if (r.kind !== 'run' || r.listeners[0]?.alg !== 'irc') throw new Error(JSON.stringify(r));
  return r.listeners[0].options;
}
