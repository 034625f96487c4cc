/**
 * The IRC relay on loopback: createIrcProxy (and createAlgProxy by name) in front of a scripted
 * server socket. A DCC SEND offer from the client reaches the server rewritten to the relay's
 * endpoint, and a peer connecting there gets the client's file; an offer from outside naming
 * loopback is refused with a NOTICE; a refused session gets an ERROR line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { once } from 'node:events';
import { createAlgProxy, createIrcProxy } from '../../src/node/index.js';
import { ircAlg, NatAlgError } from '../../src/core/index.js';
import type { FtpProxy } from '../../src/node/types.js';

/** Lines from a socket, one at a time. */
class Lines {
  private buf = '';
  private waiting: ((l: string) => void)[] = [];
  private lines: string[] = [];
  constructor(sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl + 1);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function serverAndProxy(make: (port: number) => FtpProxy): Promise<{ proxy: FtpProxy; port: number; accepted: Promise<net.Socket> }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection').then(([s]) => s as net.Socket);
  const proxy = make((server.address() as net.AddressInfo).port);
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  closers.push(async () => {
    await proxy.shutdown({ graceMs: 0 });
    server.close();
  });
  return { proxy, port: (proxy.address() as net.AddressInfo).port, accepted };
}

describe('createIrcProxy', () => {
  it('translates a DCC SEND from the client and relays the file to whoever takes the offer', async () => {
    const { port, accepted } = await serverAndProxy((up) => createIrcProxy({ upstream: { host: '127.0.0.1', port: up } }));
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const fromRelay = new Lines(client);
    client.write('NICK alice\r\nUSER alice 0 * :A\r\n');
    const upstream = await accepted;
    const atServer = new Lines(upstream);
    expect(await atServer.next()).toBe('NICK alice\r\n');
    expect(await atServer.next()).toBe('USER alice 0 * :A\r\n');
    upstream.write(':irc.test 001 alice :Welcome\r\n');
    expect(await fromRelay.next()).toBe(':irc.test 001 alice :Welcome\r\n');

    // The client serves a file on its own DCC listener and offers it.
    const dcc = net.createServer((s) => s.end('the file'));
    dcc.listen(0, '127.0.0.1');
    await once(dcc, 'listening');
    closers.push(async () => void dcc.close());
    const dccPort = (dcc.address() as net.AddressInfo).port;
    client.write(`PRIVMSG bob :\x01DCC SEND f.txt 2130706433 ${dccPort} 8\x01\r\n`);
    const offer = await atServer.next();
    const m = /^PRIVMSG bob :\x01DCC SEND f\.txt 2130706433 (\d+) 8\x01\r\n$/.exec(offer);
    expect(m, offer).not.toBeNull();
    const announced = Number(m![1]);
    expect(announced).not.toBe(dccPort);

    // Bob (anyone on the server's side) takes the offer at the relay.
    const bob = net.connect(announced, '127.0.0.1');
    let got = '';
    bob.setEncoding('latin1');
    bob.on('data', (d: string) => (got += d));
    await once(bob, 'end');
    expect(got).toBe('the file');
    client.destroy();
  });

  it('refuses an offer from outside naming loopback, with a NOTICE to the client', async () => {
    const refused: unknown[] = [];
    const { proxy, port, accepted } = await serverAndProxy((up) => createAlgProxy({ alg: 'irc', upstream: { host: '127.0.0.1', port: up } }));
    proxy.on('command-refused', (e) => refused.push(e));
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const fromRelay = new Lines(client);
    client.write('NICK alice\r\n');
    const upstream = await accepted;
    upstream.write(':irc.test 001 alice :Welcome\r\n:bob!b@h PRIVMSG alice :\x01DCC SEND x 2130706433 8080 1\x01\r\n:bob!b@h PRIVMSG alice :hi\r\n');
    expect(await fromRelay.next()).toBe(':irc.test 001 alice :Welcome\r\n');
    expect(await fromRelay.next()).toBe(':nat-alg NOTICE alice :DCC SEND from bob refused by the gateway: it names an address the gateway does not connect to.\r\n');
    expect(await fromRelay.next()).toBe(':bob!b@h PRIVMSG alice :hi\r\n');
    expect(refused).toEqual([expect.objectContaining({ command: 'DCC SEND', reason: 'forbidden-address' })]);
    client.destroy();
  });

  it('a session over the limit gets an ERROR line, not an FTP reply', async () => {
    const { port } = await serverAndProxy((up) => createAlgProxy({ alg: ircAlg, upstream: { host: '127.0.0.1', port: up }, maxSessions: 1 }));
    const first = net.connect(port, '127.0.0.1');
    await once(first, 'connect');
    await new Promise((r) => setTimeout(r, 50));
    const second = net.connect(port, '127.0.0.1');
    const lines = new Lines(second);
    expect(await lines.next()).toBe('ERROR :Too many connections\r\n');
    first.destroy();
    second.destroy();
  });

  it('an unknown ALG name is a typed error', () => {
    expect(() => createAlgProxy({ alg: 'gopher', upstream: { host: '127.0.0.1', port: 1 } })).toThrow(NatAlgError);
  });
});
