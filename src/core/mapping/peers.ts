/**
 * Which remote endpoints a mapping's internal endpoint has sent to: the memory behind
 * address-dependent and address-and-port-dependent filtering (RFC 4787 section 5).
 *
 * The first peer lives in the mapping record itself (for address-dependent mapping it is also
 * the key remote); further peers go to a short list per mapping, bounded by
 * `maxPeersPerMapping` with the oldest forgotten first, so a host that talks to many peers
 * cannot grow the table without bound. Peer address keys hold references on interned IPv6
 * addresses and give them back when forgotten.
 */

import type { Endpoint } from '../net/ip.js';
import type { AddressKeys } from './address-keys.js';
import { F_HAS_PEER, F_PEER_LOCKED, F_STATIC, type SlotStore } from './slots.js';

/** Filtering levels: 0 endpoint-independent, 1 address-dependent, 2 address-and-port-dependent. */
export type FilterLevel = 0 | 1 | 2;

export class PeerMemory {
  private readonly extra = new Map<number, number[]>(); // slot -> [addrKey, port, ...]

  constructor(
    private readonly slots: SlotStore,
    private readonly keys: AddressKeys,
    private readonly maxPerMapping: number,
  ) {}

  /** Is a packet from (peerKey, peerPort) admitted through slot `s` with the protocol's level? */
  admits(s: number, level: number, peerKey: number, peerPort: number): boolean {
    const sl = this.slots;
    const f = sl.flags(s);
    if (f & F_STATIC) return true;
    const lv = f & F_PEER_LOCKED ? 2 : level;
    if (lv === 0) return true;
    if (peerKey < 0) return false;
    if (f & F_HAS_PEER && sl.raddr(s) === peerKey && (lv === 1 || sl.rport(s) === peerPort)) return true;
    const list = this.extra.get(s);
    if (list) {
      for (let i = 0; i < list.length; i += 2) if (list[i] === peerKey && (lv === 1 || list[i + 1] === peerPort)) return true;
    }
    return false;
  }

  /** Remember that the internal endpoint of `s` sent to `remote` (key `peerKey`, -1 if unknown). */
  record(s: number, level: number, peerKey: number, remote: Endpoint): void {
    const sl = this.slots;
    const f = sl.flags(s);
    if (f & F_STATIC) return;
    if (f & F_HAS_PEER) {
      if (sl.raddr(s) === peerKey && sl.rport(s) === remote.port) return;
    } else {
      // Only endpoint-independent (kind 0) mappings lack a peer; their key does not include it.
      sl.setRaddr(s, this.keys.acquireKnown(peerKey, remote.address));
      sl.setRport(s, remote.port);
      sl.setFlags(s, f | F_HAS_PEER);
      return;
    }
    if (level === 0 && !(f & F_PEER_LOCKED)) return; // nothing to filter on: remember nothing more
    const list = this.extra.get(s);
    if (list) for (let i = 0; i < list.length; i += 2) if (list[i] === peerKey && list[i + 1] === remote.port) return;
    this.add(s, this.keys.acquireKnown(peerKey, remote.address), remote.port);
  }

  /** Add a peer whose key reference the caller already holds. */
  add(s: number, key: number, port: number): void {
    let list = this.extra.get(s);
    if (!list) this.extra.set(s, (list = []));
    list.push(key, port);
    if (list.length / 2 + 1 > this.maxPerMapping) {
      this.keys.release(list[0]!);
      list.splice(0, 2); // forget the oldest
    }
  }

  /** Forget every peer of a slot being freed (the record's own peer is the caller's). */
  forget(s: number): void {
    const list = this.extra.get(s);
    if (!list) return;
    for (let i = 0; i < list.length; i += 2) this.keys.release(list[i]!);
    this.extra.delete(s);
  }

  /** All peers of a slot, the record's first (for snapshots). */
  list(s: number): Endpoint[] {
    const out: Endpoint[] = [];
    const sl = this.slots;
    if (sl.flags(s) & F_HAS_PEER) out.push(this.keys.endpoint(sl.raddr(s), sl.rport(s)));
    const list = this.extra.get(s);
    if (list) for (let i = 0; i < list.length; i += 2) out.push(this.keys.endpoint(list[i]!, list[i + 1]!));
    return out;
  }
}
