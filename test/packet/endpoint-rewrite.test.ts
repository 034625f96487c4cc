import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { rewriteIpv4Endpoint, rewriteIpv6Endpoint, type EndpointSide } from '../../src/core/packet/endpoint-rewrite.js';
import { PacketParser, type PacketVerdict } from '../../src/core/packet/packet.js';
import { checksumOffset, concat, icmpMessage, ipv4Packet, ipv6Packet, naiveChecksum, pseudo4, pseudo6, put16, tcpSegment, u16, u32, udpDatagram } from './builders.js';

type Proto = 'tcp' | 'udp' | 'udp-none' | 'echo' | 'error' | 'gre';

function build(version: 4 | 6, proto: Proto, payload: Uint8Array): Uint8Array {
  const echoType = version === 4 ? 8 : 128;
  const icmpProto = version === 4 ? 1 : 58;
  const specs: Record<Proto, [number, Uint8Array, boolean]> = {
    tcp: [6, tcpSegment({ sport: 1111, dport: 2222, payload }), true],
    udp: [17, udpDatagram(3333, 4444, payload), true],
    'udp-none': [17, udpDatagram(3333, 4444, payload), false],
    echo: [icmpProto, icmpMessage(echoType, 0, 0x12340001, payload), true],
    error: [icmpProto, icmpMessage(version === 4 ? 3 : 1, 3, 0, concat(new Uint8Array(version === 4 ? 28 : 48).fill(0x45), payload)), true],
    gre: [47, concat([0, 0, 0x08, 0], payload), true],
  };
  const [p, body, sum] = specs[proto];
  return version === 4 ? ipv4Packet({ proto: p, payload: body, transportChecksum: sum }) : ipv6Packet({ proto: p, ext: [{ type: 60 }], payload: body, transportChecksum: sum });
}

/** Every checksum of the packet, recomputed the naive way; UDP's kept "none" if it is 0. */
function expectedChecksums(pkt: Uint8Array): number[] {
  const v4 = pkt[0]! >> 4 === 4;
  const out: number[] = [];
  let from: number;
  let proto: number;
  let end: number;
  if (v4) {
    const hdr = Uint8Array.from(pkt.subarray(0, 20));
    put16(hdr, 10, 0);
    out.push(naiveChecksum(hdr));
    from = 20;
    proto = pkt[9]!;
    end = u16(pkt, 2);
  } else {
    from = 48;
    proto = pkt[40]!;
    end = 40 + u16(pkt, 4);
  }
  const at = checksumOffset(proto);
  if (at < 0) return out;
  const seg = Uint8Array.from(pkt.subarray(from, end));
  if (proto === 17 && u16(seg, 6) === 0) return [...out, 0];
  put16(seg, at, 0);
  const len = seg.length;
  const ph = proto === 1 ? [] : v4 ? pseudo4(pkt.subarray(12, 16), pkt.subarray(16, 20), proto, len) : pseudo6(pkt.subarray(8, 24), pkt.subarray(24, 40), proto, len);
  let c = naiveChecksum(concat(ph, seg));
  if (proto === 17 && c === 0) c = 0xffff;
  return [...out, c];
}

function actualChecksums(pkt: Uint8Array): number[] {
  const v4 = pkt[0]! >> 4 === 4;
  const out: number[] = v4 ? [u16(pkt, 10)] : [];
  const from = v4 ? 20 : 48;
  const at = checksumOffset(v4 ? pkt[9]! : pkt[40]!);
  if (at >= 0) out.push(u16(pkt, from + at));
  return out;
}

function whole(v: PacketVerdict): Extract<PacketVerdict, { kind: 'packet' }> {
  if (!v.ok || v.kind !== 'packet') throw new Error('whole packet expected');
  return v;
}

