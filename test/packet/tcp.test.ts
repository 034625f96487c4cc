import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { Ipv4Packet } from '../../src/core/packet/ipv4.js';
import { Ipv6Packet } from '../../src/core/packet/ipv6.js';
import { TcpFlag, TcpSegment, emitTcpHeader, readTcpHeaderFields, type TcpVerdict } from '../../src/core/packet/tcp.js';
import { MAX_SACK_BLOCKS, TcpOptions, emitTcpOptions } from '../../src/core/packet/tcp-options.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, toSeq } from '../../src/core/packet/seq-number.js';
import { CAPTURES } from './captures.js';
import { concat, ipv4Packet, ipv6Packet, naiveChecksum, pseudo4, pseudo6, put16, tcpSegment, u16, v4num } from './builders.js';

function ok(v: TcpVerdict): TcpSegment {
  if (!v.ok) throw new Error(`expected ok, got ${v.reason}`);
  return v.segment;
}

/** The TCP checksum of a segment in an IPv4 packet, recomputed the naive way. */
function naiveTcp4(pkt: Uint8Array): number {
  const hl = (pkt[0]! & 15) * 4;
  const seg = Uint8Array.from(pkt.subarray(hl, u16(pkt, 2)));
  put16(seg, 16, 0);
  return naiveChecksum(concat(pseudo4(pkt.subarray(12, 16), pkt.subarray(16, 20), 6, seg.length), seg));
}
function naiveTcp6(pkt: Uint8Array, upper: number): number {
  const seg = Uint8Array.from(pkt.subarray(upper, 40 + u16(pkt, 4)));
  put16(seg, 16, 0);
  return naiveChecksum(concat(pseudo6(pkt.subarray(8, 24), pkt.subarray(24, 40), 6, seg.length), seg));
}

describe('SeqNumber', () => {
  it('compares across wraparound', () => {
    const a = toSeq(0xfffffff0);
    const b = seqAdd(a, 0x20);
    expect(b).toBe(0x10);
    expect(seqLt(a, b)).toBe(true);
    expect(seqGt(b, a)).toBe(true);
    expect(seqLe(a, a)).toBe(true);
    expect(seqGe(a, a)).toBe(true);
    expect(seqDiff(b, a)).toBe(0x20);
    expect(seqDiff(a, b)).toBe(-0x20);
    expect(seqMax(a, b)).toBe(b);
    expect(seqMin(a, b)).toBe(a);
    expect(seqInWindow(toSeq(5), a, 0x20)).toBe(true);
    expect(seqInWindow(toSeq(0x10), a, 0x20)).toBe(false);
    expect(toSeq(-1)).toBe(0xffffffff);
    expect(toSeq(2 ** 32 + 3)).toBe(3);
  });

  it('a is before a + n for n in 1..2^31-1, and the order is antisymmetric', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (x, n) => {
        const a = toSeq(x);
        const b = seqAdd(a, n);
        expect(seqLt(a, b)).toBe(true);
        expect(seqLt(b, a)).toBe(false);
        expect(seqGt(b, a)).toBe(true);
        expect(seqDiff(b, a)).toBe(n);
        expect(seqAdd(b, -n)).toBe(a);
      }),
    );
  });

  it('a distance of exactly 2^31: the numerically smaller is before, one way only', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (x) => {
        const a = toSeq(x);
        const b = seqAdd(a, 2 ** 31);
        expect(seqLt(a, b)).toBe(a < b);
        expect(seqLt(b, a)).toBe(b < a);
        expect(seqGt(a, b)).toBe(seqLt(b, a));
        expect(seqLe(a, b)).toBe(!seqGt(a, b));
        expect(seqGe(a, b)).toBe(!seqLt(a, b));
      }),
    );
  });
});

