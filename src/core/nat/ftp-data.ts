/**
 * The FTP data-channel helper for a pure-NAT deployment (no relay): it answers the FTP
 * translator's `FtpDataChannelRequest` from the mapping table.
 *
 * The endpoint in a PORT/EPRT/LPRT command or a 227/228/229 reply was written by one party and
 * will be read by the other. Two cases:
 * - The writer is inside: the reader's side (the connector) will connect in, to an endpoint it
 *   can reach. The helper opens an expectation in the table (external endpoint -> the written
 *   internal endpoint, only for the connector's address) and the external endpoint is what the
 *   line must carry.
 * - The writer is outside and the reader inside: the inside party connects out, which creates
 *   an ordinary mapping. The line needs no pinhole, only the inside view of the address
 *   (unchanged for NAT44, the RFC 6052 IPv6 form for a NAT64 inside host).
 *
 * Embedding, with an FtpTranslator `ftp` and a control connection id `cid`:
 *   on { type: 'data-channel-request', request }:
 *     const plan = planFtpDataChannel(request, ctx, nowMs)
 *     plan.ok ? ftp.resolveDataChannel(request.id, plan.endpoint)
 *             : ftp.refuseDataChannel(request.id, plan.reason)
 *     remember plan.expectation?.id under request.id
 *   on { type: 'data-channel-released', id }: table.cancelExpectation(remembered id)
 *   when the control connection ends: table.cancelOwner(cid)
 *   on table.inbound(...) with via 'expectation': the data connection arrived (one-shot).
 */

import { endpoint, type Endpoint } from '../net/ip.js';
import type { FtpDataChannelRequest } from '../ftp/types.js';
import type { PortTable } from '../mapping/table.js';
import type { AllocationFailure, Expectation } from '../mapping/types.js';
import { synthesizeIPv6, extractIPv4Text, type Nat64Prefix } from './rfc6052.js';

export interface FtpNatContext {
  readonly table: PortTable;
  /** Which party of the control connection is inside the NAT. */
  readonly inside: 'client' | 'server';
  /** The client's address in its own realm (inside form if inside, outside form if outside). */
  readonly clientAddress: string;
  /** The server's address in its own realm. */
  readonly serverAddress: string;
  /** Owner of the expectations: the control connection's id (limits, `cancelOwner`). */
  readonly owner: string | number;
  /** When the inside realm is IPv6 and the outside IPv4 (NAT64/FTP64): the RFC 6052 prefix. */
  readonly nat64?: Nat64Prefix;
  /**
   * Constrain the connector's source port too. Active mode servers usually connect from port
   * 20, but not always (RFC 959 only defaults it), so the default is address-only.
   */
  readonly connectorPort?: number;
  /** Expectation lifetime, ms. Default: the table's expectationTimeoutMs. */
  readonly timeoutMs?: number;
}

export type FtpDataPlan =
  | {
      readonly ok: true;
      /** The endpoint to write into the line, in the reader's realm. */
      readonly endpoint: Endpoint;
      /** The pinhole installed in the table, or null when the connection will be outbound. */
      readonly expectation: Expectation | null;
    }
  | {
      readonly ok: false;
      readonly reason: AllocationFailure | 'owner-limit' | 'expectation-limit' | 'non-global' | 'unsupported-family';
    };

export function planFtpDataChannel(req: FtpDataChannelRequest, ctx: FtpNatContext, nowMs: number): FtpDataPlan {
  const writer = req.mode === 'active' ? 'client' : 'server';
  const connectorAddress = req.connector === 'client' ? ctx.clientAddress : ctx.serverAddress;
  if (writer === ctx.inside) {
    const res = ctx.table.expect(
      {
        protocol: 'tcp',
        owner: ctx.owner,
        internal: req.original,
        peer: ctx.connectorPort === undefined ? { address: connectorAddress } : { address: connectorAddress, port: ctx.connectorPort },
        ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }),
      },
      nowMs,
    );
    if (!res.ok) return res;
    if (res.expectation.external.family !== req.family) {
      ctx.table.cancelExpectation(res.expectation.id);
      return { ok: false, reason: 'unsupported-family' };
    }
    return { ok: true, endpoint: res.expectation.external, expectation: res.expectation };
  }
  // The writer is outside; the inside reader will connect out to the written endpoint.
  if (req.original.family === req.family) return { ok: true, endpoint: req.original, expectation: null };
  if (!ctx.nat64) return { ok: false, reason: 'unsupported-family' };
  if (req.family === 6 && req.original.family === 4) {
    const v6 = synthesizeIPv6(ctx.nat64, req.original.address);
    if (!v6.ok) return { ok: false, reason: 'non-global' };
    return { ok: true, endpoint: endpoint(v6.address, req.original.port), expectation: null };
  }
  const v4 = extractIPv4Text(ctx.nat64, req.original.address);
  if (v4 === null) return { ok: false, reason: 'unsupported-family' };
  return { ok: true, endpoint: endpoint(v4, req.original.port), expectation: null };
}
