/**
 * Expectations: one-shot, time-limited pinholes for a connection the NAT anticipates (an FTP data
 * channel). Each one names the external endpoint that will be hit, the internal endpoint it leads
 * to, and the peer allowed to use it (address or any, optionally port). The first matching inbound
 * connection consumes it; otherwise it expires. Counted per owner and in total, so a hostile
 * control connection cannot fill the table with pinholes.
 *
 * Few by design (limits in the hundreds), so plain Maps are fine here; only mappings need the
 * typed-array layout.
 */

import type { Endpoint } from '../net/ip.js';
import { TimerHeap } from './timer-heap.js';
import type { Expectation, PeerConstraint, Protocol } from './types.js';

export interface ExpectationRecord {
  readonly id: number;
  readonly protocol: Protocol;
  readonly proto: number;
  readonly owner: string | number;
  readonly internal: Endpoint;
  readonly external: Endpoint;
  readonly peer: PeerConstraint;
  readonly expiresAt: number;
  /** Key of the external endpoint (see `externalKey`). */
  readonly extKey: number;
  /** True when the external port was reserved for this expectation (not an existing mapping's). */
  readonly ownsPort: boolean;
}

/** One number for (external address index, protocol, port). */
export function externalKey(extIdx: number, proto: number, port: number): number {
  return (extIdx * 4 + proto) * 65536 + port;
}

function internalKey(proto: number, address: string, port: number): string {
  return `${proto}|${address}|${port}`;
}

export function publicExpectation(r: ExpectationRecord): Expectation {
  return {
    id: r.id,
    protocol: r.protocol,
    owner: r.owner,
    internal: r.internal,
    external: r.external,
    peer: r.peer,
    expiresAt: r.expiresAt,
  };
}

export class ExpectationStore {
  private readonly byId = new Map<number, ExpectationRecord>();
  private readonly byExternal = new Map<number, ExpectationRecord[]>();
  private readonly byOwner = new Map<string | number, Set<number>>();
  /** By internal endpoint and protocol: one internal endpoint has one external endpoint. */
  private readonly byInternal = new Map<string, ExpectationRecord[]>();
  private readonly heap = new TimerHeap(16);
  private nextId = 1;

  get size(): number {
    return this.byId.size;
  }

  ownerCount(owner: string | number): number {
    return this.byOwner.get(owner)?.size ?? 0;
  }

  newId(): number {
    return this.nextId++;
  }

  /** Keep ids unique across a snapshot and restore. */
  bumpIdPast(id: number): void {
    if (id >= this.nextId) this.nextId = id + 1;
  }

  get idCounter(): number {
    return this.nextId;
  }

  add(r: ExpectationRecord): void {
    this.byId.set(r.id, r);
    const ik = internalKey(r.proto, r.internal.address, r.internal.port);
    const same = this.byInternal.get(ik);
    if (same) same.push(r);
    else this.byInternal.set(ik, [r]);
    const list = this.byExternal.get(r.extKey);
    if (list) list.push(r);
    else this.byExternal.set(r.extKey, [r]);
    let owned = this.byOwner.get(r.owner);
    if (!owned) this.byOwner.set(r.owner, (owned = new Set()));
    owned.add(r.id);
    this.heap.push(r.expiresAt, r.id);
  }

  get(id: number): ExpectationRecord | undefined {
    return this.byId.get(id);
  }

  /** The oldest expectation leading to this internal endpoint, or undefined. */
  forInternal(proto: number, address: string, port: number): ExpectationRecord | undefined {
    return this.byInternal.get(internalKey(proto, address, port))?.[0];
  }

  /** Whether an expectation at `extKey` leads to this internal endpoint. */
  reservedFor(extKey: number, address: string, port: number): boolean {
    const list = this.byExternal.get(extKey);
    return list !== undefined && list.some((r) => r.internal.address === address && r.internal.port === port);
  }

  /** Whether any expectation (other than those owning the port) targets this external key. */
  hasExternal(extKey: number): boolean {
    return this.byExternal.has(extKey);
  }

  /** The first live expectation at `extKey` admitting the peer, or undefined. */
  match(extKey: number, peerAddress: string, peerPort: number, nowMs: number): ExpectationRecord | undefined {
    const list = this.byExternal.get(extKey);
    if (!list) return undefined;
    for (const r of list) {
      if (r.expiresAt <= nowMs) continue;
      if (r.peer.address !== null && r.peer.address !== peerAddress) continue;
      if (r.peer.port !== undefined && r.peer.port !== peerPort) continue;
      return r;
    }
    return undefined;
  }

  remove(id: number): ExpectationRecord | undefined {
    const r = this.byId.get(id);
    if (!r) return undefined;
    this.byId.delete(id);
    const list = this.byExternal.get(r.extKey);
    if (list) {
      const i = list.indexOf(r);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byExternal.delete(r.extKey);
    }
    const ik = internalKey(r.proto, r.internal.address, r.internal.port);
    const same = this.byInternal.get(ik);
    if (same) {
      const i = same.indexOf(r);
      if (i >= 0) same.splice(i, 1);
      if (same.length === 0) this.byInternal.delete(ik);
    }
    const owned = this.byOwner.get(r.owner);
    if (owned) {
      owned.delete(id);
      if (owned.size === 0) this.byOwner.delete(r.owner);
    }
    if (this.heap.size > 2 * this.byId.size + 64) this.heap.compact((h) => this.byId.has(h));
    return r;
  }

  idsOfOwner(owner: string | number): number[] {
    return [...(this.byOwner.get(owner) ?? [])];
  }

  /** Earliest expiry of a live expectation, or Infinity. */
  nextDeadline(): number {
    while (this.heap.size > 0 && !this.byId.has(this.heap.peekHandle())) this.heap.pop();
    return this.heap.peekDeadline();
  }

  /** Remove and return the next expectation whose expiry is at or before nowMs, or undefined. */
  popExpired(nowMs: number): ExpectationRecord | undefined {
    for (;;) {
      if (this.nextDeadline() > nowMs) return undefined;
      const id = this.heap.peekHandle();
      this.heap.pop();
      const r = this.remove(id);
      if (r) return r;
    }
  }

  all(): ExpectationRecord[] {
    return [...this.byId.values()];
  }
}
