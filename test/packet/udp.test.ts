import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { Ipv4Packet } from '../../src/core/packet/ipv4.js';
import { Ipv6Packet } from '../../src/core/packet/ipv6.js';
import { UdpDatagram, emitUdpHeader, readUdpHeaderFields, type UdpVerdict } from '../../src/core/packet/udp.js';
import { CAPTURES } from './captures.js';
import { concat, ipv4Packet, ipv6Packet, naiveChecksum, pseudo4, pseudo6, put16, u16, udpDatagram } from './builders.js';

function ok(v: UdpVerdict): UdpDatagram {
  if (!v.ok) throw new Error(`expected ok, got ${v.reason}`);
  return v.datagram;
}
function reason(v: UdpVerdict): string {
  return v.ok ? 'ok' : v.reason;
}

/** The UDP checksum as RFC 768 transmits it, recomputed the naive way (0 -> 0xFFFF). */
function naiveUdp(pkt: Uint8Array, version: 4 | 6, at: number): number {
  const len = u16(pkt, at + 4);
  const seg = Uint8Array.from(pkt.subarray(at, at + len));
  put16(seg, 6, 0);
  const ph = version === 4 ? pseudo4(pkt.subarray(12, 16), pkt.subarray(16, 20), 17, len) : pseudo6(pkt.subarray(8, 24), pkt.subarray(24, 40), 17, len);
  const c = naiveChecksum(concat(ph, seg));
  return c === 0 ? 0xffff : c;
}

