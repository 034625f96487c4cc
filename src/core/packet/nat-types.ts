/**
 * The packet NAT's public vocabulary: its options, what `handle` answers for each packet, the
 * packets it sends of its own, and its events. See packet-nat.ts for the machine and
 * docs/packet.md for the guide.
 */

import type { AlgEvent, AlgModule, DataChannelRequest } from '../alg/contract.js';
import type { AlgRegistry } from '../alg/registry.js';
import type { Endpoint } from '../net/ip.js';
import type { PortTableOptions, Protocol, RandomSource } from '../mapping/types.js';
import type { TranslationFailure } from '../nat/realm.js';
import type { AlgDropReason } from './alg-connection.js';
import type { FragmentDropReason, ReassemblerOptions } from './fragments.js';
import type { IcmpQuoteDropReason } from './icmp-quote.js';
import type { Nat64DropReason } from './nat64-translate.js';
import type { PacketDropReason } from './packet.js';
import type { NatSide } from './segment-builder.js';

export type { NatSide } from './segment-builder.js';

/** An ALG on the TCP connections to a server port. */
export interface PacketAlgConfig {
  /** The ALG module, or its name in `registry` (default: the built-in ALGs). */
  readonly alg: AlgModule | string;
  /** The server port of its control connections (as the server sees it). Default: the module's. */
  readonly port?: number;
  /** Options for the module's translators (checked with `validate` at construction). */
  readonly options?: unknown;
}

/** A static port forward: `external` (a pool address and port) always leads to `internal`. */
export interface PortForward {
  readonly protocol: 'tcp' | 'udp';
  readonly external: Endpoint;
  readonly internal: Endpoint;
}

export interface PacketNatOptions {
  /** The NAT's own outside addresses (the NAPT pool), all of one family. */
  readonly externalAddresses: readonly string[];
  /** Randomness for the mapping table's port choice and the flow index's hash secret. */
  readonly random: RandomSource | (() => number);
  /** Inside blocks translated by NAPT (CIDR). Default: every address of the pool's family. */
  readonly insideNetworks?: readonly string[];
  /** 1:1 address rules (basic NAT, RFC 3022): every port of `inside` appears as `outside` (not a pool address). */
  readonly oneToOne?: readonly { readonly inside: string; readonly outside: string }[];
  readonly forwards?: readonly PortForward[];
  /** Stateful NAT64 for IPv6 inside hosts (RFC 6146): destinations under `prefix` (RFC 6052) reach IPv4 through the pool. */
  readonly nat64?: { readonly prefix: string; readonly inside?: string };
  /** Mapping behaviours, timeouts and limits of the port-mapping table (docs/mapping.md). */
  readonly table?: Omit<PortTableOptions, 'externalAddresses' | 'random'>;
  /** ALGs by server port. Default: FTP on port 21 only (RFC 4787: other ALGs off unless asked for). */
  readonly algs?: readonly PacketAlgConfig[];
  /** Where ALG names are looked up. Default `builtinAlgs`. */
  readonly registry?: AlgRegistry;
  /** Largest IP packet the NAT sends (rebuilt segments are split, reassembled datagrams fragmented to it). Default 1500. */
  readonly mtu?: number;
  /** Sessions at once; a packet that would open one more is dropped ('session-limit'). Default 262,144; at most 2^28 - 1. */
  readonly maxSessions?: number;
  /** Fragment reassembly bounds (fragments.ts). */
  readonly reassembly?: ReassemblerOptions;
  /** Per ALG connection and direction: out-of-order bytes held. Default 65,536. */
  readonly algMaxAheadBytes?: number;
  /** Per ALG connection and direction: unacknowledged output kept. Default 262,144. */
  readonly algMaxRetainedBytes?: number;
  /** Per ALG connection and direction: sequence corrections outstanding. Default 4,096. */
  readonly algMaxOutstandingEdits?: number;
  /** First retransmission timeout for output the NAT alone holds, ms. Default 1,000 (RFC 6298's initial RTO). */
  readonly algRetransmitMs?: number;
  /** Packets of the NAT's own waiting for `pollTransmit`; beyond, they are counted and dropped. Default 65,536. */
  readonly maxQueuedPackets?: number;
  /** Events waiting for `pollEvent`; beyond, they are counted and dropped. Default 65,536. */
  readonly maxQueuedEvents?: number;
  /** Verify IPv4 header and transport checksums of every packet (slower: no fast path). Default false. */
  readonly verifyChecksums?: boolean;
}

