/**
 * Snapshot and restore of a PortTable, so an embedding can survive a restart: plain JSON-safe
 * data, versioned. Times are stored as remaining milliseconds, because the caller's monotonic
 * clock does not survive a restart; `restorePortTable` re-bases them on the new clock.
 *
 * Secrets are not stored: the restored table draws new ones from its random source. They only
 * steer the choice of future ports, never the identity of existing mappings.
 */

import { NatAlgError } from '../errors.js';
import { parseEndpoint, formatEndpoint } from '../net/ip.js';
import { F_ESTABLISHED, F_HELD, F_PEER_LOCKED, F_STATIC, KEY_SHIFT, SLOT_LIMIT } from './slots.js';
import { PortTable } from './table.js';
import { protocolIndex, type PeerConstraint, type PortTableOptions, type Protocol } from './types.js';

export const SNAPSHOT_VERSION = 1;

export interface MappingRecord {
  readonly protocol: Protocol;
  /** `a.b.c.d:p` / `[v6]:p` */
  readonly internal: string;
  readonly external: string;
  readonly kind: 'dynamic' | 'static';
  /** How the mapping is keyed inside: 0 endpoint-independent, 1 remote address, 2 remote address and port. */
  readonly keyKind: 0 | 1 | 2;
  readonly phase: 'transitory' | 'established';
  /** Admitted by an expectation: only its recorded peers may send in. */
  readonly peerLocked: boolean;
  /** Remote peers remembered for filtering (the first is the key remote for keyKind 1 and 2). */
  readonly peers: readonly string[];
  /** Milliseconds left before expiry at snapshot time; null when it never expires. */
  readonly remainingMs: number | null;
}

export interface ExpectationSnapshot {
  readonly id: number;
  readonly protocol: Protocol;
  readonly owner: string | number;
  readonly internal: string;
  readonly external: string;
  readonly peer: PeerConstraint;
  readonly remainingMs: number;
}

export interface PortTableSnapshot {
  readonly version: number;
  readonly mappings: readonly MappingRecord[];
  readonly staticAddresses: readonly (readonly [string, string])[];
  readonly expectations: readonly ExpectationSnapshot[];
}

/** Everything live at `nowMs` (mappings already expired at nowMs are left out). */
export function snapshotPortTable(table: PortTable, nowMs: number): PortTableSnapshot {
  const mappings: MappingRecord[] = [];
  for (const m of table.mappings()) {
    if (m.expiresAt !== null && m.expiresAt <= nowMs) continue;
    const slot = m.id % SLOT_LIMIT;
    const f = table.flagsOf(slot);
    mappings.push({
      protocol: m.protocol,
      internal: formatEndpoint(m.internal),
      external: formatEndpoint(m.external),
      kind: m.kind,
      keyKind: (f >> KEY_SHIFT) as 0 | 1 | 2,
      phase: f & F_ESTABLISHED ? 'established' : 'transitory',
      peerLocked: (f & F_PEER_LOCKED) !== 0,
      peers: table.peersOf(slot).map(formatEndpoint),
      remainingMs: m.expiresAt === null ? null : m.expiresAt - nowMs,
    });
  }
  const expectations = table
    .listExpectations()
    .filter((e) => e.expiresAt > nowMs)
    .map((e) => ({
      id: e.id,
      protocol: e.protocol,
      owner: e.owner,
      internal: formatEndpoint(e.internal),
      external: formatEndpoint(e.external),
      peer: e.peer,
      remainingMs: e.expiresAt - nowMs,
    }));
  return { version: SNAPSHOT_VERSION, mappings, staticAddresses: table.staticAddresses(), expectations };
}

/**
 * A new table with `options` holding the snapshot's state, its timers re-based on `nowMs`.
 * Throws NatAlgError on a snapshot that does not fit the options (unknown version, more mappings
 * than maxMappings, an endpoint held twice) or AddressError on malformed endpoints.
 */
export function restorePortTable(snapshot: PortTableSnapshot, options: PortTableOptions, nowMs: number): PortTable {
  if (!snapshot || snapshot.version !== SNAPSHOT_VERSION) {
    throw new NatAlgError('invalid-argument', `unsupported snapshot version ${String(snapshot?.version)}`);
  }
  const table = new PortTable(options);
  for (const [inside, outside] of snapshot.staticAddresses) table.addStaticAddress(inside, outside);
  for (const m of snapshot.mappings) {
    const p = protocolIndex(m.protocol);
    if (p < 0) throw new NatAlgError('invalid-argument', `snapshot: unknown protocol ${String(m.protocol)}`);
    if (m.keyKind !== 0 && m.keyKind !== 1 && m.keyKind !== 2) throw new NatAlgError('invalid-argument', 'snapshot: bad keyKind');
    if (m.keyKind !== 0 && m.peers.length === 0) throw new NatAlgError('invalid-argument', 'snapshot: keyed mapping without peer');
    let flags = m.keyKind << KEY_SHIFT;
    if (m.kind === 'static') flags |= F_STATIC | F_HELD;
    if (m.remainingMs === null) flags |= F_HELD;
    else if (!(m.remainingMs > 0)) throw new NatAlgError('invalid-argument', 'snapshot: remainingMs must be positive or null');
    if (m.phase === 'established') flags |= F_ESTABLISHED;
    if (m.peerLocked) flags |= F_PEER_LOCKED;
    table.restoreSlot(
      p,
      parseEndpoint(m.internal),
      parseEndpoint(m.external),
      flags,
      m.peers.map(parseEndpoint),
      m.remainingMs === null ? Infinity : nowMs + m.remainingMs,
    );
  }
  for (const e of snapshot.expectations) {
    table.restoreExpectation({
      id: e.id,
      protocol: e.protocol,
      owner: e.owner,
      internal: parseEndpoint(e.internal),
      external: parseEndpoint(e.external),
      peer: e.peer,
      expiresAt: nowMs + e.remainingMs,
    });
  }
  return table;
}
