import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NatAlgError } from '../../src/core/errors.js';
import {
  finishChecksum,
  finishUdpChecksum,
  foldSum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  onesComplementSum,
  swapBytes16,
  updateChecksum16,
  updateChecksum32,
  updateChecksumBytes,
  updateChecksumIpv6Address,
  updateUdpChecksum16,
  updateUdpChecksum32,
  updateUdpChecksumBytes,
} from '../../src/core/packet/checksum.js';
import { concat, naiveChecksum, naiveSum, pseudo4, pseudo6, put16, put32, u16 } from './builders.js';

describe('full checksum', () => {
  it('RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(b, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(b, 0, 8)).toBe(0x220d);
  });

  it('a captured IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) has checksum 0xb861', () => {
    const h = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
    expect(internetChecksum(h, 0, 20)).toBe(0xb861);
    h[10] = 0xb8;
    h[11] = 0x61;
    expect(onesComplementSum(h, 0, 20)).toBe(0xffff);
  });

  it('equals the naive loop for any bytes, range, alignment and initial sum', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.nat(8),
        fc.nat(300),
        fc.nat(300),
        fc.nat(0xfffff),
        (data, lead, a, b, initial) => {
          // Place the data at an arbitrary byteOffset of a larger buffer.
          const buf = new Uint8Array(lead + data.length + 3);
          buf.set(data, lead);
          const view = buf.subarray(lead, lead + data.length);
          const start = Math.min(a, b, data.length);
          const end = Math.min(Math.max(a, b), data.length);
          const slice = data.subarray(start, end);
          const expected = foldNaive(naiveSum(slice) + initial);
          expect(onesComplementSum(view, start, end, initial)).toBe(expected);
          expect(internetChecksum(view, start, end, initial)).toBe(~expected & 0xffff);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('switching between buffers gives each its own answer (the DataView cache)', () => {
    const a = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = Uint8Array.from([9, 8, 7, 6, 5]);
    for (let k = 0; k < 3; k++) {
      expect(internetChecksum(a, 0, 9)).toBe(naiveChecksum(a));
      expect(internetChecksum(b, 0, 5)).toBe(naiveChecksum(b));
    }
  });

  it('a full 64 KiB of 0xFF sums without loss of precision', () => {
    const big = new Uint8Array(65536).fill(0xff);
    expect(onesComplementSum(big, 0, big.length)).toBe(naiveSum(big));
    const ones = new Uint8Array(65535).fill(0x01);
    expect(onesComplementSum(ones, 0, ones.length)).toBe(naiveSum(ones));
  });

  it('foldSum and finishChecksum: zero stays zero, other multiples of 0xFFFF fold to 0xFFFF', () => {
    expect(foldSum(0)).toBe(0);
    expect(foldSum(0xffff)).toBe(0xffff);
    expect(foldSum(0xffff * 12345)).toBe(0xffff);
    expect(foldSum(2 ** 52 + 7)).toBe(foldNaive(2 ** 52 + 7));
    expect(finishChecksum(0)).toBe(0xffff);
    expect(finishChecksum(0xffff)).toBe(0);
  });

  it('a range outside the buffer is a programming error', () => {
    const b = new Uint8Array(4);
    expect(() => onesComplementSum(b, 0, 5)).toThrow(NatAlgError);
    expect(() => onesComplementSum(b, 3, 2)).toThrow(NatAlgError);
    expect(() => onesComplementSum(b, -1, 2)).toThrow(NatAlgError);
    expect(() => onesComplementSum(b, 0.5, 2)).toThrow(NatAlgError);
    expect(() => updateChecksumBytes(0, b, 0, b, 0, 3)).toThrow(NatAlgError);
  });
});

/** Reference fold for arbitrary sums, by repeated subtraction of 0xFFFF's multiples. */
function foldNaive(s: number): number {
  if (s === 0) return 0;
  const r = s % 0xffff;
  return r === 0 ? 0xffff : r;
}

describe('pseudo-header sums', () => {
  it('IPv4 and IPv6 pseudo-headers equal the naive sum of their 12 / 40 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), (addrs, proto, len) => {
        const s4 = ipv4PseudoHeaderSum(addrs, 0, 4, proto, len);
        expect(foldSum(s4)).toBe(naiveSum(pseudo4(addrs.subarray(0, 4), addrs.subarray(4, 8), proto, len)));
        const s6 = ipv6PseudoHeaderSum(addrs, 8, 24, proto, len);
        expect(foldSum(s6)).toBe(naiveSum(pseudo6(addrs.subarray(8, 24), addrs.subarray(24, 40), proto, len)));
      }),
    );
  });

  it('an IPv6 upper-layer length above 65535 counts both halves', () => {
    const z = new Uint8Array(40);
    expect(foldSum(ipv6PseudoHeaderSum(z, 8, 24, 6, 0x12345))).toBe(naiveSum(pseudo6(z.subarray(8, 24), z.subarray(24, 40), 6, 0x12345)));
  });
});