/**
 * Why a packet was dropped. Besides the parser's and the reassembler's reasons and the address
 * translator's (`no-rule`, `no-mapping`, `filtered`, ... : the table's filtering and limits):
 * - tcp-no-session: a TCP segment other than a SYN for no session (RFC 5382: only SYNs open);
 * - icmp-no-session: an ICMP echo reply, or an ICMP error whose quote names no session;
 * - icmp-unsupported: an ICMP type the NAT does not translate (router and neighbour discovery, ...);
 * - icmp-untranslatable: an ICMP error with no counterpart in the other family (NAT64);
 * - unsupported-protocol: neither TCP, UDP nor ICMP;
 * - session-limit: maxSessions reached;
 * - flow-conflict: a new session's flow would take the key of another session's;
 * - too-big: the translated packet exceeds the MTU and may not be fragmented (DF; IPv6);
 * - the ALG stream layer's reasons (alg-connection.ts) and NAT64's (nat64-translate.ts);
 * - icmp-quote-*: the quoted packet of an ICMP error does not parse.
 */
export type NatDropReason =
  | PacketDropReason
  | FragmentDropReason
  | TranslationFailure
  | AlgDropReason
  | Nat64DropReason
  | `icmp-quote-${IcmpQuoteDropReason}`
  | 'tcp-no-session'
  | 'icmp-no-session'
  | 'icmp-unsupported'
  | 'icmp-untranslatable'
  | 'unsupported-protocol'
  | 'session-limit'
  | 'flow-conflict'
  | 'too-big';

/**
 * What `handle` did with a packet:
 * - forward: the bytes given were translated in place; send them on side `to`;
 * - consumed: the NAT took the packet (a fragment waiting for the rest, a segment an ALG
 *   rewrote, a packet translated into a new buffer); whatever it sends waits in `pollTransmit`;
 * - a drop, with its reason.
 * Verdicts are frozen, shared objects: `handle` allocates none.
 */
export type PacketNatVerdict =
  | { readonly ok: true; readonly action: 'forward'; readonly to: NatSide }
  | { readonly ok: true; readonly action: 'consumed' }
  | { readonly ok: false; readonly reason: NatDropReason };

/** A packet of the NAT's own making (or a translated copy) to send on `to`. */
export interface Transmit {
  readonly to: NatSide;
  readonly packet: Uint8Array;
}

/** How a session came to be. */
export type SessionOrigin = 'outbound' | 'mapping' | 'static' | 'expectation';

export type SessionCloseReason = 'idle' | 'mapping-expired' | 'replaced';

export type PacketNatEvent =
  | {
      readonly type: 'session-created';
      readonly session: number;
      readonly protocol: Protocol;
      /** The side whose packet opened it. */
      readonly from: NatSide;
      /** The opener as it sees itself, and the peer as the opener addresses it. */
      readonly client: Endpoint;
      readonly server: Endpoint;
      /** The same two as the other side sees them. */
      readonly clientTranslated: Endpoint;
      readonly serverTranslated: Endpoint;
      readonly via: SessionOrigin;
      /** The ALG on it, by name, or null. */
      readonly alg: string | null;
      /** For a data connection of an ALG: the control session that expected it. */
      readonly expectedBy: number | null;
    }
  | { readonly type: 'session-closed'; readonly session: number; readonly reason: SessionCloseReason }
  /** An event of an ALG on a control session (line-translated, command-refused, ...). */
  | { readonly type: 'alg'; readonly session: number; readonly alg: string; readonly event: AlgEvent }
  /** An ALG's data-channel request, as answered: the endpoint announced, or why it was refused. */
  | {
      readonly type: 'data-channel';
      readonly session: number;
      readonly request: DataChannelRequest;
      readonly announced: Endpoint | null;
      readonly expectation: number | null;
      readonly refused: string | null;
    }
  | { readonly type: 'reassembly-timeout'; readonly version: 4 | 6 };

export interface PacketNatStats {
  readonly sessions: number;
  /** Packets dropped, by reason. */
  readonly drops: Readonly<Record<string, number>>;
  readonly forwarded: number;
  readonly consumed: number;
  readonly transmitted: number;
  readonly droppedTransmits: number;
  readonly droppedEvents: number;
}