describe('UDP view', () => {
  it('golden: captured datagrams over 127.0.0.1 and ::1 get the checksums tcpdump computed', () => {
    const c4 = Uint8Array.from(CAPTURES.udp4.bytes);
    const ip4 = Ipv4Packet.parse(c4);
    if (!ip4.ok) throw new Error('ip');
    const u4 = ok(UdpDatagram.parse(c4, 20, ip4.packet.end, 4));
    expect(u4.sourcePort()).toBe(46784);
    expect(u4.destinationPort()).toBe(40999);
    expect(u4.length).toBe(17);
    expect(String.fromCharCode(...c4.subarray(u4.payloadOffset, u4.end))).toBe('ping udp4');
    u4.fillChecksum(ip4.packet.pseudoHeaderSum(17, u4.length));
    expect(u4.checksum()).toBe(CAPTURES.udp4.correctChecksum);
    const c6 = Uint8Array.from(CAPTURES.udp6.bytes);
    const ip6 = Ipv6Packet.parse(c6);
    if (!ip6.ok) throw new Error('ip');
    const u6 = ok(UdpDatagram.parse(c6, 40, ip6.packet.end, 6));
    u6.fillChecksum(ip6.packet.pseudoHeaderSum(17, u6.length));
    expect(u6.checksum()).toBe(CAPTURES.udp6.correctChecksum);
    expect(u6.verifyChecksum(ip6.packet.pseudoHeaderSum(17, u6.length))).toBe(true);
  });

  it('truncated at every length; length field below 8 or beyond the IP payload', () => {
    const d = udpDatagram(1, 2, [1, 2, 3, 4, 5]);
    for (let n = 0; n < 8; n++) expect(reason(UdpDatagram.parse(d, 0, n, 4))).toBe('truncated');
    for (let n = 8; n < d.length; n++) expect(reason(UdpDatagram.parse(d, 0, n, 4))).toBe('bad-length');
    expect(reason(UdpDatagram.parse(d, 0, d.length, 4))).toBe('ok');
    for (let len = 0; len < 8; len++) expect(reason(UdpDatagram.parse(udpDatagram(1, 2, [1], len), 0, 9, 4))).toBe('bad-length');
  });

  it('a Length shorter than the IP payload: the rest is not the datagram (UDP options surplus)', () => {
    const d = udpDatagram(1, 2, [1, 2, 3, 4, 5, 6], 10);
    const u = ok(UdpDatagram.parse(d, 0, d.length, 4));
    expect(u.end).toBe(10);
    expect(u.payloadLength).toBe(2);
    expect(Array.from(u.payload())).toEqual([1, 2]);
  });

  it('checksum 0: none over IPv4; refused over IPv6 unless allowed', () => {
    const d = udpDatagram(1, 2, [1, 2, 3]);
    const v4 = ok(UdpDatagram.parse(d, 0, d.length, 4));
    expect(v4.hasChecksum()).toBe(false);
    expect(v4.verifyChecksum(12345)).toBe(true);
    expect(reason(UdpDatagram.parse(d, 0, d.length, 6))).toBe('zero-checksum');
    const tunnel = ok(UdpDatagram.parse(d, 0, d.length, 6, true));
    expect(tunnel.ipVersion).toBe(6);
    expect(() => tunnel.clearChecksum()).toThrow(NatAlgError);
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(4 as const, 6 as const), fc.boolean(), (b, v, allow) => {
        const r = UdpDatagram.parse(b, 0, b.length, v, allow);
        if (r.ok) expect(r.datagram.end).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('emit and round trip; misuse throws', () => {
    const d = udpDatagram(5353, 53, [9, 9]);
    put16(d, 6, 0xabcd);
    const u = ok(UdpDatagram.parse(d, 0, d.length, 4));
    const out = new Uint8Array(8);
    expect(emitUdpHeader(out, 0, readUdpHeaderFields(u))).toBe(8);
    expect(Array.from(out)).toEqual(Array.from(d.subarray(0, 8)));
    expect(() => emitUdpHeader(out, 1, readUdpHeaderFields(u))).toThrow(NatAlgError);
    expect(() => emitUdpHeader(out, 0, { sourcePort: 1, destinationPort: 2, length: 7 })).toThrow(NatAlgError);
    expect(() => u.setSourcePort(-1)).toThrow(NatAlgError);
  });
});

describe('UDP setters keep the checksum equal to a full recomputation', () => {
  it('ports and addresses over IPv4 and IPv6, 0 -> 0xFFFF included', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.uint8Array({ maxLength: 30 }),
        fc.array(fc.tuple(fc.constantFrom('sport', 'dport', 'src', 'dst'), fc.nat({ max: 0xffffffff })), { minLength: 1, maxLength: 6 }),
        (isV6, payload, edits) => {
          const pkt = isV6 ? ipv6Packet({ proto: 17, payload: udpDatagram(1000, 53, payload) }) : ipv4Packet({ proto: 17, payload: udpDatagram(1000, 53, payload) });
          const at = isV6 ? 40 : 20;
          const ip4 = new Ipv4Packet();
          const ip6 = new Ipv6Packet();
          if (isV6) ip6.check(pkt);
          else ip4.check(pkt);
          const u = ok(UdpDatagram.parse(pkt, at, pkt.length, isV6 ? 6 : 4));
          expect(u.checksum()).toBe(naiveUdp(pkt, isV6 ? 6 : 4, at));
          for (const [f, v] of edits) {
            if (f === 'sport') u.setSourcePort(v & 0xffff);
            else if (f === 'dport') u.setDestinationPort(v & 0xffff);
            else if (!isV6) {
              const old = f === 'src' ? ip4.sourceAddress() : ip4.destinationAddress();
              u.adjustChecksum32(old, v);
              if (f === 'src') ip4.setSourceAddress(v);
              else ip4.setDestinationAddress(v);
            } else {
              const addr = new Uint8Array(16).fill(v & 0xff);
              addr[3] = v >>> 24;
              u.adjustChecksumBytes(pkt, f === 'src' ? ip6.sourceOffset : ip6.destinationOffset, addr, 0, 16);
              if (f === 'src') ip6.setSource(addr);
              else ip6.setDestination(addr);
            }
            expect(u.checksum()).toBe(naiveUdp(pkt, isV6 ? 6 : 4, at));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a port change that makes the computed checksum 0 sends 0xFFFF', () => {
    // Find the port value that brings the sum to 0xFFFF, then set it.
    const pkt = ipv4Packet({ proto: 17, payload: udpDatagram(1000, 53, [1, 2, 3, 4]) });
    const u = ok(UdpDatagram.parse(pkt, 20, pkt.length, 4));
    const probe = Uint8Array.from(pkt);
    put16(probe, 20, 0);
    put16(probe, 26, 0);
    const rest = naiveChecksum(concat(pseudo4(probe.subarray(12, 16), probe.subarray(16, 20), 17, 12), probe.subarray(20)));
    u.setSourcePort(rest); // sum of everything becomes 0xFFFF: computed checksum 0
    expect(naiveUdp(pkt, 4, 20)).toBe(0xffff);
    expect(u.checksum()).toBe(0xffff);
    u.fillChecksum(0);
    expect(u.checksum()).not.toBe(0);
  });

  it('no checksum (IPv4) stays none through every setter', () => {
    const pkt = ipv4Packet({ proto: 17, payload: udpDatagram(1000, 53, [1, 2, 3]), transportChecksum: false });
    const ip = new Ipv4Packet();
    ip.check(pkt);
    const u = ok(UdpDatagram.parse(pkt, 20, pkt.length, 4));
    u.setSourcePort(4000);
    u.setDestinationPort(5000);
    u.adjustChecksum32(ip.sourceAddress(), 0x01020304);
    ip.setSourceAddress(0x01020304);
    u.adjustChecksumBytes(pkt, 16, new Uint8Array(4).fill(7), 0, 4);
    expect(u.checksum()).toBe(0);
    expect(u.sourcePort()).toBe(4000);
    const withSum = ok(UdpDatagram.parse(ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, [3]) }), 20, 29, 4));
    withSum.clearChecksum();
    expect(withSum.hasChecksum()).toBe(false);
  });
});
