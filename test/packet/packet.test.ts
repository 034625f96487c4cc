import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { PACKET_DROP_REASONS, PacketParser, parsePacket, type PacketVerdict } from '../../src/core/packet/packet.js';
import { CAPTURES } from './captures.js';
import { icmpMessage, ipv4Packet, ipv6Packet, patternBytes, tcpSegment, udpDatagram, type ExtSpec } from './builders.js';

function describeVerdict(v: PacketVerdict): string {
  if (!v.ok) return `drop:${v.reason}`;
  if (v.kind === 'fragment') return `fragment:v${v.ip.version}`;
  const t = v.transport;
  return `v${v.ip.version}:${t.kind === 'other' ? `other(${t.protocol})` : t.kind}`;
}

const tcp = tcpSegment({ sport: 1025, dport: 21, payload: patternBytes(20) });
const udp = udpDatagram(53, 5353, [1, 2, 3]);
const echo4 = icmpMessage(8, 0, 0x00010002, [9]);
const echo6 = icmpMessage(128, 0, 0x00010002, [9]);

describe('parsePacket', () => {
  it('names version, network view and transport for each kind', () => {
    const cases: Array<[Uint8Array, string]> = [
      [ipv4Packet({ proto: 6, payload: tcp }), 'v4:tcp'],
      [ipv4Packet({ proto: 17, payload: udp }), 'v4:udp'],
      [ipv4Packet({ proto: 1, payload: echo4 }), 'v4:icmpv4'],
      [ipv4Packet({ proto: 47, payload: [0, 0, 8, 0] }), 'v4:other(47)'],
      [ipv4Packet({ proto: 58, payload: echo6 }), 'v4:other(58)'],
      [ipv6Packet({ proto: 6, payload: tcp }), 'v6:tcp'],
      [ipv6Packet({ proto: 17, ext: [{ type: 0 }, { type: 60 }], payload: udp }), 'v6:udp'],
      [ipv6Packet({ proto: 58, payload: echo6 }), 'v6:icmpv6'],
      [ipv6Packet({ proto: 1, payload: echo4 }), 'v6:other(1)'],
      [ipv6Packet({ proto: 50, payload: [1, 2, 3, 4] }), 'v6:other(50)'],
      [ipv6Packet({ proto: 59, payload: [] }), 'v6:other(59)'],
      [ipv4Packet({ proto: 6, payload: new Uint8Array(8), mf: true, transportChecksum: false }), 'fragment:v4'],
      [ipv4Packet({ proto: 6, payload: new Uint8Array(8), offset: 8, transportChecksum: false }), 'fragment:v4'],
      [ipv6Packet({ proto: 6, ext: [{ type: 44, offset: 0, more: true }], payload: new Uint8Array(8) }), 'fragment:v6'],
      [ipv6Packet({ proto: 6, ext: [{ type: 44, offset: 0, more: false }], payload: tcp }), 'v6:tcp'], // atomic
    ];
    for (const [bytes, expected] of cases) expect(describeVerdict(parsePacket(bytes))).toBe(expected);
  });

  it('the transport view covers the transport bytes of the packet', () => {
    const v = parsePacket(ipv6Packet({ proto: 6, ext: [{ type: 60, length: 16 }], payload: tcp, trailing: 4 }));
    if (!v.ok || v.kind !== 'packet' || v.transport.kind !== 'tcp') throw new Error('tcp expected');
    expect(v.transport.start).toBe(56);
    expect(v.transport.end).toBe(56 + tcp.length);
    expect(v.transport.sourcePort()).toBe(1025);
    const o = parsePacket(ipv4Packet({ proto: 132, payload: [1, 2, 3, 4, 5] }));
    if (!o.ok || o.kind !== 'packet' || o.transport.kind !== 'other') throw new Error('other expected');
    expect([o.transport.protocol, o.transport.start, o.transport.end]).toEqual([132, 20, 25]);
  });

  it('golden captures parse to what tcpdump said', () => {
    const expected: Record<keyof typeof CAPTURES, string> = {
      tcp4Syn: 'v4:tcp',
      tcp4Data: 'v4:tcp',
      tcp6Syn: 'v6:tcp',
      tcp6Data: 'v6:tcp',
      udp4: 'v4:udp',
      udp6: 'v6:udp',
      icmp4PortUnreachable: 'v4:icmpv4',
      icmp6PortUnreachable: 'v6:icmpv6',
      icmp4EchoReply: 'v4:icmpv4',
      icmp6EchoReply: 'v6:icmpv6',
    };
    for (const [name, c] of Object.entries(CAPTURES)) expect(describeVerdict(parsePacket(c.bytes))).toBe(expected[name as keyof typeof CAPTURES]);
    // With verification: loopback left partial TCP/UDP checksums, ICMP ones are right.
    expect(describeVerdict(parsePacket(CAPTURES.tcp4Syn.bytes, { verifyChecksums: true }))).toBe('drop:bad-checksum');
    expect(describeVerdict(parsePacket(CAPTURES.udp6.bytes, { verifyChecksums: true }))).toBe('drop:bad-checksum');
    expect(describeVerdict(parsePacket(CAPTURES.icmp6PortUnreachable.bytes, { verifyChecksums: true }))).toBe('v6:icmpv6');
    expect(describeVerdict(parsePacket(CAPTURES.icmp4EchoReply.bytes, { verifyChecksums: true }))).toBe('v4:icmpv4');
  });

  it('drop reasons from every layer', () => {
    const cases: Array<[Uint8Array, string, object?]> = [
      [new Uint8Array(0), 'truncated'],
      [Uint8Array.from([0x50, 0, 0, 0]), 'bad-version'],
      [ipv4Packet({ proto: 6, payload: tcp }).subarray(0, 10), 'truncated'],
      [ipv4Packet({ proto: 6, payload: [], ihl: 4 }), 'bad-header-length'],
      [ipv4Packet({ proto: 6, payload: [], totalLength: 12 }), 'bad-total-length'],
      [ipv4Packet({ proto: 6, payload: tcp, checksum: 1 }), 'bad-header-checksum', { verifyChecksums: true }],
      [ipv6Packet({ proto: 59, ext: [{ type: 0 }], payload: [], payloadLength: 0 }), 'jumbogram'],
      [ipv6Packet({ proto: 6, ext: new Array<ExtSpec>(9).fill({ type: 60 }), payload: tcp }), 'too-many-extension-headers'],
      [ipv6Packet({ proto: 6, ext: [{ type: 60, length: 256 }], payload: tcp }), 'extension-headers-too-long', { maxExtensionBytes: 128 }],
      [ipv6Packet({ proto: 6, ext: [{ type: 60 }, { type: 0 }], payload: tcp }), 'bad-extension-header'],
      [ipv4Packet({ proto: 6, payload: tcp.subarray(0, 19) }), 'truncated'],
      [ipv4Packet({ proto: 6, payload: tcpSegment({ dataOffset: 4 }) }), 'bad-data-offset'],
      [ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, [1], 200) }), 'bad-length'],
      [ipv6Packet({ proto: 17, payload: udpDatagram(1, 2, [1]), transportChecksum: false }), 'zero-checksum'],
      [ipv4Packet({ proto: 1, payload: [8, 0, 0, 0] }), 'truncated'],
      [ipv6Packet({ proto: 58, payload: echo6, transportChecksum: false }), 'bad-checksum', { verifyChecksums: true }],
    ];
    for (const [bytes, reason, options] of cases) expect(describeVerdict(parsePacket(bytes, options))).toBe(`drop:${reason}`);
    const tunnel = ipv6Packet({ proto: 17, payload: udpDatagram(1, 2, [1]), transportChecksum: false });
    expect(describeVerdict(parsePacket(tunnel, { allowZeroUdpChecksumIpv6: true }))).toBe('v6:udp');
  });

  it('verifyChecksums accepts every correctly built packet', () => {
    for (const bytes of [
      ipv4Packet({ proto: 6, payload: tcp }),
      ipv4Packet({ proto: 17, payload: udp }),
      ipv4Packet({ proto: 17, payload: udp, transportChecksum: false }), // none over IPv4
      ipv4Packet({ proto: 1, payload: echo4 }),
      ipv6Packet({ proto: 6, ext: [{ type: 0 }], payload: tcp }),
      ipv6Packet({ proto: 17, payload: udp }),
      ipv6Packet({ proto: 58, payload: echo6 }),
    ]) {
      expect(parsePacket(bytes, { verifyChecksums: true }).ok).toBe(true);
    }
  });

  it('PACKET_DROP_REASONS lists each reason once', () => {
    expect(new Set(PACKET_DROP_REASONS).size).toBe(PACKET_DROP_REASONS.length);
    expect(PACKET_DROP_REASONS).toContain('jumbogram');
  });
});

