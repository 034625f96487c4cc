import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { Ipv4Packet, emitIpv4Header, readIpv4HeaderFields, type Ipv4Verdict } from '../../src/core/packet/ipv4.js';
import { ipv4Packet, naiveChecksum, naiveSum, patternBytes, pseudo4, u16, v4num } from './builders.js';

function ok(v: Ipv4Verdict): Ipv4Packet {
  if (!v.ok) throw new Error(`expected ok, got ${v.reason}`);
  return v.packet;
}

describe('IPv4 view: parse', () => {
  it('reads every field of a built packet', () => {
    const bytes = ipv4Packet({ src: '192.0.2.1', dst: '203.0.113.9', proto: 17, payload: [1, 2, 3, 4], ttl: 17, id: 0xbeef, tos: 0xb9, df: true });
    const p = ok(Ipv4Packet.parse(bytes, 0, bytes.length, true));
    expect(p.version).toBe(4);
    expect(p.headerLength).toBe(20);
    expect(p.totalLength).toBe(24);
    expect(p.payloadOffset).toBe(20);
    expect(p.payloadLength).toBe(4);
    expect(p.end).toBe(24);
    expect(p.dscp()).toBe(0xb9 >> 2);
    expect(p.ecn()).toBe(1);
    expect(p.identification()).toBe(0xbeef);
    expect(p.dontFragment()).toBe(true);
    expect(p.moreFragments()).toBe(false);
    expect(p.reservedFlag()).toBe(false);
    expect(p.fragmentOffset()).toBe(0);
    expect(p.isFragment()).toBe(false);
    expect(p.ttl()).toBe(17);
    expect(p.protocol()).toBe(17);
    expect(p.sourceAddress()).toBe(v4num('192.0.2.1'));
    expect(p.destinationAddress()).toBe(v4num('203.0.113.9'));
    expect(p.sourceText()).toBe('192.0.2.1');
    expect(Array.from(p.sourceBytes())).toEqual([192, 0, 2, 1]);
    expect(Array.from(p.destinationBytes())).toEqual([203, 0, 113, 9]);
    expect(p.destinationText()).toBe('203.0.113.9');
    expect(p.hasOptions()).toBe(false);
    expect(p.verifyHeaderChecksum()).toBe(true);
    expect(p.headerChecksum()).toBe(u16(bytes, 10));
  });

  it('golden: a captured header (192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861)', () => {
    const hdr = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
    const bytes = new Uint8Array(0x73);
    bytes.set(hdr);
    const p = ok(Ipv4Packet.parse(bytes, 0, bytes.length, true));
    expect(p.sourceText()).toBe('192.168.0.1');
    expect(p.destinationText()).toBe('192.168.0.199');
    expect(p.dontFragment()).toBe(true);
    expect(p.protocol()).toBe(17);
    expect(p.headerChecksum()).toBe(0xb861);
  });

  it('options, fragments and flags', () => {
    const bytes = ipv4Packet({ proto: 6, payload: new Uint8Array(16), options: [0x94, 0x04, 0, 0], mf: true, offset: 1480, reserved: true, transportChecksum: false });
    const p = ok(Ipv4Packet.parse(bytes, 0, bytes.length, true));
    expect(p.headerLength).toBe(24);
    expect(p.hasOptions()).toBe(true);
    expect(p.optionsOffset).toBe(20);
    expect(p.optionsLength).toBe(4);
    expect(p.moreFragments()).toBe(true);
    expect(p.fragmentOffset()).toBe(1480);
    expect(p.isFragment()).toBe(true);
    expect(p.reservedFlag()).toBe(true);
  });

  it('a packet inside a larger buffer, with trailing padding excluded from the payload', () => {
    const pkt = ipv4Packet({ proto: 17, payload: [9, 9, 9, 9, 9, 9, 9, 9], trailing: 18 });
    const buf = new Uint8Array(pkt.length + 7);
    buf.set(pkt, 7);
    const p = ok(Ipv4Packet.parse(buf, 7));
    expect(p.start).toBe(7);
    expect(p.end).toBe(7 + 28);
    expect(p.payloadLength).toBe(8);
    expect(p.sourceText()).toBe('192.0.2.10');
  });
});

