/**
 * Expectations (pinholes) on a mapping table: opening one for an anticipated connection (an FTP
 * data channel), cancelling, and turning a matching inbound connection into its mapping. The
 * records themselves live in ExpectationStore (expectations.ts); this is what they do to ports
 * and mappings. Invariant: one internal endpoint has one external endpoint, whether it is held by
 * a mapping or reserved by pinholes, so a peer never sees two.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, type Endpoint } from '../net/ip.js';
import { externalKey, publicExpectation, type ExpectationRecord } from './expectations.js';
import { RESERVED } from './port-space.js';
import { F_ESTABLISHED, F_HAS_PEER, F_LIVE, F_PEER_LOCKED, KEY_SHIFT } from './slots.js';
import { checkPort, proto, type MappingStore } from './store.js';
import type { ExpectResult, ExpectationRequest, Expectation, Mapping } from './types.js';

export class Pinholes {
  constructor(private readonly st: MappingStore) {}

  /** Open a one-shot pinhole for an anticipated connection (see ExpectationRequest). */
  open(req: ExpectationRequest, nowMs: number): ExpectResult {
    const p = proto(req.protocol);
    checkPort(req.internal.port);
    if (req.peer.port !== undefined) checkPort(req.peer.port);
    const peerAddress = req.peer.address === null ? null : canonicalAddress(req.peer.address);
    if (this.st.expectations.size >= this.st.options.maxExpectations) return { ok: false, reason: 'expectation-limit' };
    if (this.st.expectations.ownerCount(req.owner) >= this.st.options.maxExpectationsPerOwner) return { ok: false, reason: 'owner-limit' };
    const timeout = req.timeoutMs ?? this.st.options.expectationTimeoutMs;
    if (!(timeout > 0)) throw new NatAlgError('invalid-argument', 'expectation timeoutMs must be positive');
    let idx: number;
    let port: number;
    if (req.external) {
      checkPort(req.external.port);
      idx = this.st.pool.indexOf(req.external.address, false);
      if (idx < 0) throw new NatAlgError('invalid-argument', `${req.external.address} is not an external address of this table`);
      port = req.external.port;
      const space = this.st.pool.spaceFor(idx, p);
      const o = space.holder(port);
      if (o === 0) space.take(port, RESERVED);
      else if (o > 0 && !this.sameInternal(o - 1, req.internal)) return { ok: false, reason: 'port-in-use' };
      else if (o === RESERVED && !this.reservedFor(externalKey(idx, p, port), req.internal)) return { ok: false, reason: 'port-in-use' };
    } else {
      const iaddr = this.st.keys.peek(req.internal.address);
      const s = iaddr >= 0 ? this.st.findAny(p, iaddr, req.internal.port, 0, 0, 0) : -1;
      const sibling = this.st.expectations.forInternal(p, req.internal.address, req.internal.port);
      if (s >= 0 && this.st.alive(s, nowMs)) {
        idx = this.st.slots.extIdx(s);
        port = this.st.slots.eport(s);
      } else if (sibling) {
        // One internal endpoint, one external endpoint: share the port already reserved for it.
        idx = Math.floor(sibling.extKey / 65536 / 4);
        port = sibling.external.port;
      } else {
        const host = iaddr >= 0 ? this.st.hosts.get(iaddr) : undefined;
        const f = this.st.pool.pick(p, iaddr < 0 ? 0 : iaddr, req.internal.port, 0, 0, host?.pool ?? this.st.pool.leastLoaded());
        if (f < 0) return { ok: false, reason: 'exhausted' };
        idx = f >>> 16;
        port = f & 0xffff;
        this.st.pool.spaceFor(idx, p).take(port, RESERVED);
      }
    }
    const r: ExpectationRecord = {
      id: this.st.expectations.newId(),
      protocol: req.protocol,
      proto: p,
      owner: req.owner,
      internal: req.internal,
      external: this.st.pool.endpoint(idx, port),
      peer: req.peer.port === undefined ? { address: peerAddress } : { address: peerAddress, port: req.peer.port },
      expiresAt: nowMs + timeout,
      extKey: externalKey(idx, p, port),
      ownsPort: false,
    };
    this.st.expectations.add(r);
    return { ok: true, expectation: publicExpectation(r) };
  }

  cancel(id: number): boolean {
    const r = this.st.expectations.remove(id);
    if (!r) return false;
    this.afterGone(r);
    return true;
  }

  /** Cancel every expectation of an owner (its control connection closed). Returns how many. */
  cancelOwner(owner: string | number): number {
    let n = 0;
    for (const id of this.st.expectations.idsOfOwner(owner)) if (this.cancel(id)) n++;
    return n;
  }

  list(): Expectation[] {
    return this.st.expectations.all().map(publicExpectation);
  }

  /** Re-add an expectation from a snapshot (ids preserved). */
  restore(e: Expectation): void {
    const p = proto(e.protocol);
    const idx = this.st.pool.indexOf(e.external.address, true);
    const space = this.st.pool.spaceFor(idx, p);
    if (space.isFree(e.external.port)) space.take(e.external.port, RESERVED);
    this.st.expectations.bumpIdPast(e.id);
    this.st.expectations.add({
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

  /**
   * Turn a matching expectation into the connection's mapping. When the connection cannot be
   * admitted (its inside 4-tuple is already in use, or a limit), the expectation stays for a
   * legitimate attempt and null is returned.
   */
  consume(r: ExpectationRecord, owner: number, peerText: string, peerPort: number, nowMs: number): Mapping | null {
    const p = r.proto;
    const idx = Math.floor(r.extKey / 65536 / 4);
    const port = r.external.port;
    if (owner > 0 && this.st.slots.flags(owner - 1) & F_LIVE) {
      const s = owner - 1; // the internal endpoint's existing mapping: open it to this peer
      this.st.expectations.remove(r.id);
      this.st.peers.add(s, this.st.keys.acquire(peerText), peerPort);
      this.st.touch(s, nowMs);
      return this.st.toMapping(s);
    }
    const iaddrPeek = this.st.keys.peek(r.internal.address);
    const peerPeek = this.st.keys.peek(peerText);
    const existing = iaddrPeek >= 0 && peerPeek >= 0 ? this.st.findAny(p, iaddrPeek, r.internal.port, 2, peerPeek, peerPort) : -1;
    const host = iaddrPeek >= 0 ? this.st.hosts.get(iaddrPeek) : undefined;
    if (existing >= 0 || this.st.slots.live >= this.st.options.maxMappings || (host && host.count >= this.st.options.maxMappingsPerHost)) return null;
    const s = this.st.slots.allocate();
    if (s < 0) return null;
    this.st.expectations.remove(r.id);
    this.st.fill(s, p, this.st.keys.acquireKnown(iaddrPeek, r.internal.address), r.internal.port, idx, port, 2, this.st.keys.acquireKnown(peerPeek, peerText), peerPort);
    this.st.slots.setFlags(s, F_LIVE | (2 << KEY_SHIFT) | F_HAS_PEER | F_PEER_LOCKED | (p === 0 ? 0 : F_ESTABLISHED));
    this.st.expiry.schedule(s, nowMs + this.st.timeoutOf(s));
    this.st.index.insert(s);
    this.st.keyCounts[p * 3 + 2]!++;
    this.st.pool.spaceFor(idx, p).reassign(port, s + 1, this.st.slots.gen(s));
    this.st.countHost(this.st.slots.iaddr(s), idx);
    return this.st.toMapping(s, r.internal);
  }

  /** Free the external port of a gone expectation unless a mapping or another expectation holds it. */
  afterGone(r: ExpectationRecord): void {
    const idx = Math.floor(r.extKey / 65536 / 4);
    const space = this.st.pool.space(idx, r.proto);
    if (space && space.holder(r.external.port) === RESERVED && !this.st.expectations.hasExternal(r.extKey)) space.free(r.external.port);
  }

  sameInternal(s: number, e: Endpoint): boolean {
    return this.st.slots.iaddr(s) === this.st.keys.peek(e.address) && this.st.slots.iport(s) === e.port;
  }

  reservedFor(extKey: number, e: Endpoint): boolean {
    return this.st.expectations.reservedFor(extKey, e.address, e.port);
  }
}
