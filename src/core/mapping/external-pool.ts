/**
 * The NAT's external side: its addresses (the dynamic pool first, then addresses only used by
 * static mappings), the port space of each address and protocol, the choice of an external
 * endpoint for a new mapping (paired or arbitrary pooling, RFC 6056 ports), and the 1:1 address
 * mappings of basic NAT.
 *
 * Addresses are referred to by a small index (up to 65535), which is what mapping records store.
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import type { AddressKeys } from './address-keys.js';
import { highWord, keyedPair } from './keyed-hash.js';
import { PortSelector, PortSpace } from './port-space.js';
import type { ResolvedOptions } from './types.js';

const NO_CELLS = new Int32Array(0);

export function familyOfKey(key: number): 4 | 6 {
  return key >= 4294967296 ? 6 : 4;
}

export class ExternalPool {
  /** Canonical text and address key of each external address, by index. */
  readonly text: string[] = [];
  readonly key: number[] = [];
  /** Pool addresses are indices 0 .. size-1. */
  readonly size: number;
  /** Dynamic mappings per pool address (for least-loaded pairing). */
  readonly load: number[];
  /** 1:1 static address mappings: internal address key <-> external index. */
  readonly oneToOneOut = new Map<number, number>();
  readonly oneToOneIn = new Map<number, number>();
  // Address key -> index, open addressing over typed arrays (a Map.get costs more than the rest
  // of an external lookup): keys as f64, index + 1 beside them (0 = empty), at most 1/4 full.
  private addrKeys = new Float64Array(16);
  private addrIdx = new Int32Array(16);
  private addrShift = 28; // 32 - log2(positions)
  private readonly spaces: (PortSpace | undefined)[] = [];
  /**
   * cells[idx * 3 + p]: the cell array of that port space (see PortSpace), or an empty array when
   * the space was never used, so an external lookup is one monomorphic typed-array read with no
   * branch on a missing space (an empty array reads `undefined`, which is not a holder).
   */
  readonly cells: Int32Array[] = [];
  private readonly selector = new PortSelector();
  private readonly fg = new Uint32Array(2); // scratch for keyedPair

  constructor(
    private readonly options: ResolvedOptions,
    private readonly keys: AddressKeys,
    private readonly secretF: number,
    private readonly secretG: number,
  ) {
    for (const a of options.externalAddresses) this.indexOf(a, true);
    this.size = options.externalAddresses.length;
    this.load = new Array<number>(this.size).fill(0);
  }

  /** Index of an address key, or undefined when it is not one of the NAT's addresses. */
  indexOfKey(key: number): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : i;
  }

  /** Index of an address key, or -1. */
  find(key: number): number {
    const keys = this.addrKeys;
    const mask = keys.length - 1;
    let i = Math.imul((key >>> 0) ^ highWord(key), 0x9e3779b1) >>> this.addrShift;
    for (;;) {
      const v = this.addrIdx[i]!;
      if (v === 0) return -1;
      if (keys[i] === key) return v - 1;
      i = (i + 1) & mask;
    }
  }

  private addKey(key: number, idx: number): void {
    if ((this.text.length + 1) * 4 > this.addrKeys.length) {
      const oldKeys = this.addrKeys;
      const oldIdx = this.addrIdx;
      this.addrKeys = new Float64Array(oldKeys.length * 2);
      this.addrIdx = new Int32Array(oldKeys.length * 2);
      this.addrShift--;
      for (let i = 0; i < oldKeys.length; i++) if (oldIdx[i]! !== 0) this.place(oldKeys[i]!, oldIdx[i]! - 1);
    }
    this.place(key, idx);
  }

  private place(key: number, idx: number): void {
    const mask = this.addrKeys.length - 1;
    let i = Math.imul((key >>> 0) ^ highWord(key), 0x9e3779b1) >>> this.addrShift;
    while (this.addrIdx[i] !== 0) i = (i + 1) & mask;
    this.addrKeys[i] = key;
    this.addrIdx[i] = idx + 1;
  }

  /** Index of an external address; with `add`, register a new one (static mappings). -1 if unknown. */
  indexOf(address: string, add: boolean): number {
    const peek = this.keys.peek(address);
    const known = peek >= 0 ? this.find(peek) : -1;
    if (known >= 0) return known;
    if (!add) return -1;
    if (this.text.length >= 65535) throw new NatAlgError('capacity', 'too many external addresses');
    const key = this.keys.acquire(address);
    const idx = this.text.length;
    this.addKey(key, idx);
    this.text.push(this.keys.text(key));
    this.key.push(key);
    for (let p = 0; p < 3; p++) this.cells.push(NO_CELLS);
    return idx;
  }

  endpoint(idx: number, port: number): Endpoint {
    return { family: familyOfKey(this.key[idx]!), address: this.text[idx]!, port };
  }

  /** The port space of an address and protocol, if it was ever used. */
  space(idx: number, p: number): PortSpace | undefined {
    return this.spaces[idx * 3 + p];
  }

  spaceFor(idx: number, p: number): PortSpace {
    let sp = this.spaces[idx * 3 + p];
    if (!sp) {
      const pol = this.options.policies[p]!;
      sp = new PortSpace(pol.portRange, pol.privilegedRange);
      this.spaces[idx * 3 + p] = sp;
      this.cells[idx * 3 + p] = sp.cells;
    }
    return sp;
  }

  /** The pool address with the fewest dynamic mappings: where a new host is paired. */
  leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.size; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }

  /**
   * Choose an external (address index, port) for a new mapping of (protocol p, internal address
   * key, internal port, remote key and port when the mapping depends on them), on the `paired`
   * address with paired pooling. Returns idx * 65536 + port (a number, so the allocation path
   * creates no object), or -1 when no port is free ('exhausted').
   */
  pick(p: number, iaddr: number, iport: number, raddr: number, rport: number, paired: number): number {
    const pol = this.options.policies[p]!;
    const privileged = pol.privilegedRange !== null && iport < 1024;
    const span = privileged ? pol.privilegedRange! : pol.portRange;
    const range = privileged ? 0 : 1;
    keyedPair(this.secretF, this.secretG, iaddr >>> 0, highWord(iaddr) ^ (p << 24), iport, raddr >>> 0, rport, this.fg);
    const f = this.fg[0]!;
    const g = this.fg[1]!;
    const arbitrary = this.options.pooling !== 'paired';
    const tries = arbitrary ? this.size : 1;
    const start = arbitrary ? f % this.size : paired;
    for (let t = 0; t < tries; t++) {
      const idx = (start + t) % this.size;
      const space = this.spaceFor(idx, p);
      if (pol.portPreservation && iport >= span.min && iport <= span.max && space.isFree(iport)) return idx * 65536 + iport;
      const port = this.selector.select(space, span, range, pol.parityPreservation ? iport & 1 : -1, f, g);
      if (port >= 0) return idx * 65536 + port;
    }
    return -1;
  }

  /** A 1:1 address mapping (basic NAT). Throws on conflicts: they are configuration mistakes. */
  addOneToOne(internalAddress: string, externalAddress: string): void {
    const iaddr = this.keys.acquire(internalAddress);
    const idx = this.indexOf(externalAddress, true);
    const reject = (why: string): never => {
      this.keys.release(iaddr);
      throw new NatAlgError('invalid-argument', why);
    };
    if (idx < this.size) reject(`${externalAddress} is in the dynamic pool`);
    if (this.oneToOneIn.has(idx) || this.oneToOneOut.has(iaddr)) reject('address already in a 1:1 mapping');
    for (let p = 0; p < 3; p++) if (this.spaces[idx * 3 + p]?.usedCount) reject(`${externalAddress} has port forwards`);
    this.oneToOneOut.set(iaddr, idx);
    this.oneToOneIn.set(idx, iaddr);
  }

  removeOneToOne(internalAddress: string): boolean {
    const iaddr = this.keys.peek(internalAddress);
    const idx = iaddr >= 0 ? this.oneToOneOut.get(iaddr) : undefined;
    if (idx === undefined) return false;
    this.oneToOneOut.delete(iaddr);
    this.oneToOneIn.delete(idx);
    this.keys.release(iaddr);
    return true;
  }
}
