/**
 * An open-addressing hash table over one Uint32Array: the internal-side lookup structure of the
 * mapping table (lookup-index.ts). The external side needs no hash (port-space.ts).
 *
 * Why this shape: at a million mappings nothing fits in cache, so a lookup costs what it touches.
 * Each entry carries its key inline beside the answer (slot and generation, which make the
 * mapping's id), 16 bytes aligned to 16, so a hit reads one entry in one cache line; chained
 * buckets or an index of record numbers would add a second dependent miss per lookup.
 *
 * Entry at position i: u32[4i] key word 0, u32[4i+1] key word 1, u32[4i+2] slot + 1 (0 = empty),
 * u32[4i+3] generation of the slot.
 *
 * Linear probing, power-of-two capacity, load at most 1/2 (growing before it would pass: by 4
 * while small, where rehashing is most of the cost of filling a table, then by 2), and
 * backward-shift deletion: no tombstones, so probe chains never lengthen with churn.
 *
 * Hashes: the hash of a key is `hashWords(k0, k1, 0, secret)` when bits 18-19 of k1 are zero. A
 * key with those bits set hashes more than its two stored words (see lookup-index.ts): the caller
 * computes its hash, and the table asks `homeOf` for it when it moves the entry.
 *
 * Equal stored keys may occur (the caller stores a partial key and verifies elsewhere): `find`
 * returns the first match and `next` continues the probe after it.
 */

/** Hash of a stored entry whose key is not all in its words, from its slot (deletion, growth). */
export type HomeOf = (k0: number, k1: number, slot: number) => number;

const STRIDE = 4; // u32 words per entry
const MIN_CAPACITY = 8;
const SMALL = 1 << 16; // positions below which the table grows by 4
const EXTRA_KEY = 3 << 18; // k1 bits saying the key has more than its two words

/** Keyed hash of three words: a host that cannot predict it cannot build long probe chains. */
export function hashWords(a: number, b: number, c: number, key: number): number {
  let h = Math.imul(a ^ key, 0x9e3779b1) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ c;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class HashIndex {
  private u32: Uint32Array;
  private mask: number;
  /** Entries held. */
  size = 0;

  constructor(
    capacity: number,
    private readonly secret: number,
    private readonly homeOf: HomeOf,
  ) {
    const cap = powerOfTwoAtLeast(Math.max(capacity, MIN_CAPACITY));
    this.u32 = new Uint32Array(cap * STRIDE);
    this.mask = cap - 1;
  }

  /** Positions in the table (a power of two). */
  get capacity(): number {
    return this.mask + 1;
  }

  get byteLength(): number {
    return this.u32.byteLength;
  }

  /** Position of the first entry with key (k0, k1) on the probe path of `hash`, or -1. */
  find(hash: number, k0: number, k1: number): number {
    const u = this.u32;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const o = i * STRIDE;
      if (u[o + 2] === 0) return -1;
      if (u[o] === k0 && u[o + 1] === k1) return i;
      i = (i + 1) & mask;
    }
  }

  /** The next entry with key (k0, k1) after position `pos` on the same probe path, or -1. */
  next(pos: number, k0: number, k1: number): number {
    const u = this.u32;
    const mask = this.mask;
    let i = (pos + 1) & mask;
    for (;;) {
      const o = i * STRIDE;
      if (u[o + 2] === 0) return -1;
      if (u[o] === k0 && u[o + 1] === k1) return i;
      i = (i + 1) & mask;
    }
  }

  /** Position of the entry for `slot` on the probe path of `hash`, or -1. */
  locate(hash: number, slot: number): number {
    const u = this.u32;
    const mask = this.mask;
    const v = slot + 1;
    let i = hash & mask;
    for (;;) {
      const w = u[i * STRIDE + 2]!;
      if (w === 0) return -1;
      if (w === v) return i;
      i = (i + 1) & mask;
    }
  }

  slot(pos: number): number {
    return this.u32[pos * STRIDE + 2]! - 1;
  }

  gen(pos: number): number {
    return this.u32[pos * STRIDE + 3]!;
  }

  /** Add an entry (grows first when the load would pass 1/2). Returns its position. */
  insert(hash: number, k0: number, k1: number, slot: number, gen: number): number {
    const cap = this.mask + 1;
    if ((this.size + 1) * 2 > cap) this.resize(cap < SMALL ? cap * 4 : cap * 2);
    const i = this.place(hash, k0, k1, slot, gen);
    this.size++;
    return i;
  }

  /** Remove the entry at `pos`, shifting later entries of its cluster back into the hole. */
  removeAt(pos: number): void {
    const u = this.u32;
    const mask = this.mask;
    let hole = pos;
    let j = pos;
    for (;;) {
      j = (j + 1) & mask;
      const o = j * STRIDE;
      const v = u[o + 2]!;
      if (v === 0) break;
      const home = this.hashOf(u[o]!, u[o + 1]!, v - 1) & mask;
      // The entry at j may move back to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        const h = hole * STRIDE;
        u[h] = u[o]!;
        u[h + 1] = u[o + 1]!;
        u[h + 2] = v;
        u[h + 3] = u[o + 3]!;
        hole = j;
      }
    }
    const h = hole * STRIDE;
    u[h] = u[h + 1] = u[h + 2] = u[h + 3] = 0;
    this.size--;
  }

  /** Every entry's slot (tests and diagnostics; O(capacity)). */
  *slots(): IterableIterator<number> {
    for (let i = 0; i <= this.mask; i++) {
      const v = this.u32[i * STRIDE + 2]!;
      if (v !== 0) yield v - 1;
    }
  }

  /** Rebuild at `capacity` positions (a power of two, more than twice the entries). */
  private resize(capacity: number): void {
    const oldU = this.u32;
    const oldCap = this.mask + 1;
    this.u32 = new Uint32Array(capacity * STRIDE);
    this.mask = capacity - 1;
    for (let i = 0; i < oldCap; i++) {
      const o = i * STRIDE;
      const v = oldU[o + 2]!;
      if (v === 0) continue;
      const k0 = oldU[o]!;
      const k1 = oldU[o + 1]!;
      this.place(this.hashOf(k0, k1, v - 1), k0, k1, v - 1, oldU[o + 3]!);
    }
  }

  private hashOf(k0: number, k1: number, slot: number): number {
    return k1 & EXTRA_KEY ? this.homeOf(k0, k1, slot) : hashWords(k0, k1, 0, this.secret);
  }

  private place(hash: number, k0: number, k1: number, slot: number, gen: number): number {
    const u = this.u32;
    const mask = this.mask;
    let i = hash & mask;
    while (u[i * STRIDE + 2] !== 0) i = (i + 1) & mask;
    const o = i * STRIDE;
    u[o] = k0;
    u[o + 1] = k1;
    u[o + 2] = slot + 1;
    u[o + 3] = gen;
    return i;
  }
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
