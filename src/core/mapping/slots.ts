/**
 * Storage of mappings as fixed 48-byte records in one ArrayBuffer (read through a Float64Array
 * and a Uint32Array view). No object and no string per mapping, so a million mappings cost a
 * fixed, small number of bytes each. Lookups do not start here: the index (lookup-index.ts)
 * answers them from its own entries and reaches a record only when it needs more than the key.
 *
 * Record of slot s: f64[6s] internal address key, f64[6s+1] remote address key, f64[6s+2]
 * expiry, f64[6s+3] deadline filed in the timer heap; u32[12s+8] internal port | remote port
 * << 16, u32[12s+9] external port | external address index << 16, u32[12s+10] flags | protocol
 * << 8, u32[12s+11] generation.
 *
 * Key of a mapping on the internal side: protocol, internal address and port, and depending on
 * its `keyKind` nothing more (0: endpoint-independent, static), the remote address (1: address-
 * dependent), or the remote address and port (2: address-and-port-dependent, or a connection
 * admitted by an expectation).
 *
 * A handle (the public mapping id) is generation * 2^24 + slot, so a released slot reused by a
 * new mapping never answers to the old id.
 */

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
const RECORD_BYTES = 48;

export class SlotStore {
  capacity: number;
  private f64: Float64Array;
  private u32: Uint32Array;
  /** Free slots, as a stack. */
  private freeList: Int32Array;
  private freeTop = 0;
  /** Slots never used yet start at `fresh`. */
  private fresh = 0;
  live = 0;

  constructor(
    initialCapacity: number,
    private readonly maxCapacity: number,
  ) {
    this.capacity = initialCapacity;
    const buf = new ArrayBuffer(initialCapacity * RECORD_BYTES);
    this.f64 = new Float64Array(buf);
    this.u32 = new Uint32Array(buf);
    this.freeList = new Int32Array(initialCapacity);
  }

  /** Bytes held by the typed arrays. */
  get byteLength(): number {
    return this.f64.byteLength + this.freeList.byteLength;
  }

  // Field accessors (one record per slot; see the file comment for the layout).
  iaddr(s: number): number {
    return this.f64[s * 6]!;
  }
  setIaddr(s: number, v: number): void {
    this.f64[s * 6] = v;
  }
  raddr(s: number): number {
    return this.f64[s * 6 + 1]!;
  }
  setRaddr(s: number, v: number): void {
    this.f64[s * 6 + 1] = v;
  }
  expiry(s: number): number {
    return this.f64[s * 6 + 2]!;
  }
  setExpiry(s: number, v: number): void {
    this.f64[s * 6 + 2] = v;
  }
  heapDeadline(s: number): number {
    return this.f64[s * 6 + 3]!;
  }
  setHeapDeadline(s: number, v: number): void {
    this.f64[s * 6 + 3] = v;
  }
  iport(s: number): number {
    return this.u32[s * 12 + 8]! & 0xffff;
  }
  setIport(s: number, v: number): void {
    const i = s * 12 + 8;
    this.u32[i] = (this.u32[i]! & 0xffff0000) | v;
  }
  rport(s: number): number {
    return this.u32[s * 12 + 8]! >>> 16;
  }
  setRport(s: number, v: number): void {
    const i = s * 12 + 8;
    this.u32[i] = ((this.u32[i]! & 0xffff) | (v << 16)) >>> 0;
  }
  eport(s: number): number {
    return this.u32[s * 12 + 9]! & 0xffff;
  }
  setEport(s: number, v: number): void {
    const i = s * 12 + 9;
    this.u32[i] = (this.u32[i]! & 0xffff0000) | v;
  }
  extIdx(s: number): number {
    return this.u32[s * 12 + 9]! >>> 16;
  }
  setExtIdx(s: number, v: number): void {
    const i = s * 12 + 9;
    this.u32[i] = ((this.u32[i]! & 0xffff) | (v << 16)) >>> 0;
  }
  flags(s: number): number {
    return this.u32[s * 12 + 10]! & 0xff;
  }
  setFlags(s: number, v: number): void {
    const i = s * 12 + 10;
    this.u32[i] = (this.u32[i]! & 0xffffff00) | (v & 0xff);
  }
  proto(s: number): number {
    return this.u32[s * 12 + 10]! >>> 8;
  }
  setProto(s: number, v: number): void {
    const i = s * 12 + 10;
    this.u32[i] = (this.u32[i]! & 0xff) | (v << 8);
  }
  gen(s: number): number {
    return this.u32[s * 12 + 11]!;
  }

  handleOf(slot: number): number {
    return this.u32[slot * 12 + 11]! * SLOT_LIMIT + slot;
  }

  /** Slot of a live handle, or -1. */
  slotOf(handle: number): number {
    if (!Number.isInteger(handle) || handle < 0) return -1;
    const slot = handle % SLOT_LIMIT;
    if (slot >= this.fresh) return -1;
    if ((this.flags(slot) & F_LIVE) === 0) return -1;
    return this.handleOf(slot) === handle ? slot : -1;
  }

  /** A free slot (fields zeroed except the generation), or -1 when at maxCapacity. */
  allocate(): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.freeList[--this.freeTop]!;
    else {
      if (this.fresh === this.capacity && !this.grow()) return -1;
      slot = this.fresh++;
    }
    // Plain stores: a TypedArray.fill call costs more than the six words it clears.
    const f = this.f64;
    const o = slot * 6;
    f[o] = 0;
    f[o + 1] = 0;
    f[o + 2] = 0;
    f[o + 3] = 0;
    const u = this.u32;
    u[o * 2 + 8] = 0;
    u[o * 2 + 9] = 0;
    u[o * 2 + 10] = F_LIVE; // flags; protocol 0; the generation (word 11) stays
    this.live++;
    return slot;
  }

  release(slot: number): void {
    this.setFlags(slot, 0);
    this.u32[slot * 12 + 11] = (this.gen(slot) + 1) % GEN_LIMIT;
    this.freeList[this.freeTop++] = slot;
    this.live--;
  }

  keyKind(slot: number): number {
    return this.flags(slot) >> KEY_SHIFT;
  }

  private grow(): boolean {
    if (this.capacity >= this.maxCapacity) return false;
    const cap = Math.min(this.capacity * 2, this.maxCapacity);
    const buf = new ArrayBuffer(cap * RECORD_BYTES);
    const f64 = new Float64Array(buf);
    f64.set(this.f64);
    this.f64 = f64;
    this.u32 = new Uint32Array(buf);
    const fl = new Int32Array(cap);
    fl.set(this.freeList);
    this.freeList = fl;
    this.capacity = cap;
    return true;
  }
}
