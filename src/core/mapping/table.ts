/**
 * The NAPT port-mapping table (RFC 4787, RFC 5382, RFC 5508): which internal endpoint
 * is which external endpoint, for how long, and who may come in.
 *
 * Vocabulary (quinn-proto): push traffic with `outbound(…, nowMs)` / `inbound(…, nowMs)`, ask
 * `pollTimeout()` for the next deadline, call `handleTimeout(nowMs)` then, pull `pollEvent()`.
 * No clock and no randomness of its own: time is a parameter, secrets come from `random`.
 *
 * Invariants:
 * - No port overloading: an external (address, protocol, port) belongs to at most one mapping or
 *   expectation reservation at a time (`PortSpace.owner`).
 * - A mapping is found from both sides from creation until `nowMs` reaches its expiry, exactly;
 *   lookups treat an expired mapping as absent even before `handleTimeout` removes it.
 * - Limits (total, per host, expectations) are results, never exceptions; misuse throws.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, type Endpoint } from '../net/ip.js';
import { AddressKeys } from './address-keys.js';
import { EventQueue } from './event-queue.js';
import { ExpectationStore, externalKey, publicExpectation, type ExpectationRecord } from './expectations.js';
import { ExpiryQueue } from './expiry.js';
import { ExternalPool } from './external-pool.js';
import { MappingIndex } from './lookup-index.js';
import { randomWord, toRandomFunction } from './keyed-hash.js';
import { resolveOptions } from './options.js';
import { PeerMemory } from './peers.js';
import { RESERVED } from './port-space.js';
import {
  F_ESTABLISHED,
  F_HAS_PEER,
  F_HELD,
  F_LIVE,
  F_PEER_LOCKED,
  F_STATIC,
  KEY_SHIFT,
  SLOT_LIMIT,
  SlotStore,
} from './slots.js';
import {
  PROTOCOLS,
  protocolIndex,
  type AllocateResult,
  type ConnectionPhase,
  type ExpectResult,
  type ExpectationRequest,
  type Expectation,
  type InboundResult,
  type Mapping,
  type MappingEvent,
  type OutboundResult,
  type PortTableOptions,
  type PortTableStats,
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

export interface AllocateOptions {
  /** The remote endpoint, when known (required for address-dependent mapping behaviours). */
  readonly remote?: Endpoint;
  readonly phase?: ConnectionPhase;
  /** Never expires until released (a relay's listener). Default false. */
  readonly hold?: boolean;
}

export interface StaticMappingRequest {
  readonly protocol: Protocol;
  readonly internal: Endpoint;
  readonly external: Endpoint;
}

export class PortTable {
  readonly options: ResolvedOptions;
  /** @internal */ readonly keys = new AddressKeys();
  /** @internal */ readonly slots: SlotStore;
  /** @internal */ readonly index: MappingIndex;
  /** @internal */ readonly expectations = new ExpectationStore();
  private readonly expiry: ExpiryQueue;
  private readonly pool: ExternalPool;
  private readonly hosts = new Map<number, Host>();
  private readonly peers: PeerMemory;
  private readonly stale = new Int32Array([-1, -1, -1]); // per key kind, see liveOrStale
  private readonly keyCounts = new Int32Array(9); // proto * 3 + keyKind: live mappings per key kind
  private readonly behavior: Int8Array;
  private readonly filter: Int8Array;
  private staticCount = 0;
  private readonly events: EventQueue<MappingEvent>;

