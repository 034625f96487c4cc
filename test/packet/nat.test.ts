import { describe, expect, it } from 'vitest';
import { PacketNat } from '../../src/core/packet/index.js';
import { endpoint, formatIPv4 } from '../../src/core/net/ip.js';
import { icmpMessage, ipv4Packet, ipv6Packet, fragmentIpv4, naiveChecksum, patternBytes, udpDatagram } from './builders.js';
import { ACK, FIN, INSIDE_CLIENT, NAT_ADDRESS, RST, SERVER, SYN, checked, decode, drain, makeNat, seeded, tcp, through, udp } from './nat-helpers.js';

function handshake(nat: PacketNat, now = 0) {
  const syn = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 100, flags: SYN }), now);
  expect(syn.drop).toBeNull();
  const s = checked(syn.out[0]!.packet);
  expect(syn.out[0]!.to).toBe('outside');
  const synAck = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: s.sport, seq: 5000, ack: 101, flags: SYN | ACK }), now);
  expect(synAck.drop).toBeNull();
  const ack = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 101, ack: 5001, flags: ACK }), now);
  expect(ack.drop).toBeNull();
  return { port: s.sport, synAck: checked(synAck.out[0]!.packet) };
}

describe('PacketNat: NAPT', () => {
  it('translates a TCP connection both ways, every checksum right', () => {
    const nat = makeNat();
    const { port, synAck } = handshake(nat);
    expect(port).toBeGreaterThanOrEqual(1024);
    expect(synAck.dst).toBe(INSIDE_CLIENT);
    expect(synAck.dport).toBe(40000);
    expect(synAck.src).toBe(SERVER);
    const data = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 101, ack: 5001, flags: ACK, payload: patternBytes(1448) }), 1);
    const d = checked(data.out[0]!.packet);
    expect([d.src, d.sport, d.dst, d.dport]).toEqual([NAT_ADDRESS, port, SERVER, 80]);
    expect(d.payload).toEqual(patternBytes(1448));
    const reply = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: port, seq: 5001, ack: 1549, flags: ACK, payload: 'hello' }), 2);
    const r = checked(reply.out[0]!.packet);
    expect([r.src, r.sport, r.dst, r.dport, r.text]).toEqual([SERVER, 80, INSIDE_CLIENT, 40000, 'hello']);
    expect(nat.sessionCount).toBe(1);
  });

  it('drops a TCP segment that is not a SYN and belongs to no session', () => {
    const nat = makeNat();
    const v = nat.handle('inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 1, ack: 1, flags: ACK }), 0);
    expect(v).toEqual({ ok: false, reason: 'tcp-no-session' });
    const inbound = nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: 5555, seq: 1, flags: SYN }), 0);
    expect(inbound).toEqual({ ok: false, reason: 'no-mapping' });
    expect(nat.stats().drops).toEqual({ 'tcp-no-session': 1, 'no-mapping': 1 });
  });

  it('filters an unsolicited inbound SYN from a stranger to a live mapping (address-dependent filtering)', () => {
    const nat = makeNat();
    const { port } = handshake(nat);
    const v = nat.handle('outside', tcp({ src: '198.51.100.99', dst: NAT_ADDRESS, sport: 80, dport: port, seq: 1, flags: SYN }), 0);
    expect(v).toEqual({ ok: false, reason: 'filtered' });
  });

  it('keeps a zero UDP checksum zero on IPv4, and fixes a non-zero one', () => {
    const nat = makeNat();
    const a = through(nat, 'inside', udp(INSIDE_CLIENT, 5000, SERVER, 53, 'query', true), 0);
    const d = decode(a.out[0]!.packet);
    expect(d.checksum).toBe(0);
    expect(d.headerOk).toBe(true);
    expect(d.src).toBe(NAT_ADDRESS);
    const b = through(nat, 'outside', udp(SERVER, 53, NAT_ADDRESS, d.sport, 'answer'), 1);
    const r = checked(b.out[0]!.packet);
    expect([r.dst, r.dport, r.text]).toEqual([INSIDE_CLIENT, 5000, 'answer']);
  });

  it('translates ICMP echo by identifier', () => {
    const nat = makeNat();
    const req = ipv4Packet({ src: INSIDE_CLIENT, dst: SERVER, proto: 1, payload: icmpMessage(8, 0, (0x4242 << 16) | 1, patternBytes(56)) });
    const a = through(nat, 'inside', req, 0);
    const d = checked(a.out[0]!.packet);
    expect(d.src).toBe(NAT_ADDRESS);
    const rep = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(0, 0, ((d.identifier << 16) | 1) >>> 0, patternBytes(56)) });
    const b = through(nat, 'outside', rep, 1);
    const r = checked(b.out[0]!.packet);
    expect([r.dst, r.identifier, r.icmpType]).toEqual([INSIDE_CLIENT, 0x4242, 0]);
    const stray = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(0, 0, (999 << 16) | 1, []) });
    expect(nat.handle('outside', stray, 2)).toEqual({ ok: false, reason: 'icmp-no-session' });
  });

  it('the fast path gives the same bytes as the general path', () => {
    const fastNat = makeNat();
    const slowNat = makeNat({ verifyChecksums: true });
    handshake(fastNat);
    handshake(slowNat);
    for (let i = 0; i < 50; i++) {
      const p = tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 101 + i * 100, ack: 5001, flags: ACK, payload: patternBytes(100, i + 1) });
      const q = p.slice();
      const vf = fastNat.handle('inside', p, 10 + i);
      const vs = slowNat.handle('inside', q, 10 + i);
      expect(vf).toEqual(vs);
      expect(p).toEqual(q);
      checked(p);
    }
  });

  it('port forwards: an outside client reaches an inside server; replies go out from the public endpoint', () => {
    const nat = makeNat({ forwards: [{ protocol: 'tcp', external: endpoint(NAT_ADDRESS, 2121), internal: endpoint('192.0.2.50', 21) }] });
    const syn = through(nat, 'outside', tcp({ src: '198.51.100.30', dst: NAT_ADDRESS, sport: 33333, dport: 2121, seq: 7, flags: SYN }), 0);
    const s = checked(syn.out[0]!.packet);
    expect([syn.out[0]!.to, s.dst, s.dport, s.src, s.sport]).toEqual(['inside', '192.0.2.50', 21, '198.51.100.30', 33333]);
    const synAck = through(nat, 'inside', tcp({ src: '192.0.2.50', dst: '198.51.100.30', sport: 21, dport: 33333, seq: 99, ack: 8, flags: SYN | ACK }), 0);
    const r = checked(synAck.out[0]!.packet);
    expect([synAck.out[0]!.to, r.src, r.sport]).toEqual(['outside', NAT_ADDRESS, 2121]);
  });

  it('1:1 address rules keep ports and need no table entry', () => {
    const nat = makeNat({ oneToOne: [{ inside: '192.0.2.77', outside: '203.0.113.77' }] });
    const a = through(nat, 'inside', udp('192.0.2.77', 4444, SERVER, 9, 'x'), 0);
    const d = checked(a.out[0]!.packet);
    expect([d.src, d.sport]).toEqual(['203.0.113.77', 4444]);
    const b = through(nat, 'outside', udp('198.51.100.8', 1, '203.0.113.77', 4444, 'y'), 0);
    const r = checked(b.out[0]!.packet);
    expect([r.dst, r.dport]).toEqual(['192.0.2.77', 4444]);
  });

  it('hairpins: an inside host reaches another through its external endpoint', () => {
    const nat = makeNat({ table: { udp: { filtering: 'endpoint-independent' } } });
    const first = through(nat, 'inside', udp('192.0.2.20', 6000, SERVER, 9, 'open'), 0);
    const ext = checked(first.out[0]!.packet).sport;
    const hp = through(nat, 'inside', udp('192.0.2.21', 7000, NAT_ADDRESS, ext, 'hi'), 1);
    expect(hp.drop).toBeNull();
    const d = checked(hp.out[0]!.packet);
    expect([hp.out[0]!.to, d.dst, d.dport, d.src]).toEqual(['inside', '192.0.2.20', 6000, NAT_ADDRESS]);
    const back = through(nat, 'inside', udp('192.0.2.20', 6000, NAT_ADDRESS, d.sport, 'back'), 2);
    const b = checked(back.out[0]!.packet);
    expect([back.out[0]!.to, b.dst, b.dport, b.text]).toEqual(['inside', '192.0.2.21', 7000, 'back']);
  });

  it('drops malformed packets with a reason, never throwing', () => {
    const nat = makeNat();
    const rnd = seeded(7);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 80);
      const p = new Uint8Array(n);
      for (let k = 0; k < n; k++) p[k] = Math.floor(rnd() * 256);
      if (n > 0 && rnd() < 0.5) p[0] = rnd() < 0.5 ? 0x45 : 0x60;
      const v = nat.handle(rnd() < 0.5 ? 'inside' : 'outside', p, i);
      if (!v.ok) expect(typeof v.reason).toBe('string');
      drain(nat);
    }
    expect(nat.handle('inside', new Uint8Array(0), 0)).toEqual({ ok: false, reason: 'truncated' });
    const sctp = ipv4Packet({ src: INSIDE_CLIENT, dst: SERVER, proto: 132, payload: [1, 2, 3, 4] });
    expect(nat.handle('inside', sctp, 0)).toEqual({ ok: false, reason: 'unsupported-protocol' });
  });
});

