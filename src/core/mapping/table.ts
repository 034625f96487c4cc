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
 *
 * Layout: this file is the public face; the records and what is done to one mapping live in
 * store.ts, expectations in pinholes.ts, the lookup structure in lookup-index.ts/hash-index.ts.
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import type { AddressKeys } from './address-keys.js';
import { externalKey, publicExpectation, type ExpectationStore } from './expectations.js';
import type { ExpiryQueue } from './expiry.js';
import type { ExternalPool } from './external-pool.js';
import type { MappingIndex } from './lookup-index.js';
import { Pinholes } from './pinholes.js';
import { F_HELD, F_LIVE, F_STATIC, SLOT_LIMIT, type SlotStore } from './slots.js';
import { checkPort, MappingStore, proto } from './store.js';
import type {
  AllocateResult,
  ConnectionPhase,
  ExpectResult,
  ExpectationRequest,
  Expectation,
  InboundResult,
  Mapping,
  MappingEvent,
  OutboundResult,
  PortTableOptions,
  PortTableStats,
  Protocol,
  ResolvedOptions,
} from './types.js';
import { PROTOCOLS } from './types.js';

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

/**
 * What a negative `allocateId` result means: code -1 - i is ALLOCATE_FAILURES[i]. 'one-to-one':
 * the address is under a 1:1 address mapping (no per-port mapping; use `allocate`).
 */
export const ALLOCATE_FAILURES = ['exhausted', 'host-limit', 'table-full', 'family-mismatch', 'one-to-one'] as const;
const ONE_TO_ONE = -5;

export class PortTable {
  /** @internal */ readonly st: MappingStore;
  private readonly pinholes: Pinholes;
  // The store's parts the numeric lookups use, one load closer.
  private readonly ix: MappingIndex;
  private readonly keyCounts: Int32Array;
  private readonly pool: ExternalPool;
  private readonly expiry: ExpiryQueue;

  constructor(options: PortTableOptions) {
    this.st = new MappingStore(options);
    this.pinholes = new Pinholes(this.st);
    this.ix = this.st.index;
    this.keyCounts = this.st.keyCounts;
    this.pool = this.st.pool;
    this.expiry = this.st.expiry;
  }

  get options(): ResolvedOptions {
    return this.st.options;
  }

  /** @internal */
  get keys(): AddressKeys {
    return this.st.keys;
  }

  /** @internal */
  get slots(): SlotStore {
    return this.st.slots;
  }

  /** @internal */
  get index(): MappingIndex {
    return this.st.index;
  }

  /** @internal */
  get expectations(): ExpectationStore {
    return this.st.expectations;
  }

  // ---------------------------------------------------------------- traffic

