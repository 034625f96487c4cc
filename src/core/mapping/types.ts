/**
 * Public types of the port-mapping table: protocols, behaviours, options with their defaults,
 * and the values every call returns. Outcomes are discriminated unions; a full table or an
 * exhausted port range is an ordinary result, never an exception and never a silent reuse.
 *
 * Each default names the requirement it comes from (RFC 4787 for UDP, RFC 5382 for TCP, RFC 5508
 * for ICMP, RFC 6056 for port randomisation). docs/mapping.md explains.
 */

import type { Endpoint } from '../net/ip.js';

export type Protocol = 'tcp' | 'udp' | 'icmp';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'icmp'];

/** Index of a protocol in the table's numeric API (tcp 0, udp 1, icmp 2). */
export function protocolIndex(p: Protocol): number {
  return p === 'tcp' ? 0 : p === 'udp' ? 1 : p === 'icmp' ? 2 : -1;
}

/**
 * RFC 4787 section 4.1: which remote endpoints share one external endpoint of an internal one.
 * `endpoint-independent`: all of them (REQ-1 requires it for UDP; RFC 5382 REQ-1 for TCP).
 */
export type MappingBehavior = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** RFC 4787 section 5: which remote endpoints may send in through an existing mapping. */
export type FilteringBehavior = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** A TCP connection is `transitory` while opening or closing and `established` in between. */
export type ConnectionPhase = 'transitory' | 'established';

export interface ProtocolPolicy {
  /** Default `endpoint-independent` (RFC 4787 REQ-1, RFC 5382 REQ-1). */
  readonly mapping: MappingBehavior;
  /** Default `address-dependent` (RFC 4787 REQ-8 recommends EIF or ADF; ADF is the safer). */
  readonly filtering: FilteringBehavior;
  /** External ports for internal ports 1024 and up (ICMP: every identifier). Default 1024-65535. */
  readonly portRange: PortRange;
  /**
   * External ports for internal ports below 1024, so a privileged source stays privileged
   * (RFC 4787 REQ-3). Default 1-1023; null maps them into `portRange`.
   * Ignored for ICMP.
   */
  readonly privilegedRange: PortRange | null;
  /** Try the internal port first (RFC 4787 section 4.2.1: MAY). Default false (RFC 6056 prefers random). */
  readonly portPreservation: boolean;
  /** Prefer an external port of the same parity (RFC 4787 REQ-4, RECOMMENDED for RTP). UDP default true. */
  readonly parityPreservation: boolean;
  /** Idle timeout once established, ms. TCP 7,440,000 (2 h 4 min, RFC 5382 REQ-5); UDP 300,000 (RFC 4787 REQ-5); ICMP 60,000 (RFC 5508: at least 60 s). */
  readonly establishedTimeoutMs: number;
  /** Idle timeout while opening or closing, ms. TCP 240,000 (4 min, RFC 5382 REQ-5); UDP and ICMP as established. */
  readonly transitoryTimeoutMs: number;
  /** Whether inbound packets refresh the timer (RFC 4787 REQ-6: outbound MUST, inbound MAY). TCP true, UDP and ICMP false. */
  readonly inboundRefresh: boolean;
}

export const DEFAULT_PROTOCOL_POLICIES: Readonly<Record<Protocol, ProtocolPolicy>> = Object.freeze({
  tcp: Object.freeze({
    mapping: 'endpoint-independent',
    filtering: 'address-dependent',
    portRange: Object.freeze({ min: 1024, max: 65535 }),
    privilegedRange: Object.freeze({ min: 1, max: 1023 }),
    portPreservation: false,
    parityPreservation: false,
    establishedTimeoutMs: 7_440_000,
    transitoryTimeoutMs: 240_000,
    inboundRefresh: true,
  }),
  udp: Object.freeze({
    mapping: 'endpoint-independent',
    filtering: 'address-dependent',
    portRange: Object.freeze({ min: 1024, max: 65535 }),
    privilegedRange: Object.freeze({ min: 1, max: 1023 }),
    portPreservation: false,
    parityPreservation: true,
    establishedTimeoutMs: 300_000,
    transitoryTimeoutMs: 300_000,
    inboundRefresh: false,
  }),
  icmp: Object.freeze({
    mapping: 'endpoint-independent',
    filtering: 'address-dependent',
    portRange: Object.freeze({ min: 0, max: 65535 }),
    privilegedRange: null,
    portPreservation: false,
    parityPreservation: false,
    establishedTimeoutMs: 60_000,
    transitoryTimeoutMs: 60_000,
    inboundRefresh: false,
  }),
} satisfies Record<Protocol, ProtocolPolicy>);

/** Uniform numbers in [0, 1), or 32-bit words: anything that can seed the table's secrets. */
export interface RandomSource {
  /** A uniform number in [0, 1). */
  random(): number;
}

