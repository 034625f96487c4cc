import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { REASSEMBLY_DEFAULTS, Reassembler, type FragmentVerdict } from '../../src/core/packet/fragments.js';
import { parsePacket } from '../../src/core/packet/packet.js';
import { concat, fragmentIpv4, fragmentIpv6, ipv4Packet, ipv6Packet, naiveSum, patternBytes, put16, tcpSegment, u16, udpDatagram } from './builders.js';

function status(v: FragmentVerdict): string {
  return v.ok ? v.status : v.reason;
}
function packetOf(v: FragmentVerdict): Uint8Array {
  if (!v.ok || v.status !== 'complete') throw new Error(`not complete: ${status(v)}`);
  return v.packet;
}

/** Feed fragments; expect pending for all but the last, and return the last verdict. */
function feed(r: Reassembler, frags: Uint8Array[], now = 0): FragmentVerdict {
  let last: FragmentVerdict | null = null;
  frags.forEach((f, i) => {
    last = r.handleFragment(f, now);
    if (i < frags.length - 1) expect(status(last)).toBe('pending');
  });
  if (last === null) throw new Error('no fragments');
  return last;
}

const big4 = ipv4Packet({ proto: 17, payload: udpDatagram(4000, 53, patternBytes(3000, 7)), id: 0x4242, df: false, options: [0x94, 4, 0, 0] });
const big6 = ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 60, length: 16 }], payload: tcpSegment({ payload: patternBytes(2500, 9) }) });

