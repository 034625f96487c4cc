/**
 * Validation of PortTableOptions into ResolvedOptions. Misconfiguration is the caller's fault and
 * throws NatAlgError('invalid-argument') here, once, so the hot path never re-checks it.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, familyOf } from '../net/ip.js';
import { SLOT_LIMIT } from './slots.js';
import {
  DEFAULT_PROTOCOL_POLICIES,
  PROTOCOLS,
  type PortRange,
  type PortTableOptions,
  type ProtocolPolicy,
  type ResolvedOptions,
} from './types.js';

const BEHAVIORS = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];

function bad(message: string): never {
  throw new NatAlgError('invalid-argument', message);
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) bad(`${name} must be an integer ${min}-${max}, got ${v}`);
  return v;
}

function checkRange(name: string, r: PortRange): PortRange {
  if (!r || typeof r !== 'object') bad(`${name} must be { min, max }`);
  checkInt(`${name}.min`, r.min, 0, 65535);
  checkInt(`${name}.max`, r.max, 0, 65535);
  if (r.min > r.max) bad(`${name}: min ${r.min} > max ${r.max}`);
  return Object.freeze({ min: r.min, max: r.max });
}

function checkTimeout(name: string, v: number): number {
  if (!(typeof v === 'number' && v > 0)) bad(`${name} must be a positive number of ms (Infinity allowed)`);
  return v;
}

export function resolvePolicy(name: string, base: ProtocolPolicy, over: Partial<ProtocolPolicy> | undefined): ProtocolPolicy {
  const p = { ...base, ...(over ?? {}) };
  if (!BEHAVIORS.includes(p.mapping)) bad(`${name}.mapping: unknown behaviour ${String(p.mapping)}`);
  if (!BEHAVIORS.includes(p.filtering)) bad(`${name}.filtering: unknown behaviour ${String(p.filtering)}`);
  const portRange = checkRange(`${name}.portRange`, p.portRange);
  const privilegedRange = p.privilegedRange === null ? null : checkRange(`${name}.privilegedRange`, p.privilegedRange);
  if (privilegedRange && !(privilegedRange.max < portRange.min || privilegedRange.min > portRange.max)) {
    bad(`${name}: privilegedRange and portRange overlap`);
  }
  return Object.freeze({
    mapping: p.mapping,
    filtering: p.filtering,
    portRange,
    privilegedRange,
    portPreservation: Boolean(p.portPreservation),
    parityPreservation: Boolean(p.parityPreservation),
    establishedTimeoutMs: checkTimeout(`${name}.establishedTimeoutMs`, p.establishedTimeoutMs),
    transitoryTimeoutMs: checkTimeout(`${name}.transitoryTimeoutMs`, p.transitoryTimeoutMs),
    inboundRefresh: Boolean(p.inboundRefresh),
  });
}

export function resolveOptions(o: PortTableOptions): ResolvedOptions {
  if (!o || typeof o !== 'object') bad('options are required');
  if (!Array.isArray(o.externalAddresses) || o.externalAddresses.length === 0) {
    bad('externalAddresses must list at least one address');
  }
  const addresses = o.externalAddresses.map((a) => canonicalAddress(a));
  if (new Set(addresses).size !== addresses.length) bad('externalAddresses has duplicates');
  if (addresses.length > 4096) bad('at most 4096 external addresses');
  const fam = familyOf(addresses[0]!);
  if (addresses.some((a) => familyOf(a) !== fam)) bad('externalAddresses must all be of one family (use one table per family)');
  const pooling = o.pooling ?? 'paired';
  if (pooling !== 'paired' && pooling !== 'arbitrary') bad(`pooling must be 'paired' or 'arbitrary'`);
  const policies = PROTOCOLS.map((p) => resolvePolicy(p, DEFAULT_PROTOCOL_POLICIES[p], o[p])) as unknown as readonly [
    ProtocolPolicy,
    ProtocolPolicy,
    ProtocolPolicy,
  ];
  return Object.freeze({
    externalAddresses: Object.freeze(addresses),
    pooling,
    policies,
    maxMappings: checkInt('maxMappings', o.maxMappings ?? 262_144, 1, SLOT_LIMIT),
    initialCapacity: checkInt('initialCapacity', o.initialCapacity ?? 1024, 1, SLOT_LIMIT),
    maxMappingsPerHost: checkInt('maxMappingsPerHost', o.maxMappingsPerHost ?? 8192, 1, SLOT_LIMIT),
    maxPeersPerMapping: checkInt('maxPeersPerMapping', o.maxPeersPerMapping ?? 64, 1, 65536),
    maxExpectations: checkInt('maxExpectations', o.maxExpectations ?? 1024, 0, 1 << 20),
    maxExpectationsPerOwner: checkInt('maxExpectationsPerOwner', o.maxExpectationsPerOwner ?? 8, 0, 1 << 20),
    expectationTimeoutMs: checkTimeout('expectationTimeoutMs', o.expectationTimeoutMs ?? 30_000),
    hairpinning: o.hairpinning ?? true,
    maxQueuedEvents: checkInt('maxQueuedEvents', o.maxQueuedEvents ?? 65_536, 0, 1 << 30),
  });
}
