/**
 * The state behind a PortTable and the operations on one mapping record: create, find from the
 * inside, refresh, expire, free, and the Mapping value handed out. PortTable (table.ts) is the
 * public face: traffic, lookups, static mappings and timers; Pinholes (pinholes.ts) adds
 * expectations. Not exported from the package.
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import { AddressKeys } from './address-keys.js';
import { EventQueue } from './event-queue.js';
import { ExpectationStore, externalKey } from './expectations.js';
import { ExpiryQueue } from './expiry.js';
import { ExternalPool } from './external-pool.js';
import { randomWord, toRandomFunction } from './keyed-hash.js';
import { MappingIndex } from './lookup-index.js';
import { resolveOptions } from './options.js';
import { PeerMemory } from './peers.js';
import { RESERVED } from './port-space.js';
import { F_ESTABLISHED, F_HAS_PEER, F_HELD, F_LIVE, F_STATIC, KEY_SHIFT, SlotStore } from './slots.js';
import {
  PROTOCOLS,
  protocolIndex,
  type ConnectionPhase,
  type Mapping,
  type MappingEvent,
  type PortTableOptions,
  type Protocol,
  type ResolvedOptions,
} from './types.js';

const BEHAVIOR_KIND = { 'endpoint-independent': 0, 'address-dependent': 1, 'address-and-port-dependent': 2 } as const;

interface Host {
  count: number;
  pool: number;
  /** The address as text, so events and lookups do not format it again per mapping. */
  text: string;
}

export class MappingStore {
  readonly options: ResolvedOptions;
  readonly keys = new AddressKeys();
  readonly slots: SlotStore;
  readonly index: MappingIndex;
  readonly expectations = new ExpectationStore();
  readonly expiry: ExpiryQueue;
  readonly pool: ExternalPool;
  readonly hosts = new Map<number, Host>();
  readonly peers: PeerMemory;
  readonly stale = new Int32Array([-1, -1, -1]); // per key kind, see liveOrStale
  readonly keyCounts = new Int32Array(9); // proto * 3 + keyKind: live mappings per key kind
  readonly behavior: Int8Array;
  readonly filter: Int8Array;
  staticCount = 0;
  readonly events: EventQueue<MappingEvent>;

  constructor(options: PortTableOptions) {
    this.options = resolveOptions(options);
    const random = toRandomFunction(options.random);
    const secretF = randomWord(random);
    const secretG = randomWord(random);
    const hashKey = randomWord(random);
    const initial = Math.min(this.options.initialCapacity, this.options.maxMappings);
    this.slots = new SlotStore(initial, this.options.maxMappings);
    this.pool = new ExternalPool(this.options, this.keys, secretF, secretG);
    this.expiry = new ExpiryQueue(this.slots);
    this.index = new MappingIndex(this.slots, this.expiry, initial, hashKey);
    this.events = new EventQueue(this.options.maxQueuedEvents);
    this.peers = new PeerMemory(this.slots, this.keys, this.options.maxPeersPerMapping);
    this.behavior = Int8Array.from(this.options.policies.map((p) => BEHAVIOR_KIND[p.mapping]));
    this.filter = Int8Array.from(this.options.policies.map((p) => BEHAVIOR_KIND[p.filtering]));
  }

  flagsOf(slot: number): number {
    return this.slots.flags(slot);
  }

  /** Peers remembered for filtering, beyond the key remote (snapshot support). */
  peersOf(slot: number): Endpoint[] {
    return this.peers.list(slot);
  }

  /** Recreate a mapping from a snapshot record. */
  restoreSlot(
    p: number,
    internal: Endpoint,
    external: Endpoint,
    flags: number,
    peers: readonly Endpoint[],
    expiresAt: number,
  ): void {
    const idx = this.pool.indexOf(external.address, true);
    const space = this.pool.spaceFor(idx, p);
    if (!space.isFree(external.port)) throw new NatAlgError('invalid-argument', 'snapshot: external endpoint held twice');
    const s = this.slots.allocate();
    if (s < 0) throw new NatAlgError('capacity', 'snapshot: more mappings than maxMappings');
    const kind = flags >> KEY_SHIFT;
    const first = peers[0];
    const raddr = first ? this.keys.acquire(first.address) : 0;
    this.fill(s, p, this.keys.acquire(internal.address), internal.port, idx, external.port, kind, raddr, first?.port ?? 0);
    this.slots.setFlags(s, (flags & ~F_HAS_PEER) | F_LIVE | (first ? F_HAS_PEER : 0));
    for (let i = 1; i < peers.length; i++) this.peers.add(s, this.keys.acquire(peers[i]!.address), peers[i]!.port);
    if (this.findAny(p, this.slots.iaddr(s), internal.port, kind, raddr, first?.port ?? 0) >= 0) {
      throw new NatAlgError('invalid-argument', 'snapshot: internal key held twice');
    }
    if (!(flags & F_HELD)) this.expiry.schedule(s, expiresAt);
    this.index.insert(s);
    this.keyCounts[p * 3 + kind]!++;
    space.take(external.port, s + 1, this.slots.gen(s));
    if (flags & F_STATIC) this.staticCount++;
    else this.countHost(this.slots.iaddr(s), idx);
  }