describe('PacketNat: TCP state and timeouts (RFC 5382)', () => {
  it('an established connection lives 2 h 4 min idle, a half-open one 4 min', () => {
    const nat = makeNat();
    handshake(nat, 0);
    nat.handleTimeout(7_439_000);
    expect(nat.sessionCount).toBe(1);
    nat.handleTimeout(7_440_000);
    expect(nat.sessionCount).toBe(0);
    const n2 = makeNat();
    through(n2, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 1, dport: 80, seq: 1, flags: SYN }), 0);
    n2.handleTimeout(239_999);
    expect(n2.sessionCount).toBe(1);
    n2.handleTimeout(240_000);
    expect(n2.sessionCount).toBe(0);
  });

  it('a RST is translated and the session drops to the transitory timeout; a FIN pair too', () => {
    const nat = makeNat();
    const { port } = handshake(nat, 0);
    const rst = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: port, seq: 5001, flags: RST }), 1000);
    const r = checked(rst.out[0]!.packet);
    expect(r.flags & RST).toBe(RST);
    expect(r.dst).toBe(INSIDE_CLIENT);
    nat.handleTimeout(1000 + 240_000);
    expect(nat.sessionCount).toBe(0);

    const n2 = makeNat();
    const h = handshake(n2, 0);
    through(n2, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 101, ack: 5001, flags: FIN | ACK }), 10);
    through(n2, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: h.port, seq: 5001, ack: 102, flags: FIN | ACK }), 10);
    n2.handleTimeout(10 + 240_000);
    expect(n2.sessionCount).toBe(0);
  });

  it('supports simultaneous open (RFC 5382 REQ-2)', () => {
    const nat = makeNat({ table: { tcp: { filtering: 'endpoint-independent' } } });
    const syn = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 9000, seq: 100, flags: SYN }), 0);
    const port = checked(syn.out[0]!.packet).sport;
    const peerSyn = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 9000, dport: port, seq: 700, flags: SYN }), 1);
    expect(peerSyn.drop).toBeNull();
    expect(checked(peerSyn.out[0]!.packet).dst).toBe(INSIDE_CLIENT);
    through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 9000, seq: 100, ack: 701, flags: SYN | ACK }), 2);
    through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 9000, dport: port, seq: 700, ack: 101, flags: SYN | ACK }), 2);
    const a = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 40000, dport: 9000, seq: 101, ack: 701, flags: ACK, payload: 'x' }), 3);
    expect(a.drop).toBeNull();
    // Established: the long timeout applies.
    nat.handleTimeout(3 + 240_000);
    expect(nat.sessionCount).toBe(1);
  });
});

