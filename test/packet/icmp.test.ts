import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import {
  Icmpv4Message,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  Icmpv6Message,
  Icmpv6Type,
  emitIcmpHeader,
  readIcmpHeaderFields,
  type Icmpv4Verdict,
  type Icmpv6Verdict,
} from '../../src/core/packet/icmp.js';
import { IcmpQuote, type IcmpQuoteVerdict } from '../../src/core/packet/icmp-quote.js';
import { Ipv6Packet } from '../../src/core/packet/ipv6.js';
import { CAPTURES } from './captures.js';
import { concat, icmpMessage, ipv4Packet, ipv6Packet, naiveChecksum, naiveSum, pseudo6, put16, tcpSegment, udpDatagram } from './builders.js';

function ok4(v: Icmpv4Verdict): Icmpv4Message {
  if (!v.ok) throw new Error(v.reason);
  return v.message;
}
function ok6(v: Icmpv6Verdict): Icmpv6Message {
  if (!v.ok) throw new Error(v.reason);
  return v.message;
}
function okQ(v: IcmpQuoteVerdict): IcmpQuote {
  if (!v.ok) throw new Error(v.reason);
  return v.quote;
}

function naiveIcmp6(pkt: Uint8Array, at: number): number {
  const msg = Uint8Array.from(pkt.subarray(at));
  put16(msg, 2, 0);
  return naiveChecksum(concat(pseudo6(pkt.subarray(8, 24), pkt.subarray(24, 40), 58, msg.length), msg));
}
function naiveIcmp4(pkt: Uint8Array, at: number): number {
  const msg = Uint8Array.from(pkt.subarray(at));
  put16(msg, 2, 0);
  return naiveChecksum(msg);
}