describe('TCP view: parse', () => {
  it('golden: the captured SYN over 127.0.0.1, with its options', () => {
    const pkt = CAPTURES.tcp4Syn.bytes;
    const tcp = ok(TcpSegment.parse(pkt, 20, pkt.length));
    expect(tcp.sourcePort()).toBe(39268);
    expect(tcp.destinationPort()).toBe(40111);
    expect(tcp.seqNumber()).toBe(3844145179);
    expect(tcp.ackNumber()).toBe(0);
    expect(tcp.flags()).toBe(TcpFlag.Syn);
    expect(tcp.hasFlags(TcpFlag.Syn)).toBe(true);
    expect(tcp.hasFlags(TcpFlag.Syn | TcpFlag.Ack)).toBe(false);
    expect(tcp.window()).toBe(65495);
    expect(tcp.headerLength).toBe(40);
    expect(tcp.dataOffset()).toBe(10);
    expect(tcp.payloadLength).toBe(0);
    const o = new TcpOptions();
    expect(tcp.readOptions(o).ok).toBe(true);
    expect(o.mss).toBe(65495);
    expect(o.sackPermitted).toBe(true);
    expect(o.timestampValue()).toBe(863696878);
    expect(o.timestampEcho()).toBe(0);
    expect(o.windowScale).toBe(10);
    expect(o.sackBlockCount).toBe(0);
    // Loopback left a partial checksum; tcpdump computed the correct one: so must we.
    const ip = Ipv4Packet.parse(pkt);
    if (!ip.ok) throw new Error('ip');
    expect(tcp.verifyChecksum(ip.packet.pseudoHeaderSum(6, tcp.length))).toBe(false);
    tcp.fillChecksum(ip.packet.pseudoHeaderSum(6, tcp.length));
    expect(tcp.checksum()).toBe(CAPTURES.tcp4Syn.correctChecksum);
    expect(tcp.verifyChecksum(ip.packet.pseudoHeaderSum(6, tcp.length))).toBe(true);
  });

  it('golden: captured data segments over IPv4 and IPv6 get the checksums tcpdump computed', () => {
    for (const c of [CAPTURES.tcp4Data, CAPTURES.tcp6Data, CAPTURES.tcp6Syn]) {
      const pkt = Uint8Array.from(c.bytes);
      const v4 = pkt[0]! >> 4 === 4;
      const ip = v4 ? Ipv4Packet.parse(pkt) : Ipv6Packet.parse(pkt);
      if (!ip.ok) throw new Error('ip');
      const from = ip.packet.version === 4 ? ip.packet.payloadOffset : ip.packet.upperOffset;
      const tcp = ok(TcpSegment.parse(pkt, from, ip.packet.end));
      tcp.fillChecksum(ip.packet.pseudoHeaderSum(6, tcp.length));
      expect(tcp.checksum()).toBe(c.correctChecksum);
    }
    const data = ok(TcpSegment.parse(CAPTURES.tcp4Data.bytes, 20));
    expect(data.hasFlags(TcpFlag.Psh | TcpFlag.Ack)).toBe(true);
    expect(data.payloadLength).toBe(9);
    expect(String.fromCharCode(...CAPTURES.tcp4Data.bytes.subarray(data.payloadOffset))).toBe('hello nat');
    expect(String.fromCharCode(...data.payload())).toBe('hello nat');
  });

  it('every flag bit, including AE in the data-offset byte', () => {
    for (const f of Object.values(TcpFlag)) {
      const tcp = ok(TcpSegment.parse(tcpSegment({ flags: f })));
      expect(tcp.flags()).toBe(f);
      expect(tcp.dataOffset()).toBe(5);
    }
  });

  it('truncated at every length, bad data offset', () => {
    const seg = tcpSegment({ options: [2, 4, 5, 180, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], payload: [1, 2, 3] });
    const hl = 36;
    for (let n = 0; n < seg.length; n++) {
      const v = TcpSegment.parse(seg, 0, n);
      if (n < hl) {
        expect(v.ok).toBe(false);
        if (!v.ok) expect(v.reason).toBe('truncated');
      } else {
        expect(ok(v).payloadLength).toBe(n - hl);
      }
    }
    for (let doff = 0; doff < 5; doff++) {
      const v = TcpSegment.parse(tcpSegment({ dataOffset: doff }));
      expect(v.ok ? 'ok' : v.reason).toBe('bad-data-offset');
    }
    const over = TcpSegment.parse(tcpSegment({ dataOffset: 15 }));
    expect(over.ok ? 'ok' : over.reason).toBe('truncated');
  });

  it('random bytes never throw; options of any content give a verdict', () => {
    const o = new TcpOptions();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const v = TcpSegment.parse(b);
        if (v.ok) {
          const r = v.segment.readOptions(o);
          if (!r.ok) expect(o.errorOffset).toBeGreaterThanOrEqual(20);
          else expect(o.sackBlockCount).toBeLessThanOrEqual(MAX_SACK_BLOCKS);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('TCP options', () => {
  const read = (opts: number[]): string => {
    const o = new TcpOptions();
    const v = o.read(Uint8Array.from(opts), 0, opts.length);
    return v.ok ? 'ok' : `${v.reason}@${o.errorOffset}`;
  };

  it('reads each known option, skips unknown ones, stops at End of Option List', () => {
    const opts = [1, 2, 4, 5, 0xb4, 30, 4, 0xaa, 0xbb, 4, 2, 3, 3, 7, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0xff, 0xff, 0xff];
    const o = new TcpOptions();
    expect(o.read(Uint8Array.from(opts), 0, opts.length).ok).toBe(true);
    expect(o.mss).toBe(1460);
    expect(o.mssOffset).toBe(3);
    expect(o.sackPermitted).toBe(true);
    expect(o.windowScale).toBe(7);
    expect(o.sackBlockCount).toBe(2);
    expect(o.sackLeft(0)).toBe(1);
    expect(o.sackRight(0)).toBe(2);
    expect(o.sackLeft(1)).toBe(3);
    expect(o.sackRight(1)).toBe(4);
    expect(() => o.sackLeft(2)).toThrow(NatAlgError);
    expect(o.timestampValue()).toBe(-1);
  });

  it('malformed lengths and duplicates give a verdict with the offset', () => {
    expect(read([2])).toBe('bad-option-length@0'); // no length byte
    expect(read([1, 1, 8])).toBe('bad-option-length@2');
    expect(read([2, 0])).toBe('bad-option-length@0'); // length 0 would never advance
    expect(read([2, 1])).toBe('bad-option-length@0');
    expect(read([99, 1, 0, 0])).toBe('bad-option-length@0'); // unknown kind, length < 2
    expect(read([2, 4, 1])).toBe('bad-option-length@0'); // runs past the end
    expect(read([2, 5, 1, 2, 3])).toBe('bad-option-length@0'); // MSS is 4 long
    expect(read([3, 4, 1, 1])).toBe('bad-option-length@0');
    expect(read([4, 3, 0])).toBe('bad-option-length@0');
    expect(read([5, 9, 0, 0, 0, 0, 0, 0, 0])).toBe('bad-option-length@0');
    expect(read([5, 2])).toBe('bad-option-length@0');
    expect(read([8, 8, 0, 0, 0, 0, 0, 0])).toBe('bad-option-length@0');
    expect(read([2, 4, 1, 1, 2, 4, 1, 1])).toBe('duplicate-option@4');
    expect(read([4, 2, 4, 2])).toBe('duplicate-option@2');
    expect(read([5, 10, 0, 0, 0, 0, 0, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0])).toBe('duplicate-option@10');
    expect(read([99, 2, 99, 3, 0, 0])).toBe('ok');
    expect(read([0, 2])).toBe('ok'); // after End of Option List, padding
  });

  it('a malformed length at every position of a real option area gives a verdict, never a hang', () => {
    const base = Array.from(CAPTURES.tcp4Syn.bytes.subarray(40, 60));
    for (let pos = 0; pos < base.length; pos++) {
      for (const value of [0, 1, 2, 3, 4, 9, 10, 11, 19, 20, 21, 40, 255]) {
        const opts = [...base];
        opts[pos] = value;
        const o = new TcpOptions();
        const v = o.read(Uint8Array.from(opts), 0, opts.length);
        if (!v.ok) expect(o.errorOffset).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('emitTcpOptions: the common layout, read back', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
        fc.boolean(),
        fc.option(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { nil: undefined }),
        fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { maxLength: 4 }),
        (mss, ws, sackPermitted, ts, blocks) => {
          const sackBlocks = blocks.map(([l, r]) => [toSeq(l), toSeq(r)] as const);
          const fields = { mss, windowScale: ws, sackPermitted, timestamps: ts, sackBlocks };
          const buf = new Uint8Array(64);
          let n: number;
          try {
            n = emitTcpOptions(buf, 0, fields);
          } catch (e) {
            expect(e).toBeInstanceOf(NatAlgError); // more than 40 bytes asked for
            return;
          }
          expect(n % 4).toBe(0);
          expect(n).toBeLessThanOrEqual(40);
          const o = new TcpOptions();
          expect(o.read(buf, 0, n).ok).toBe(true);
          expect(o.mss).toBe(mss ?? -1);
          expect(o.windowScale).toBe(ws ?? -1);
          expect(o.sackPermitted).toBe(sackPermitted);
          expect(o.timestampValue()).toBe(ts ? ts[0] : -1);
          expect(o.timestampEcho()).toBe(ts ? ts[1] : -1);
          expect(o.sackBlockCount).toBe(blocks.length);
          blocks.forEach(([l, r], i) => {
            expect(o.sackLeft(i)).toBe(l);
            expect(o.sackRight(i)).toBe(r);
          });
        },
      ),
    );
  });

  it('emitTcpOptions reproduces the captured SYN options byte for byte', () => {
    const buf = new Uint8Array(40);
    const n = emitTcpOptions(buf, 0, { mss: 65495, sackPermitted: true, timestamps: [863696878, 0], windowScale: 10 });
    expect(Array.from(buf.subarray(0, n))).toEqual(Array.from(CAPTURES.tcp4Syn.bytes.subarray(40, 60)));
  });
});

describe('TCP setters keep the checksum equal to a full recomputation', () => {
  type Edit =
    | { f: 'sport' | 'dport' | 'window'; v: number }
    | { f: 'seq' | 'ack'; v: number }
    | { f: 'sack'; i: number; l: number; r: number }
    | { f: 'mss'; v: number }
    | { f: 'src' | 'dst'; v: number };
  const edit: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({ f: fc.constantFrom('sport' as const, 'dport' as const, 'window' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ f: fc.constantFrom('seq' as const, 'ack' as const), v: fc.nat({ max: 0xffffffff }) }),
    fc.record({ f: fc.constant('sack' as const), i: fc.nat(3), l: fc.nat({ max: 0xffffffff }), r: fc.nat({ max: 0xffffffff }) }),
    fc.record({ f: fc.constant('mss' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ f: fc.constantFrom('src' as const, 'dst' as const), v: fc.nat({ max: 0xffffffff }) }),
  );

  function apply(tcp: TcpSegment, ip4: Ipv4Packet | null, ip6: Ipv6Packet | null, o: TcpOptions, e: Edit): void {
    switch (e.f) {
      case 'sport':
        return tcp.setSourcePort(e.v);
      case 'dport':
        return tcp.setDestinationPort(e.v);
      case 'window':
        return tcp.setWindow(e.v);
      case 'seq':
        return tcp.setSeqNumber(toSeq(e.v));
      case 'ack':
        return tcp.setAckNumber(toSeq(e.v));
      case 'sack':
        if (e.i < o.sackBlockCount) tcp.setSackBlock(o, e.i, toSeq(e.l), toSeq(e.r));
        return;
      case 'mss':
        if (o.mssOffset >= 0) tcp.setMss(o, e.v);
        return;
      case 'src':
      case 'dst': {
        if (ip4) {
          const old = e.f === 'src' ? ip4.sourceAddress() : ip4.destinationAddress();
          tcp.adjustChecksum32(old, e.v);
          if (e.f === 'src') ip4.setSourceAddress(e.v);
          else ip4.setDestinationAddress(e.v);
        } else if (ip6) {
          const addr = new Uint8Array(16);
          for (let k = 0; k < 16; k++) addr[k] = (e.v >>> (k % 4) * 8) & 0xff;
          const at = e.f === 'src' ? ip6.sourceOffset : ip6.destinationOffset;
          tcp.adjustChecksumBytes(ip6.bytes, at, addr, 0, 16);
          if (e.f === 'src') ip6.setSource(addr);
          else ip6.setDestination(addr);
        }
        return;
      }
    }
  }

  // Option layouts: SACK blocks 4-aligned after two NOPs, and at an odd offset after one NOP
  // (their words then sum byte-swapped).
  const layouts: number[][] = [
    [2, 4, 5, 0xb4, 1, 1, 5, 18, ...new Array<number>(16).fill(0x11)],
    [1, 5, 26, ...new Array<number>(24).fill(0x22), 2, 4, 0x05, 0xdc, 0],
    [1, 1, 1, 2, 4, 0x01, 0x00, 5, 26, ...new Array<number>(24).fill(0x33)],
    [],
  ];

  it('over IPv4 and IPv6, aligned and odd-aligned options, any sequence of edits', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(layouts.length - 1), fc.uint8Array({ maxLength: 40 }), fc.array(edit, { minLength: 1, maxLength: 8 }), (isV6, li, payload, edits) => {
        const options = layouts[li]!;
        const seg = tcpSegment({ options, payload });
        const pkt = isV6 ? ipv6Packet({ proto: 6, ext: [{ type: 60 }], payload: seg }) : ipv4Packet({ proto: 6, payload: seg });
        const ip4 = new Ipv4Packet();
        const ip6 = new Ipv6Packet();
        const ipOk = isV6 ? ip6.check(pkt).ok : ip4.check(pkt).ok;
        expect(ipOk).toBe(true);
        const from = isV6 ? ip6.upperOffset : ip4.payloadOffset;
        const tcp = ok(TcpSegment.parse(pkt, from, isV6 ? ip6.end : ip4.end));
        const o = new TcpOptions();
        expect(tcp.readOptions(o).ok).toBe(true);
        const naive = (): number => (isV6 ? naiveTcp6(pkt, from) : naiveTcp4(pkt));
        expect(tcp.checksum()).toBe(naive());
        for (const e of edits) {
          apply(tcp, isV6 ? null : ip4, isV6 ? ip6 : null, o, e);
          expect(tcp.checksum()).toBe(naive());
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('the layouts do put SACK blocks at odd offsets', () => {
    const o = new TcpOptions();
    const seg = tcpSegment({ options: layouts[1]! });
    ok(TcpSegment.parse(seg)).readOptions(o);
    expect(o.sackOffset % 2).toBe(1);
    expect(o.mssOffset % 2).toBe(1);
  });

  it('setters refuse options read from another segment, absent options, bad values', () => {
    const a = ok(TcpSegment.parse(tcpSegment({ options: [2, 4, 5, 0xb4, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2] })));
    const b = ok(TcpSegment.parse(tcpSegment({ options: [2, 4, 5, 0xb4, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2] })));
    const o = new TcpOptions();
    a.readOptions(o);
    expect(() => b.setSackBlock(o, 0, toSeq(1), toSeq(2))).toThrow(NatAlgError);
    expect(() => a.setSackBlock(o, 1, toSeq(1), toSeq(2))).toThrow(NatAlgError);
    a.setSackBlock(o, 0, toSeq(7), toSeq(9));
    expect(o.sackLeft(0)).toBe(7);
    const noMss = ok(TcpSegment.parse(tcpSegment({})));
    noMss.readOptions(o);
    expect(() => noMss.setMss(o, 1200)).toThrow(NatAlgError);
    expect(() => noMss.setSourcePort(65536)).toThrow(NatAlgError);
    expect(() => new TcpSegment().setSourcePort(1)).toThrow(NatAlgError);
  });

  it('a NAT rewrite of a captured segment: source address and port, then verified by the naive sum', () => {
    const pkt = Uint8Array.from(CAPTURES.tcp4Data.bytes);
    const ip = new Ipv4Packet();
    expect(ip.check(pkt).ok).toBe(true);
    const tcp = ok(TcpSegment.parse(pkt, ip.payloadOffset, ip.end));
    tcp.fillChecksum(ip.pseudoHeaderSum(6, tcp.length)); // undo loopback's partial sum first
    const newAddr = v4num('203.0.113.77');
    tcp.adjustChecksum32(ip.sourceAddress(), newAddr);
    ip.setSourceAddress(newAddr);
    tcp.setSourcePort(61000);
    expect(tcp.checksum()).toBe(naiveTcp4(pkt));
    expect(naiveChecksum(pkt.subarray(0, 20))).toBe(0);
  });
});

describe('TCP emit and round trip', () => {
  it('parse -> fields -> emit gives the header back', () => {
    fc.assert(
      fc.property(
        fc.record({
          sport: fc.integer({ min: 0, max: 0xffff }),
          dport: fc.integer({ min: 0, max: 0xffff }),
          seq: fc.nat({ max: 0xffffffff }),
          ack: fc.nat({ max: 0xffffffff }),
          flags: fc.integer({ min: 0, max: 0x1ff }),
          window: fc.integer({ min: 0, max: 0xffff }),
          urgent: fc.integer({ min: 0, max: 0xffff }),
          options: fc.uint8Array({ maxLength: 40 }).map((o) => Array.from(o.subarray(0, o.length - (o.length % 4)))),
        }),
        (r) => {
          const seg = tcpSegment(r);
          const t = ok(TcpSegment.parse(seg));
          const out = new Uint8Array(t.headerLength);
          expect(emitTcpHeader(out, 0, readTcpHeaderFields(t))).toBe(t.headerLength);
          expect(Array.from(out)).toEqual(Array.from(seg.subarray(0, t.headerLength)));
        },
      ),
    );
  });

  it('emitter misuse throws', () => {
    const f = { sourcePort: 1, destinationPort: 2, seqNumber: toSeq(0), ackNumber: toSeq(0), flags: TcpFlag.Syn, window: 1 };
    expect(() => emitTcpHeader(new Uint8Array(19), 0, f)).toThrow(NatAlgError);
    expect(() => emitTcpHeader(new Uint8Array(20), 0, { ...f, flags: 0x200 })).toThrow(NatAlgError);
    expect(() => emitTcpHeader(new Uint8Array(30), 0, { ...f, options: new Uint8Array(5) })).toThrow(NatAlgError);
    expect(() => emitTcpOptions(new Uint8Array(64), 0, { sackBlocks: new Array(5).fill([toSeq(1), toSeq(2)]) })).toThrow(NatAlgError);
  });
});