  constructor(options: PortTableOptions) {
    this.options = resolveOptions(options);
    const random = toRandomFunction(options.random);
    const secretF = randomWord(random);
    const secretG = randomWord(random);
    const hashKey = randomWord(random);
    let initial = 1024;
    while (initial > this.options.maxMappings && initial > 1) initial >>= 1;
    this.slots = new SlotStore(initial, this.options.maxMappings);
    this.pool = new ExternalPool(this.options, this.keys, secretF, secretG);
    this.expiry = new ExpiryQueue(this.slots);
    this.index = new MappingIndex(this.slots, this.expiry, initial, hashKey);
    this.events = new EventQueue(this.options.maxQueuedEvents);
    this.peers = new PeerMemory(this.slots, this.keys, this.options.maxPeersPerMapping);
    this.behavior = Int8Array.from(this.options.policies.map((p) => BEHAVIOR_KIND[p.mapping]));
    this.filter = Int8Array.from(this.options.policies.map((p) => BEHAVIOR_KIND[p.filtering]));
  }

  // ---------------------------------------------------------------- traffic

  /**
   * A packet from `internal` to `remote`: find or create its mapping, refresh it (RFC 4787 REQ-6),
   * remember the remote for filtering, and detect hairpinning.
   */
  outbound(protocol: Protocol, internal: Endpoint, remote: Endpoint, nowMs: number, phase?: ConnectionPhase): OutboundResult {
    const p = proto(protocol);
    const iaddr = this.keys.peek(internal.address);
    const raddr = this.keys.peek(remote.address);
    checkPort(internal.port);
    checkPort(remote.port);
    const one = iaddr >= 0 ? this.pool.oneToOneOut.get(iaddr) : undefined;
    let mapping: Mapping;
    let created = false;
    let srcExt: number;
    let srcPort: number;
    if (one !== undefined) {
      mapping = this.oneToOneMapping(p, internal, one);
      srcExt = one;
      srcPort = internal.port;
    } else {
      this.clearStale();
      let s = iaddr >= 0 ? this.findOutbound(p, iaddr, internal.port, raddr, remote.port, nowMs) : -1;
      if (s < 0) {
        const r = this.create(p, internal, iaddr, remote, raddr, nowMs, phase ?? null, false);
        if (typeof r === 'string') return { ok: false, reason: r };
        s = r;
        created = true;
      } else {
        if (phase !== undefined) this.setPhase(s, phase);
        this.touch(s, nowMs);
        this.peers.record(s, this.filter[p]!, raddr, remote);
      }
      mapping = this.toMapping(s, created ? internal : undefined);
      srcExt = this.slots.extIdx(s);
      srcPort = this.slots.eport(s);
    }
    let hairpin = null;
    if (this.options.hairpinning && raddr >= 0 && this.pool.indexOfKey(raddr) !== undefined) {
      const peerKey = this.pool.key[srcExt]!;
      const target = this.admit(p, this.pool.indexOfKey(raddr)!, remote.port, peerKey, this.pool.text[srcExt]!, srcPort, nowMs, true);
      if (!target.ok) return { ok: false, reason: 'hairpin-unreachable' };
      hairpin = { internal: target.mapping.internal, mapping: target.mapping };
    }
    return { ok: true, mapping, created, hairpin };
  }

  /** A packet from `remote` to the NAT's `external` endpoint: admitted to which mapping, if any. */
  inbound(protocol: Protocol, remote: Endpoint, external: Endpoint, nowMs: number): InboundResult {
    const p = proto(protocol);
    checkPort(remote.port);
    checkPort(external.port);
    const ek = this.keys.peek(external.address);
    const idx = ek >= 0 ? this.pool.indexOfKey(ek) : undefined;
    if (idx === undefined) return { ok: false, reason: 'no-mapping' };
    return this.admit(p, idx, external.port, this.keys.peek(remote.address), remote.address, remote.port, nowMs, false);
  }

