/**
 * One NAT session: a flow (TCP connection, UDP flow, ICMP query) with its two legs (leg.ts), the
 * mapping-table entry it uses, its TCP state, its timers, and the ALG on it if any.
 *
 * Timers are lazy: packets only move `lastSeen`; the session has one entry in the NAT's timer
 * heap at `heapDeadline`, which is checked and moved on when it comes due (see packet-nat.ts).
 */

import type { Protocol } from '../mapping/types.js';
import type { AlgConnection } from './alg-connection.js';
import type { Leg } from './leg.js';
import type { SessionOrigin } from './nat-types.js';
import type { TcpState } from './tcp-tracker.js';

export class NatSession {
  // Field order is memory layout (V8 lays an object's fields out in their order of definition):
  // the four the IPv4 fast path reads come first, next to the object's header.
  /** TCP only. */
  state: TcpState | null;
  alg: AlgConnection | null = null;
  /** When to talk to the mapping table next (refresh, or check that the mapping lives). */
  checkAt: number;
  lastSeen: number;
  /** Index in the NAT's session array (reused after the session ends). */
  slot = -1;
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

  constructor(id: number, protocol: Protocol, protocolIndex: number, a: Leg, b: Leg, mappingId: number, via: SessionOrigin, state: TcpState | null, nowMs: number) {
    this.id = id;
    this.protocol = protocol;
    this.protocolIndex = protocolIndex;
    this.a = a;
    this.b = b;
    this.mappingId = mappingId;
    this.via = via;
    this.state = state;
    this.lastSeen = nowMs;
    this.checkAt = nowMs;
  }
}
