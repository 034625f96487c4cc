/**
 * One NAT session: a flow (TCP connection, UDP flow, ICMP query) with its two legs (leg.ts), the
 * mapping-table entry it uses, its TCP state, its timers, and the ALG on it if any.
 *
 * Timers are lazy: packets only move `lastSeen`; the session has one entry in the NAT's timer
 * heap at `heapDeadline`, which is checked and moved on when it comes due (see packet-nat.ts).
 *
 * While it holds its slot, its `checkAt` and `lastSeen` live in the NAT's session rows
 * (session-rows.ts), where the IPv4 fast path reads and moves them without this object, and a
 * change of its TCP state or ALG sets its legs' Fast flag there by `takesFastPath`. Once closed
 * (`release`) it keeps its last values itself: the slot may already be another session's.
 */

import type { Protocol } from '../mapping/types.js';
import type { AlgConnection } from './alg-connection.js';
import type { Leg } from './leg.js';
import type { SessionOrigin } from './nat-types.js';
import type { SessionRows } from './session-rows.js';
import type { TcpState } from './tcp-tracker.js';

export class NatSession {
  /** Index in the NAT's session array and rows (reused after the session ends). */
  readonly slot: number;
  /** Unique for the NAT's lifetime: the id events carry and the owner of its expectations. */
  readonly id: number;
  readonly protocol: Protocol;
  /** 0 tcp, 1 udp, 2 icmp. */
  readonly protocolIndex: number;
  readonly a: Leg;
  readonly b: Leg;
  /** The mapping-table entry, or -1 (a 1:1 rule needs none). */
  readonly mappingId: number;
  readonly via: SessionOrigin;
  heapDeadline = Infinity;
  algName: string | null = null;
  /**
   * Data-channel request id -> its expectation, oldest first, and whether the ALG committed it
   * (the peer took the line up): for releases and for making room under the ALG's limit.
   */
  readonly expectations = new Map<number, { readonly expectation: number; committed: boolean }>();
  /** A data connection: the control session that expected it. */
  expectedBy: number | null = null;
  /** TCP only. */
  private tcpState: TcpState | null;
  private algConnection: AlgConnection | null = null;
  /** The rows while the session holds its slot, then null. */
  private rows: SessionRows | null;
  /** checkAt and lastSeen once released. */
  private releasedCheckAt = 0;
  private releasedLastSeen = 0;

  constructor(
    id: number,
    protocol: Protocol,
    protocolIndex: number,
    a: Leg,
    b: Leg,
    mappingId: number,
    via: SessionOrigin,
    state: TcpState | null,
    nowMs: number,
    rows: SessionRows,
    slot: number,
  ) {
    this.id = id;
    this.protocol = protocol;
    this.protocolIndex = protocolIndex;
    this.a = a;
    this.b = b;
    this.mappingId = mappingId;
    this.via = via;
    this.tcpState = state;
    this.slot = slot;
    this.rows = rows;
    rows.open(slot, a, b);
    this.lastSeen = nowMs;
    this.checkAt = nowMs;
    this.updateFast();
  }

  /**
   * Whether the packets of its IPv4-to-IPv4 legs (Leg.fast4) may be translated by the fast path
   * (between its `checkAt`s): a session without an ALG that is established (TCP) or needs no
   * state (UDP).
   */
  takesFastPath(): boolean {
    return this.algConnection === null && (this.tcpState === null || this.tcpState === 'established');
  }

  get state(): TcpState | null {
    return this.tcpState;
  }
  set state(s: TcpState | null) {
    this.tcpState = s;
    this.updateFast();
  }

  get alg(): AlgConnection | null {
    return this.algConnection;
  }
  set alg(a: AlgConnection | null) {
    this.algConnection = a;
    this.updateFast();
  }

  /** When to talk to the mapping table next (refresh, or check that the mapping lives). */
  get checkAt(): number {
    return this.rows !== null ? this.rows.checkAt(this.slot) : this.releasedCheckAt;
  }
  set checkAt(t: number) {
    if (this.rows !== null) this.rows.setCheckAt(this.slot, t);
    else this.releasedCheckAt = t;
  }

  get lastSeen(): number {
    return this.rows !== null ? this.rows.lastSeen(this.slot) : this.releasedLastSeen;
  }
  set lastSeen(t: number) {
    if (this.rows !== null) this.rows.setLastSeen(this.slot, t);
    else this.releasedLastSeen = t;
  }

  /** The session gives its slot up (it closed): its numbers stay with it, out of the rows. */
  release(): void {
    const rows = this.rows;
    if (rows === null) return;
    this.releasedCheckAt = rows.checkAt(this.slot);
    this.releasedLastSeen = rows.lastSeen(this.slot);
    rows.setFast(this.slot, false, false);
    this.rows = null;
  }

  private updateFast(): void {
    const fast = this.takesFastPath();
    this.rows?.setFast(this.slot, fast && this.a.fast4, fast && this.b.fast4);
  }
}
