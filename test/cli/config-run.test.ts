/**
 * `nat-alg --config FILE` as a process (the built dist/cli.js): an FTP and an IRC listener from one
 * file, a session through each, one ready line each, log lines saying whose they are, one graceful
 * shutdown for both; a listener that cannot start stops the others (exit 1); a bad file exits 2.
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { cleanEnv, prepareCli, startProcess, waitFor } from './built-cli.js';

let cli: { cli: string; dir: string; cleanup: () => void };
let ftp: FtpTestServer;
let irc: net.Server;
/** What the IRC server received, all connections together. */
let ircReceived = '';

beforeAll(async () => {
  cli = prepareCli();
  ftp = new FtpTestServer({ files: { 'hello.txt': 'hello through the config file' } });
  await ftp.listen();
  irc = net.createServer((s) => {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      ircReceived += d;
      if (d.includes('NICK')) s.write(':irc.test 001 alice :Welcome\r\n');
    });
    s.on('error', () => {});
  });
  irc.listen(0, '127.0.0.1');
  await once(irc, 'listening');
}, 120_000);

afterAll(async () => {
  await ftp.close();
  irc.close();
  cli.cleanup();
});

function writeConfig(name: string, config: unknown): string {
  const path = join(cli.dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

describe('nat-alg --config FILE (dist/cli.js)', () => {
  it('runs an FTP and an IRC listener from one file, a session through each, and stops both on SIGTERM', async () => {
    const ircPort = (irc.address() as net.AddressInfo).port;
    const config = writeConfig('two.json', {
      log: 'json',
      grace: 2,
      defaults: { maxSessions: 5, idleTimeout: 60 },
      listeners: [
        { name: 'files', alg: 'ftp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${ftp.endpoint.port}`, tls: 'refuse' },
        { name: 'chat', alg: 'irc', listen: '127.0.0.1:0', upstream: `127.0.0.1:${ircPort}`, offerTimeout: 30 },
      ],
    });
    const run = await startProcess(process.execPath, [cli.cli, '--config', config], { env: cleanEnv({ NAT_ALG_VERBOSE: 'true' }), lines: 2 });
    try {
      expect(run.ready).toEqual([
        `nat-alg ftp[files]: listening on 127.0.0.1:${run.ports[0]}, upstream 127.0.0.1:${ftp.endpoint.port}`,
        `nat-alg irc[chat]: listening on 127.0.0.1:${run.ports[1]}, upstream 127.0.0.1:${ircPort}`,
      ]);

      // FTP: a passive download through the first listener; its tls setting is on too.
      const client = await FtpTestClient.connect({ host: '127.0.0.1', port: run.ports[0]! }, { mode: 'epsv', timeoutMs: 5000 });
      await client.login();
      expect(new TextDecoder().decode(await client.retrieve('hello.txt'))).toBe('hello through the config file');
      expect((await client.command('AUTH TLS')).code).toBe(534);
      await client.quit();

      // IRC: a DCC offer through the second listener reaches the server with the relay's port.
      const chat = net.connect(run.ports[1]!, '127.0.0.1');
      chat.setEncoding('latin1');
      let got = '';
      chat.on('data', (d: string) => (got += d));
      chat.write('NICK alice\r\nUSER a 0 * :A\r\n');
      await waitFor(() => got.includes(' 001 '));
      chat.write('PRIVMSG bob :\x01DCC SEND a.txt 2130706433 5000 12\x01\r\n');
      await waitFor(() => ircReceived.includes('DCC SEND a.txt'));
      const offer = /DCC SEND a\.txt (\d+) (\d+) 12/.exec(ircReceived);
      expect(offer).not.toBeNull();
      expect(Number(offer![2])).not.toBe(5000);
      chat.destroy();

      // Each log line names its listener (NAT_ALG_VERBOSE reached the process: debug lines too).
      await waitFor(() => /"event":"session-close".*"listener":"files"/.test(run.stderr()) && run.stderr().includes('"listener":"chat"'));
      const entries = run.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; listener?: string; level: string });
      expect(entries.filter((e) => e.event === 'session-open').map((e) => e.listener).sort()).toEqual(['chat', 'files']);
      expect(entries.some((e) => e.level === 'debug')).toBe(true);
    } finally {
      run.child.kill('SIGTERM');
    }
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(run.stderr()).toMatch(/nat-alg ftp\[files\]: SIGTERM, shutting down \(\d+ sessions? open, grace 2 s\)/);
    expect(run.stderr()).toMatch(/nat-alg irc\[chat\]: SIGTERM, shutting down/);
  });

  it('exits 1 when a listener cannot listen, after closing those already started, with no ready line', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    const config = writeConfig('busy.json', {
      listeners: [
        { alg: 'ftp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${ftp.endpoint.port}` },
        { alg: 'ftp', listen: `127.0.0.1:${taken}`, upstream: `127.0.0.1:${ftp.endpoint.port}` },
      ],
    });
    try {
      const r = spawnSync(process.execPath, [cli.cli, '--config', config], { env: cleanEnv(), encoding: 'utf8', timeout: 15_000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`nat-alg ftp[1]: cannot listen on 127.0.0.1:${taken}: EADDRINUSE (address already in use)\n`);
    } finally {
      blocker.close();
    }
  });

  it('exits 2 naming the key of a mistake in the file, the variable, or the flag', async () => {
    const config = writeConfig('bad.json', { listeners: [{ alg: 'ftp', listen: '127.0.0.1:0', upstream: '127.0.0.1:21', idleTimeout: 'soon' }] });
    const bad = await startProcess(process.execPath, [cli.cli, '--config', config], { env: cleanEnv(), lines: 1 }).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/exited 2 before ready/);
    expect((bad as Error).message).toContain(`nat-alg: ${config}: listeners[0].idleTimeout: expected a number, got "soon"`);
    expect((bad as Error).message).toContain('Try "nat-alg --help".');
    const env = await startProcess(process.execPath, [cli.cli, 'ftp', '--config', config], { env: cleanEnv({ NAT_ALG_GRACE: 'later' }), lines: 1 }).catch((e: Error) => e);
    expect((env as Error).message).toMatch(/exited 2 before ready.*nat-alg: NAT_ALG_GRACE: expected seconds \(0-86400\), got "later"/s);
  });
});