describe('IPv4 reassembly', () => {
  it('in order, reversed and in random order, the packet comes back byte for byte', () => {
    const frags = fragmentIpv4(big4, 1480);
    expect(frags.length).toBe(3);
    expect(Array.from(packetOf(feed(new Reassembler(), frags)))).toEqual(Array.from(big4));
    expect(Array.from(packetOf(feed(new Reassembler(), [...frags].reverse())))).toEqual(Array.from(big4));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }).map((n) => n * 8), fc.infiniteStream(fc.nat()), (size, rnd) => {
        const fs = fragmentIpv4(big4, size);
        const order = fs.map((f, i) => ({ f, k: rnd.next().value as number, i })).sort((a, b) => a.k - b.k || a.i - b.i);
        const r = new Reassembler({ maxFragmentsPerDatagram: 400 });
        const out = packetOf(feed(r, order.map((o) => o.f)));
        expect(Array.from(out)).toEqual(Array.from(big4));
        expect(r.stats()).toMatchObject({ datagrams: 0, bufferedBytes: 0, completed: 1 });
      }),
      { numRuns: 60 },
    );
  });

  it('the reassembled header: MF clear, offset 0, total length, checksum correct; DF kept', () => {
    const df = ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(100)), df: true });
    const out = packetOf(feed(new Reassembler(), fragmentIpv4(df, 48)));
    expect(u16(out, 2)).toBe(out.length);
    expect(u16(out, 6)).toBe(0x4000);
    expect(naiveSum(out.subarray(0, 20))).toBe(0xffff);
    expect(parsePacket(out, { verifyChecksums: true }).ok).toBe(true);
  });

  it('duplicates are ignored; identical overlaps fill only the gaps', () => {
    const frags = fragmentIpv4(big4, 1000);
    const r = new Reassembler();
    expect(status(r.handleFragment(frags[0]!, 0))).toBe('pending');
    expect(status(r.handleFragment(frags[0]!, 1))).toBe('pending');
    // A re-fragmentation of the same data along another path: overlaps both sides.
    const other = fragmentIpv4(big4, 1480);
    expect(status(r.handleFragment(other[1]!, 2))).toBe('pending');
    expect(r.stats().duplicates).toBe(1);
    let v: FragmentVerdict = r.handleFragment(frags[1]!, 3);
    for (const f of frags.slice(2)) v = r.handleFragment(f, 4);
    expect(Array.from(packetOf(v))).toEqual(Array.from(big4));
  });

  it('a conflicting overlap discards the datagram, and its later fragments', () => {
    const frags = fragmentIpv4(big4, 1480);
    const evil = Uint8Array.from(frags[1]!);
    evil[evil.length - 1] = evil[evil.length - 1]! ^ 0xff;
    const r = new Reassembler();
    r.handleFragment(frags[0]!, 0);
    r.handleFragment(frags[1]!, 0);
    expect(status(r.handleFragment(evil, 0))).toBe('overlap');
    expect(status(r.handleFragment(frags[2]!, 0))).toBe('datagram-discarded');
    expect(r.stats()).toMatchObject({ discarded: 1, bufferedBytes: 0, datagrams: 1 });
    // After its timeout the key is free again.
    r.handleTimeout(REASSEMBLY_DEFAULTS.ipv4TimeoutMs);
    expect(r.stats().datagrams).toBe(0);
    expect(Array.from(packetOf(feed(r, frags, 40_000)))).toEqual(Array.from(big4));
  });

  it('a missing last fragment times out, with an event carrying the first fragment', () => {
    const frags = fragmentIpv4(big4, 1480);
    const r = new Reassembler({ ipv4TimeoutMs: 1000 });
    expect(r.pollTimeout()).toBe(null);
    r.handleFragment(frags[0]!, 500);
    r.handleFragment(frags[1]!, 900);
    expect(r.pollTimeout()).toBe(1500); // from the first fragment; later ones do not extend it
    r.handleTimeout(1499);
    expect(r.stats().datagrams).toBe(1);
    r.handleTimeout(1500);
    expect(r.stats()).toMatchObject({ datagrams: 0, timedOut: 1, bufferedBytes: 0 });
    expect(r.pollTimeout()).toBe(null);
    const e = r.pollEvent();
    expect(e?.type).toBe('reassembly-timeout');
    expect(e?.version).toBe(4);
    // The first fragment's header as received and up to 548 bytes of its data.
    expect(Array.from(e!.firstFragment.subarray(0, 24))).toEqual(Array.from(frags[0]!.subarray(0, 24)));
    expect(e!.firstFragment.length).toBe(24 + 548);
    expect(r.pollEvent()).toBe(null);
  });

  it('no event when the first fragment never came; a late fragment after the deadline starts afresh', () => {
    const frags = fragmentIpv4(big4, 1480);
    const r = new Reassembler({ ipv4TimeoutMs: 1000 });
    r.handleFragment(frags[1]!, 0);
    r.handleTimeout(2000);
    expect(r.pollEvent()).toBe(null);
    r.handleFragment(frags[0]!, 0);
    // Its deadline passed without handleTimeout: the old datagram is dropped on arrival of the next.
    expect(status(r.handleFragment(frags[1]!, 5000))).toBe('pending');
    expect(r.stats().timedOut).toBe(2);
    expect(r.pollEvent()?.type).toBe('reassembly-timeout');
  });

  it('memory bound: the oldest datagram is dropped first, the bound is never exceeded', () => {
    const max = 4000;
    const r = new Reassembler({ maxBufferedBytes: max });
    const packets = [1, 2, 3].map((id) => ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(2000, id)), id }));
    const fr = packets.map((p) => fragmentIpv4(p, 1000));
    r.handleFragment(fr[0]![0]!, 0);
    r.handleFragment(fr[1]![0]!, 1);
    r.handleFragment(fr[2]![0]!, 2);
    expect(r.stats().bufferedBytes).toBeLessThanOrEqual(max);
    r.handleFragment(fr[2]![1]!, 3); // 4060 bytes would be held: the oldest (1) goes
    expect(r.stats()).toMatchObject({ evicted: 1, datagrams: 2 });
    expect(r.stats().bufferedBytes).toBeLessThanOrEqual(max);
    expect(Array.from(packetOf(r.handleFragment(fr[2]![2]!, 4)))).toEqual(Array.from(packets[2]!));
    expect(Array.from(packetOf(feed(r, fr[1]!.slice(1), 5)))).toEqual(Array.from(packets[1]!));
    expect(status(feed(r, fr[0]!.slice(1), 6))).toBe('pending'); // its first fragment was dropped
    expect(r.stats().bufferedBytes).toBeLessThanOrEqual(max);
    // A datagram larger than the whole bound cannot be held.
    const tiny = new Reassembler({ maxBufferedBytes: 100 });
    expect(status(tiny.handleFragment(fr[0]![0]!, 0))).toBe('memory-limit');
  });

  it('datagram bound: the oldest goes first', () => {
    const r = new Reassembler({ maxDatagrams: 2 });
    const frag = (id: number) => fragmentIpv4(ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(40, id)), id }), 16);
    const a = frag(1);
    const b = frag(2);
    const c = frag(3);
    r.handleFragment(a[0]!, 0);
    r.handleFragment(b[0]!, 1);
    r.handleFragment(c[0]!, 2);
    expect(r.stats()).toMatchObject({ datagrams: 2, evicted: 1 });
    expect(status(feed(r, a.slice(1), 3))).toBe('pending'); // a's first fragment was evicted
    expect(r.stats().evicted).toBe(2);
  });

  it('oversize, bad lengths, inconsistent ends, too many fragments, whole packets', () => {
    const r = new Reassembler({ maxFragmentsPerDatagram: 4 });
    const oversize = ipv4Packet({ proto: 17, payload: new Uint8Array(16), offset: 65520, mf: false, transportChecksum: false });
    expect(status(r.handleFragment(oversize, 0))).toBe('oversize');
    const odd = ipv4Packet({ proto: 17, payload: new Uint8Array(15), mf: true, transportChecksum: false });
    expect(status(r.handleFragment(odd, 0))).toBe('bad-fragment-length');
    const empty = ipv4Packet({ proto: 17, payload: [], mf: true, offset: 8, transportChecksum: false });
    expect(status(r.handleFragment(empty, 0))).toBe('bad-fragment-length');
    expect(status(r.handleFragment(ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, []) }), 0))).toBe('not-a-fragment');
    expect(status(r.handleFragment(new Uint8Array(5), 0))).toBe('truncated');
    const v7 = new Uint8Array(20);
    v7[0] = 0x75;
    expect(status(r.handleFragment(v7, 0))).toBe('bad-version');
    // Two last fragments that disagree; data past a known end.
    const p = ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(40)), id: 9 });
    const fs = fragmentIpv4(p, 16);
    const last = fs[fs.length - 1]!;
    const otherLast = ipv4Packet({ proto: 17, payload: new Uint8Array(8), offset: 16, id: 9, transportChecksum: false });
    r.handleFragment(last, 0);
    expect(status(r.handleFragment(otherLast, 0))).toBe('inconsistent-length');
    const r2 = new Reassembler();
    r2.handleFragment(last, 0);
    const beyond = ipv4Packet({ proto: 17, payload: new Uint8Array(16), offset: 48, mf: true, id: 9, transportChecksum: false });
    expect(status(r2.handleFragment(beyond, 0))).toBe('inconsistent-length');
    // Too many pieces.
    const r3 = new Reassembler({ maxFragmentsPerDatagram: 4 });
    const many = fragmentIpv4(ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(100)), id: 5 }), 8);
    let v: FragmentVerdict = r3.handleFragment(many[0]!, 0);
    for (let i = 1; i < 5; i++) v = r3.handleFragment(many[i]!, 0);
    expect(status(v)).toBe('too-many-fragments');
  });

  it('verifies fragment header checksums when asked', () => {
    const frags = fragmentIpv4(big4, 1480);
    const bad = Uint8Array.from(frags[0]!);
    bad[8] = bad[8]! ^ 1;
    expect(status(new Reassembler({ verifyChecksums: true }).handleFragment(bad, 0))).toBe('bad-header-checksum');
    expect(status(new Reassembler().handleFragment(bad, 0))).toBe('pending');
  });

  it('the largest datagram reassembles (65535 bytes); the fragment that would pass it is refused', () => {
    const max = ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(65535 - 28, 3)) });
    expect(max.length).toBe(65535);
    const r = new Reassembler();
    expect(Array.from(packetOf(feed(r, fragmentIpv4(max, 8 * 1000))))).toEqual(Array.from(max));
    const past = ipv4Packet({ proto: 17, payload: new Uint8Array(16), offset: 65512, transportChecksum: false });
    expect(status(r.handleFragment(past, 0))).toBe('oversize');
  });

  it('fragments in a larger buffer, and the caller reusing its buffer afterwards', () => {
    const frags = fragmentIpv4(big4, 1480);
    const r = new Reassembler();
    const buf = new Uint8Array(2000);
    let v: FragmentVerdict | null = null;
    for (const f of frags) {
      buf.fill(0xee);
      buf.set(f, 100);
      v = r.handleFragment(buf, 0, 100, 100 + f.length);
    }
    expect(Array.from(packetOf(v!))).toEqual(Array.from(big4));
  });
});

