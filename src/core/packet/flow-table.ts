/**
 * The NAT's flow index: which session a packet belongs to, from the side it arrived on, its
 * protocol, addresses and ports as received. Two structures behind one face:
 * - IPv4 keys live in an open-addressing hash table over typed arrays (four 32-bit key words
 *   inline, linear probing, load at most 1/2, backward-shift deletion so churn never lengthens
 *   probe chains), so the per-packet lookup of an established flow reads one or two cache lines
 *   and allocates nothing. The hash is keyed by a secret from the caller's random source: a
 *   stranger cannot aim packets at one probe chain.
 * - IPv6 keys (NAT64 inside hosts, IPv6 1:1 rules) go in a Map under a text key.
 *
 * Key words for IPv4: tag = side (0 inside, 1 outside) * 4 + protocol index (0 tcp, 1 udp,
 * 2 icmp); source; destination; ports = source port * 65536 + destination port (for ICMP
 * queries the identifier stands as the querier's port: see packet-nat.ts).
 */

import { NatAlgError } from '../errors.js';

export function flowTag(side: 0 | 1, protocolIndex: number): number {
  return side * 4 + protocolIndex;
}

const EMPTY = -1;
const MIN_CAPACITY = 1024;

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class FlowTable {
  private cap: number;
  private mask: number;
  private keys: Uint32Array;
  private vals: Int32Array;
  private n = 0;
  private readonly seed: number;
  private readonly text = new Map<string, number>();

  constructor(random: () => number, initialCapacity = MIN_CAPACITY) {
    this.seed = Math.floor(random() * 0x100000000) >>> 0;
    let cap = MIN_CAPACITY;
    while (cap < initialCapacity * 2) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * 4);
    this.vals = new Int32Array(cap).fill(EMPTY);
  }

  /** Entries (both kinds). */
  get size(): number {
    return this.n + this.text.size;
  }

  private slotOf(tag: number, a: number, b: number, ports: number): number {
    let h = mix(this.seed ^ tag);
    h = mix(h ^ a);
    h = mix(h ^ b);
    h = mix(h ^ ports);
    return h & this.mask;
  }

  /** The value under an IPv4 key, or -1. */
  get4(tag: number, a: number, b: number, ports: number): number {
    const keys = this.keys;
    const vals = this.vals;
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      const v = vals[i]!;
      if (v === EMPTY) return EMPTY;
      const k = i * 4;
      if (keys[k] === tag && keys[k + 1] === a && keys[k + 2] === b && keys[k + 3] === ports) return v;
      i = (i + 1) & this.mask;
    }
  }

  /** Set an IPv4 key (replacing any value it had). */
  set4(tag: number, a: number, b: number, ports: number, value: number): void {
    if (value < 0) throw new NatAlgError('invalid-argument', 'flow values are non-negative');
    if ((this.n + 1) * 2 > this.cap) this.grow();
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      const k = i * 4;
      if (this.vals[i] === EMPTY) {
        this.keys[k] = tag;
        this.keys[k + 1] = a;
        this.keys[k + 2] = b;
        this.keys[k + 3] = ports;
        this.vals[i] = value;
        this.n++;
        return;
      }
      if (this.keys[k] === tag && this.keys[k + 1] === a && this.keys[k + 2] === b && this.keys[k + 3] === ports) {
        this.vals[i] = value;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Remove an IPv4 key; true when it was there. */
  delete4(tag: number, a: number, b: number, ports: number): boolean {
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      if (this.vals[i] === EMPTY) return false;
      const k = i * 4;
      if (this.keys[k] === tag && this.keys[k + 1] === a && this.keys[k + 2] === b && this.keys[k + 3] === ports) break;
      i = (i + 1) & this.mask;
    }
    // Backward-shift deletion: move later members of the probe run into the hole.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      if (this.vals[j] === EMPTY) break;
      const kj = j * 4;
      const home = this.slotOf(this.keys[kj]!, this.keys[kj + 1]!, this.keys[kj + 2]!, this.keys[kj + 3]!);
      // j may move to the hole when its home is not cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      this.keys.copyWithin(hole * 4, kj, kj + 4);
      this.vals[hole] = this.vals[j]!;
      hole = j;
    }
    this.vals[hole] = EMPTY;
    this.n--;
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const oldCap = this.cap;
    this.cap *= 2;
    this.mask = this.cap - 1;
    this.keys = new Uint32Array(this.cap * 4);
    this.vals = new Int32Array(this.cap).fill(EMPTY);
    this.n = 0;
    for (let i = 0; i < oldCap; i++) {
      const v = oldVals[i]!;
      if (v !== EMPTY) this.set4(oldKeys[i * 4]!, oldKeys[i * 4 + 1]!, oldKeys[i * 4 + 2]!, oldKeys[i * 4 + 3]!, v);
    }
  }

  getText(key: string): number {
    return this.text.get(key) ?? EMPTY;
  }
  setText(key: string, value: number): void {
    this.text.set(key, value);
  }
  deleteText(key: string): boolean {
    return this.text.delete(key);
  }
}
