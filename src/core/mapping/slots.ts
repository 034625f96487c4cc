/**
 * Storage of mappings as a struct of typed arrays indexed by slot, plus the internal-side index:
 * an open-addressing hash table (linear probing, backward-shift deletion, no tombstones) over an
 * Int32Array of slot + 1. No object and no string per mapping, so a million mappings cost a
 * fixed, small number of bytes each and lookups do not allocate.
 *
 * Key of a mapping on the internal side: protocol, internal address and port, and depending on
 * its `keyKind` nothing more (0: endpoint-independent, static), the remote address (1: address-
 * dependent), or the remote address and port (2: address-and-port-dependent, or a connection
 * admitted by an expectation).
 *
 * A handle (the public mapping id) is generation * 2^24 + slot, so a released slot reused by a
 * new mapping never answers to the old id.
 */

import { finalize32, highWord, keyedHash5 } from './keyed-hash.js';

export const SLOT_BITS = 24;
export const SLOT_LIMIT = 1 << SLOT_BITS;
const GEN_LIMIT = 1 << 28;

// flags
export const F_LIVE = 1;
export const F_STATIC = 2;
export const F_ESTABLISHED = 4;
export const F_HELD = 8; // no expiry until released
export const F_HAS_PEER = 16;
export const F_PEER_LOCKED = 32; // admitted by an expectation: only its recorded peers may send in
export const KEY_SHIFT = 6; // bits 6-7: keyKind

export class SlotStore {
  capacity: number;
  proto: Uint8Array;
  flags: Uint8Array;
  iport: Uint16Array;
  eport: Uint16Array;
  rport: Uint16Array;
  extIdx: Uint16Array;
  gen: Uint32Array;
  iaddr: Float64Array;
  raddr: Float64Array;
  expiry: Float64Array;
  heapDeadline: Float64Array;
  /** Free slots, as a stack. */
  private freeList: Int32Array;
  private freeTop = 0;
  /** Slots never used yet start at `fresh`. */
  private fresh = 0;
  live = 0;

  private buckets: Int32Array;
  private mask: number;

  constructor(
    initialCapacity: number,
    private readonly maxCapacity: number,
    private readonly hashKey: number,
  ) {
    this.capacity = initialCapacity;
    this.proto = new Uint8Array(initialCapacity);
    this.flags = new Uint8Array(initialCapacity);
    this.iport = new Uint16Array(initialCapacity);
    this.eport = new Uint16Array(initialCapacity);
    this.rport = new Uint16Array(initialCapacity);
    this.extIdx = new Uint16Array(initialCapacity);
    this.gen = new Uint32Array(initialCapacity);
    this.iaddr = new Float64Array(initialCapacity);
    this.raddr = new Float64Array(initialCapacity);
    this.expiry = new Float64Array(initialCapacity);
    this.heapDeadline = new Float64Array(initialCapacity);
    this.freeList = new Int32Array(initialCapacity);
    this.buckets = new Int32Array(initialCapacity * 2);
    this.mask = initialCapacity * 2 - 1;
  }

  /** Bytes held by the typed arrays. */
  get byteLength(): number {
    return this.capacity * (1 + 1 + 2 + 2 + 2 + 2 + 4 + 8 + 8 + 8 + 8 + 4) + this.buckets.byteLength;
  }

  handleOf(slot: number): number {
    return this.gen[slot]! * SLOT_LIMIT + slot;
  }

  /** Slot of a live handle, or -1. */
  slotOf(handle: number): number {
    if (!Number.isInteger(handle) || handle < 0) return -1;
    const slot = handle % SLOT_LIMIT;
    if (slot >= this.fresh) return -1;
    if ((this.flags[slot]! & F_LIVE) === 0) return -1;
    return this.gen[slot]! * SLOT_LIMIT + slot === handle ? slot : -1;
  }