describe('IPv6 reassembly', () => {
  it('any order, with unfragmentable extension headers: byte for byte', () => {
    const frags = fragmentIpv6(big6, 24, 1232, 0x11223344);
    expect(frags.length).toBe(3);
    expect(Array.from(packetOf(feed(new Reassembler(), frags)))).toEqual(Array.from(big6));
    expect(Array.from(packetOf(feed(new Reassembler(), [...frags].reverse())))).toEqual(Array.from(big6));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }).map((n) => n * 8), fc.infiniteStream(fc.nat()), fc.boolean(), (size, rnd, keepExt) => {
        const fs = fragmentIpv6(big6, keepExt ? 24 : 0, size, 7);
        const order = fs.map((f, i) => ({ f, k: rnd.next().value as number, i })).sort((a, b) => a.k - b.k || a.i - b.i);
        const out = packetOf(feed(new Reassembler({ maxFragmentsPerDatagram: 400 }), order.map((o) => o.f)));
        expect(Array.from(out)).toEqual(Array.from(big6));
      }),
      { numRuns: 60 },
    );
  });

  it('RFC 5722: any overlap discards the datagram; an exact duplicate does not', () => {
    const frags = fragmentIpv6(big6, 0, 1000, 1);
    const r = new Reassembler();
    r.handleFragment(frags[0]!, 0);
    expect(status(r.handleFragment(frags[0]!, 0))).toBe('pending');
    expect(r.stats().duplicates).toBe(1);
    // An identical-content overlap is still an overlap for IPv6.
    const shifted = fragmentIpv6(big6, 0, 504, 1)[1]!; // [504, 1008) overlaps [0, 1000)
    expect(status(r.handleFragment(shifted, 0))).toBe('overlap');
    expect(status(r.handleFragment(frags[1]!, 0))).toBe('datagram-discarded');
    // Same range, different bytes: overlap too.
    const r2 = new Reassembler();
    r2.handleFragment(frags[0]!, 0);
    const changed = Uint8Array.from(frags[0]!);
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 1;
    expect(status(r2.handleFragment(changed, 0))).toBe('overlap');
  });

  it('times out after 60 s by default; the event holds the first fragment', () => {
    const frags = fragmentIpv6(big6, 24, 1232, 5);
    const r = new Reassembler();
    r.handleFragment(frags[0]!, 10);
    expect(r.pollTimeout()).toBe(60_010);
    r.handleTimeout(60_010);
    const e = r.pollEvent();
    expect(e?.version).toBe(6);
    expect(Array.from(e!.firstFragment)).toEqual(Array.from(frags[0]!.subarray(0, 40 + 24 + 8 + 1232)));
  });

  it('keyed by addresses and identification: interleaved datagrams stay apart', () => {
    const a = fragmentIpv6(big6, 0, 800, 1);
    const b = fragmentIpv6(big6, 0, 800, 2);
    const other = ipv6Packet({ src: '2001:db8::99', proto: 6, payload: tcpSegment({ payload: patternBytes(2000, 4) }) });
    const c = fragmentIpv6(other, 0, 800, 1);
    const r = new Reassembler();
    const done: Uint8Array[] = [];
    for (let i = 0; i < Math.max(a.length, b.length, c.length); i++) {
      for (const fs of [a, b, c]) {
        const f = fs[i];
        if (!f) continue;
        const v = r.handleFragment(f, 0);
        if (v.ok && v.status === 'complete') done.push(v.packet);
      }
    }
    expect(done.length).toBe(3);
    expect(done.filter((d) => d.length === big6.length).length).toBe(2);
    expect(Array.from(done.find((d) => d.length === other.length)!)).toEqual(Array.from(other));
  });

  it('atomic fragments and packets without a Fragment header are not fragments; oversize refused', () => {
    const r = new Reassembler();
    expect(status(r.handleFragment(ipv6Packet({ proto: 6, ext: [{ type: 44 }], payload: tcpSegment({}) }), 0))).toBe('not-a-fragment');
    expect(status(r.handleFragment(big6, 0))).toBe('not-a-fragment');
    const past = ipv6Packet({ proto: 6, ext: [{ type: 60 }, { type: 44, offset: 65528, more: false }], payload: new Uint8Array(8) });
    expect(status(r.handleFragment(past, 0))).toBe('oversize');
    const odd = ipv6Packet({ proto: 6, ext: [{ type: 44, offset: 0, more: true }], payload: new Uint8Array(12) });
    expect(status(r.handleFragment(odd, 0))).toBe('bad-fragment-length');
  });

  it('the largest payload reassembles (65535), with a header chain bound applied to fragments', () => {
    const inner = tcpSegment({ payload: patternBytes(65535 - 20 - 8, 11) });
    const max = ipv6Packet({ proto: 6, ext: [{ type: 60 }], payload: inner });
    expect(u16(max, 4)).toBe(65535);
    const frags = fragmentIpv6(max, 8, 8 * 1000, 3);
    expect(Array.from(packetOf(feed(new Reassembler(), frags)))).toEqual(Array.from(max));
    const deep = ipv6Packet({ proto: 6, ext: [{ type: 60 }, { type: 60 }, { type: 44, offset: 8, more: true }], payload: new Uint8Array(8) });
    expect(status(new Reassembler({ maxExtensionHeaders: 2 }).handleFragment(deep, 0))).toBe('too-many-extension-headers');
  });
});

