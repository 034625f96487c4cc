/**
 * The FTP ALG in the packet NAT, segment by segment: lines split across segments, sequence and
 * acknowledgement corrections (any number outstanding, SACK blocks), retransmissions rewritten
 * exactly as the first time, segments split for the MSS, data channels as expectations, refusals,
 * ICMP errors quoting a shifted segment, FTP64.
 */
import { describe, expect, it } from 'vitest';
import { endpoint } from '../../src/core/net/ip.js';
import { PacketNat, type PacketNatEvent, type Transmit } from '../../src/core/packet/index.js';
import { icmpMessage, ipv4Packet } from './builders.js';
import { ACK, INSIDE_CLIENT, NAT_ADDRESS, PSH, SERVER, SYN, checked, drain, makeNat, seeded, tcp, through } from './nat-helpers.js';

const C_ISN = 1000;
const S_ISN = 5000;

/** A control connection through `nat` driven by hand: client at cAddr:40000, server at sAddr:21 as each sees the other. */
function control(nat: PacketNat, o: { c: string; cDst: string; s: string; sDst: string; cSide: 'inside' | 'outside'; mss?: number; sPort?: number; cDport?: number }) {
  const sSide = o.cSide === 'inside' ? 'outside' : 'inside';
  const cDport = o.cDport ?? 21;
  const sPort = o.sPort ?? 21;
  const syn = through(nat, o.cSide, tcp({ src: o.c, dst: o.cDst, sport: 40000, dport: cDport, seq: C_ISN, flags: SYN }), 0);
  expect(syn.drop).toBeNull();
  const atServer = checked(syn.out[0]!.packet);
  const mssOption = o.mss === undefined ? [] : [2, 4, o.mss >> 8, o.mss & 255];
  const synAck = through(nat, sSide, tcp({ src: o.s, dst: atServer.src, sport: sPort, dport: atServer.sport, seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, options: mssOption }), 0);
  expect(synAck.drop).toBeNull();
  const ack = through(nat, o.cSide, tcp({ src: o.c, dst: o.cDst, sport: 40000, dport: cDport, seq: C_ISN + 1, ack: S_ISN + 1, flags: ACK }), 0);
  expect(ack.drop).toBeNull();
  const fromClient = (seq: number, payload: string, ackNo: number, now = 1) =>
    through(nat, o.cSide, tcp({ src: o.c, dst: o.cDst, sport: 40000, dport: cDport, seq: C_ISN + 1 + seq, ack: S_ISN + 1 + ackNo, flags: ACK | (payload ? PSH : 0), payload }), now);
  const fromServer = (seq: number, payload: string, ackNo: number, now = 1, options: number[] = []) =>
    through(nat, sSide, tcp({ src: o.s, dst: atServer.src, sport: sPort, dport: atServer.sport, seq: S_ISN + 1 + seq, ack: C_ISN + 1 + ackNo, flags: ACK | (payload ? PSH : 0), payload, options }), now);
  return { fromClient, fromServer, natPort: atServer.sport, sSide };
}

function only(out: Transmit[], to: 'inside' | 'outside'): Transmit[] {
  return out.filter((t) => t.to === to);
}

function events(nat: PacketNat): PacketNatEvent[] {
  const out: PacketNatEvent[] = [];
  for (let e = nat.pollEvent(); e; e = nat.pollEvent()) out.push(e);
  return out;
}