describe('PacketNat: ICMP errors', () => {
  it('translates an inbound port unreachable about a UDP flow, with the quoted packet turned back', () => {
    const nat = makeNat();
    const out = through(nat, 'inside', udp(INSIDE_CLIENT, 5000, SERVER, 9999, 'ping'), 0);
    const sent = out.out[0]!.packet;
    const ext = checked(sent).sport;
    const quote = sent.subarray(0, 28);
    const err = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(3, 3, 0, quote) });
    const r = through(nat, 'outside', err, 1);
    expect(r.drop).toBeNull();
    const p = r.out[0]!.packet;
    const d = checked(p);
    expect([d.dst, d.icmpType, d.icmpCode]).toEqual([INSIDE_CLIENT, 3, 3]);
    // The quoted header: its checksum recomputed naively, its addresses and port as the client sent them.
    expect(naiveChecksum(p.subarray(28, 48))).toBe(0);
    expect([formatIPv4(p, 28 + 12), formatIPv4(p, 28 + 16)]).toEqual([INSIDE_CLIENT, SERVER]);
    expect((p[28 + 20]! << 8) | p[28 + 21]!).toBe(5000);
    expect(ext).not.toBe(5000);
  });

  it('drops an error about no session', () => {
    const nat = makeNat();
    const quote = udp(NAT_ADDRESS, 1234, SERVER, 53, 'x').subarray(0, 28);
    const err = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(3, 3, 0, quote) });
    expect(nat.handle('outside', err, 0)).toEqual({ ok: false, reason: 'icmp-no-session' });
  });
});