  /**
   * Allocate (or find) the mapping of an internal endpoint without traffic: what a relay or an
   * ALG calls to learn the external endpoint before the first packet.
   */
  allocate(protocol: Protocol, internal: Endpoint, nowMs: number, opts?: AllocateOptions): AllocateResult {
    const p = proto(protocol);
    checkPort(internal.port);
    const iaddr = this.keys.peek(internal.address);
    const remote = opts?.remote;
    const raddr = remote ? this.keys.peek(remote.address) : -1;
    const one = iaddr >= 0 ? this.pool.oneToOneOut.get(iaddr) : undefined;
    if (one !== undefined) return { ok: true, mapping: this.oneToOneMapping(p, internal, one), created: false };
    if (this.behavior[p]! > 0 && !remote) {
      throw new NatAlgError('invalid-argument', `${protocol} mapping is ${this.options.policies[p]!.mapping}: allocate needs opts.remote`);
    }
    this.clearStale();
    const s = iaddr >= 0 ? this.findOutbound(p, iaddr, internal.port, raddr, remote?.port ?? 0, nowMs) : -1;
    if (s >= 0) {
      if (opts?.phase) this.setPhase(s, opts.phase);
      this.touch(s, nowMs);
      return { ok: true, mapping: this.toMapping(s), created: false };
    }
    const r = this.create(p, internal, iaddr, remote ?? null, raddr, nowMs, opts?.phase ?? null, opts?.hold ?? false);
    if (typeof r === 'string') return { ok: false, reason: r };
    return { ok: true, mapping: this.toMapping(r, internal), created: true };
  }

  /** Remove a mapping now (no event). False when the id is unknown or already gone. */
  release(id: number): boolean {
    const s = this.slots.slotOf(id);
    if (s < 0) return false;
    this.free(s);
    return true;
  }

  /** Refresh a mapping's timer as outbound traffic would; optionally change its TCP phase. */
  refresh(id: number, nowMs: number, phase?: ConnectionPhase): boolean {
    const s = this.slots.slotOf(id);
    if (s < 0 || !this.alive(s, nowMs)) return false;
    if (phase) this.setPhase(s, phase);
    this.touch(s, nowMs);
    return true;
  }

  get(id: number): Mapping | null {
    const s = this.slots.slotOf(id);
    return s < 0 ? null : this.toMapping(s);
  }

  lookupInternal(protocol: Protocol, internal: Endpoint, nowMs: number, remote?: Endpoint): Mapping | null {
    const p = proto(protocol);
    const iaddr = this.keys.peek(internal.address);
    if (iaddr < 0) return null;
    const one = this.pool.oneToOneOut.get(iaddr);
    if (one !== undefined) return this.oneToOneMapping(p, internal, one);
    const s = this.findOutbound(p, iaddr, internal.port, remote ? this.keys.peek(remote.address) : -1, remote?.port ?? 0, nowMs);
    return s < 0 ? null : this.toMapping(s);
  }

  lookupExternal(protocol: Protocol, external: Endpoint, nowMs: number): Mapping | null {
    const p = proto(protocol);
    const ek = this.keys.peek(external.address);
    const idx = ek >= 0 ? this.pool.indexOfKey(ek) : undefined;
    if (idx === undefined) return null;
    const inner = this.pool.oneToOneIn.get(idx);
    if (inner !== undefined) return this.oneToOneMapping(p, this.keys.endpoint(inner, external.port), idx);
    const s = this.findExternal(p, ek, external.port, nowMs);
    return s < 0 ? null : this.toMapping(this.slots.slotOf(s));
  }

  // ------------------------------------------------- numeric fast path (IPv4 as uint32, no objects)

  /**
   * Id of the live mapping for an internal endpoint, or -1. `address`/`remoteAddress` are address
   * keys: an IPv4 address as an unsigned 32-bit number (see `ipv4ToNumber`).
   */
  findInternal(protocolIdx: number, address: number, port: number, nowMs: number, remoteAddress = -1, remotePort = 0): number {
    const pos = this.findOutboundPos(protocolIdx, address, port, remoteAddress, remotePort, nowMs);
    if (pos < 0) return -1;
    const ix = this.index.inside;
    return ix.gen(pos) * SLOT_LIMIT + ix.slot(pos);
  }

