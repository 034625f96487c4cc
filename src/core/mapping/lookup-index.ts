/**
 * The internal-side lookup index of the mapping table: a HashIndex over the slot records, so a
 * lookup reads one hash entry (key, slot and generation side by side) and not the record behind
 * it. The external side needs no hashing: its index is the port space's cell array (holder and
 * generation per port, port-space.ts), one read as well.
 *
 * Internal key: protocol, internal address and port, key kind, and for key kinds 1 and 2 the
 * remote address (and port). The remote does not fit in the entry: it is folded into the hash
 * and into 11 bits of key word 1, and a candidate is confirmed against the record. Kind 0 keys
 * (endpoint-independent mapping, static forwards) are exact in the entry: word 0 is the address
 * key modulo 2^32, word 1 holds port, protocol, kind and whether the key is an interned IPv6 one.
 *
 * Expiry is not in the entries (it would make them 24 bytes and need updating per refresh):
 * the expiry queue keeps `floor`, a lower bound of every timed mapping's expiry, and an entry is
 * alive without further reading while nowMs is below it. That is the case whenever the embedding
 * has run `handleTimeout` for the time it passes in; a lookup after a deadline that was not yet
 * handled reads the record's expiry (a second access, as exact as the first).
 */

import { HashIndex, hashWords as mix } from './hash-index.js';
import { highWord } from './keyed-hash.js';
import type { ExpiryQueue } from './expiry.js';
import { F_HELD, KEY_SHIFT, SLOT_LIMIT, type SlotStore } from './slots.js';

const V6_BIT = 1 << 20;
const REMOTE_SHIFT = 21; // 11 bits of the remote hash in key word 1

export class MappingIndex {
  readonly inside: HashIndex;

  constructor(
    private readonly slots: SlotStore,
    private readonly expiry: ExpiryQueue,
    initialEntries: number,
    private readonly secret: number,
  ) {
    this.inside = new HashIndex(initialEntries * 2, secret, (_k0, _k1, s) => this.insideHome(s));
  }

  get byteLength(): number {
    return this.inside.byteLength;
  }

  /** No timed mapping expires before this (see ExpiryQueue.floor). */
  get floor(): number {
    return this.expiry.floor;
  }

  /**
   * Position in `inside` of the mapping with this internal key, expired or not, or -1.
   * `raddr`/`rport` matter for kind 1 (address) and 2 (address and port) only.
   */
  insidePos(p: number, iaddr: number, iport: number, kind: number, raddr: number, rport: number): number {
    const rw = kind === 0 ? 0 : remoteWord(raddr, kind === 2 ? rport : 0);
    const k0 = iaddr >>> 0;
    const k1 = insideWord(p, iaddr, iport, kind, rw);
    const ix = this.inside;
    let pos = ix.find(mix(k0, k1, rw, this.secret), k0, k1);
    if (kind !== 0) {
      const sl = this.slots;
      while (pos >= 0) {
        const s = ix.slot(pos);
        if (sl.raddr(s) === raddr && (kind === 1 || sl.rport(s) === rport)) break;
        pos = ix.next(pos, k0, k1);
      }
    }
    return pos;
  }

  /**
   * Id (generation * 2^24 + slot) of the live endpoint-independent (kind 0) mapping of an internal
   * endpoint, or -1: `insidePos` + `alive` for the common key, in one short function so the whole
   * lookup inlines.
   */
  insideHandle(p: number, iaddr: number, iport: number, nowMs: number): number {
    const k0 = iaddr >>> 0;
    const k1 = iport | (p << 16) | (iaddr >= 4294967296 ? V6_BIT : 0);
    const ix = this.inside;
    const pos = ix.find(mix(k0, k1, 0, this.secret), k0, k1);
    if (pos < 0 || !(nowMs < this.expiry.floor || this.alive(ix, pos, nowMs))) return -1;
    return ix.gen(pos) * SLOT_LIMIT + ix.slot(pos);
  }

  /** Is the mapping of the entry at `pos` of `ix` alive at nowMs? */
  alive(ix: HashIndex, pos: number, nowMs: number): boolean {
    if (nowMs < this.expiry.floor) return true;
    const s = ix.slot(pos);
    return (this.slots.flags(s) & F_HELD) !== 0 || this.slots.expiry(s) > nowMs;
  }

  /** Index a slot whose fields and flags are set. */
  insert(s: number): void {
    const sl = this.slots;
    const g = sl.gen(s);
    const kind = sl.flags(s) >> KEY_SHIFT;
    const iaddr = sl.iaddr(s);
    const rw = kind === 0 ? 0 : remoteWord(sl.raddr(s), kind === 2 ? sl.rport(s) : 0);
    const k0 = iaddr >>> 0;
    const k1 = insideWord(sl.proto(s), iaddr, sl.iport(s), kind, rw);
    this.inside.insert(mix(k0, k1, rw, this.secret), k0, k1, s, g);
  }

  /** Remove a slot (before its record changes). */
  remove(s: number): void {
    const a = this.insidePosOfSlot(s);
    if (a >= 0) this.inside.removeAt(a);
  }

  private insidePosOfSlot(s: number): number {
    return this.inside.locate(this.insideHome(s), s);
  }

  /** Hash of a slot's internal key, from its record. */
  private insideHome(s: number): number {
    const sl = this.slots;
    const kind = sl.flags(s) >> KEY_SHIFT;
    const iaddr = sl.iaddr(s);
    const rw = kind === 0 ? 0 : remoteWord(sl.raddr(s), kind === 2 ? sl.rport(s) : 0);
    const w0 = iaddr >>> 0;
    return mix(w0, insideWord(sl.proto(s), iaddr, sl.iport(s), kind, rw), rw, this.secret);
  }
}

function insideWord(p: number, iaddr: number, iport: number, kind: number, rw: number): number {
  return (iport | (p << 16) | (kind << 18) | (iaddr >= 4294967296 ? V6_BIT : 0) | ((rw & 0x7ff) << REMOTE_SHIFT)) >>> 0;
}

/** A 32-bit digest of a remote address key and port (nonzero-spread, unkeyed: mixed again in `mix`). */
function remoteWord(raddr: number, rport: number): number {
  let h = Math.imul((raddr >>> 0) ^ 0x5bd1e995, 0x9e3779b1) ^ highWord(raddr);
  h = Math.imul(h ^ (h >>> 15) ^ rport, 0x85ebca77);
  return (h ^ (h >>> 13)) >>> 0;
}