describe('PacketNat: fragments', () => {
  it('reassembles IPv4 fragments of a flow (out of order), translates, and fragments again for the MTU', () => {
    const nat = makeNat({ mtu: 1500 });
    const big = udp(INSIDE_CLIENT, 5000, SERVER, 7000, patternBytes(3000));
    const frags = fragmentIpv4(big, 1480);
    expect(frags.length).toBe(3);
    expect(nat.handle('inside', frags[2]!, 0)).toEqual({ ok: true, action: 'consumed' });
    expect(nat.handle('inside', frags[0]!, 0)).toEqual({ ok: true, action: 'consumed' });
    expect(drain(nat)).toEqual([]);
    expect(nat.handle('inside', frags[1]!, 0)).toEqual({ ok: true, action: 'consumed' });
    const out = drain(nat);
    expect(out.length).toBe(3);
    for (const o of out) {
      expect(o.packet.length).toBeLessThanOrEqual(1500);
      expect(decode(o.packet).headerOk).toBe(true);
      expect(decode(o.packet).src).toBe(NAT_ADDRESS);
    }
    // Reassemble on the test side and check the UDP checksum over the whole datagram.
    const data = new Uint8Array(3008);
    for (const o of out) {
      const d = decode(o.packet);
      data.set(o.packet.subarray(20), d.fragOffset);
    }
    const whole = ipv4Packet({ src: NAT_ADDRESS, dst: SERVER, proto: 17, payload: data, transportChecksum: false });
    expect(checked(whole).text.length).toBe(3000);
  });
});