describe('incremental update (RFC 1624)', () => {
  it('RFC 1624 section 4 example: eqn 3 gives 0x0000 where RFC 1141 gives 0xFFFF', () => {
    // Sum of the other words 0xCD7A, m = 0x5555 changes to 0x3285.
    const hc = ~foldSum(0xcd7a + 0x5555) & 0xffff;
    expect(hc).toBe(0xdd2f);
    expect(updateChecksum16(hc, 0x5555, 0x3285)).toBe(0x0000);
    // The RFC 1141 form, HC + m - m' with end-around carries, for contrast:
    let rfc1141 = hc + 0x5555 + (~0x3285 & 0xffff);
    while (rfc1141 > 0xffff) rfc1141 = (rfc1141 & 0xffff) + (rfc1141 >>> 16);
    expect(rfc1141).toBe(0xffff);
  });

  const dataWithWord = fc
    .tuple(fc.uint8Array({ minLength: 2, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }))
    .map(([d, i, w]) => {
      const data = d.length % 2 === 0 ? d : d.subarray(0, d.length - 1);
      return { data: Uint8Array.from(data), at: (i % (data.length / 2)) * 2, word: w };
    })
    .filter(({ data }) => data.length >= 4);

  it('one changed 16-bit word: update equals a full recomputation', () => {
    fc.assert(
      fc.property(dataWithWord, ({ data, at, word }) => {
        // Keep a non-zero word besides the changed one, as every real header has.
        const keep = at === 0 ? data.length - 1 : 0;
        data[keep] = data[keep]! | 1;
        const before = naiveChecksum(data);
        const old = u16(data, at);
        put16(data, at, word);
        expect(updateChecksum16(before, old, word)).toBe(naiveChecksum(data));
      }),
      { numRuns: 1000 },
    );
  });

  it('the 0x0000 edge: a change that makes the correct checksum 0 gives 0, not 0xFFFF', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 40 }), fc.nat(), (d, i) => {
        const data = Uint8Array.from(d.length % 2 ? d.subarray(1) : d);
        data[0] = data[0]! | 0x10;
        const at = 2 + (i % ((data.length - 2) / 2)) * 2;
        const before = naiveChecksum(data);
        const old = u16(data, at);
        // Choose the new word so that the data sums to 0xFFFF: its checksum is 0x0000.
        put16(data, at, 0);
        const rest = naiveSum(data);
        const word = rest === 0xffff ? 0xffff : ~rest & 0xffff;
        put16(data, at, word);
        expect(naiveChecksum(data)).toBe(0);
        expect(updateChecksum16(before, old, word)).toBe(0);
      }),
    );
  });

  it('from a stored 0xFFFF where 0x0000 was computed (both verify), the result still verifies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 40 }), fc.integer({ min: 0, max: 0xffff }), (d, word) => {
        const data = Uint8Array.from(d.length % 2 ? d.subarray(1) : d);
        data[0] = data[0]! | 0x10;
        // Checksum field at 2. Choose the word at 4 so that the rest sums to 0xFFFF: the
        // computed checksum is then 0x0000, and 0xFFFF is stored instead (equal in one's complement).
        put16(data, 2, 0);
        put16(data, 4, 0);
        put16(data, 4, ~naiveSum(data) & 0xffff);
        expect(naiveChecksum(data)).toBe(0);
        put16(data, 2, 0xffff);
        expect(naiveSum(data)).toBe(0xffff);
        const old = u16(data, 6);
        put16(data, 6, word);
        put16(data, 2, updateChecksum16(0xffff, old, word));
        expect(naiveSum(data)).toBe(0xffff);
      }),
    );
  });

  it('a changed 32-bit value equals a full recomputation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), fc.nat(), fc.nat({ max: 0xffffffff }), (d, i, value) => {
        const data = Uint8Array.from(d.subarray(0, d.length - (d.length % 4)));
        if (data.length < 8) return;
        const at = (i % (data.length / 4)) * 4;
        const keep = at === 0 ? data.length - 1 : 0;
        data[keep] = data[keep]! | 1;
        const before = naiveChecksum(data);
        const old = ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0;
        put32(data, at, value);
        expect(updateChecksum32(before, old, value)).toBe(naiveChecksum(data));
      }),
      { numRuns: 1000 },
    );
  });

  it('a changed 16-byte IPv6 address equals a full recomputation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (d, addr) => {
        const data = Uint8Array.from(d);
        data[0] = data[0]! | 0x60;
        const before = naiveChecksum(data);
        const c = updateChecksumIpv6Address(before, data, 8, addr, 0);
        data.set(addr, 8);
        expect(c).toBe(naiveChecksum(data));
      }),
    );
  });

  it('a word at an odd position updates through byte swapping', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (d, i, word) => {
        const data = Uint8Array.from(d);
        data[0] = data[0]! | 1;
        const at = 1 + (i % Math.floor((data.length - 2) / 2)) * 2; // odd
        const before = naiveChecksum(data);
        const old = u16(data, at);
        put16(data, at, word);
        expect(updateChecksum16(before, swapBytes16(old), swapBytes16(word))).toBe(naiveChecksum(data));
      }),
    );
  });
});

