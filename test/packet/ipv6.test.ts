import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import { Ipv6Packet, emitIpv6Header, readIpv6HeaderFields, type Ipv6Verdict } from '../../src/core/packet/ipv6.js';
import { DEFAULT_IPV6_LIMITS, ipv6Limits } from '../../src/core/packet/ipv6-extensions.js';
import { isIpv6ExtensionHeader } from '../../src/core/packet/ip-protocol.js';
import { CAPTURES } from './captures.js';
import { ipv6Packet, naiveSum, pseudo6, tcpSegment, v6, type ExtSpec } from './builders.js';

function ok(v: Ipv6Verdict): Ipv6Packet {
  if (!v.ok) throw new Error(`expected ok, got ${v.reason}`);
  return v.packet;
}
function reason(v: Ipv6Verdict): string {
  return v.ok ? 'ok' : v.reason;
}

const seg = tcpSegment({ sport: 1234, dport: 443, payload: [1, 2, 3] });

describe('IPv6 view: fixed header', () => {
  it('reads every field', () => {
    const bytes = ipv6Packet({ src: '2001:db8::1', dst: 'fe80::2', proto: 6, payload: seg, hopLimit: 9, trafficClass: 0xa5, flowLabel: 0x12345 });
    const p = ok(Ipv6Packet.parse(bytes));
    expect(p.version).toBe(6);
    expect(p.payloadLength).toBe(seg.length);
    expect(p.end).toBe(40 + seg.length);
    expect(p.nextHeader()).toBe(6);
    expect(p.hopLimit()).toBe(9);
    expect(p.trafficClass()).toBe(0xa5);
    expect(p.flowLabel()).toBe(0x12345);
    expect(p.sourceText()).toBe('2001:db8::1');
    expect(Array.from(p.sourceBytes())).toEqual(Array.from(v6('2001:db8::1')));
    expect(Array.from(p.destinationBytes())).toEqual(Array.from(v6('fe80::2')));
    expect(p.destinationText()).toBe('fe80::2');
    expect(p.sourceOffset).toBe(8);
    expect(p.destinationOffset).toBe(24);
    expect(p.upperProtocol).toBe(6);
    expect(p.upperOffset).toBe(40);
    expect(p.upperLength).toBe(seg.length);
    expect(p.extensionHeaderCount).toBe(0);
    expect(p.hasFragmentHeader()).toBe(false);
    expect(p.isFragment()).toBe(false);
    expect(p.fragmentOffset()).toBe(0);
    expect(p.fragmentIdentification()).toBe(0);
  });

  it('golden: captured TCP SYN over ::1 and ICMPv6 echo reply', () => {
    const syn = ok(Ipv6Packet.parse(CAPTURES.tcp6Syn.bytes));
    expect(syn.flowLabel()).toBe(0xcb6a2);
    expect(syn.hopLimit()).toBe(64);
    expect(syn.upperProtocol).toBe(6);
    expect(syn.upperLength).toBe(40);
    expect(syn.sourceText()).toBe('::1');
    const echo = CAPTURES.icmp6EchoReply.bytes;
    const p = ok(Ipv6Packet.parse(echo));
    expect(p.upperProtocol).toBe(58);
    expect(p.flowLabel()).toBe(0x4a61d);
    // The captured checksum verifies with the pseudo-header (naive sum).
    expect(naiveSum([...pseudo6(echo.subarray(8, 24), echo.subarray(24, 40), 58, 16), ...echo.subarray(40)])).toBe(0xffff);
  });

  it('trailing bytes after the payload are not part of the packet', () => {
    const bytes = ipv6Packet({ proto: 17, payload: [1, 2, 3, 4, 5, 6, 7, 8], trailing: 6 });
    const p = ok(Ipv6Packet.parse(bytes));
    expect(p.end).toBe(48);
    expect(p.upperLength).toBe(8);
  });

  it('payload length 0: a jumbogram with Hop-by-Hop next, else an empty payload', () => {
    expect(reason(Ipv6Packet.parse(ipv6Packet({ proto: 59, ext: [{ type: 0 }], payload: [], payloadLength: 0 })))).toBe('jumbogram');
    const empty = ok(Ipv6Packet.parse(ipv6Packet({ proto: 59, payload: [] })));
    expect(empty.upperProtocol).toBe(59);
    expect(empty.upperLength).toBe(0);
    const padded = ok(Ipv6Packet.parse(ipv6Packet({ proto: 59, payload: [], trailing: 6 })));
    expect(padded.end).toBe(40);
  });

  it('truncated at every length; wrong version', () => {
    const bytes = ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 60, length: 16 }], payload: seg });
    for (let n = 0; n < bytes.length; n++) expect(reason(Ipv6Packet.parse(bytes, 0, n))).toBe('truncated');
    expect(reason(Ipv6Packet.parse(bytes))).toBe('ok');
    const v4 = Uint8Array.from(bytes);
    v4[0] = 0x45;
    expect(reason(Ipv6Packet.parse(v4))).toBe('bad-version');
  });

  it('payload length beyond the bytes present is truncated; an extension header beyond the payload too', () => {
    const bytes = ipv6Packet({ proto: 6, payload: seg, payloadLength: seg.length + 1 });
    expect(reason(Ipv6Packet.parse(bytes))).toBe('truncated');
    // The Destination Options header claims 16 bytes, Payload Length gives it 8: truncated, even
    // though the buffer holds more (trailing bytes are not the packet's).
    const chained = ipv6Packet({ proto: 59, ext: [{ type: 60, length: 16 }], payload: [], payloadLength: 8 });
    expect(reason(Ipv6Packet.parse(chained))).toBe('truncated');
  });

  it('random bytes never throw; an ok verdict keeps its offsets in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.integer({ min: 0, max: 3 }), (rest, headers) => {
        const b = Uint8Array.from(rest);
        if (b.length > 0) b[0] = 0x60 | (b[0]! & 0x0f);
        const v = Ipv6Packet.parse(b, 0, b.length, { maxExtensionHeaders: headers, maxExtensionBytes: 64 });
        if (v.ok) {
          expect(v.packet.upperOffset).toBeLessThanOrEqual(v.packet.end);
          expect(v.packet.end).toBeLessThanOrEqual(b.length);
          expect(v.packet.extensionHeaderCount).toBeLessThanOrEqual(headers);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('IPv6 extension headers', () => {
  it('walks hop-by-hop, routing, destination options, AH and mobility to the upper layer', () => {
    const ext: ExtSpec[] = [{ type: 0 }, { type: 60, length: 24 }, { type: 43, length: 24 }, { type: 51, length: 16 }, { type: 135 }, { type: 60 }];
    const bytes = ipv6Packet({ proto: 6, ext, payload: seg });
    const p = ok(Ipv6Packet.parse(bytes));
    expect(p.extensionHeaderCount).toBe(6);
    expect(p.upperProtocol).toBe(6);
    expect(p.upperOffset).toBe(40 + 8 + 24 + 24 + 16 + 8 + 8);
    expect(p.upperLength).toBe(seg.length);
    expect(p.nextHeader()).toBe(0);
  });

  it('ESP and unknown protocols end the walk (they are the upper layer)', () => {
    const esp = ok(Ipv6Packet.parse(ipv6Packet({ proto: 50, ext: [{ type: 60 }], payload: [1, 2, 3, 4] })));
    expect(esp.upperProtocol).toBe(50);
    expect(esp.upperOffset).toBe(48);
    expect(isIpv6ExtensionHeader(50)).toBe(false);
    expect(isIpv6ExtensionHeader(253)).toBe(false);
  });

  it('a fragment header: a real fragment stops the walk, an atomic fragment does not', () => {
    const frag = ok(Ipv6Packet.parse(ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 44, offset: 1232, more: true, id: 0xdeadbeef }], payload: new Uint8Array(16) })));
    expect(frag.isFragment()).toBe(true);
    expect(frag.hasFragmentHeader()).toBe(true);
    expect(frag.fragmentOffset()).toBe(1232);
    expect(frag.moreFragments()).toBe(true);
    expect(frag.fragmentIdentification()).toBe(0xdeadbeef);
    expect(frag.fragmentHeaderOffset).toBe(48);
    expect(frag.fragmentLinkOffset).toBe(40); // the Hop-by-Hop header's Next Header names it
    expect(frag.upperProtocol).toBe(6);
    expect(frag.upperOffset).toBe(56);

    const first = ok(Ipv6Packet.parse(ipv6Packet({ proto: 17, ext: [{ type: 44, offset: 0, more: true }], payload: new Uint8Array(16) })));
    expect(first.isFragment()).toBe(true);
    expect(first.fragmentLinkOffset).toBe(6);

    const atomic = ok(Ipv6Packet.parse(ipv6Packet({ proto: 6, ext: [{ type: 44, offset: 0, more: false }, { type: 60 }], payload: seg })));
    expect(atomic.isFragment()).toBe(false);
    expect(atomic.hasFragmentHeader()).toBe(true);
    expect(atomic.upperProtocol).toBe(6);
    expect(atomic.upperOffset).toBe(56);
  });

  it('Hop-by-Hop anywhere but first, or two Fragment headers, is a bad extension header', () => {
    expect(reason(Ipv6Packet.parse(ipv6Packet({ proto: 6, ext: [{ type: 60 }, { type: 0 }], payload: seg })))).toBe('bad-extension-header');
    expect(reason(Ipv6Packet.parse(ipv6Packet({ proto: 6, ext: [{ type: 44 }, { type: 44 }], payload: seg })))).toBe('bad-extension-header');
  });

  it('the header-count bound: at the bound ok, one over refused', () => {
    for (const max of [0, 1, 3, 8]) {
      const at = ipv6Packet({ proto: 6, ext: new Array<ExtSpec>(max).fill({ type: 60 }), payload: seg });
      const over = ipv6Packet({ proto: 6, ext: new Array<ExtSpec>(max + 1).fill({ type: 60 }), payload: seg });
      const limits = { maxExtensionHeaders: max, maxExtensionBytes: 4096 };
      expect(reason(Ipv6Packet.parse(at, 0, at.length, limits))).toBe('ok');
      expect(reason(Ipv6Packet.parse(over, 0, over.length, limits))).toBe('too-many-extension-headers');
    }
    // The default bound is 8.
    const nine = ipv6Packet({ proto: 6, ext: new Array<ExtSpec>(9).fill({ type: 60 }), payload: seg });
    expect(reason(Ipv6Packet.parse(nine))).toBe('too-many-extension-headers');
    expect(DEFAULT_IPV6_LIMITS.maxExtensionHeaders).toBe(8);
  });

  it('the byte bound: at the bound ok, one header over refused', () => {
    const bytes = ipv6Packet({ proto: 6, ext: [{ type: 0, length: 64 }, { type: 60, length: 64 }], payload: seg });
    expect(reason(Ipv6Packet.parse(bytes, 0, bytes.length, { maxExtensionHeaders: 8, maxExtensionBytes: 128 }))).toBe('ok');
    expect(reason(Ipv6Packet.parse(bytes, 0, bytes.length, { maxExtensionHeaders: 8, maxExtensionBytes: 127 }))).toBe('extension-headers-too-long');
    // A long chain of small headers is stopped by whichever bound comes first.
    const many = ipv6Packet({ proto: 6, ext: new Array<ExtSpec>(200).fill({ type: 60 }), payload: seg });
    expect(reason(Ipv6Packet.parse(many, 0, many.length, { maxExtensionHeaders: 255, maxExtensionBytes: 1024 }))).toBe('extension-headers-too-long');
  });

  it('an extension header cut at every length is truncated, never a throw', () => {
    const bytes = ipv6Packet({ proto: 6, ext: [{ type: 0 }, { type: 43, length: 32 }, { type: 51, length: 20 }, { type: 44 }], payload: seg });
    const cutAt = (cut: number): string => {
      const b = Uint8Array.from(bytes.subarray(0, cut));
      b[4] = (cut - 40) >> 8;
      b[5] = (cut - 40) & 0xff;
      return reason(Ipv6Packet.parse(b));
    };
    expect(cutAt(40)).toBe('jumbogram'); // Payload Length 0 with Hop-by-Hop next
    for (let cut = 41; cut < bytes.length - seg.length; cut++) expect(cutAt(cut)).toBe('truncated');
  });

  it('limits given by the programmer are checked', () => {
    expect(ipv6Limits(undefined)).toEqual(DEFAULT_IPV6_LIMITS);
    expect(ipv6Limits({ maxExtensionHeaders: 2 })).toEqual({ maxExtensionHeaders: 2, maxExtensionBytes: 1024 });
    expect(() => ipv6Limits({ maxExtensionHeaders: -1 })).toThrow(NatAlgError);
    expect(() => ipv6Limits({ maxExtensionBytes: 1.5 })).toThrow(NatAlgError);
  });
});