describe('PacketParser', () => {
  it('reuses its views and verdicts: the same objects for the same kind of packet', () => {
    const parser = new PacketParser();
    const a = parser.parse(ipv4Packet({ proto: 6, payload: tcp }));
    const b = parser.parse(ipv4Packet({ proto: 6, payload: tcpSegment({ sport: 7 }) }));
    expect(a).toBe(b);
    if (!b.ok || b.kind !== 'packet' || b.transport.kind !== 'tcp') throw new Error('tcp');
    expect(b.transport.sourcePort()).toBe(7);
    expect(b.transport).toBe(parser.tcp);
    expect(Object.isFrozen(b)).toBe(true);
  });

  it('parses a packet in the middle of a larger buffer', () => {
    const pkt = ipv4Packet({ proto: 17, payload: udp });
    const buf = new Uint8Array(pkt.length + 30);
    buf.set(pkt, 10);
    const v = new PacketParser().parse(buf, 10, 10 + pkt.length);
    expect(describeVerdict(v)).toBe('v4:udp');
    expect(() => new PacketParser().parse(buf, 10, buf.length + 1)).toThrow(NatAlgError);
    expect(() => new PacketParser({ maxExtensionHeaders: -1 })).toThrow(NatAlgError);
  });

  it('every truncation of every kind of packet gives a verdict, never a throw', () => {
    const parser = new PacketParser({ verifyChecksums: true });
    const packets = [
      ipv4Packet({ proto: 6, payload: tcpSegment({ options: [2, 4, 5, 180, 1, 3, 3, 7], payload: [1, 2, 3] }), options: [1, 1, 1, 1] }),
      ipv4Packet({ proto: 17, payload: udp }),
      ipv4Packet({ proto: 1, payload: icmpMessage(3, 3, 0, ipv4Packet({ proto: 17, payload: udp })) }),
      ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 43, length: 24 }, { type: 51, length: 16 }], payload: tcp }),
      ipv6Packet({ proto: 58, payload: icmpMessage(1, 4, 0, ipv6Packet({ proto: 17, payload: udp })) }),
      ...Object.values(CAPTURES).map((c) => c.bytes),
    ];
    for (const p of packets) {
      for (let n = 0; n < p.length; n++) {
        const v = parser.parse(p, 0, n);
        expect(v.ok).toBe(false);
      }
    }
  });

  it('random bytes and mutated packets: always a verdict, views within bounds', () => {
    const parser = new PacketParser({ verifyChecksums: false, maxExtensionHeaders: 4 });
    const seeds = [
      ipv4Packet({ proto: 6, payload: tcp }),
      ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 60 }], payload: tcp }),
      ipv6Packet({ proto: 58, payload: echo6 }),
      ipv4Packet({ proto: 1, payload: icmpMessage(11, 0, 0, ipv4Packet({ proto: 6, payload: tcp })) }),
    ];
    fc.assert(
      fc.property(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(200), (si, flips, cut) => {
        const p = Uint8Array.from(seeds[si]!);
        for (const [at, value] of flips) p[at % p.length] = value;
        const end = Math.min(p.length, cut);
        const v = parser.parse(p, 0, end);
        if (v.ok) {
          expect(v.ip.end).toBeLessThanOrEqual(end);
          if (v.kind === 'packet' && v.transport.kind !== 'other') expect(v.transport.end).toBeLessThanOrEqual(v.ip.end);
        }
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        parser.parse(b);
      }),
      { numRuns: 3000 },
    );
  });
});
