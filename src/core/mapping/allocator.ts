/**
 * PortAllocator: the smallest useful face of the mapping table, for a relay that needs "a free
 * port from LO-HI" for its data listeners. Ports are chosen by RFC 6056 Algorithm 4 (not
 * sequentially, so a third party cannot guess the next data port), never handed out twice while
 * held, and a full range is a result, not an exception.
 *
 * A held port never expires: the relay releases it when its listener closes. With `ttlMs`, an
 * unreleased port comes back on its own (a listener nobody connected to).
 */

import { NatAlgError } from '../errors.js';
import { endpoint, type Endpoint } from '../net/ip.js';
import { PortTable } from './table.js';
import type { AllocationFailure, MappingEvent, PortRange, Protocol, RandomSource } from './types.js';

export interface PortAllocatorOptions {
  /** The address the ports belong to (the relay's listening address). */
  readonly address: string;
  /** Ports to hand out, inclusive. */
  readonly range: PortRange;
  readonly random: RandomSource | (() => number);
  /** Ports held at once, in total. Default: the size of the range (per protocol). */
  readonly maxPorts?: number;
  /** Ports held at once per owner address (for example per client). Default: no limit. */
  readonly maxPortsPerOwner?: number;
  /** When set, a port not released within ttlMs frees itself. Default: held until released. */
  readonly ttlMs?: number;
  /** Prefer a port of the same parity as the owner's (RTP-style relays). Default false. */
  readonly parityPreservation?: boolean;
}

export type PortAllocation =
  | { readonly ok: true; readonly port: number; readonly id: number; readonly endpoint: Endpoint }
  | { readonly ok: false; readonly reason: AllocationFailure };

export class PortAllocator {
  readonly table: PortTable;
  private readonly ttlMs: number | null;
  private nextOwner = 0;

  constructor(o: PortAllocatorOptions) {
    const range = o.range;
    if (!range || !(Number.isInteger(range.min) && Number.isInteger(range.max)) || range.min < 1 || range.max > 65535 || range.min > range.max) {
      throw new NatAlgError('invalid-argument', 'range must be { min, max } within 1-65535, min <= max');
    }
    if (o.ttlMs !== undefined && !(o.ttlMs > 0)) throw new NatAlgError('invalid-argument', 'ttlMs must be positive');
    this.ttlMs = o.ttlMs ?? null;
    const span = range.max - range.min + 1;
    const ttl = o.ttlMs ?? Infinity;
    const policy = {
      mapping: 'endpoint-independent',
      portRange: range,
      privilegedRange: null,
      portPreservation: false,
      parityPreservation: o.parityPreservation ?? false,
      establishedTimeoutMs: ttl,
      transitoryTimeoutMs: ttl,
      inboundRefresh: false,
    } as const;
    this.table = new PortTable({
      externalAddresses: [o.address],
      random: o.random,
      tcp: policy,
      udp: policy,
      icmp: policy,
      maxMappings: Math.min(o.maxPorts ?? span * 3, 1 << 24),
      maxMappingsPerHost: Math.min(o.maxPortsPerOwner ?? 1 << 24, 1 << 24),
    });
  }

  /**
   * A free port for `owner` (the internal endpoint the port will lead to: for a relay, the peer
   * the data connection is for, or any endpoint that identifies the allocation). Each call with a
   * different owner endpoint gets a different port; the same owner endpoint gets its port back.
   */
  allocate(protocol: Protocol, owner: Endpoint, nowMs: number): PortAllocation {
    const r = this.table.allocate(protocol, owner, nowMs, { hold: this.ttlMs === null, phase: 'established' });
    if (!r.ok) return r;
    return { ok: true, port: r.mapping.external.port, id: r.mapping.id, endpoint: r.mapping.external };
  }

  /**
   * A free port with no owner: every call returns a different port while the earlier ones are
   * held. This is the call for "a free TCP port from LO-HI for a relay listener".
   */
  allocatePort(protocol: Protocol, nowMs: number): PortAllocation {
    // Each call gets its own synthetic owner endpoint in 0.0.0.0/8 (never a real peer), so the
    // endpoint-independent mapping never hands back a port that is still held.
    for (let tries = 0; tries < 16; tries++) {
      const n = this.nextOwner;
      this.nextOwner = (this.nextOwner + 1) % 0x1000000;
      const owner: Endpoint = { family: 4, address: `0.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, port: 1 };
      const r = this.table.allocate(protocol, owner, nowMs, { hold: this.ttlMs === null, phase: 'established' });
      if (!r.ok) return r;
      if (r.created) return { ok: true, port: r.mapping.external.port, id: r.mapping.id, endpoint: r.mapping.external };
      // That synthetic owner still holds a port from 16,777,216 calls ago: try the next one.
    }
    return { ok: false, reason: 'exhausted' };
  }

  /** Give a port back (by the id from `allocate`). False when it was not held. */
  release(id: number): boolean {
    return this.table.release(id);
  }

  /** Give back the port held for an owner endpoint. */
  releaseOwner(protocol: Protocol, owner: Endpoint, nowMs: number): boolean {
    const m = this.table.lookupInternal(protocol, owner, nowMs);
    return m ? this.table.release(m.id) : false;
  }

  /** Whether a port is held. */
  isHeld(protocol: Protocol, port: number, nowMs: number): boolean {
    const addr = this.table.options.externalAddresses[0]!;
    return this.table.lookupExternal(protocol, endpoint(addr, port), nowMs) !== null;
  }

  pollTimeout(): number | null {
    return this.table.pollTimeout();
  }

  handleTimeout(nowMs: number): void {
    this.table.handleTimeout(nowMs);
  }

  pollEvent(): MappingEvent | null {
    return this.table.pollEvent();
  }
}