  /** Id of the live mapping holding an external endpoint (address key, port), or -1. */
  findExternal(protocolIdx: number, address: number, port: number, nowMs: number): number {
    const idx = this.pool.find(address);
    return idx < 0 ? -1 : this.index.outsideHandle(idx, protocolIdx, port, nowMs);
  }

  // ----------------------------------------------------------- static mappings

  /** A port forward: `external` always leads to `internal`, never expires (until released). */
  addStatic(req: StaticMappingRequest): AllocateResult {
    const p = proto(req.protocol);
    checkPort(req.internal.port);
    checkPort(req.external.port);
    const idx = this.pool.indexOf(req.external.address, true);
    if (this.pool.oneToOneIn.has(idx)) throw new NatAlgError('invalid-argument', `${req.external.address} is a 1:1 address mapping`);
    const space = this.pool.spaceFor(idx, p);
    if (!space.isFree(req.external.port)) return { ok: false, reason: 'port-in-use' };
    const iaddrPeek = this.keys.peek(req.internal.address);
    if (iaddrPeek >= 0 && this.findAny(p, iaddrPeek, req.internal.port, 0, 0, 0) >= 0) return { ok: false, reason: 'port-in-use' };
    const s = this.slots.allocate();
    if (s < 0) return { ok: false, reason: 'table-full' };
    const iaddr = this.keys.acquire(req.internal.address);
    this.fill(s, p, iaddr, req.internal.port, idx, req.external.port, 0, 0, 0);
    this.slots.setFlags(s, F_LIVE | F_STATIC | F_HELD);
    this.index.insert(s);
    this.keyCounts[p * 3]!++;
    space.take(req.external.port, s + 1);
    this.staticCount++;
    return { ok: true, mapping: this.toMapping(s, req.internal), created: true };
  }

  /** A 1:1 address mapping (basic NAT, RFC 3022): every port of `internal` appears as `external`. */
  addStaticAddress(internalAddress: string, externalAddress: string): void {
    this.pool.addOneToOne(internalAddress, externalAddress);
  }

  removeStaticAddress(internalAddress: string): boolean {
    return this.pool.removeOneToOne(internalAddress);
  }

  /** The 1:1 address mappings as [internal, external] pairs. */
  staticAddresses(): [string, string][] {
    return [...this.pool.oneToOneOut].map(([i, e]) => [this.keys.text(i), this.pool.text[e]!]);
  }

  // ------------------------------------------------------------- expectations

