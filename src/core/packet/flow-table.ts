/**
 * The NAT's flow index: which session a packet belongs to, from the side it arrived on, its
 * protocol, addresses and ports as received. Two structures behind one face:
 * - IPv4 keys live in an open-addressing hash table over one typed array (linear probing, load
 *   at most 1/2, backward-shift deletion so churn never lengthens probe chains). An entry is four
 *   32-bit words, 16 bytes: the value and the 3-bit tag share the first word ((value + 1) * 8 +
 *   tag; 0 marks an empty entry), then source, destination, ports. Key and value in one line is
 *   what makes the per-packet lookup of an established flow usually a single cache miss (with a
 *   separate value array it was two), and it allocates nothing. The hash is keyed by a secret from the caller's random source: a
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
/** The largest value an entry holds: value + 1 must fit in the 29 bits above the tag. */
export const MAX_FLOW_VALUE = 2 ** 29 - 2;

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
  /** Entries of four words: (value + 1) * 8 + tag (0: empty), a, b, ports. */
  private keys: Uint32Array;
  private n = 0;
  /**
   * mix(secret ^ tag) for each of the 8 tags: the first step of every key's hash, done once
   * here so that a lookup's chain of dependent multiplications before its memory load is one
   * step shorter (the hashes are the same as computing it each time).
   */
  private readonly tagSeeds: Uint32Array;
  private readonly text = new Map<string, number>();

  constructor(random: () => number, initialCapacity = MIN_CAPACITY) {
    const seed = Math.floor(random() * 0x100000000) >>> 0;
    this.tagSeeds = new Uint32Array(8);
    for (let tag = 0; tag < 8; tag++) this.tagSeeds[tag] = mix(seed ^ tag);
    let cap = MIN_CAPACITY;
    while (cap < initialCapacity * 2) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * 4);
  }

  /** Entries (both kinds). */
  get size(): number {
    return this.n + this.text.size;
  }

  private slotOf(tag: number, a: number, b: number, ports: number): number {
    let h = mix(this.tagSeeds[tag & 7]! ^ a);
    h = mix(h ^ b);
    h = mix(h ^ ports);
    return h & this.mask;
  }

  /** The value under an IPv4 key, or -1. */
  get4(tag: number, a: number, b: number, ports: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      const k = i * 4;
      const w = keys[k]!;
      if (w === 0) return EMPTY;
      if ((w & 7) === tag && keys[k + 1] === a && keys[k + 2] === b && keys[k + 3] === ports) return (w >>> 3) - 1;
      i = (i + 1) & mask;
    }
  }

  /** Set an IPv4 key (replacing any value it had). */
  set4(tag: number, a: number, b: number, ports: number, value: number): void {
    if (!(value >= 0 && value <= MAX_FLOW_VALUE)) throw new NatAlgError('invalid-argument', `flow values are 0-${MAX_FLOW_VALUE}`);
    if ((this.n + 1) * 2 > this.cap) this.grow();
    const w = (value + 1) * 8 + tag;
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      const k = i * 4;
      const old = this.keys[k]!;
      if (old === 0) {
        this.keys[k] = w;
        this.keys[k + 1] = a;
        this.keys[k + 2] = b;
        this.keys[k + 3] = ports;
        this.n++;
        return;
      }
      if ((old & 7) === tag && this.keys[k + 1] === a && this.keys[k + 2] === b && this.keys[k + 3] === ports) {
        this.keys[k] = w;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Remove an IPv4 key; true when it was there. */
  delete4(tag: number, a: number, b: number, ports: number): boolean {
    let i = this.slotOf(tag, a, b, ports);
    for (;;) {
      const k = i * 4;
      const w = this.keys[k]!;
      if (w === 0) return false;
      if ((w & 7) === tag && this.keys[k + 1] === a && this.keys[k + 2] === b && this.keys[k + 3] === ports) break;
      i = (i + 1) & this.mask;
    }
    // Backward-shift deletion: move later members of the probe run into the hole.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const kj = j * 4;
      const w = this.keys[kj]!;
      if (w === 0) break;
      const home = this.slotOf(w & 7, this.keys[kj + 1]!, this.keys[kj + 2]!, this.keys[kj + 3]!);
      // j may move to the hole when its home is not cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      this.keys.copyWithin(hole * 4, kj, kj + 4);
      hole = j;
    }
    this.keys.fill(0, hole * 4, hole * 4 + 4);
    this.n--;
    return true;
  }

  private grow(): void {
    const old = this.keys;
    const oldCap = this.cap;
    this.cap *= 2;
    this.mask = this.cap - 1;
    this.keys = new Uint32Array(this.cap * 4);
    this.n = 0;
    for (let i = 0; i < oldCap; i++) {
      const w = old[i * 4]!;
      if (w !== 0) this.set4(w & 7, old[i * 4 + 1]!, old[i * 4 + 2]!, old[i * 4 + 3]!, (w >>> 3) - 1);
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