describe('IPv6 emit, round trip, setters', () => {
  it('emitIpv6Header writes what the builder writes; parse -> fields -> emit round-trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xfffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 30 }),
        (tc, flow, hop, proto, src, dst, payload) => {
          if (proto === 0 || isIpv6ExtensionHeader(proto)) proto = 59;
          const bytes = ipv6Packet({ proto, payload, hopLimit: hop, trafficClass: tc, flowLabel: flow, transportChecksum: false });
          bytes.set(src, 8);
          bytes.set(dst, 24);
          const p = ok(Ipv6Packet.parse(bytes));
          const out = new Uint8Array(40);
          expect(emitIpv6Header(out, 0, readIpv6HeaderFields(p))).toBe(40);
          expect(Array.from(out)).toEqual(Array.from(bytes.subarray(0, 40)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('emitter misuse throws', () => {
    const f = { payloadLength: 0, nextHeader: 59, source: new Uint8Array(16), destination: new Uint8Array(16) };
    expect(() => emitIpv6Header(new Uint8Array(39), 0, f)).toThrow(NatAlgError);
    expect(() => emitIpv6Header(new Uint8Array(40), 0, { ...f, flowLabel: 0x100000 })).toThrow(NatAlgError);
    expect(() => emitIpv6Header(new Uint8Array(40), 0, { ...f, source: new Uint8Array(4) })).toThrow(NatAlgError);
  });

  it('setters write in place; a blank view refuses writes', () => {
    const bytes = ipv6Packet({ proto: 59, payload: [] });
    const p = ok(Ipv6Packet.parse(bytes));
    p.setHopLimit(1);
    p.setSource(v6('2001:db8::99'));
    const buf = new Uint8Array(20);
    buf.set(v6('2001:db8::aa'), 4);
    p.setDestination(buf, 4);
    expect(p.hopLimit()).toBe(1);
    expect(p.sourceText()).toBe('2001:db8::99');
    expect(p.destinationText()).toBe('2001:db8::aa');
    expect(() => p.setSource(new Uint8Array(15))).toThrow(NatAlgError);
    const blank = new Ipv6Packet();
    expect(blank.hopLimit()).toBe(0);
    expect(() => blank.setHopLimit(3)).toThrow(NatAlgError);
    expect(blank.check(bytes, 0, 39).ok).toBe(false);
    expect(() => blank.setSource(v6('::1'))).toThrow(NatAlgError);
  });
});
