/**
 * The ports of one external address for one protocol: who holds each port, and the choice of a
 * free one by RFC 6056 Algorithm 4 ("double-hash port selection").
 *
 * `holder(port)` is 0 when free, slot + 1 when a mapping holds it, -1 when an expectation or a
 * static reservation holds it. Beside it, in the same 8-byte cell, the generation of the holding
 * slot: so this array is also the external-side lookup index, an external endpoint's mapping id
 * in one read of one cache line, with no hashing at all (512 KB per address and protocol in use).
 *
 * Used ports are counted per range and parity, so an exhausted range is answered at once instead
 * of after a 64k-port walk, and "no port left" is a value, never a reused port.
 */

import type { PortRange } from './types.js';

export const RESERVED = -1;
const TABLE_SIZE = 256; // RFC 6056 Algorithm 4 counters; any power of two will do

export class PortSpace {
  /** cells[2 * port] holder, cells[2 * port + 1] generation of the holding slot. */
  readonly cells = new Int32Array(65536 * 2);
  /**
   * One bit per port, set while the port is taken: what the port choice probes. 8 KB, so the
   * probes of a port walk stay in the first-level cache, where the 512 KB of cells would miss.
   */
  readonly taken = new Int32Array(2048);
  /** used[range * 2 + parity]: range 0 = privileged range, 1 = main range. */
  private readonly used = new Int32Array(4);

  constructor(
    private readonly main: PortRange,
    private readonly privileged: PortRange | null,
  ) {}

  private rangeOf(port: number): number {
    if (port >= this.main.min && port <= this.main.max) return 1;
    if (this.privileged && port >= this.privileged.min && port <= this.privileged.max) return 0;
    return -1;
  }

  isFree(port: number): boolean {
    return this.cells[port * 2] === 0;
  }

  /** 0 free, slot + 1, or RESERVED. */
  holder(port: number): number {
    return this.cells[port * 2]!;
  }

  /** Generation of the slot holding the port (meaningful when `holder` is positive). */
  gen(port: number): number {
    return this.cells[port * 2 + 1]! >>> 0;
  }

  /** Take a free port for `value` (slot + 1 of a slot of generation `gen`, or RESERVED). */
  take(port: number, value: number, gen = 0): void {
    this.cells[port * 2] = value;
    this.cells[port * 2 + 1] = gen;
    this.taken[port >>> 5]! |= 1 << (port & 31);
    const r = this.rangeOf(port);
    if (r >= 0) this.used[r * 2 + (port & 1)]!++;
  }

  /** Change the holder of a taken port (an expectation becoming a mapping). */
  reassign(port: number, value: number, gen = 0): void {
    this.cells[port * 2] = value;
    this.cells[port * 2 + 1] = gen;
  }

  free(port: number): void {
    if (this.cells[port * 2] === 0) return;
    this.cells[port * 2] = 0;
    this.taken[port >>> 5]! &= ~(1 << (port & 31));
    const r = this.rangeOf(port);
    if (r >= 0) this.used[r * 2 + (port & 1)]!--;
  }

  /** Free ports left in a range (0 privileged, 1 main) with a given parity, or either (-1). */
  freeCount(range: number, parity: number): number {
    const span = range === 1 ? this.main : this.privileged;
    if (!span) return 0;
    const evens = countParity(span, 0);
    const odds = span.max - span.min + 1 - evens;
    const freeEven = evens - this.used[range * 2]!;
    const freeOdd = odds - this.used[range * 2 + 1]!;
    return parity === 0 ? freeEven : parity === 1 ? freeOdd : freeEven + freeOdd;
  }

  /** Ports held in this space (all ranges). */
  get usedCount(): number {
    return this.used[0]! + this.used[1]! + this.used[2]! + this.used[3]!;
  }
}

function countParity(span: PortRange, parity: number): number {
  // Ports p in [min, max] with p % 2 === parity.
  const first = (span.min & 1) === parity ? span.min : span.min + 1;
  return first > span.max ? 0 : ((span.max - first) >> 1) + 1;
}

/**
 * RFC 6056 Algorithm 4 state: the per-bucket counters `table[G(...)]`. F gives the offset that
 * makes the sequence differ per tuple; the counter makes consecutive picks for one tuple differ.
 */
export class PortSelector {
  private readonly table = new Uint32Array(TABLE_SIZE);

  /**
   * A free port in `span` chosen by Algorithm 4, preferring `parity` (0/1) when not -1, or -1 when
   * none is free. `f` and `g` are the keyed hashes of the tuple (F and G of the RFC).
   */
  select(space: PortSpace, span: PortRange, range: number, parity: number, f: number, g: number): number {
    const num = span.max - span.min + 1;
    const bucket = g & (TABLE_SIZE - 1);
    if (parity >= 0 && space.freeCount(range, parity) > 0) {
      const port = this.walk(space, span, num, bucket, f, parity);
      if (port >= 0) return port;
    }
    if (space.freeCount(range, -1) === 0) return -1;
    return this.walk(space, span, num, bucket, f, -1);
  }

  private walk(space: PortSpace, span: PortRange, num: number, bucket: number, f: number, parity: number): number {
    const taken = space.taken;
    // Port of counter value `next` is min + (f + next) mod num; successive values step the offset
    // by one, so it is reduced once (and without `%` on numbers past 2^31, a slow float modulo).
    const next = this.table[bucket]!;
    let off = mod(f, num) + mod(next, num);
    if (off >= num) off -= num;
    let count = 0;
    while (count < num) {
      count++;
      const port = span.min + off;
      if ((taken[port >>> 5]! & (1 << (port & 31))) === 0 && (parity < 0 || (port & 1) === parity)) {
        this.table[bucket] = (next + count) >>> 0;
        return port;
      }
      if (++off === num) off = 0;
    }
    this.table[bucket] = (next + count) >>> 0;
    // `num` consecutive counter values visit every port of the span once: nothing is missed.
    return -1;
  }
}

/** n mod m for 0 <= n < 2^32 and 0 < m <= 65536, exactly, without a float modulo. */
function mod(n: number, m: number): number {
  return n - Math.floor(n / m) * m;
}