  /** Open a one-shot pinhole for an anticipated connection (see ExpectationRequest). */
  expect(req: ExpectationRequest, nowMs: number): ExpectResult {
    const p = proto(req.protocol);
    checkPort(req.internal.port);
    if (req.peer.port !== undefined) checkPort(req.peer.port);
    const peerAddress = canonicalAddress(req.peer.address);
    if (this.expectations.size >= this.options.maxExpectations) return { ok: false, reason: 'expectation-limit' };
    if (this.expectations.ownerCount(req.owner) >= this.options.maxExpectationsPerOwner) return { ok: false, reason: 'owner-limit' };
    const timeout = req.timeoutMs ?? this.options.expectationTimeoutMs;
    if (!(timeout > 0)) throw new NatAlgError('invalid-argument', 'expectation timeoutMs must be positive');
    let idx: number;
    let port: number;
    if (req.external) {
      checkPort(req.external.port);
      idx = this.pool.indexOf(req.external.address, false);
      if (idx < 0) throw new NatAlgError('invalid-argument', `${req.external.address} is not an external address of this table`);
      port = req.external.port;
      const space = this.pool.spaceFor(idx, p);
      const o = space.owner[port]!;
      if (o === 0) space.take(port, RESERVED);
      else if (o > 0 && !this.sameInternal(o - 1, req.internal)) return { ok: false, reason: 'port-in-use' };
      else if (o === RESERVED && !this.reservedFor(externalKey(idx, p, port), req.internal)) return { ok: false, reason: 'port-in-use' };
    } else {
      const iaddr = this.keys.peek(req.internal.address);
      const s = iaddr >= 0 ? this.findAny(p, iaddr, req.internal.port, 0, 0, 0) : -1;
      const sibling = this.expectations.all().find((x) => x.proto === p && x.internal.port === req.internal.port && x.internal.address === req.internal.address);
      if (s >= 0 && this.alive(s, nowMs)) {
        idx = this.slots.extIdx(s);
        port = this.slots.eport(s);
      } else if (sibling) {
        // One internal endpoint, one external endpoint: share the port already reserved for it.
        idx = Math.floor(sibling.extKey / 65536 / 4);
        port = sibling.external.port;
      } else {
        const host = iaddr >= 0 ? this.hosts.get(iaddr) : undefined;
        const f = this.pool.pick(p, iaddr < 0 ? 0 : iaddr, req.internal.port, 0, 0, host?.pool ?? this.pool.leastLoaded());
        if (typeof f === 'string') return { ok: false, reason: f };
        idx = f.idx;
        port = f.port;
        this.pool.spaceFor(idx, p).take(port, RESERVED);
      }
    }
    const r: ExpectationRecord = {
      id: this.expectations.newId(),
      protocol: req.protocol,
      proto: p,
      owner: req.owner,
      internal: req.internal,
      external: this.pool.endpoint(idx, port),
      peer: req.peer.port === undefined ? { address: peerAddress } : { address: peerAddress, port: req.peer.port },
      expiresAt: nowMs + timeout,
      extKey: externalKey(idx, p, port),
      ownsPort: false,
    };
    this.expectations.add(r);
    return { ok: true, expectation: publicExpectation(r) };
  }

  cancelExpectation(id: number): boolean {
    const r = this.expectations.remove(id);
    if (!r) return false;
    this.afterExpectationGone(r);
    return true;
  }

  /** Cancel every expectation of an owner (its control connection closed). Returns how many. */
  cancelOwner(owner: string | number): number {
    let n = 0;
    for (const id of this.expectations.idsOfOwner(owner)) if (this.cancelExpectation(id)) n++;
    return n;
  }

  listExpectations(): Expectation[] {
    return this.expectations.all().map(publicExpectation);
  }

  // ------------------------------------------------------------------- timers

  /** The earliest time at which `handleTimeout` has work, or null when nothing can expire. */
  pollTimeout(): number | null {
    const t = Math.min(this.expiry.next(), this.expectations.nextDeadline());
    return t === Infinity ? null : t;
  }

  /** Expire every mapping and expectation due at or before nowMs; events wait in `pollEvent`. */
  handleTimeout(nowMs: number): void {
    for (let s = this.expiry.popDue(nowMs); s >= 0; s = this.expiry.popDue(nowMs)) {
      this.events.push({ type: 'mapping-expired', mapping: this.toMapping(s) });
      this.free(s, true);
    }
    for (;;) {
      const r = this.expectations.popExpired(nowMs);
      if (!r) break;
      this.afterExpectationGone(r);
      this.events.push({ type: 'expectation-expired', expectation: publicExpectation(r) });
    }
  }

  pollEvent(): MappingEvent | null {
    return this.events.poll();
  }

  get size(): number {
    return this.slots.live;
  }

  stats(): PortTableStats {
    return {
      mappings: this.slots.live,
      staticMappings: this.staticCount,
      expectations: this.expectations.size,
      hosts: this.hosts.size,
      droppedEvents: this.events.dropped,
    };
  }

  /** Every live mapping (for snapshots, tests and diagnostics; O(n)). */
  *mappings(): IterableIterator<Mapping> {
    const n = this.slots.capacity;
    for (let s = 0; s < n; s++) if (this.slots.flags(s) & F_LIVE) yield this.toMapping(s);
  }

  // ---------------------------------------------------------------- internals