  timeoutOf(s: number): number {
    const pol = this.options.policies[this.slots.proto(s)]!;
    return this.slots.flags(s) & F_ESTABLISHED ? pol.establishedTimeoutMs : pol.transitoryTimeoutMs;
  }

  touch(s: number, nowMs: number): void {
    if (this.slots.flags(s) & F_HELD) return;
    this.expiry.move(s, nowMs + this.timeoutOf(s));
  }

  setPhase(s: number, phase: ConnectionPhase): void {
    if (phase === 'established') this.slots.setFlags(s, this.slots.flags(s) | (F_ESTABLISHED));
    else this.slots.setFlags(s, this.slots.flags(s) & (~F_ESTABLISHED));
  }

  alive(s: number, nowMs: number): boolean {
    const f = this.slots.flags(s);
    return (f & F_LIVE) !== 0 && ((f & F_HELD) !== 0 || this.slots.expiry(s) > nowMs);
  }

  /** Slot of the live mapping for an internal key (most specific key kind first), or -1. */
  findOutbound(p: number, iaddr: number, iport: number, raddr: number, rport: number, nowMs: number): number {
    const pos = this.findOutboundPos(p, iaddr, iport, raddr, rport, nowMs);
    return pos < 0 ? -1 : this.index.inside.slot(pos);
  }