describe('PacketNat: NAT64', () => {
  const prefix = '2001:db8:64::/96';
  it('an IPv6-only client reaches an IPv4 server; replies come back under the prefix', () => {
    const nat = new PacketNat({ externalAddresses: [NAT_ADDRESS], random: seeded(), insideNetworks: ['192.0.2.0/24'], nat64: { prefix } });
    const syn = tcp({ src: '2001:db8:1::10', dst: '2001:db8:64::c633:6407', sport: 40000, dport: 80, seq: 1, flags: SYN });
    const a = through(nat, 'inside', syn, 0);
    expect(a.drop).toBeNull();
    const d = checked(a.out[0]!.packet);
    expect([d.version, d.src, d.dst, d.dport]).toEqual([4, NAT_ADDRESS, SERVER, 80]);
    const b = through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 80, dport: d.sport, seq: 9, ack: 2, flags: SYN | ACK }), 1);
    const r = checked(b.out[0]!.packet);
    expect([r.version, r.src, r.dst, r.dport]).toEqual([6, '2001:db8:64::c633:6407', '2001:db8:1::10', 40000]);
    // UDP without checksum from IPv4 gets one in IPv6.
    const u = through(nat, 'inside', udp('2001:db8:1::10', 5353, '2001:db8:64::c633:6407', 53, 'q'), 2);
    const ud = checked(u.out[0]!.packet);
    const back = through(nat, 'outside', udp(SERVER, 53, NAT_ADDRESS, ud.sport, 'a', true), 3);
    const bd = checked(back.out[0]!.packet);
    expect(bd.version).toBe(6);
    expect(bd.checksum).not.toBe(0);
  });

  it('translates echo and errors between ICMPv6 and ICMPv4', () => {
    const nat = new PacketNat({ externalAddresses: [NAT_ADDRESS], random: seeded(), nat64: { prefix } });
    const echo = ipv6Packet({ src: '2001:db8:1::10', dst: '2001:db8:64::c633:6407', proto: 58, payload: icmpMessage(128, 0, (7 << 16) | 1, patternBytes(32)) });
    const a = through(nat, 'inside', echo, 0);
    const d = checked(a.out[0]!.packet);
    expect([d.version, d.icmpType]).toEqual([4, 8]);
    const reply = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(0, 0, ((d.identifier << 16) | 1) >>> 0, patternBytes(32)) });
    const b = through(nat, 'outside', reply, 1);
    const r = checked(b.out[0]!.packet);
    expect([r.version, r.icmpType, r.identifier]).toEqual([6, 129, 7]);
    // A fragmentation-needed about a TCP segment becomes a packet too big with MTU + 20.
    const seg = through(nat, 'inside', tcp({ src: '2001:db8:1::10', dst: '2001:db8:64::c633:6407', sport: 41000, dport: 80, seq: 1, flags: SYN }), 2);
    const sent = seg.out[0]!.packet;
    const err = ipv4Packet({ src: '198.51.100.1', dst: NAT_ADDRESS, proto: 1, payload: icmpMessage(3, 4, 1400, sent.subarray(0, 28)) });
    const e = through(nat, 'outside', err, 3);
    expect(e.drop).toBeNull();
    const ed = checked(e.out[0]!.packet);
    expect([ed.version, ed.icmpType, ed.dst, ed.src]).toEqual([6, 2, '2001:db8:1::10', '2001:db8:64::c633:6401']);
    const mtu = (e.out[0]!.packet[44]! << 24) | (e.out[0]!.packet[45]! << 16) | (e.out[0]!.packet[46]! << 8) | e.out[0]!.packet[47]!;
    expect(mtu).toBe(1420);
    const inner = e.out[0]!.packet.subarray(48);
    expect(inner[0]! >> 4).toBe(6);
    expect((inner[40]! << 8) | inner[41]!).toBe(41000);
  });

  it('IPv4 too big for IPv6: DF gets a fragmentation-needed back, fragments go on as IPv6 fragments', () => {
    const nat = new PacketNat({ externalAddresses: [NAT_ADDRESS], random: seeded(), nat64: { prefix } });
    const out = through(nat, 'inside', udp('2001:db8:1::10', 5353, '2001:db8:64::c633:6407', 7000, 'open'), 0);
    const ext = checked(out.out[0]!.packet).sport;
    const big = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 17, df: true, payload: udpDatagram(7000, ext, patternBytes(1472)) });
    const r = through(nat, 'outside', big, 1);
    expect(r.drop).toBe('too-big');
    const icmp = checked(r.out[0]!.packet);
    expect([r.out[0]!.to, icmp.icmpType, icmp.icmpCode, icmp.dst, icmp.src]).toEqual(['outside', 3, 4, SERVER, NAT_ADDRESS]);
    expect((r.out[0]!.packet[26]! << 8) | r.out[0]!.packet[27]!).toBe(1480);
    const unfragmented = ipv4Packet({ src: SERVER, dst: NAT_ADDRESS, proto: 17, df: false, payload: udpDatagram(7000, ext, patternBytes(3000)) });
    for (const f of fragmentIpv4(unfragmented, 1480)) nat.handle('outside', f, 2);
    const frags = drain(nat);
    expect(frags.length).toBe(3);
    const data = new Uint8Array(3008);
    for (const f of frags) {
      expect(f.packet.length).toBeLessThanOrEqual(1500);
      expect(f.packet[6]).toBe(44);
      const off = ((f.packet[42]! << 8) | f.packet[43]!) & 0xfff8;
      data.set(f.packet.subarray(48), off);
    }
    // Reassembled by the test: a UDP datagram whose checksum verifies over IPv6.
    const whole = ipv6Packet({ src: '2001:db8:64::c633:6407', dst: '2001:db8:1::10', proto: 17, payload: data, transportChecksum: false });
    const w = checked(whole);
    expect([w.dport, w.payload]).toEqual([5353, patternBytes(3000)]);
  });
});