describe('IPv4 view: bad input gives a verdict', () => {
  const good = ipv4Packet({ proto: 6, payload: patternBytes(40), options: [1, 1, 1, 1], transportChecksum: false });

  it('truncated at every length', () => {
    for (let n = 0; n < good.length; n++) {
      const v = Ipv4Packet.parse(good, 0, n);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).toBe('truncated');
    }
    expect(Ipv4Packet.parse(good).ok).toBe(true);
  });

  it('bad version, header length, total length, checksum', () => {
    const reason = (b: Uint8Array, verify = false): string => {
      const v = Ipv4Packet.parse(b, 0, b.length, verify);
      return v.ok ? 'ok' : v.reason;
    };
    const withByte = (at: number, value: number): Uint8Array => {
      const b = Uint8Array.from(good);
      b[at] = value;
      return b;
    };
    expect(reason(withByte(0, 0x65))).toBe('bad-version');
    expect(reason(withByte(0, 0x44))).toBe('bad-header-length');
    expect(reason(withByte(0, 0x40))).toBe('bad-header-length');
    const small = ipv4Packet({ proto: 6, payload: new Uint8Array(20), transportChecksum: false });
    small[0] = 0x4f; // a 60-byte header in a 40-byte packet
    expect(reason(small)).toBe('truncated');
    const shortTotal = ipv4Packet({ proto: 6, payload: [], totalLength: 19 });
    expect(reason(shortTotal)).toBe('bad-total-length');
    const hl24total20 = ipv4Packet({ proto: 6, payload: [], options: [1, 1, 1, 1], totalLength: 20 });
    expect(reason(hl24total20)).toBe('bad-total-length');
    const longTotal = ipv4Packet({ proto: 6, payload: [1, 2, 3, 4], totalLength: 25 });
    expect(reason(longTotal)).toBe('truncated');
    const corrupt = withByte(8, 1); // TTL changed without the checksum
    expect(reason(corrupt)).toBe('ok');
    expect(reason(corrupt, true)).toBe('bad-header-checksum');
  });

  it('after a failed check the view is blank: reads give 0, writes throw', () => {
    const view = new Ipv4Packet();
    expect(() => view.setTtl(1)).toThrow(NatAlgError);
    expect(view.check(good).ok).toBe(true);
    expect(view.ttl()).toBe(64);
    expect(view.check(good, 0, 10).ok).toBe(false);
    expect(view.bytes).not.toBe(good);
    expect(view.ttl()).toBe(0);
    expect(view.sourceAddress()).toBe(0);
    expect(view.payloadLength).toBe(0);
    expect(() => view.setSourceAddress(1)).toThrow(NatAlgError);
    expect(() => view.fillHeaderChecksum()).toThrow(NatAlgError);
  });

  it('a range outside the buffer is a programming error (throws), bytes never are', () => {
    expect(() => Ipv4Packet.parse(good, 0, good.length + 1)).toThrow(NatAlgError);
    expect(() => Ipv4Packet.parse(good, -1)).toThrow(NatAlgError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, verify) => {
        const v = Ipv4Packet.parse(b, 0, b.length, verify);
        if (v.ok) {
          expect(v.packet.end).toBeLessThanOrEqual(b.length);
          expect(v.packet.payloadOffset).toBeLessThanOrEqual(v.packet.end);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes with a plausible first byte never throw and respect the bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x40, max: 0x4f }), fc.uint8Array({ minLength: 0, maxLength: 100 }), (first, rest) => {
        const b = Uint8Array.from([first, ...rest]);
        const v = Ipv4Packet.parse(b);
        if (v.ok) expect(v.packet.headerLength).toBeGreaterThanOrEqual(20);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('IPv4 emit and round trip', () => {
  it('emitIpv4Header writes the same bytes as the test builder', () => {
    const built = ipv4Packet({ src: '10.1.2.3', dst: '10.4.5.6', proto: 6, payload: new Uint8Array(12), ttl: 3, id: 77, tos: 0x10, df: true, options: [7, 3, 4, 0], transportChecksum: false });
    const out = new Uint8Array(24);
    const n = emitIpv4Header(out, 0, {
      dscp: 4,
      totalLength: 36,
      identification: 77,
      dontFragment: true,
      ttl: 3,
      protocol: 6,
      source: v4num('10.1.2.3'),
      destination: v4num('10.4.5.6'),
      options: Uint8Array.from([7, 3, 4, 0]),
    });
    expect(n).toBe(24);
    expect(Array.from(out)).toEqual(Array.from(built.subarray(0, 24)));
  });

  it('parse -> fields -> emit gives the header back, for arbitrary valid headers', () => {
    fc.assert(
      fc.property(
        fc.record({
          tos: fc.integer({ min: 0, max: 255 }),
          id: fc.integer({ min: 0, max: 0xffff }),
          df: fc.boolean(),
          mf: fc.boolean(),
          reserved: fc.boolean(),
          offset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
          ttl: fc.integer({ min: 0, max: 255 }),
          proto: fc.integer({ min: 0, max: 255 }),
          src: fc.ipV4(),
          dst: fc.ipV4(),
          optWords: fc.integer({ min: 0, max: 10 }),
          payload: fc.uint8Array({ maxLength: 40 }),
        }),
        (r) => {
          const bytes = ipv4Packet({ ...r, options: Array.from(patternBytes(r.optWords * 4, r.id + 1)), transportChecksum: false });
          const p = ok(Ipv4Packet.parse(bytes, 0, bytes.length, true));
          const out = new Uint8Array(p.headerLength);
          emitIpv4Header(out, 0, readIpv4HeaderFields(p));
          expect(Array.from(out)).toEqual(Array.from(bytes.subarray(0, p.headerLength)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('misuse of the emitter throws NatAlgError', () => {
    const f = { totalLength: 20, protocol: 6, source: 1, destination: 2 };
    expect(() => emitIpv4Header(new Uint8Array(19), 0, f)).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(20), -1, f)).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(20), 0, { ...f, totalLength: 19 })).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(20), 0, { ...f, fragmentOffset: 4 })).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(20), 0, { ...f, source: 2 ** 32 })).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(24), 0, { ...f, totalLength: 24, options: new Uint8Array(3) })).toThrow(NatAlgError);
    expect(() => emitIpv4Header(new Uint8Array(20), 0, { ...f, ttl: 256 })).toThrow(NatAlgError);
  });
});

describe('IPv4 setters keep the header checksum equal to a full recomputation', () => {
  it('addresses, TTL, identification, in any order', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 30 }),
        fc.array(
          fc.oneof(
            fc.record({ f: fc.constant('src' as const), v: fc.nat({ max: 0xffffffff }) }),
            fc.record({ f: fc.constant('dst' as const), v: fc.nat({ max: 0xffffffff }) }),
            fc.record({ f: fc.constant('ttl' as const), v: fc.integer({ min: 0, max: 255 }) }),
            fc.record({ f: fc.constant('id' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: 0, max: 2 }),
        (payload, edits, optWords) => {
          const bytes = ipv4Packet({ proto: 17, payload, options: Array.from(patternBytes(optWords * 4, 3)), transportChecksum: false });
          const p = ok(Ipv4Packet.parse(bytes));
          for (const e of edits) {
            if (e.f === 'src') p.setSourceAddress(e.v);
            else if (e.f === 'dst') p.setDestinationAddress(e.v);
            else if (e.f === 'ttl') p.setTtl(e.v);
            else p.setIdentification(e.v);
            const header = Uint8Array.from(bytes.subarray(0, p.headerLength));
            header[10] = header[11] = 0;
            expect(p.headerChecksum()).toBe(naiveChecksum(header));
          }
          const last = edits[edits.length - 1]!;
          if (last.f === 'src') expect(p.sourceAddress()).toBe(last.v);
          if (last.f === 'ttl') expect(p.ttl()).toBe(last.v);
          expect(p.protocol()).toBe(17);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fillHeaderChecksum recomputes; setters refuse out-of-range values', () => {
    const bytes = ipv4Packet({ proto: 6, payload: [], checksum: 0x1234 });
    const p = ok(Ipv4Packet.parse(bytes));
    expect(p.verifyHeaderChecksum()).toBe(false);
    p.fillHeaderChecksum();
    expect(p.verifyHeaderChecksum()).toBe(true);
    expect(naiveSum(bytes.subarray(0, 20))).toBe(0xffff);
    expect(() => p.setTtl(-1)).toThrow(NatAlgError);
    expect(() => p.setSourceAddress(1.5)).toThrow(NatAlgError);
    expect(() => p.setHeaderChecksum(0x10000)).toThrow(NatAlgError);
  });

  it('pseudoHeaderSum is the sum of the 12-byte pseudo-header', () => {
    const bytes = ipv4Packet({ src: '198.51.100.7', dst: '192.0.2.200', proto: 6, payload: [] });
    const p = ok(Ipv4Packet.parse(bytes));
    const s = p.pseudoHeaderSum(6, 1460);
    let folded = s;
    while (folded > 0xffff) folded = (folded & 0xffff) + (folded >>> 16);
    expect(folded).toBe(naiveSum(pseudo4(bytes.subarray(12, 16), bytes.subarray(16, 20), 6, 1460)));
  });
});