  /** @internal Peers remembered for filtering, beyond the key remote (snapshot support). */
  peersOf(slot: number): Endpoint[] {
    return this.peers.list(slot);
  }

  /** @internal Recreate a mapping from a snapshot record. */
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
    space.take(external.port, s + 1);
    if (flags & F_STATIC) this.staticCount++;
    else this.countHost(this.slots.iaddr(s), idx);
  }

  /** @internal Re-add an expectation from a snapshot (ids preserved). */
  restoreExpectation(e: Expectation): void {
    const p = proto(e.protocol);
    const idx = this.pool.indexOf(e.external.address, true);
    const space = this.pool.spaceFor(idx, p);
    if (space.isFree(e.external.port)) space.take(e.external.port, RESERVED);
    this.expectations.bumpIdPast(e.id);
    this.expectations.add({
      id: e.id,
      protocol: e.protocol,
      proto: p,
      owner: e.owner,
      internal: e.internal,
      external: e.external,
      peer: e.peer,
      expiresAt: e.expiresAt,
      extKey: externalKey(idx, p, e.external.port),
      ownsPort: false,
    });
  }

  /** @internal */
  flagsOf(slot: number): number {
    return this.slots.flags(slot);
  }

  private timeoutOf(s: number): number {
    const pol = this.options.policies[this.slots.proto(s)]!;
    return this.slots.flags(s) & F_ESTABLISHED ? pol.establishedTimeoutMs : pol.transitoryTimeoutMs;
  }

  private touch(s: number, nowMs: number): void {
    if (this.slots.flags(s) & F_HELD) return;
    this.expiry.move(s, nowMs + this.timeoutOf(s));
  }

  private setPhase(s: number, phase: ConnectionPhase): void {
    if (phase === 'established') this.slots.setFlags(s, this.slots.flags(s) | (F_ESTABLISHED));
    else this.slots.setFlags(s, this.slots.flags(s) & (~F_ESTABLISHED));
  }

  private alive(s: number, nowMs: number): boolean {
    const f = this.slots.flags(s);
    return (f & F_LIVE) !== 0 && ((f & F_HELD) !== 0 || this.slots.expiry(s) > nowMs);
  }

  /** Slot of the live mapping for an internal key (most specific key kind first), or -1. */
  private findOutbound(p: number, iaddr: number, iport: number, raddr: number, rport: number, nowMs: number): number {
    const pos = this.findOutboundPos(p, iaddr, iport, raddr, rport, nowMs);
    return pos < 0 ? -1 : this.index.inside.slot(pos);
  }

  /** As findOutbound, as a position in the internal index (its entry has the id's generation). */
  private findOutboundPos(p: number, iaddr: number, iport: number, raddr: number, rport: number, nowMs: number): number {
    const ix = this.index;
    const base = p * 3;
    let pos = -1;
    if (raddr >= 0 && this.keyCounts[base + 2]! > 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 2, raddr, rport), 2, nowMs);
    if (pos < 0 && raddr >= 0 && this.keyCounts[base + 1]! > 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 1, raddr, 0), 1, nowMs);
    if (pos < 0) pos = this.liveOrStale(ix.insidePos(p, iaddr, iport, 0, 0, 0), 0, nowMs);
    return pos;
  }

  /** Slot holding an internal key, expired or not, or -1. */
  private findAny(p: number, iaddr: number, iport: number, kind: number, raddr: number, rport: number): number {
    const pos = this.index.insidePos(p, iaddr, iport, kind, raddr, rport);
    return pos < 0 ? -1 : this.index.inside.slot(pos);
  }

  /** The position if its mapping is alive; an expired one is remembered per key kind so `create` can collect it. */
  private liveOrStale(pos: number, kind: number, nowMs: number): number {
    if (pos < 0 || this.index.alive(this.index.inside, pos, nowMs)) return pos;
    this.stale[kind] = this.index.inside.slot(pos);
    return -1;
  }

  private clearStale(): void {
    this.stale[0] = this.stale[1] = this.stale[2] = -1;
  }

  /** Create a mapping; call right after `clearStale` + `findOutbound` for the same key. */
  private create(
    p: number,
    internal: Endpoint,
    iaddrPeek: number,
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
    if (host && host.count >= this.options.maxMappingsPerHost) return 'host-limit';
    const rport = remote ? remote.port : 0;
    const pick = this.pool.pick(p, iaddrPeek < 0 ? 0 : iaddrPeek, internal.port, kind > 0 ? raddrPeek : 0, kind === 2 ? rport : 0, host ? host.pool : this.pool.leastLoaded());
    if (typeof pick === 'string') return pick;
    const s = this.slots.allocate();
    if (s < 0) return 'table-full';
    const iaddr = this.keys.acquireKnown(iaddrPeek, internal.address);
    const raddr = remote ? this.keys.acquireKnown(raddrPeek, remote.address) : 0;
    this.fill(s, p, iaddr, internal.port, pick.idx, pick.port, kind, raddr, rport);
    let flags = F_LIVE | (kind << KEY_SHIFT) | (remote ? F_HAS_PEER : 0) | (hold ? F_HELD : 0);
    if (phase === 'established' || (phase === null && p !== 0)) flags |= F_ESTABLISHED;
    this.slots.setFlags(s, flags);
    if (!hold) this.expiry.schedule(s, nowMs + this.timeoutOf(s));
    this.index.insert(s);
    this.keyCounts[p * 3 + kind]!++;
    this.pool.spaceFor(pick.idx, p).take(pick.port, s + 1);
    this.countHost(iaddr, pick.idx);
    return s;
  }

  private fill(s: number, p: number, iaddr: number, iport: number, idx: number, eport: number, kind: number, raddr: number, rport: number): void {
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

  private countHost(iaddr: number, idx: number): void {
    const host = this.hosts.get(iaddr);
    if (host) host.count++;
    else this.hosts.set(iaddr, { count: 1, pool: idx < this.pool.size ? idx : 0, text: this.keys.text(iaddr) });
    if (idx < this.pool.size) this.pool.load[idx]!++;
  }

  /** Is an inbound packet from (peerKey, peerText, peerPort) admitted at (idx, port)? */
  private admit(p: number, idx: number, port: number, peerKey: number, peerText: string, peerPort: number, nowMs: number, hairpin: boolean): InboundResult {
    const inner = this.pool.oneToOneIn.get(idx);
    if (inner !== undefined) {
      return { ok: true, mapping: this.oneToOneMapping(p, this.keys.endpoint(inner, port), idx), via: 'static', expectation: null };
    }
    const space = this.pool.space(idx, p);
    let o = space ? space.owner[port]! : 0;
    if (o > 0 && !this.alive(o - 1, nowMs)) {
      this.expireNow(o - 1); // expired but not yet collected: collect it now, exactly on time
      o = space!.owner[port]!;
    }
    let filtered = false;
    if (o > 0) {
      const s = o - 1;
      if (this.peers.admits(s, this.filter[p]!, peerKey, peerPort)) {
        if (!hairpin && this.options.policies[p]!.inboundRefresh) this.touch(s, nowMs);
        const f = this.slots.flags(s);
        return { ok: true, mapping: this.toMapping(s), via: f & F_STATIC ? 'static' : 'mapping', expectation: null };
      }
      filtered = true;
    }
    if (o !== 0 && this.expectations.size > 0) {
      const r = this.expectations.match(externalKey(idx, p, port), peerText, peerPort, nowMs);
      if (r) {
        const m = this.consume(r, o, peerText, peerPort, nowMs);
        if (m) return { ok: true, mapping: m, via: 'expectation', expectation: publicExpectation(r) };
      }
    }
    return { ok: false, reason: filtered ? 'filtered' : 'no-mapping' };
  }

  /**
   * Turn a matching expectation into the connection's mapping. When the connection cannot be
   * admitted (its inside 4-tuple is already in use, or a limit), the expectation stays for a
   * legitimate attempt and null is returned.
   */
  private consume(r: ExpectationRecord, owner: number, peerText: string, peerPort: number, nowMs: number): Mapping | null {
    const p = r.proto;
    const idx = Math.floor(r.extKey / 65536 / 4);
    const port = r.external.port;
    if (owner > 0 && this.slots.flags(owner - 1) & F_LIVE) {
      const s = owner - 1; // the internal endpoint's existing mapping: open it to this peer
      this.expectations.remove(r.id);
      this.peers.add(s, this.keys.acquire(peerText), peerPort);
      this.touch(s, nowMs);
      return this.toMapping(s);
    }
    const iaddrPeek = this.keys.peek(r.internal.address);
    const peerPeek = this.keys.peek(peerText);
    const existing = iaddrPeek >= 0 && peerPeek >= 0 ? this.findAny(p, iaddrPeek, r.internal.port, 2, peerPeek, peerPort) : -1;
    const host = iaddrPeek >= 0 ? this.hosts.get(iaddrPeek) : undefined;
    if (existing >= 0 || this.slots.live >= this.options.maxMappings || (host && host.count >= this.options.maxMappingsPerHost)) return null;
    const s = this.slots.allocate();
    if (s < 0) return null;
    this.expectations.remove(r.id);
    this.fill(s, p, this.keys.acquireKnown(iaddrPeek, r.internal.address), r.internal.port, idx, port, 2, this.keys.acquireKnown(peerPeek, peerText), peerPort);
    this.slots.setFlags(s, F_LIVE | (2 << KEY_SHIFT) | F_HAS_PEER | F_PEER_LOCKED | (p === 0 ? 0 : F_ESTABLISHED));
    this.expiry.schedule(s, nowMs + this.timeoutOf(s));
    this.index.insert(s);
    this.keyCounts[p * 3 + 2]!++;
    this.pool.spaceFor(idx, p).reassign(port, s + 1);
    this.countHost(this.slots.iaddr(s), idx);
    return this.toMapping(s, r.internal);
  }

  /** Free the external port of a gone expectation unless a mapping or another expectation holds it. */
  private afterExpectationGone(r: ExpectationRecord): void {
    const idx = Math.floor(r.extKey / 65536 / 4);
    const space = this.pool.space(idx, r.proto);
    if (space && space.owner[r.external.port] === RESERVED && !this.expectations.hasExternal(r.extKey)) space.free(r.external.port);
  }

  private sameInternal(s: number, e: Endpoint): boolean {
    return this.slots.iaddr(s) === this.keys.peek(e.address) && this.slots.iport(s) === e.port;
  }

  private reservedFor(extKey: number, e: Endpoint): boolean {
    return this.expectations.all().some((r) => r.extKey === extKey && r.internal.address === e.address && r.internal.port === e.port);
  }

  private expireNow(s: number): void {
    this.events.push({ type: 'mapping-expired', mapping: this.toMapping(s) });
    this.free(s);
  }

  private free(s: number, fromHeap = false): void {
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

  private toMapping(s: number, internal?: Endpoint): Mapping {
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

  private internalEndpoint(s: number): Endpoint {
    const a = this.slots.iaddr(s);
    const host = this.hosts.get(a);
    return { family: a >= 4294967296 ? 6 : 4, address: host ? host.text : this.keys.text(a), port: this.slots.iport(s) };
  }

  private oneToOneMapping(p: number, internal: Endpoint, idx: number): Mapping {
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

function proto(p: Protocol): number {
  const i = protocolIndex(p);
  if (i < 0) throw new NatAlgError('invalid-argument', `unknown protocol ${String(p)}`);
  return i;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NatAlgError('invalid-argument', `port must be an integer 0-65535, got ${port}`);
  }
}