describe('UDP checksum rules', () => {
  it('a zero checksum (none, IPv4) stays zero whatever changes', () => {
    expect(updateUdpChecksum16(0, 1234, 4321)).toBe(0);
    expect(updateUdpChecksum32(0, 0xc0000201, 0xcb007101)).toBe(0);
    expect(updateUdpChecksumBytes(0, new Uint8Array(16), 0, new Uint8Array(16).fill(9), 0, 16)).toBe(0);
  });

  it('a computed 0 is sent as 0xFFFF, by full computation and by update', () => {
    expect(finishUdpChecksum(0xffff)).toBe(0xffff);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 40 }), fc.nat(), (d, i) => {
        const data = Uint8Array.from(d.length % 2 ? d.subarray(1) : d);
        data[0] = data[0]! | 1;
        // Field at 6 is the UDP checksum; change the word at `at` to make the data sum 0xFFFF.
        put16(data, 6, 0);
        const at = 8 + (i % ((data.length - 8) / 2 || 1)) * 2;
        if (at + 2 > data.length) return;
        const fullBefore = naiveChecksum(data);
        const stored = fullBefore === 0 ? 0xffff : fullBefore;
        const old = u16(data, at);
        put16(data, at, 0);
        const rest = naiveSum(data);
        const word = rest === 0xffff ? 0xffff : ~rest & 0xffff;
        put16(data, at, word);
        expect(naiveChecksum(data)).toBe(0);
        expect(updateUdpChecksum16(stored, old, word)).toBe(0xffff);
      }),
    );
  });

  it('update of a UDP checksum equals full recomputation with the 0 -> 0xFFFF rule', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (d, i, word) => {
        const data = Uint8Array.from(d.length % 2 ? d.subarray(1) : d);
        data[0] = data[0]! | 1;
        put16(data, 6, 0);
        const udp = (sum: number): number => {
          const c = ~sum & 0xffff;
          return c === 0 ? 0xffff : c;
        };
        const before = udp(naiveSum(data));
        const at = (i % (data.length / 2)) * 2;
        if (at === 6) return;
        const old = u16(data, at);
        put16(data, at, word);
        expect(updateUdpChecksum16(before, old, word)).toBe(udp(naiveSum(data)));
      }),
      { numRuns: 1000 },
    );
  });

  it('pseudo-header + payload through concat agrees with the library over the same bytes', () => {
    const payload = Uint8Array.from([1, 2, 3]);
    const ph = pseudo4([10, 0, 0, 1], [10, 0, 0, 2], 17, 11);
    const both = concat(ph, payload);
    expect(internetChecksum(both, 0, both.length)).toBe(naiveChecksum(both));
  });
});
