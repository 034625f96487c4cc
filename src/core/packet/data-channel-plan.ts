/**
 * Answering an ALG's data-channel request (alg/contract.ts) for a packet NAT, for any ALG: where
 * the connector will connect, and what lets that connection through, decided by the mapping
 * table and the address translator.
 *
 * The endpoint in the line was written by the peer that will listen; the connector reads it.
 * - The listener is inside and the connector outside: the table opens an expectation (a one-shot
 *   pinhole: its external endpoint leads to the request's target, only for `acceptFrom`), and the
 *   line carries the external endpoint. A target under a 1:1 address rule needs no pinhole: the
 *   line carries its outside address.
 * - The listener is outside and the connector inside: the connector connects out through the
 *   NAT like any flow; the line carries the target as the inside sees it (the same address for
 *   NAT44, its RFC 6052 IPv6 form for an IPv6-only host behind NAT64).
 * - Both on one side (a control connection turned back inside by hairpinning): the target as is.
 *
 * A request that names no peer (`acceptFrom` null: an IRC DCC SEND from inside is for a user the
 * NAT cannot know) opens a pinhole for any peer address; it is still one connection, to the one
 * internal endpoint the line named, before its timeout.
 */

import type { DataChannelRequest } from '../alg/contract.js';
import { endpoint, type Endpoint } from '../net/ip.js';
import type { PortTable } from '../mapping/table.js';
import type { AddressTranslator } from '../nat/realm.js';
import type { NatSide } from './segment-builder.js';

export interface DataChannelContext {
  readonly table: PortTable;
  readonly translator: AddressTranslator;
  /** Where the control connection's client and server are. */
  readonly clientSide: NatSide;
  readonly serverSide: NatSide;
  /** The inside party's own address (how the inside sees itself). */
  readonly insideAddress: string;
  /** 1:1 address rules, inside address -> outside address. */
  readonly oneToOne: ReadonlyMap<string, string>;
  /** Owner of the expectations: the control session's id. */
  readonly owner: number;
}

export type DataChannelPlan =
  | { readonly ok: true; readonly endpoint: Endpoint; readonly expectationId: number | null }
  | { readonly ok: false; readonly reason: string };

export function planPacketDataChannel(req: DataChannelRequest, ctx: DataChannelContext, nowMs: number): DataChannelPlan {
  const connectorSide = req.connector === 'client' ? ctx.clientSide : ctx.serverSide;
  const listenerSide = req.connector === 'client' ? ctx.serverSide : ctx.clientSide;
  const target = req.target;
  if (connectorSide === listenerSide) return { ok: true, endpoint: target, expectationId: null };
  if (listenerSide === 'inside') {
    const outside = ctx.oneToOne.get(target.address);
    if (outside !== undefined) {
      const e = endpoint(outside, target.port);
      return e.family === req.family ? { ok: true, endpoint: e, expectationId: null } : { ok: false, reason: 'unsupported-family' };
    }
    const res = ctx.table.expect(
      {
        protocol: 'tcp',
        owner: ctx.owner,
        internal: target,
        peer: { address: req.acceptFrom },
        ...(req.timeoutMs === null ? {} : { timeoutMs: req.timeoutMs }),
      },
      nowMs,
    );
    if (!res.ok) return { ok: false, reason: res.reason };
    if (res.expectation.external.family !== req.family) {
      ctx.table.cancelExpectation(res.expectation.id);
      return { ok: false, reason: 'unsupported-family' };
    }
    return { ok: true, endpoint: res.expectation.external, expectationId: res.expectation.id };
  }
  // The listener is outside: the inside connector reaches the target through the NAT.
  if (target.family === req.family) return { ok: true, endpoint: target, expectationId: null };
  const view = ctx.translator.insideViewOf(target.address, ctx.insideAddress);
  if (view === null) return { ok: false, reason: 'non-global' };
  const e = endpoint(view, target.port);
  return e.family === req.family ? { ok: true, endpoint: e, expectationId: null } : { ok: false, reason: 'unsupported-family' };
}