describe('ICMPv4', () => {
  it('golden: the captured echo reply', () => {
    const pkt = CAPTURES.icmp4EchoReply.bytes;
    const m = ok4(Icmpv4Message.parse(pkt, 20));
    expect(m.type()).toBe(Icmpv4Type.EchoReply);
    expect(m.code()).toBe(0);
    expect(m.messageKind()).toBe('echo-reply');
    expect(m.isEcho()).toBe(true);
    expect(m.isError()).toBe(false);
    expect(m.identifier()).toBe(0x1234);
    expect(m.sequenceNumber()).toBe(1);
    expect(m.verifyChecksum()).toBe(true);
    expect(m.bodyOffset).toBe(28);
  });

  it('golden: the captured port unreachable and its quote (addresses, ports, whole UDP header)', () => {
    const pkt = CAPTURES.icmp4PortUnreachable.bytes;
    const m = ok4(Icmpv4Message.parse(pkt, 20));
    expect(m.messageKind()).toBe('destination-unreachable');
    expect(m.code()).toBe(Icmpv4UnreachableCode.Port);
    expect(m.isError()).toBe(true);
    expect(m.verifyChecksum()).toBe(true);
    const q = okQ(m.quote(new IcmpQuote()));
    expect(q.version).toBe(4);
    expect(q.sourceText()).toBe('127.0.0.1');
    expect(q.protocol).toBe(17);
    expect(q.hasPorts()).toBe(true);
    expect(q.sourcePort()).toBe(46784);
    expect(q.destinationPort()).toBe(40999);
    expect(q.isComplete()).toBe(true);
    expect(q.originalLength).toBe(37);
    expect(q.transportLength).toBe(17);
  });

  it('fragmentation needed with the next-hop MTU; time exceeded; parameter problem pointer', () => {
    const quoted = ipv4Packet({ proto: 6, payload: tcpSegment({ sport: 5555, dport: 80, seq: 0xfeedface }), df: true });
    const fragNeeded = icmpMessage(3, 4, 1400, quoted.subarray(0, 28));
    const m = ok4(Icmpv4Message.parse(fragNeeded));
    expect(m.isFragmentationNeeded()).toBe(true);
    expect(m.nextHopMtu()).toBe(1400);
    const q = okQ(m.quote(new IcmpQuote()));
    expect(q.hasPorts()).toBe(true);
    expect(q.sourcePort()).toBe(5555);
    expect(q.hasTcpSeqNumber()).toBe(true);
    expect(q.tcpSeqNumber()).toBe(0xfeedface);
    expect(q.isComplete()).toBe(false);
    expect(q.quotedLength).toBe(28);
    expect(ok4(Icmpv4Message.parse(icmpMessage(11, 0, 0, quoted))).messageKind()).toBe('time-exceeded');
    const pp = ok4(Icmpv4Message.parse(icmpMessage(12, 0, 0x0c000000, quoted)));
    expect(pp.messageKind()).toBe('parameter-problem');
    expect(pp.pointer()).toBe(12);
    expect(ok4(Icmpv4Message.parse(icmpMessage(5, 1, 0, quoted))).isError()).toBe(true);
    expect(ok4(Icmpv4Message.parse(icmpMessage(13, 0, 0, []))).messageKind()).toBe('other');
  });

  it('an echo in a quote gives its identifier; a non-first fragment gives no ports', () => {
    const echo = ipv4Packet({ proto: 1, payload: icmpMessage(8, 0, 0x77770001, [1, 2]) });
    const q = okQ(ok4(Icmpv4Message.parse(icmpMessage(11, 0, 0, echo))).quote(new IcmpQuote()));
    expect(q.hasIcmpEcho()).toBe(true);
    expect(q.icmpIdentifier()).toBe(0x7777);
    expect(q.hasPorts()).toBe(false);
    const frag = ipv4Packet({ proto: 17, payload: new Uint8Array(16).fill(1), offset: 8, transportChecksum: false });
    const qf = okQ(ok4(Icmpv4Message.parse(icmpMessage(11, 1, 0, frag))).quote(new IcmpQuote()));
    expect(qf.protocol).toBe(17);
    expect(qf.transportLength).toBe(0);
    expect(qf.hasPorts()).toBe(false);
    expect(qf.sourcePort()).toBe(0);
  });

  it('setIdentifier and setSequenceNumber keep the checksum equal to a full recomputation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 0xffff })), { minLength: 1, maxLength: 5 }), (data, edits) => {
        const pkt = ipv4Packet({ proto: 1, payload: icmpMessage(8, 0, 0x00010001, data) });
        const m = ok4(Icmpv4Message.parse(pkt, 20));
        for (const [id, v] of edits) {
          if (id) m.setIdentifier(v);
          else m.setSequenceNumber(v);
          // Only an all-zero message may trade 0x0000 for 0xFFFF (see icmp.ts); the type here is 8.
          expect(m.checksum()).toBe(naiveIcmp4(pkt, 20));
        }
      }),
    );
  });

  it('an all-zero echo reply gets 0xFFFF, as a full computation gives, not 0x0000', () => {
    const pkt = ipv4Packet({ proto: 1, payload: icmpMessage(0, 0, 0x00050000, [0, 0]) });
    const m = ok4(Icmpv4Message.parse(pkt, 20));
    m.setIdentifier(0);
    expect(naiveIcmp4(pkt, 20)).toBe(0xffff);
    expect(m.checksum()).toBe(0xffff);
    expect(m.verifyChecksum()).toBe(true);
    m.setSequenceNumber(3);
    expect(m.checksum()).toBe(naiveIcmp4(pkt, 20));
  });

  it('any type, any data: identifier and sequence updates equal a full recomputation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 6 }).map((d) => d.map((x) => (x < 200 ? 0 : x))), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), (type, data, ids) => {
        const t = type < 128 ? 0 : type; // often echo reply, so all-zero messages come up
        const pkt = ipv4Packet({ proto: 1, payload: icmpMessage(t, 0, 0, data) });
        const m = ok4(Icmpv4Message.parse(pkt, 20));
        for (const id of ids) {
          m.setIdentifier(id);
          m.setSequenceNumber(id ^ 1);
          expect(m.checksum()).toBe(naiveIcmp4(pkt, 20));
        }
      }),
    );
  });
});