  /** As findOutbound, as a position in the internal index (its entry has the id's generation). */
  findOutboundPos(p: number, iaddr: number, iport: number, raddr: number, rport: number, nowMs: number): number {
    const ix = this.index;
    const base = p * 3;
    let pos = -1;
    if (raddr >= 0 && this.keyCounts[base + 2]! > 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 2, raddr, rport), 2, nowMs);
    if (pos < 0 && raddr >= 0 && this.keyCounts[base + 1]! > 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 1, raddr, 0), 1, nowMs);
    if (pos < 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 0, 0, 0), 0, nowMs);
    return pos;
  }

  /** Slot holding an internal key, expired or not, or -1. */
  findAny(p: number, iaddr: number, iport: number, kind: number, raddr: number, rport: number): number {
    const pos = this.index.insidePos(p, iaddr, iport, kind, raddr, rport);
    return pos < 0 ? -1 : this.index.inside.slot(pos);
  }

  /** The position if its mapping is alive; an expired one is remembered per key kind so `create` can collect it. */
  liveOrStale(pos: number, kind: number, nowMs: number): number {
    if (pos < 0 || this.index.alive(this.index.inside, pos, nowMs)) return pos;
    this.stale[kind] = this.index.inside.slot(pos);
    return -1;
  }

  clearStale(): void {
    this.stale[0] = this.stale[1] = this.stale[2] = -1;
  }

  /**
   * Create a mapping; call right after `clearStale` + `findOutbound` for the same key.
   * `internalAddress` is the address text, read only when `iaddrPeek` is -1 (an IPv6 address not
   * interned yet): the numeric path passes an IPv4 key and no text.
   */
  create(
    p: number,
    iaddrPeek: number,
    iport: number,
    internalAddress: string,
    remote: Endpoint | null,
    raddrPeek: number,
    nowMs: number,
    phase: ConnectionPhase | null,
    hold: boolean,
  ): number | 'exhausted' | 'host-limit' | 'table-full' | 'family-mismatch' {
    const kind = remote ? this.behavior[p]! : 0;
    // A stale (expired, not yet collected) mapping with the same key must go before a new one.
    const stale = this.stale[kind]!;
    this.clearStale();
    if (stale >= 0) this.expireNow(stale);
    if (this.slots.live >= this.options.maxMappings) return 'table-full';
    const host = iaddrPeek >= 0 ? this.hosts.get(iaddrPeek) : undefined;
    if (host !== undefined && host.count >= this.options.maxMappingsPerHost) return 'host-limit';
    const rport = remote ? remote.port : 0;
    const pick = this.pool.pick(p, iaddrPeek < 0 ? 0 : iaddrPeek, iport, kind > 0 ? raddrPeek : 0, kind === 2 ? rport : 0, host !== undefined ? host.pool : this.pool.leastLoaded());
    if (pick < 0) return 'exhausted';
    const idx = pick >>> 16;
    const eport = pick & 0xffff;
    const s = this.slots.allocate();
    if (s < 0) return 'table-full';
    const iaddr = this.keys.acquireKnown(iaddrPeek, internalAddress);
    const raddr = remote ? this.keys.acquireKnown(raddrPeek, remote.address) : 0;
    this.fill(s, p, iaddr, iport, idx, eport, kind, raddr, rport);
    let flags = F_LIVE | (kind << KEY_SHIFT) | (remote ? F_HAS_PEER : 0) | (hold ? F_HELD : 0);
    if (phase === 'established' || (phase === null && p !== 0)) flags |= F_ESTABLISHED;
    this.slots.setFlags(s, flags);
    if (!hold) this.expiry.schedule(s, nowMs + this.timeoutOf(s));
    this.index.insert(s);
    this.keyCounts[p * 3 + kind]!++;
    this.pool.spaceFor(idx, p).take(eport, s + 1, this.slots.gen(s));
    if (host !== undefined) {
      host.count++;
      if (idx < this.pool.size) this.pool.load[idx]!++;
    } else this.countHost(iaddr, idx);
    return s;
  }

  fill(s: number, p: number, iaddr: number, iport: number, idx: number, eport: number, kind: number, raddr: number, rport: number): void {
    const sl = this.slots;
    sl.setProto(s, p);
    sl.setIaddr(s, iaddr);
    sl.setIport(s, iport);
    sl.setExtIdx(s, idx);
    sl.setEport(s, eport);
    sl.setRaddr(s, raddr);
    sl.setRport(s, rport);
    sl.setFlags(s, F_LIVE | (kind << KEY_SHIFT));
  }

  countHost(iaddr: number, idx: number): void {
    const host = this.hosts.get(iaddr);
    if (host) host.count++;
    else this.hosts.set(iaddr, { count: 1, pool: idx < this.pool.size ? idx : 0, text: this.keys.text(iaddr) });
    if (idx < this.pool.size) this.pool.load[idx]!++;
  }

  expireNow(s: number): void {
    this.events.push({ type: 'mapping-expired', mapping: this.toMapping(s) });
    this.free(s);
  }

  free(s: number, fromHeap = false): void {
    const sl = this.slots;
    const p = sl.proto(s);
    const f = sl.flags(s);
    const idx = sl.extIdx(s);
    const port = sl.eport(s);
    this.index.remove(s);
    this.keyCounts[p * 3 + (f >> KEY_SHIFT)]!--;
    const space = this.pool.spaceFor(idx, p); // exists: the mapping holds a port in it
    if (this.expectations.size > 0 && this.expectations.hasExternal(externalKey(idx, p, port))) space.reassign(port, RESERVED);
    else space.free(port);
    if (f & F_STATIC) this.staticCount--;
    else {
      const host = this.hosts.get(sl.iaddr(s));
      if (host && --host.count === 0) this.hosts.delete(sl.iaddr(s));
      if (idx < this.pool.size) this.pool.load[idx]!--;
    }
    if (!fromHeap && !(f & F_HELD)) this.expiry.forget();
    this.keys.release(sl.iaddr(s));
    if (f & F_HAS_PEER) this.keys.release(sl.raddr(s));
    this.peers.forget(s);
    sl.release(s);
  }

  toMapping(s: number, internal?: Endpoint): Mapping {
    const sl = this.slots;
    const f = sl.flags(s);
    const idx = sl.extIdx(s);
    return {
      id: sl.handleOf(s),
      protocol: PROTOCOLS[sl.proto(s)]!,
      internal: internal && internal.port === sl.iport(s) ? internal : this.internalEndpoint(s),
      external: this.pool.endpoint(idx, sl.eport(s)),
      kind: f & F_STATIC ? 'static' : 'dynamic',
      expiresAt: f & F_HELD ? null : sl.expiry(s),
    };
  }

  internalEndpoint(s: number): Endpoint {
    const a = this.slots.iaddr(s);
    const host = this.hosts.get(a);
    return { family: a >= 4294967296 ? 6 : 4, address: host ? host.text : this.keys.text(a), port: this.slots.iport(s) };
  }

  oneToOneMapping(p: number, internal: Endpoint, idx: number): Mapping {
    return {
      id: -1 - idx,
      protocol: PROTOCOLS[p]!,
      internal,
      external: this.pool.endpoint(idx, internal.port),
      kind: 'static',
      expiresAt: null,
    };
  }
}

export function proto(p: Protocol): number {
  const i = protocolIndex(p);
  if (i < 0) throw new NatAlgError('invalid-argument', `unknown protocol ${String(p)}`);
  return i;
}

export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NatAlgError('invalid-argument', `port must be an integer 0-65535, got ${port}`);
  }
}