  /**
   * A packet from `internal` to `remote`: find or create its mapping, refresh it (RFC 4787 REQ-6),
   * remember the remote for filtering, and detect hairpinning.
   */
  outbound(protocol: Protocol, internal: Endpoint, remote: Endpoint, nowMs: number, phase?: ConnectionPhase): OutboundResult {
    const p = proto(protocol);
    const iaddr = this.st.keys.peek(internal.address);
    const raddr = this.st.keys.peek(remote.address);
    checkPort(internal.port);
    checkPort(remote.port);
    const one = iaddr >= 0 && this.st.pool.oneToOneOut.size > 0 ? this.st.pool.oneToOneOut.get(iaddr) : undefined;
    let mapping: Mapping;
    let created = false;
    let srcExt: number;
    let srcPort: number;
    if (one !== undefined) {
      mapping = this.st.oneToOneMapping(p, internal, one);
      srcExt = one;
      srcPort = internal.port;
    } else {
      this.st.clearStale();
      let s = iaddr >= 0 ? this.st.findOutbound(p, iaddr, internal.port, raddr, remote.port, nowMs) : -1;
      if (s < 0) {
        const r = this.st.create(p, iaddr, internal.port, internal.address, remote, raddr, nowMs, phase ?? null, false);
        if (typeof r === 'string') return { ok: false, reason: r };
        s = r;
        created = true;
      } else {
        if (phase !== undefined) this.st.setPhase(s, phase);
        this.st.touch(s, nowMs);
        this.st.peers.record(s, this.st.filter[p]!, raddr, remote);
      }
      mapping = this.st.toMapping(s, created ? internal : undefined);
      srcExt = this.st.slots.extIdx(s);
      srcPort = this.st.slots.eport(s);
    }
    let hairpin = null;
    if (this.options.hairpinning && raddr >= 0 && this.st.pool.indexOfKey(raddr) !== undefined) {
      const peerKey = this.st.pool.key[srcExt]!;
      const target = this.admit(p, this.st.pool.indexOfKey(raddr)!, remote.port, peerKey, this.st.pool.text[srcExt]!, srcPort, nowMs, true);
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
    const ek = this.st.keys.peek(external.address);
    const idx = ek >= 0 ? this.st.pool.indexOfKey(ek) : undefined;
    if (idx === undefined) return { ok: false, reason: 'no-mapping' };
    return this.admit(p, idx, external.port, this.st.keys.peek(remote.address), remote.address, remote.port, nowMs, false);
  }

  /**
   * Allocate (or find) the mapping of an internal endpoint without traffic: what a relay or an
   * ALG calls to learn the external endpoint before the first packet.
   */
  allocate(protocol: Protocol, internal: Endpoint, nowMs: number, opts?: AllocateOptions): AllocateResult {
    const p = proto(protocol);
    checkPort(internal.port);
    const iaddr = this.st.keys.peek(internal.address);
    const remote = opts?.remote;
    const raddr = remote ? this.st.keys.peek(remote.address) : -1;
    const one = iaddr >= 0 && this.st.pool.oneToOneOut.size > 0 ? this.st.pool.oneToOneOut.get(iaddr) : undefined;
    if (one !== undefined) return { ok: true, mapping: this.st.oneToOneMapping(p, internal, one), created: false };
    if (this.st.behavior[p]! > 0 && !remote) {
      throw new NatAlgError('invalid-argument', `${protocol} mapping is ${this.options.policies[p]!.mapping}: allocate needs opts.remote`);
    }
    this.st.clearStale();
    const s = iaddr >= 0 ? this.st.findOutbound(p, iaddr, internal.port, raddr, remote?.port ?? 0, nowMs) : -1;
    if (s >= 0) {
      if (opts?.phase) this.st.setPhase(s, opts.phase);
      this.st.touch(s, nowMs);
      return { ok: true, mapping: this.st.toMapping(s), created: false };
    }
    const r = this.st.create(p, iaddr, internal.port, internal.address, remote ?? null, raddr, nowMs, opts?.phase ?? null, opts?.hold ?? false);
    if (typeof r === 'string') return { ok: false, reason: r };
    return { ok: true, mapping: this.st.toMapping(r, internal), created: true };
  }

  /**
   * `allocate` for an endpoint-independent mapping of an IPv4 internal endpoint, in numbers:
   * `protocolIdx` (0 tcp, 1 udp, 2 icmp), `address` as an unsigned 32-bit number (`ipv4ToNumber`).
   * Returns the mapping's id (found or created; read its external endpoint with `externalPort` /
   * `externalAddress`), or a negative code: -1 - ALLOCATE_FAILURES.indexOf(reason). The same
   * checks and state changes as `allocate`, without parsing text or building result objects.
   * Throws NatAlgError on misuse (bad numbers, a protocol whose mapping depends on the remote).
   */
  allocateId(protocolIdx: number, address: number, port: number, nowMs: number): number {
    if ((protocolIdx >>> 0) > 2 || address >>> 0 !== address || (port & 0xffff) !== port) {
      throw new NatAlgError('invalid-argument', `allocateId: bad protocol index, IPv4 address number or port (${protocolIdx}, ${address}, ${port})`);
    }
    const st = this.st;
    if (st.pool.oneToOneOut.size > 0 && st.pool.oneToOneOut.has(address)) return ONE_TO_ONE;
    if (st.behavior[protocolIdx]! > 0) {
      throw new NatAlgError('invalid-argument', `${PROTOCOLS[protocolIdx]!} mapping is ${this.options.policies[protocolIdx]!.mapping}: use allocate with opts.remote`);
    }
    st.clearStale();
    const pos = st.liveOrStale(this.ix.insidePos(protocolIdx, address, port, 0, 0, 0), 0, nowMs);
    if (pos >= 0) {
      const s = this.ix.inside.slot(pos);
      st.touch(s, nowMs);
      return st.slots.handleOf(s);
    }
    const r = st.create(protocolIdx, address, port, '', null, -1, nowMs, null, false);
    return typeof r === 'string' ? -1 - ALLOCATE_FAILURES.indexOf(r) : st.slots.handleOf(r);
  }

  /** External port of a live mapping id (from `allocateId`, `findInternal`, ...), or -1. */
  externalPort(id: number): number {
    const s = this.st.slots.slotOf(id);
    return s < 0 ? -1 : this.st.slots.eport(s);
  }

  /** External address key of a live mapping id (an IPv4 address as a number), or -1. */
  externalAddress(id: number): number {
    const s = this.st.slots.slotOf(id);
    return s < 0 ? -1 : this.pool.key[this.st.slots.extIdx(s)]!;
  }

  /** Remove a mapping now (no event). False when the id is unknown or already gone. */
  release(id: number): boolean {
    const s = this.st.slots.slotOf(id);
    if (s < 0) return false;
    this.st.free(s);
    return true;
  }

  /** Refresh a mapping's timer as outbound traffic would; optionally change its TCP phase. */
  refresh(id: number, nowMs: number, phase?: ConnectionPhase): boolean {
    const s = this.st.slots.slotOf(id);
    if (s < 0 || !this.st.alive(s, nowMs)) return false;
    if (phase) this.st.setPhase(s, phase);
    this.st.touch(s, nowMs);
    return true;
  }

  get(id: number): Mapping | null {
    const s = this.st.slots.slotOf(id);
    return s < 0 ? null : this.st.toMapping(s);
  }

  lookupInternal(protocol: Protocol, internal: Endpoint, nowMs: number, remote?: Endpoint): Mapping | null {
    const p = proto(protocol);
    const iaddr = this.st.keys.peek(internal.address);
    if (iaddr < 0) return null;
    const one = this.st.pool.oneToOneOut.size > 0 ? this.st.pool.oneToOneOut.get(iaddr) : undefined;
    if (one !== undefined) return this.st.oneToOneMapping(p, internal, one);
    const s = this.st.findOutbound(p, iaddr, internal.port, remote ? this.st.keys.peek(remote.address) : -1, remote?.port ?? 0, nowMs);
    return s < 0 ? null : this.st.toMapping(s);
  }

  lookupExternal(protocol: Protocol, external: Endpoint, nowMs: number): Mapping | null {
    const p = proto(protocol);
    const ek = this.st.keys.peek(external.address);
    const idx = ek >= 0 ? this.st.pool.indexOfKey(ek) : undefined;
    if (idx === undefined) return null;
    const inner = this.st.pool.oneToOneIn.size > 0 ? this.st.pool.oneToOneIn.get(idx) : undefined;
    if (inner !== undefined) return this.st.oneToOneMapping(p, this.st.keys.endpoint(inner, external.port), idx);
    const s = this.findExternal(p, ek, external.port, nowMs);
    return s < 0 ? null : this.st.toMapping(this.st.slots.slotOf(s));
  }

  // ------------------------------------------------- numeric fast path (IPv4 as uint32, no objects)

  /**
   * Id of the live mapping for an internal endpoint, or -1. `address`/`remoteAddress` are address
   * keys: an IPv4 address as an unsigned 32-bit number (see `ipv4ToNumber`).
   */
  findInternal(protocolIdx: number, address: number, port: number, nowMs: number, remoteAddress = -1, remotePort = 0): number {
    // Without a remote only endpoint-independent keys can match: the one-entry path.
    if (remoteAddress < 0) return this.ix.insideHandle(protocolIdx, address, port, nowMs);
    return this.findInternalDependent(protocolIdx, address, port, nowMs, remoteAddress, remotePort);
  }

  /** findInternal when endpoint-dependent keys exist for the protocol (kept out of the short path). */
  private findInternalDependent(protocolIdx: number, address: number, port: number, nowMs: number, remoteAddress: number, remotePort: number): number {
    const kc = this.keyCounts;
    const base = protocolIdx * 3;
    if (kc[base + 1] === 0 && kc[base + 2] === 0) return this.ix.insideHandle(protocolIdx, address, port, nowMs);
    const pos = this.st.findOutboundPos(protocolIdx, address, port, remoteAddress, remotePort, nowMs);
    if (pos < 0) return -1;
    const ix = this.st.index.inside;
    return ix.gen(pos) * SLOT_LIMIT + ix.slot(pos);
  }

  /** Id of the live mapping holding an external endpoint (address key, port), or -1. */
  findExternal(protocolIdx: number, address: number, port: number, nowMs: number): number {
    const idx = this.pool.find(address);
    if (idx < 0) return -1;
    // The port's cell: holder (slot + 1) and, beside it in the same cache line, its generation.
    const cells = this.pool.cells[idx * 3 + protocolIdx]!;
    const o = cells[port * 2]!;
    if (!(o > 0)) return -1;
    if (!(nowMs < this.expiry.floor) && !this.st.alive(o - 1, nowMs)) return -1;
    return (cells[port * 2 + 1]! >>> 0) * SLOT_LIMIT + (o - 1);
  }

  // ----------------------------------------------------------- static mappings

  /** A port forward: `external` always leads to `internal`, never expires (until released). */
  addStatic(req: StaticMappingRequest): AllocateResult {
    const p = proto(req.protocol);
    checkPort(req.internal.port);
    checkPort(req.external.port);
    const idx = this.st.pool.indexOf(req.external.address, true);
    if (this.st.pool.oneToOneIn.has(idx)) throw new NatAlgError('invalid-argument', `${req.external.address} is a 1:1 address mapping`);
    const space = this.st.pool.spaceFor(idx, p);
    if (!space.isFree(req.external.port)) return { ok: false, reason: 'port-in-use' };
    const iaddrPeek = this.st.keys.peek(req.internal.address);
    if (iaddrPeek >= 0 && this.st.findAny(p, iaddrPeek, req.internal.port, 0, 0, 0) >= 0) return { ok: false, reason: 'port-in-use' };
    const s = this.st.slots.allocate();
    if (s < 0) return { ok: false, reason: 'table-full' };
    const iaddr = this.st.keys.acquire(req.internal.address);
    this.st.fill(s, p, iaddr, req.internal.port, idx, req.external.port, 0, 0, 0);
    this.st.slots.setFlags(s, F_LIVE | F_STATIC | F_HELD);
    this.st.index.insert(s);
    this.st.keyCounts[p * 3]!++;
    space.take(req.external.port, s + 1, this.st.slots.gen(s));
    this.st.staticCount++;
    return { ok: true, mapping: this.st.toMapping(s, req.internal), created: true };
  }

  /** A 1:1 address mapping (basic NAT, RFC 3022): every port of `internal` appears as `external`. */
  addStaticAddress(internalAddress: string, externalAddress: string): void {
    this.st.pool.addOneToOne(internalAddress, externalAddress);
  }

  removeStaticAddress(internalAddress: string): boolean {
    return this.st.pool.removeOneToOne(internalAddress);
  }

  /** The 1:1 address mappings as [internal, external] pairs. */
  staticAddresses(): [string, string][] {
    return [...this.st.pool.oneToOneOut].map(([i, e]) => [this.st.keys.text(i), this.st.pool.text[e]!]);
  }

  // ------------------------------------------------------------- expectations

  /** Open a one-shot pinhole for an anticipated connection (see ExpectationRequest). */
  expect(req: ExpectationRequest, nowMs: number): ExpectResult {
    return this.pinholes.open(req, nowMs);
  }

  /** Whether an expectation is still waiting (not consumed, cancelled or expired). */
  hasExpectation(id: number): boolean {
    return this.st.expectations.get(id) !== undefined;
  }

  cancelExpectation(id: number): boolean {
    return this.pinholes.cancel(id);
  }

  /** Cancel every expectation of an owner (its control connection closed). Returns how many. */
  cancelOwner(owner: string | number): number {
    return this.pinholes.cancelOwner(owner);
  }

  listExpectations(): Expectation[] {
    return this.pinholes.list();
  }

  // ------------------------------------------------------------------- timers

  /** The earliest time at which `handleTimeout` has work, or null when nothing can expire. */
  pollTimeout(): number | null {
    const t = Math.min(this.st.expiry.next(), this.st.expectations.nextDeadline());
    return t === Infinity ? null : t;
  }

  /** Expire every mapping and expectation due at or before nowMs; events wait in `pollEvent`. */
  handleTimeout(nowMs: number): void {
    for (let s = this.st.expiry.popDue(nowMs); s >= 0; s = this.st.expiry.popDue(nowMs)) {
      this.st.events.push({ type: 'mapping-expired', mapping: this.st.toMapping(s) });
      this.st.free(s, true);
    }
    for (;;) {
      const r = this.st.expectations.popExpired(nowMs);
      if (!r) break;
      this.pinholes.afterGone(r);
      this.st.events.push({ type: 'expectation-expired', expectation: publicExpectation(r) });
    }
  }

  pollEvent(): MappingEvent | null {
    return this.st.events.poll();
  }

  get size(): number {
    return this.st.slots.live;
  }

  stats(): PortTableStats {
    return {
      mappings: this.st.slots.live,
      staticMappings: this.st.staticCount,
      expectations: this.st.expectations.size,
      hosts: this.st.hosts.size,
      droppedEvents: this.st.events.dropped,
    };
  }

  /** Every live mapping (for snapshots, tests and diagnostics; O(n)). */
  *mappings(): IterableIterator<Mapping> {
    const n = this.st.slots.capacity;
    for (let s = 0; s < n; s++) if (this.st.slots.flags(s) & F_LIVE) yield this.st.toMapping(s);
  }

  // ---------------------------------------------------------------- internals

  /** @internal Peers remembered for filtering, beyond the key remote (snapshot support). */
  peersOf(slot: number): Endpoint[] {
    return this.st.peersOf(slot);
  }

  /** @internal */
  flagsOf(slot: number): number {
    return this.st.flagsOf(slot);
  }

  /** @internal Recreate a mapping from a snapshot record. */
  restoreSlot(p: number, internal: Endpoint, external: Endpoint, flags: number, peers: readonly Endpoint[], expiresAt: number): void {
    this.st.restoreSlot(p, internal, external, flags, peers, expiresAt);
  }

  /** @internal Re-add an expectation from a snapshot (ids preserved). */
  restoreExpectation(e: Expectation): void {
    this.pinholes.restore(e);
  }

  /** Is an inbound packet from (peerKey, peerText, peerPort) admitted at (idx, port)? */
  private admit(p: number, idx: number, port: number, peerKey: number, peerText: string, peerPort: number, nowMs: number, hairpin: boolean): InboundResult {
    const inner = this.st.pool.oneToOneIn.size > 0 ? this.st.pool.oneToOneIn.get(idx) : undefined;
    if (inner !== undefined) {
      return { ok: true, mapping: this.st.oneToOneMapping(p, this.st.keys.endpoint(inner, port), idx), via: 'static', expectation: null };
    }
    const space = this.st.pool.space(idx, p);
    let o = space ? space.holder(port) : 0;
    if (o > 0 && !this.st.alive(o - 1, nowMs)) {
      this.st.expireNow(o - 1); // expired but not yet collected: collect it now, exactly on time
      o = space!.holder(port);
    }
    let filtered = false;
    if (o > 0) {
      const s = o - 1;
      if (this.st.peers.admits(s, this.st.filter[p]!, peerKey, peerPort)) {
        if (!hairpin && this.options.policies[p]!.inboundRefresh) this.st.touch(s, nowMs);
        const f = this.st.slots.flags(s);
        return { ok: true, mapping: this.st.toMapping(s), via: f & F_STATIC ? 'static' : 'mapping', expectation: null };
      }
      filtered = true;
    }
    if (o !== 0 && this.st.expectations.size > 0) {
      const r = this.st.expectations.match(externalKey(idx, p, port), peerText, peerPort, nowMs);
      if (r) {
        const m = this.pinholes.consume(r, o, peerText, peerPort, nowMs);
        if (m) return { ok: true, mapping: m, via: 'expectation', expectation: publicExpectation(r) };
      }
    }
    return { ok: false, reason: filtered ? 'filtered' : 'no-mapping' };
  }
}