describe('ICMPv6', () => {
  it('golden: captured echo reply and port unreachable (checksums over the pseudo-header)', () => {
    const echo = CAPTURES.icmp6EchoReply.bytes;
    const ip = Ipv6Packet.parse(echo);
    if (!ip.ok) throw new Error('ip');
    const m = ok6(Icmpv6Message.parse(echo, 40));
    expect(m.type()).toBe(Icmpv6Type.EchoReply);
    expect(m.identifier()).toBe(0x4321);
    expect(m.sequenceNumber()).toBe(7);
    expect(m.verifyChecksum(ip.packet.pseudoHeaderSum(58, m.length))).toBe(true);
    expect(m.verifyChecksum(0)).toBe(false);

    const err = CAPTURES.icmp6PortUnreachable.bytes;
    const ip2 = Ipv6Packet.parse(err);
    if (!ip2.ok) throw new Error('ip');
    const u = ok6(Icmpv6Message.parse(err, 40));
    expect(u.messageKind()).toBe('destination-unreachable');
    expect(u.code()).toBe(4);
    expect(u.isError()).toBe(true);
    expect(u.verifyChecksum(ip2.packet.pseudoHeaderSum(58, u.length))).toBe(true);
    const q = okQ(u.quote(new IcmpQuote()));
    expect(q.version).toBe(6);
    expect(q.sourceText()).toBe('::1');
    expect(q.sourcePort()).toBe(44066);
    expect(q.destinationPort()).toBe(40999);
    expect(q.sourceAddress()).toBe(0);
  });

  it('packet too big with its MTU, parameter problem with its 32-bit pointer', () => {
    const inner = ipv6Packet({ proto: 17, payload: udpDatagram(7, 8, new Uint8Array(100)) });
    const ptb = ok6(Icmpv6Message.parse(icmpMessage(2, 0, 1280, inner)));
    expect(ptb.messageKind()).toBe('packet-too-big');
    expect(ptb.mtu()).toBe(1280);
    const pp = ok6(Icmpv6Message.parse(icmpMessage(4, 1, 0x12345, inner)));
    expect(pp.messageKind()).toBe('parameter-problem');
    expect(pp.pointer()).toBe(0x12345);
    expect(ok6(Icmpv6Message.parse(icmpMessage(3, 0, 0, inner))).messageKind()).toBe('time-exceeded');
    expect(ok6(Icmpv6Message.parse(icmpMessage(135, 0, 0, new Uint8Array(16)))).isError()).toBe(false);
    expect(ok6(Icmpv6Message.parse(icmpMessage(135, 0, 0, new Uint8Array(16)))).messageKind()).toBe('other');
  });

  it('the quote walks extension headers to the ports; a short quote has no transport', () => {
    const inner = ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 60, length: 16 }], payload: tcpSegment({ sport: 2222, dport: 22 }) });
    const q = okQ(ok6(Icmpv6Message.parse(icmpMessage(1, 0, 0, inner))).quote(new IcmpQuote()));
    expect(q.protocol).toBe(6);
    expect(q.transportOffset).toBe(8 + 40 + 24);
    expect(q.sourcePort()).toBe(2222);
    const short = okQ(ok6(Icmpv6Message.parse(icmpMessage(1, 0, 0, inner.subarray(0, 60)))).quote(new IcmpQuote()));
    expect(short.protocol).toBe(-1);
    expect(short.hasPorts()).toBe(false);
    expect(short.destinationText()).toBe('2001:db8:1::20');
    // Beyond the extension-header bound: addresses still, no transport.
    const bound = okQ(ok6(Icmpv6Message.parse(icmpMessage(1, 0, 0, inner))).quote(new IcmpQuote(), { maxExtensionHeaders: 1, maxExtensionBytes: 1024 }));
    expect(bound.hasPorts()).toBe(false);
    // A non-first fragment quoted: no transport; a first fragment: ports.
    const later = ipv6Packet({ proto: 17, ext: [{ type: 44, offset: 8, more: false }], payload: new Uint8Array(16).fill(3) });
    expect(okQ(new IcmpQuote().check(later, 0, later.length, 6)).hasPorts()).toBe(false);
    const first = ipv6Packet({ proto: 17, ext: [{ type: 44, offset: 0, more: true }], payload: udpDatagram(9, 10, new Uint8Array(8)) });
    expect(okQ(new IcmpQuote().check(first, 0, first.length, 6)).sourcePort()).toBe(9);
  });

  it('an echo identifier rewrite keeps the checksum; an address change adjusts it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (data, id, addr) => {
        const pkt = ipv6Packet({ proto: 58, payload: icmpMessage(128, 0, 0x00010001, data) });
        const ip = Ipv6Packet.parse(pkt);
        if (!ip.ok) throw new Error('ip');
        const m = ok6(Icmpv6Message.parse(pkt, 40));
        expect(m.checksum()).toBe(naiveIcmp6(pkt, 40));
        m.setIdentifier(id);
        expect(m.checksum()).toBe(naiveIcmp6(pkt, 40));
        m.adjustChecksumBytes(pkt, ip.packet.sourceOffset, addr, 0, 16);
        ip.packet.setSource(addr);
        expect(m.checksum()).toBe(naiveIcmp6(pkt, 40));
        expect(m.verifyChecksum(ip.packet.pseudoHeaderSum(58, m.length))).toBe(true);
      }),
    );
  });
});