describe('rewriteIpv4Endpoint / rewriteIpv6Endpoint', () => {
  const protos: Proto[] = ['tcp', 'udp', 'udp-none', 'echo', 'error', 'gre'];

  it('every checksum equals a full recomputation after any sequence of rewrites', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.constantFrom(...protos),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(
          fc.record({
            side: fc.constantFrom<EndpointSide>('source', 'destination'),
            address: fc.nat({ max: 0xffffffff }),
            address6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
            port: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (version, proto, payload, edits) => {
          const pkt = build(version, proto, payload);
          const parser = new PacketParser({ allowZeroUdpChecksumIpv6: true });
          const v = whole(parser.parse(pkt));
          for (const e of edits) {
            const wasZeroUdp = proto === 'udp-none';
            if (v.ip.version === 4) rewriteIpv4Endpoint(v.ip, v.transport, e.side, e.address, e.port);
            else rewriteIpv6Endpoint(v.ip, v.transport, e.side, e.address6, 0, e.port);
            expect(actualChecksums(pkt)).toEqual(expectedChecksums(pkt));
            // The address landed; the port or identifier too, where there is one.
            if (version === 4) expect(u32(pkt, e.side === 'source' ? 12 : 16)).toBe(e.address);
            else expect(Array.from(pkt.subarray(e.side === 'source' ? 8 : 24, e.side === 'source' ? 24 : 40))).toEqual(Array.from(e.address6));
            const t = v.transport;
            if (e.port !== undefined && (t.kind === 'tcp' || t.kind === 'udp')) {
              expect(e.side === 'source' ? t.sourcePort() : t.destinationPort()).toBe(e.port);
            }
            if (e.port !== undefined && (t.kind === 'icmpv4' || t.kind === 'icmpv6') && t.isEcho()) expect(t.identifier()).toBe(e.port);
            if (wasZeroUdp && t.kind === 'udp') expect(t.checksum()).toBe(0);
          }
          // And a verifying parser still accepts it.
          if (proto !== 'udp-none' || version === 4) expect(new PacketParser({ verifyChecksums: true }).parse(pkt).ok).toBe(true);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('a UDP rewrite that makes the computed checksum 0 sends 0xFFFF', () => {
    // Search a port that brings the sum to 0xFFFF for a fixed address change.
    const base = build(4, 'udp', Uint8Array.from([1, 2, 3]));
    let hits = 0;
    const parser = new PacketParser();
    for (let port = 0; port < 0x10000 && hits === 0; port += 1) {
      const pkt = Uint8Array.from(base);
      const v = whole(parser.parse(pkt));
      if (v.ip.version !== 4) throw new Error('v4');
      rewriteIpv4Endpoint(v.ip, v.transport, 'source', 0xcb007101, port);
      if (expectedChecksums(pkt)[1] === 0xffff) {
        hits++;
        expect(actualChecksums(pkt)[1]).toBe(0xffff);
      }
    }
    expect(hits).toBe(1);
  });

  it('refuses a transport view of another packet, bad values, and a blank view', () => {
    const a = build(4, 'tcp', new Uint8Array(4));
    const b = build(4, 'tcp', new Uint8Array(4));
    const pa = new PacketParser();
    const pb = new PacketParser();
    const ipa = whole(pa.parse(a)).ip;
    const ta = whole(pa.parse(a)).transport;
    const tb = whole(pb.parse(b)).transport;
    if (ipa.version !== 4) throw new Error('v4');
    expect(() => rewriteIpv4Endpoint(ipa, tb, 'source', 1, 2)).toThrow(NatAlgError);
    expect(() => rewriteIpv4Endpoint(ipa, ta, 'source', 2 ** 32, 2)).toThrow(NatAlgError);
    expect(() => rewriteIpv4Endpoint(ipa, ta, 'source', 1, 65536)).toThrow(NatAlgError);
    expect(pa.parse(Uint8Array.from([0x45, 0, 0])).ok).toBe(false); // the IPv4 view is now blank
    expect(() => rewriteIpv4Endpoint(pa.ipv4, pa.tcp, 'source', 1, 2)).toThrow(NatAlgError);
    const six = whole(new PacketParser().parse(build(6, 'udp', new Uint8Array(2))));
    const ip6 = six.ip;
    if (ip6.version !== 6) throw new Error('v6');
    expect(() => rewriteIpv6Endpoint(ip6, six.transport, 'destination', new Uint8Array(15), 0, 1)).toThrow(NatAlgError);
  });
});