describe('Reassembler options', () => {
  it('bad options throw', () => {
    expect(() => new Reassembler({ maxBufferedBytes: 0 })).toThrow(NatAlgError);
    expect(() => new Reassembler({ ipv4TimeoutMs: 1.5 })).toThrow(NatAlgError);
    expect(() => new Reassembler({ maxExtensionBytes: -1 })).toThrow(NatAlgError);
  });

  it('a hostile flood: bounded memory and datagrams, no throw, legit traffic completes', () => {
    const r = new Reassembler({ maxBufferedBytes: 64 * 1024, maxDatagrams: 64 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ id: fc.integer({ min: 0, max: 200 }), offset: fc.integer({ min: 0, max: 8190 }), len: fc.integer({ min: 0, max: 1500 }), mf: fc.boolean(), v6: fc.boolean(), seed: fc.nat() }),
          { maxLength: 50 },
        ),
        (frags) => {
          for (const f of frags) {
            const data = patternBytes(f.len, f.seed);
            const bytes = f.v6
              ? ipv6Packet({ proto: 17, ext: [{ type: 44, offset: f.offset * 8, more: f.mf, id: f.id }], payload: data })
              : ipv4Packet({ proto: 17, payload: data, offset: f.offset * 8, mf: f.mf, id: f.id, transportChecksum: false });
            r.handleFragment(bytes, 0);
            const s = r.stats();
            expect(s.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
            expect(s.datagrams).toBeLessThanOrEqual(64);
          }
          const legit = ipv4Packet({ proto: 17, payload: udpDatagram(1, 2, patternBytes(3000, 1)), id: 60000 });
          expect(Array.from(packetOf(feed(r, fragmentIpv4(legit, 1480))))).toEqual(Array.from(legit));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('the checksum of an assembled IPv4 header is filled even when the first fragment had none', () => {
    const frags = fragmentIpv4(big4, 1480);
    const first = Uint8Array.from(frags[0]!);
    put16(first, 10, 0);
    const out = packetOf(feed(new Reassembler(), [first, ...frags.slice(1)]));
    expect(naiveSum(out.subarray(0, 24))).toBe(0xffff);
    expect(Array.from(out)).toEqual(Array.from(big4));
    expect(concat(out).length).toBe(big4.length);
  });
});