describe('ICMP emit and round trip', () => {
  it('emitIcmpHeader writes what the builder writes; parse -> fields -> emit round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 20 }), (type, code, rest, body) => {
        const built = icmpMessage(type, code, rest, body);
        const out = new Uint8Array(8);
        expect(emitIcmpHeader(out, 0, { type, code, rest })).toBe(8);
        expect(Array.from(out)).toEqual(Array.from(built.subarray(0, 8)));
        put16(built, 2, naiveChecksum(built));
        const m = ok4(Icmpv4Message.parse(built));
        expect(m.restOfHeader()).toBe(rest);
        expect(Array.from(m.body())).toEqual(Array.from(body));
        emitIcmpHeader(out, 0, readIcmpHeaderFields(m));
        expect(Array.from(out)).toEqual(Array.from(built.subarray(0, 8)));
        expect(m.verifyChecksum()).toBe(true);
      }),
    );
  });

  it('emitter misuse throws', () => {
    expect(() => emitIcmpHeader(new Uint8Array(7), 0, { type: 8, code: 0 })).toThrow(NatAlgError);
    expect(() => emitIcmpHeader(new Uint8Array(8), 0, { type: 256, code: 0 })).toThrow(NatAlgError);
    expect(() => emitIcmpHeader(new Uint8Array(8), 0, { type: 8, code: 0, rest: -1 })).toThrow(NatAlgError);
  });
});

describe('ICMP bad input gives a verdict', () => {
  it('messages truncated at every length', () => {
    const msg = icmpMessage(8, 0, 1, [1, 2, 3]);
    for (let n = 0; n < 8; n++) {
      const a = Icmpv4Message.parse(msg, 0, n);
      const b = Icmpv6Message.parse(msg, 0, n);
      expect(a.ok || b.ok).toBe(false);
      if (!a.ok) expect(a.reason).toBe('truncated');
    }
  });

  it('quotes truncated at every length: a verdict while the IP header is cut, then addresses, then ports', () => {
    for (const version of [4, 6] as const) {
      const inner =
        version === 4
          ? ipv4Packet({ proto: 17, payload: udpDatagram(1111, 2222, new Uint8Array(20)) })
          : ipv6Packet({ proto: 17, ext: [{ type: 60 }], payload: udpDatagram(1111, 2222, new Uint8Array(20)) });
      const hdr = version === 4 ? 20 : 48;
      for (let n = 0; n <= inner.length; n++) {
        const v = new IcmpQuote().check(inner, 0, n, version);
        if (n < (version === 4 ? 20 : 40)) {
          expect(v.ok ? 'ok' : v.reason).toBe('truncated');
          continue;
        }
        const q = okQ(v);
        expect(q.sourceText()).toBe(version === 4 ? '192.0.2.10' : '2001:db8::10');
        expect(q.hasPorts()).toBe(n >= hdr + 4);
        expect(q.sourcePort()).toBe(n >= hdr + 4 ? 1111 : 0);
        expect(q.destinationPort()).toBe(n >= hdr + 4 ? 2222 : 0);
      }
    }
  });

  it('a quote of the wrong version, a bad IHL, a bad total length', () => {
    const v4 = ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, []) });
    const v6p = ipv6Packet({ proto: 17, payload: udpDatagram(1, 2, []) });
    const r = (b: Uint8Array, v: 4 | 6): string => {
      const x = new IcmpQuote().check(b, 0, b.length, v);
      return x.ok ? 'ok' : x.reason;
    };
    expect(r(v6p, 4)).toBe('bad-version');
    expect(r(concat(v4, new Uint8Array(20)), 6)).toBe('bad-version');
    const ihl = Uint8Array.from(v4);
    ihl[0] = 0x44;
    expect(r(ihl, 4)).toBe('bad-header-length');
    const tl = Uint8Array.from(v4);
    put16(tl, 2, 10);
    expect(r(tl, 4)).toBe('bad-total-length');
    const big = Uint8Array.from(v4);
    big[0] = 0x4f;
    expect(r(big, 4)).toBe('truncated');
  });

  it('random quotes never throw and stay in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 90 }), fc.constantFrom(4 as const, 6 as const), (b, version) => {
        const x = new IcmpQuote().check(b, 0, b.length, version);
        if (x.ok) {
          expect(x.quote.transportOffset + x.quote.transportLength).toBeLessThanOrEqual(b.length);
          x.quote.sourcePort();
          x.quote.icmpIdentifier();
          x.quote.tcpSeqNumber();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('writes through a blank view throw; out-of-range values throw', () => {
    expect(() => new Icmpv4Message().setIdentifier(1)).toThrow(NatAlgError);
    const bytes = icmpMessage(8, 0, 0, [5]);
    const m = ok4(Icmpv4Message.parse(bytes));
    expect(() => m.setIdentifier(0x10000)).toThrow(NatAlgError);
    m.fillChecksum();
    expect(naiveSum(bytes)).toBe(0xffff);
  });
});