describe('FTP ALG in the packet NAT', () => {
  it('rewrites a PORT, shifts later sequence numbers and maps acknowledgements back; a retransmission is rewritten the same, shifted once', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const port = 'PORT 192,0,2,10,4,1\r\n';
    const first = k.fromClient(0, port, 11);
    const out1 = only(first.out, 'outside');
    expect(out1.length).toBe(1);
    const p1 = checked(out1[0]!.packet);
    expect(p1.text).toMatch(/^PORT 203,0,113,1,\d+,\d+\r\n$/);
    expect(p1.seq).toBe(C_ISN + 1);
    // Retransmission of the same segment: the same bytes again, not translated twice.
    const again = only(k.fromClient(0, port, 11, 2).out, 'outside');
    expect(again.length).toBe(1);
    const p2 = checked(again[0]!.packet);
    expect([p2.seq, p2.text]).toEqual([p1.seq, p1.text]);
    // An acknowledgement inside the rewritten line covers none of it; a retransmission then
    // resends only what the server lacks, the same bytes at the same places.
    const partial = only(k.fromServer(11, '', 5).out, 'inside');
    expect(checked(partial[0]!.packet).ack).toBe(C_ISN + 1);
    const rest = only(k.fromClient(0, port, 11, 3).out, 'outside');
    const p3 = checked(rest[0]!.packet);
    expect([p3.seq, p3.text]).toEqual([p1.seq + 5, p1.text.slice(5)]);
    const delta = p1.text.length - port.length;
    // The next command is shifted by the rewrite, once.
    const noop = only(k.fromClient(port.length, 'NOOP\r\n', 11).out, 'outside');
    expect(checked(noop[0]!.packet).seq).toBe(C_ISN + 1 + port.length + delta);
    const noopAgain = only(k.fromClient(port.length, 'NOOP\r\n', 11).out, 'outside');
    expect(checked(noopAgain[0]!.packet).seq).toBe(C_ISN + 1 + port.length + delta);
    // The server acknowledges all it got: the client sees its own byte count.
    const r = only(k.fromServer(11, '200 ok\r\n', p1.text.length + 6).out, 'inside');
    const rd = checked(r[0]!.packet);
    expect(rd.ack).toBe(C_ISN + 1 + port.length + 6);
    expect(rd.text).toBe('200 ok\r\n');
  });

  it('keeps any number of corrections outstanding and maps SACK blocks', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const lines = ['PORT 192,0,2,10,4,1\r\n', 'NOOP\r\n', 'PORT 192,0,2,10,4,2\r\n', 'NOOP\r\n', 'EPRT |1|192.0.2.10|1027|\r\n', 'NOOP\r\n'];
    const sent: { inAt: number; out: { seq: number; text: string } }[] = [];
    let at = 0;
    for (const l of lines) {
      const o = only(k.fromClient(at, l, 11).out, 'outside');
      const d = checked(o[0]!.packet);
      sent.push({ inAt: at, out: { seq: d.seq, text: d.text } });
      at += l.length;
    }
    // Every rewrite changed the length; retransmit each segment: same bytes at the same place.
    for (let i = 0; i < lines.length; i++) {
      const o = only(k.fromClient(sent[i]!.inAt, lines[i]!, 11, 5).out, 'outside');
      const d = checked(o[0]!.packet);
      expect({ seq: d.seq, text: d.text }).toEqual(sent[i]!.out);
    }
    // A SACK block from the server for the 5th segment's output: the client sees its own range.
    const fifth = sent[4]!.out;
    const left = fifth.seq;
    const right = (fifth.seq + fifth.text.length) >>> 0;
    const sack = [1, 1, 5, 10, left >>> 24, (left >>> 16) & 255, (left >>> 8) & 255, left & 255, right >>> 24, (right >>> 16) & 255, (right >>> 8) & 255, right & 255];
    const ackOut = sent[1]!.out.seq + sent[1]!.out.text.length - (C_ISN + 1);
    const s = only(k.fromServer(11, '', ackOut, 6, sack).out, 'inside');
    const sd = checked(s[0]!.packet);
    expect(sd.ack).toBe(C_ISN + 1 + lines[0]!.length + lines[1]!.length);
    const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
    expect(u32(sd.options, 4)).toBe(C_ISN + 1 + sent[4]!.inAt);
    expect(u32(sd.options, 8)).toBe(C_ISN + 1 + sent[4]!.inAt + lines[4]!.length);
  });

  it('a 227 split across two segments is held, acknowledged on the sender\'s behalf, and rewritten whole (server behind a port forward)', () => {
    const nat = makeNat({ forwards: [{ protocol: 'tcp', external: endpoint(NAT_ADDRESS, 21), internal: endpoint('192.0.2.50', 21) }] });
    const k = control(nat, { c: '198.51.100.30', cDst: NAT_ADDRESS, s: '192.0.2.50', sDst: '198.51.100.30', cSide: 'outside' });
    k.fromServer(0, '220 ready\r\n', 0);
    k.fromClient(0, 'PASV\r\n', 11);
    const part1 = '227 Entering Passive Mode (192,0,';
    const part2 = '2,50,4,1).\r\n';
    const a = k.fromServer(11, part1, 6);
    expect(only(a.out, 'outside')).toEqual([]);
    // The NAT acknowledges the held bytes to the server itself.
    const own = only(a.out, 'inside');
    expect(own.length).toBe(1);
    const od = checked(own[0]!.packet);
    expect(od.ack).toBe(S_ISN + 1 + 11 + part1.length);
    expect(od.payload.length).toBe(0);
    const b = k.fromServer(11 + part1.length, part2, 6);
    const toClient = only(b.out, 'outside');
    expect(toClient.length).toBe(1);
    const line = checked(toClient[0]!.packet);
    expect(line.text).toMatch(/^227 Entering Passive Mode \(203,0,113,1,\d+,\d+\)\.\r\n$/);
    expect(line.seq).toBe(S_ISN + 1 + 11);
    const m = /\(203,0,113,1,(\d+),(\d+)\)/.exec(line.text)!;
    const dataPort = Number(m[1]) * 256 + Number(m[2]);
    // The client's data connection to the announced endpoint reaches the server's port 1025.
    const ev = events(nat);
    expect(ev.some((e) => e.type === 'data-channel' && e.expectation !== null)).toBe(true);
    const dsyn = through(nat, 'outside', tcp({ src: '198.51.100.30', dst: NAT_ADDRESS, sport: 50000, dport: dataPort, seq: 1, flags: SYN }), 3);
    expect(dsyn.drop).toBeNull();
    const dd = checked(dsyn.out[0]!.packet);
    expect([dd.dst, dd.dport]).toEqual(['192.0.2.50', 1025]);
    const created = events(nat).find((e) => e.type === 'session-created');
    expect(created).toMatchObject({ via: 'expectation', alg: null });
    // A stranger cannot use it.
    const stranger = nat.handle('outside', tcp({ src: '198.51.100.31', dst: NAT_ADDRESS, sport: 50001, dport: dataPort, seq: 1, flags: SYN }), 3);
    expect(stranger.ok).toBe(false);
  });

  it('PORTs whose transfers never happen hold no more pinholes than the ALG\'s limit: the oldest committed ones make room', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    let cAt = 0;
    let cOut = 0;
    let sAt = 11;
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) {
      const line = `PORT 192,0,2,10,8,${i}\r\n`;
      const o = checked(only(k.fromClient(cAt, line, sAt, 1 + i).out, 'outside')[0]!.packet);
      const m = /^PORT 203,0,113,1,(\d+),(\d+)\r\n$/.exec(o.text);
      expect(m, o.text).not.toBeNull();
      ports.push(Number(m![1]) * 256 + Number(m![2]));
      cAt += line.length;
      cOut += o.text.length;
      k.fromServer(sAt, '200 PORT ok\r\n', cOut, 1 + i);
      sAt += 13;
      expect(nat.table.listExpectations().length).toBeLessThanOrEqual(8);
    }
    // The latest PORT's pinhole is there for the server; the first one's is gone.
    expect(through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 20, dport: ports[19]!, seq: 1, flags: SYN }), 30).drop).toBeNull();
    expect(nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 20, dport: ports[0]!, seq: 1, flags: SYN }), 30).ok).toBe(false);
  });

  it('active mode: the server\'s data connection to the announced endpoint reaches the client', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const o = only(k.fromClient(0, 'PORT 192,0,2,10,4,1\r\n', 11).out, 'outside');
    const m = /PORT 203,0,113,1,(\d+),(\d+)/.exec(checked(o[0]!.packet).text)!;
    const p = Number(m[1]) * 256 + Number(m[2]);
    const s = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 20, dport: p, seq: 77, flags: SYN }), 2);
    expect(s.drop).toBeNull();
    const d = checked(s.out[0]!.packet);
    expect([d.dst, d.dport, d.src, d.sport]).toEqual([INSIDE_CLIENT, 1025, SERVER, 20]);
  });

  it('a refused PORT never reaches the server: the client gets the 504 and its command acknowledged', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const bad = 'PORT 6,6,6,6,0,21\r\n';
    const r = k.fromClient(0, bad, 11);
    expect(only(r.out, 'outside')).toEqual([]);
    const back = only(r.out, 'inside');
    expect(back.length).toBe(1);
    const d = checked(back[0]!.packet);
    expect(d.text).toMatch(/^504 /);
    expect(d.seq).toBe(S_ISN + 1 + 11);
    expect(d.ack).toBe(C_ISN + 1 + bad.length);
    // The server's next reply follows the NAT's 504 in the client's stream.
    k.fromClient(bad.length, 'NOOP\r\n', 11 + d.text.length);
    const next = only(k.fromServer(11, '200 ok\r\n', 6).out, 'inside');
    expect(checked(next[0]!.packet).seq).toBe(S_ISN + 1 + 11 + d.text.length);
  });

  it('splits a rewritten segment that outgrows the receiver\'s MSS', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside', mss: 16 });
    k.fromServer(0, '220 ready\r\n', 0);
    const r = only(k.fromClient(0, 'PORT 192,0,2,10,4,1\r\n', 11).out, 'outside');
    expect(r.length).toBe(2);
    const a = checked(r[0]!.packet);
    const b = checked(r[1]!.packet);
    expect(a.payload.length).toBe(16);
    expect(b.seq).toBe(a.seq + 16);
    expect((a.text + b.text)).toMatch(/^PORT 203,0,113,1,\d+,\d+\r\n$/);
  });

  it('an ICMP error quoting a shifted segment quotes it back with the client\'s own sequence number', () => {
    const nat = makeNat();
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const port = 'PORT 192,0,2,10,4,1\r\n';
    k.fromClient(0, port, 11);
    const o = only(k.fromClient(port.length, 'NOOP\r\n', 11).out, 'outside');
    const shifted = o[0]!.packet;
    const err = ipv4Packet({ src: '198.51.100.1', dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(3, 4, 1400, shifted.subarray(0, 48)) });
    const e = through(nat, 'outside', err, 3);
    expect(e.drop).toBeNull();
    const p = e.out[0]!.packet;
    checked(p);
    const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
    expect(u32(p, 28 + 20 + 4)).toBe(C_ISN + 1 + port.length);
  });

  it('FTP64: an IPv6-only client behind NAT64 speaks EPSV, the IPv4 server PASV', () => {
    const nat = new PacketNat({ externalAddresses: [NAT_ADDRESS], random: seeded(), nat64: { prefix: '2001:db8:64::/96' } });
    const k = control(nat, { c: '2001:db8:1::10', cDst: '2001:db8:64::c633:6407', s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const e = only(k.fromClient(0, 'EPSV\r\n', 11).out, 'outside');
    expect(checked(e[0]!.packet).text).toBe('PASV\r\n');
    const r = only(k.fromServer(11, '227 Entering Passive Mode (198,51,100,7,4,1).\r\n', 6).out, 'inside');
    const d = checked(r[0]!.packet);
    expect(d.version).toBe(6);
    expect(d.text).toMatch(/^229 .*\(\|\|\|1025\|\)\r\n$/);
    const syn = through(nat, 'inside', tcp({ src: '2001:db8:1::10', dst: '2001:db8:64::c633:6407', sport: 50000, dport: 1025, seq: 1, flags: SYN }), 3);
    const sd = checked(syn.out[0]!.packet);
    expect([sd.version, sd.dst, sd.dport, sd.src]).toEqual([4, SERVER, 1025, NAT_ADDRESS]);
  });

  it('chooses the ALG by port through its configuration', () => {
    const nat = makeNat({ algs: [{ alg: 'ftp', port: 2121 }] });
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside', sPort: 2121, cDport: 2121 });
    k.fromServer(0, '220 ready\r\n', 0);
    const o = only(k.fromClient(0, 'PORT 192,0,2,10,4,1\r\n', 11).out, 'outside');
    expect(checked(o[0]!.packet).text).toMatch(/^PORT 203,0,113,1,/);
    const plain = makeNat({ algs: [] });
    const k2 = control(plain, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    const o2 = k2.fromClient(0, 'PORT 192,0,2,10,4,1\r\n', 0);
    expect(checked(o2.out[0]!.packet).text).toBe('PORT 192,0,2,10,4,1\r\n');
  });

  it('retransmits on its own timer what it acknowledged on the sender\'s behalf, until the receiver has it', () => {
    const nat = makeNat({ algRetransmitMs: 1000 });
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    const a = k.fromClient(0, 'PORT 192,0,', 11, 10);
    // Held: the NAT acknowledges the piece to the client and sends nothing on.
    expect(only(a.out, 'outside')).toEqual([]);
    expect(checked(only(a.out, 'inside')[0]!.packet).ack).toBe(C_ISN + 1 + 11);
    const b = only(k.fromClient(11, '2,10,4,1\r\n', 11, 20).out, 'outside');
    const line = checked(b[0]!.packet);
    expect(nat.pollTimeout()).toBe(1020);
    nat.handleTimeout(1020);
    const again = drain(nat);
    expect(again.length).toBe(1);
    const r = checked(again[0]!.packet);
    expect([r.seq, r.text]).toEqual([line.seq, line.text]);
    // Backed off; the server's acknowledgement stops it.
    expect(nat.pollTimeout()).toBe(3020);
    k.fromServer(11, '', line.text.length, 1500);
    nat.handleTimeout(3020);
    expect(drain(nat)).toEqual([]);
  });

  it('a command line that never completes: after the line timeout the client is told and both ends are reset', () => {
    const nat = makeNat({ algs: [{ alg: 'ftp', options: { policy: { lineTimeoutMs: 5000 } } }] });
    const k = control(nat, { c: INSIDE_CLIENT, cDst: SERVER, s: SERVER, sDst: NAT_ADDRESS, cSide: 'inside' });
    k.fromServer(0, '220 ready\r\n', 0);
    k.fromClient(0, 'PORT 192,0,2', 11, 100);
    nat.handleTimeout(5100);
    const out = drain(nat);
    const toClient = out.filter((t) => t.to === 'inside').map((t) => checked(t.packet));
    const toServer = out.filter((t) => t.to === 'outside').map((t) => checked(t.packet));
    expect(toClient.some((d) => d.text.startsWith('421 '))).toBe(true);
    expect(toClient.some((d) => (d.flags & 0x04) !== 0)).toBe(true);
    expect(toServer.some((d) => (d.flags & 0x04) !== 0)).toBe(true);
  });
});

