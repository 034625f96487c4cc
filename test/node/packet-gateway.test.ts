/**
 * The packet gateway's Node driver and `nat-alg nat`, without root: its two links are UDP sockets
 * on loopback, and the test plays both networks with sockets of its own, sending IP packets it
 * builds (documentation addresses inside the packets only; every datagram stays on 127.0.0.1).
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { runNatCommand } from '../../src/cli/nat-command.js';
import { parseNatArgs } from '../../src/cli/nat-args.js';
import type { CliIo } from '../../src/cli/relay-command.js';
import { PacketGateway } from '../../src/node/packet-gateway.js';
import { ACK, PSH, SYN, checked, decode, tcp } from '../packet/nat-helpers.js';

const CLIENT = '192.0.2.10';
const SERVER = '198.51.100.7';
const NAT = '203.0.113.1';
const open: Array<Socket | PacketGateway> = [];

afterEach(async () => {
  for (const s of open.splice(0)) {
    if (s instanceof PacketGateway) await s.close();
    else await new Promise<void>((r) => s.close(() => r()));
  }
});

async function udp(): Promise<Socket & { next(): Promise<Uint8Array> }> {
  const s = createSocket('udp4');
  const queue: Uint8Array[] = [];
  const waiting: ((b: Uint8Array) => void)[] = [];
  s.on('message', (m) => {
    const b = new Uint8Array(m);
    const w = waiting.shift();
    if (w) w(b);
    else queue.push(b);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  open.push(s);
  return Object.assign(s, {
    next: () =>
      new Promise<Uint8Array>((resolve, reject) => {
        const q = queue.shift();
        if (q) return resolve(q);
        const timer = setTimeout(() => reject(new Error('no datagram within 5 s')), 5000);
        waiting.push((b) => {
          clearTimeout(timer);
          resolve(b);
        });
      }),
  });
}

describe('PacketGateway', () => {
  it('moves packets between the links through the NAT: an FTP PORT rewritten, the reply translated back to whoever sent inside', async () => {
    const inside = await udp();
    const outside = await udp();
    const gw = new PacketGateway({
      nat: { externalAddresses: [NAT], random: Math.random, insideNetworks: ['192.0.2.0/24'] },
      inside: { local: { family: 4, address: '127.0.0.1', port: 0 } },
      outside: { local: { family: 4, address: '127.0.0.1', port: 0 }, peer: { family: 4, address: '127.0.0.1', port: outside.address().port } },
    });
    open.push(gw);
    const bound = await gw.start();
    const toGw = (s: Socket, port: number, p: Uint8Array) => s.send(p, port, '127.0.0.1');
    toGw(inside, bound.inside.port, tcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 21, seq: 100, flags: SYN }));
    const syn = checked(await outside.next());
    expect([syn.src, syn.dst, syn.dport]).toEqual([NAT, SERVER, 21]);
    toGw(outside, bound.outside.port, tcp({ src: SERVER, dst: NAT, sport: 21, dport: syn.sport, seq: 500, ack: 101, flags: SYN | ACK }));
    const synAck = checked(await inside.next());
    expect([synAck.src, synAck.dst, synAck.dport]).toEqual([SERVER, CLIENT, 40000]);
    toGw(inside, bound.inside.port, tcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 21, seq: 101, ack: 501, flags: ACK }));
    expect(decode(await outside.next()).flags).toBe(ACK);
    toGw(inside, bound.inside.port, tcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 21, seq: 101, ack: 501, flags: ACK | PSH, payload: 'PORT 192,0,2,10,4,1\r\n' }));
    const port = checked(await outside.next());
    expect(port.text).toMatch(/^PORT 203,0,113,1,\d+,\d+\r\n$/);
    const s = gw.stats();
    expect([s.received.inside, s.received.outside, s.sent.inside, s.sent.outside, s.unroutable]).toEqual([3, 1, 1, 3, 0]);
  });

  it('counts a packet for a link that has not spoken and has no peer configured as unroutable', async () => {
    const inside = await udp();
    const gw = new PacketGateway({
      nat: { externalAddresses: [NAT], random: Math.random },
      inside: { local: { family: 4, address: '127.0.0.1', port: 0 } },
      outside: { local: { family: 4, address: '127.0.0.1', port: 0 } },
    });
    open.push(gw);
    const bound = await gw.start();
    inside.send(tcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 1, flags: SYN }), bound.inside.port, '127.0.0.1');
    for (let i = 0; i < 50 && gw.stats().received.inside === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gw.stats().unroutable).toBe(1);
  });
});

describe('nat-alg nat (runNatCommand)', () => {
  function io(): CliIo & { outLines: string[]; errLines: string[]; signal(): void } {
    let handler: ((s: string) => void) | null = null;
    const outLines: string[] = [];
    const errLines: string[] = [];
    return {
      outLines,
      errLines,
      out: (l) => outLines.push(l),
      err: (l) => errLines.push(l),
      onSignal: (h) => {
        handler = h;
        return () => (handler = null);
      },
      now: () => new Date(0),
      signal: () => handler?.('SIGTERM'),
    };
  }

  function opts(extra: string[]) {
    const r = parseNatArgs(['--inside', 'udp:127.0.0.1:0', '--outside', 'udp:127.0.0.1:0', '--nat-address', NAT, ...extra]);
    if (r.kind !== 'nat') throw new Error(JSON.stringify(r));
    return r.options;
  }

  it('prints the ready line once both links are bound, and exits 0 on a signal', async () => {
    const c = io();
    const done = runNatCommand(opts(['--nat64', '64:ff9b::/96']), c);
    for (let i = 0; i < 100 && c.outLines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.outLines).toHaveLength(1);
    expect(c.outLines[0]).toMatch(/^nat-alg nat: inside udp:127\.0\.0\.1:\d+, outside udp:127\.0\.0\.1:\d+, nat 203\.0\.113\.1, nat64 64:ff9b::\/96$/);
    c.signal();
    expect(await done).toBe(0);
    expect(c.errLines.at(-1)).toMatch(/stopping \(0 sessions, 0 packets in, 0 out\)/);
  });

  it('exits 1 when a link cannot be bound, 2 for an unknown ALG', async () => {
    const blocker = await udp();
    const taken = blocker.address().port;
    const c = io();
    const r = parseNatArgs(['--inside', `udp:127.0.0.1:${taken}`, '--outside', 'udp:127.0.0.1:0', '--nat-address', NAT]);
    if (r.kind !== 'nat') throw new Error(JSON.stringify(r));
    expect(await runNatCommand(r.options, c)).toBe(1);
    expect(c.errLines.join('\n')).toMatch(/cannot bind: .*EADDRINUSE/);
    const d = io();
    expect(await runNatCommand(opts(['--alg', 'gopher']), d)).toBe(2);
    expect(d.errLines.join('\n')).toMatch(/unknown ALG "gopher" \(known: ftp, irc\)/);
  });
});