export interface PortTableOptions {
  /** The NAT's own external addresses: the pool dynamic mappings draw from. All of one family. */
  readonly externalAddresses: readonly string[];
  /** Randomness for the RFC 6056 secrets. Required: the core has none of its own. */
  readonly random: RandomSource | (() => number);
  /**
   * `paired` (default, RFC 4787 REQ-2): every mapping of one internal address uses the same
   * external address. `arbitrary`: any pool address with a free port.
   */
  readonly pooling?: 'paired' | 'arbitrary';
  readonly tcp?: Partial<ProtocolPolicy>;
  readonly udp?: Partial<ProtocolPolicy>;
  readonly icmp?: Partial<ProtocolPolicy>;
  /** Live mappings in total (dynamic and static). Default 262,144. */
  readonly maxMappings?: number;
  /**
   * Mappings to make room for at construction (records and index), capped at maxMappings.
   * Default 1,024; the table grows by doubling past it. A NAT that knows its load sets it to skip
   * the rehashing and copying of growth (at 1,000,000 about 80 MB up front).
   */
  readonly initialCapacity?: number;
  /** Live dynamic mappings per internal address, so one host cannot exhaust the table (RFC 6888 REQ-4). Default 8,192. */
  readonly maxMappingsPerHost?: number;
  /** Remote peers remembered per mapping for address(-and-port)-dependent filtering. Default 64; the oldest is forgotten first. */
  readonly maxPeersPerMapping?: number;
  /** Expectations (pinholes) outstanding in total. Default 1,024. */
  readonly maxExpectations?: number;
  /** Expectations outstanding per owner (for example one FTP control connection). Default 8. */
  readonly maxExpectationsPerOwner?: number;
  /** Lifetime of an expectation that is not consumed, ms. Default 30,000 (RFC 6384 section 6: at least 30 s). */
  readonly expectationTimeoutMs?: number;
  /** Find internal hosts through the NAT's own external endpoints (RFC 4787 REQ-9). Default true. */
  readonly hairpinning?: boolean;
  /** Events held until polled; beyond this, further events are counted in `stats().droppedEvents`. Default 65,536. */
  readonly maxQueuedEvents?: number;
}

export interface ResolvedOptions {
  readonly externalAddresses: readonly string[];
  readonly pooling: 'paired' | 'arbitrary';
  readonly policies: readonly [ProtocolPolicy, ProtocolPolicy, ProtocolPolicy];
  readonly maxMappings: number;
  readonly initialCapacity: number;
  readonly maxMappingsPerHost: number;
  readonly maxPeersPerMapping: number;
  readonly maxExpectations: number;
  readonly maxExpectationsPerOwner: number;
  readonly expectationTimeoutMs: number;
  readonly hairpinning: boolean;
  readonly maxQueuedEvents: number;
}

/** A mapping as the caller sees it: a copy, valid at the time it was returned. */
export interface Mapping {
  /** Handle for `release`, `refresh` and `get`; never reused for another mapping of this table. */
  readonly id: number;
  readonly protocol: Protocol;
  readonly internal: Endpoint;
  readonly external: Endpoint;
  /** `static`: a port forward or a 1:1 address mapping; never expires. */
  readonly kind: 'dynamic' | 'static';
  /** When it expires if nothing refreshes it (caller's clock, ms); null for static and held mappings. */
  readonly expiresAt: number | null;
}

export type AllocationFailure =
  | 'exhausted' // no free external port in the range (on the paired address, with paired pooling)
  | 'host-limit' // maxMappingsPerHost reached for this internal address
  | 'table-full' // maxMappings reached
  | 'family-mismatch' // the pool cannot serve this address family (see docs: NAT64 realm)
  | 'port-in-use'; // a requested external port (static mapping, expectation) is taken

export type AllocateResult =
  | { readonly ok: true; readonly mapping: Mapping; readonly created: boolean }
  | { readonly ok: false; readonly reason: AllocationFailure };

/** Hairpinning: the destination was one of the NAT's external endpoints, held by this internal one. */
export interface HairpinTarget {
  readonly internal: Endpoint;
  /** The mapping whose external endpoint was addressed. */
  readonly mapping: Mapping;
}

export type OutboundResult =
  | {
      readonly ok: true;
      readonly mapping: Mapping;
      readonly created: boolean;
      /** Non-null when the packet must be turned back inside (hairpinning). */
      readonly hairpin: HairpinTarget | null;
    }
  | { readonly ok: false; readonly reason: AllocationFailure | 'hairpin-unreachable' };

export type InboundResult =
  | {
      readonly ok: true;
      readonly mapping: Mapping;
      /** How the packet was admitted. */
      readonly via: 'mapping' | 'static' | 'expectation';
      /** The expectation consumed, when `via` is `expectation`. */
      readonly expectation: Expectation | null;
    }
  | { readonly ok: false; readonly reason: 'no-mapping' | 'filtered' };

/** The remote side an expectation admits: its address, and optionally its port. */
export interface PeerConstraint {
  /**
   * The only peer address admitted, or null for any peer (an offer made to a party the NAT cannot
   * know, as an IRC DCC SEND from inside: still one connection, to one internal endpoint, in time).
   */
  readonly address: string | null;
  readonly port?: number;
}

export interface ExpectationRequest {
  readonly protocol: Protocol;
  /** Who asked (for example an FTP control connection id); limits and `cancelOwner` use it. */
  readonly owner: string | number;
  /** Where the anticipated connection goes inside. */
  readonly internal: Endpoint;
  /** Who may open it. */
  readonly peer: PeerConstraint;
  /**
   * The external endpoint to open. Omitted: the internal endpoint's existing mapping if there is
   * one (endpoint-independent mapping), otherwise a new port chosen like any dynamic mapping.
   */
  readonly external?: Endpoint;
  /** Lifetime if not consumed, ms. Default `expectationTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface Expectation {
  readonly id: number;
  readonly protocol: Protocol;
  readonly owner: string | number;
  readonly internal: Endpoint;
  readonly external: Endpoint;
  readonly peer: PeerConstraint;
  readonly expiresAt: number;
}

export type ExpectResult =
  | { readonly ok: true; readonly expectation: Expectation }
  | {
      readonly ok: false;
      readonly reason: 'owner-limit' | 'expectation-limit' | AllocationFailure;
    };

export type MappingEvent =
  | { readonly type: 'mapping-expired'; readonly mapping: Mapping }
  | { readonly type: 'expectation-expired'; readonly expectation: Expectation };

export interface PortTableStats {
  readonly mappings: number;
  readonly staticMappings: number;
  readonly expectations: number;
  readonly hosts: number;
  readonly droppedEvents: number;
}