  /** A free slot (fields zeroed except the generation), or -1 when at maxCapacity. */
  allocate(): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.freeList[--this.freeTop]!;
    else {
      if (this.fresh === this.capacity && !this.grow()) return -1;
      slot = this.fresh++;
    }
    this.flags[slot] = F_LIVE;
    this.live++;
    return slot;
  }

  release(slot: number): void {
    this.flags[slot] = 0;
    this.gen[slot] = (this.gen[slot]! + 1) % GEN_LIMIT;
    this.freeList[this.freeTop++] = slot;
    this.live--;
  }

  keyKind(slot: number): number {
    return this.flags[slot]! >> KEY_SHIFT;
  }

  private hash(proto: number, addr: number, port: number, kind: number, raddr: number, rport: number): number {
    if (kind === 0) return keyedHash5(this.hashKey, addr >>> 0, highWord(addr) ^ (proto << 24), port, 0, 0);
    const rp = kind === 2 ? rport : 0x10000;
    return keyedHash5(this.hashKey, addr >>> 0, highWord(addr) ^ (proto << 24) ^ (kind << 28), port, finalize32(raddr >>> 0) ^ highWord(raddr), rp);
  }

  private matches(slot: number, proto: number, addr: number, port: number, kind: number, raddr: number, rport: number): boolean {
    return (
      this.iaddr[slot] === addr &&
      this.iport[slot] === port &&
      this.proto[slot] === proto &&
      this.flags[slot]! >> KEY_SHIFT === kind &&
      (kind === 0 || (this.raddr[slot] === raddr && (kind === 1 || this.rport[slot] === rport)))
    );
  }

  /** The slot holding this internal key, or -1. */
  find(proto: number, addr: number, port: number, kind: number, raddr: number, rport: number): number {
    const b = this.buckets;
    let i = this.hash(proto, addr, port, kind, raddr, rport) & this.mask;
    for (;;) {
      const v = b[i]!;
      if (v === 0) return -1;
      if (this.matches(v - 1, proto, addr, port, kind, raddr, rport)) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  /** Index the slot by its internal key (fields must be set; the key must not be present). */
  insert(slot: number): void {
    const b = this.buckets;
    let i = this.hashOfSlot(slot) & this.mask;
    while (b[i] !== 0) i = (i + 1) & this.mask;
    b[i] = slot + 1;
  }

  private hashOfSlot(slot: number): number {
    return this.hash(this.proto[slot]!, this.iaddr[slot]!, this.iport[slot]!, this.flags[slot]! >> KEY_SHIFT, this.raddr[slot]!, this.rport[slot]!);
  }

  /** Remove the slot from the index (backward-shift deletion keeps probe chains intact). */
  remove(slot: number): void {
    const b = this.buckets;
    const mask = this.mask;
    let i = this.hashOfSlot(slot) & mask;
    while (b[i] !== slot + 1) {
      if (b[i] === 0) return;
      i = (i + 1) & mask;
    }
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = b[j]!;
      if (v === 0) break;
      const home = this.hashOfSlot(v - 1) & mask;
      // Move v into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        b[hole] = v;
        hole = j;
      }
    }
    b[hole] = 0;
  }

  private grow(): boolean {
    if (this.capacity >= this.maxCapacity) return false;
    const cap = Math.min(this.capacity * 2, this.maxCapacity);
    const g8 = (a: Uint8Array) => {
      const n = new Uint8Array(cap);
      n.set(a);
      return n;
    };
    const g16 = (a: Uint16Array) => {
      const n = new Uint16Array(cap);
      n.set(a);
      return n;
    };
    const g64 = (a: Float64Array) => {
      const n = new Float64Array(cap);
      n.set(a);
      return n;
    };
    this.proto = g8(this.proto);
    this.flags = g8(this.flags);
    this.iport = g16(this.iport);
    this.eport = g16(this.eport);
    this.rport = g16(this.rport);
    this.extIdx = g16(this.extIdx);
    const gen = new Uint32Array(cap);
    gen.set(this.gen);
    this.gen = gen;
    this.iaddr = g64(this.iaddr);
    this.raddr = g64(this.raddr);
    this.expiry = g64(this.expiry);
    this.heapDeadline = g64(this.heapDeadline);
    const fl = new Int32Array(cap);
    fl.set(this.freeList);
    this.freeList = fl;
    this.capacity = cap;
    // Rehash into a table twice the slot capacity (load factor at most 1/2).
    let size = 1;
    while (size < cap * 2) size *= 2;
    this.buckets = new Int32Array(size);
    this.mask = size - 1;
    for (let s = 0; s < this.fresh; s++) if (this.flags[s]! & F_LIVE) this.insert(s);
    return true;
  }
}
