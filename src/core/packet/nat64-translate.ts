/**
 * IP/ICMP translation between IPv4 and IPv6 (RFC 7915, as stateful NAT64 uses it, RFC 6146) for
 * the packets of a session leg whose two sides differ in family: a new packet is built, since
 * the header changes size.
 *
 * - IP header: traffic class <-> TOS, hop limit <-> TTL (not decremented: the router around the
 *   NAT counts hops), IPv6 extension headers and IPv4 options are not carried over; IPv4 packets
 *   made here get DF set when larger than 1260 bytes (RFC 7915 section 5.1), else an
 *   identification from the caller.
 * - TCP and UDP: ports from the leg; the checksum is updated for the new pseudo-header and ports
 *   (RFC 1624), except that an IPv4 UDP datagram without checksum gets one computed
 *   (RFC 7915 section 4.5: IPv6 requires it).
 * - ICMP queries: echo request 8 <-> 128 and reply 0 <-> 129, identifier from the leg; ICMPv6's
 *   checksum covers a pseudo-header and ICMPv4's does not, so it is computed in full.
 * - ICMP errors (`icmpErrorType4to6` / `6to4`): the type and code mappings of RFC 7915 sections
 *   4.2 and 5.2 for destination unreachable, packet too big / fragmentation needed (with the MTU
 *   adjusted by the 20-byte header difference) and time exceeded; parameter problems and other
 *   types are not translated (the caller drops them). The quoted packet is translated by the
 *   caller (icmp-error.ts).
 */

import { finishChecksum, finishUdpChecksum, foldSum, internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, onesComplementSum } from './checksum.js';
import { Icmpv4Type, Icmpv6Type, type Icmpv4Message, type Icmpv6Message } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { emitIpv4Header, type Ipv4Packet } from './ipv4.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH, type Ipv6Packet } from './ipv6.js';
import type { Leg } from './leg.js';
import type { TransportView } from './packet.js';

export type Nat64DropReason = 'nat64-untranslatable';

function u32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}
function get16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/** RFC 7915 section 5.1: DF for IPv4 packets made from IPv6 ones above 1260 bytes. */
const DF_ABOVE = 1260;

/** Write an IPv4 header at out[0] for a translated packet. */
export function emitTranslated4(out: Uint8Array, leg: Leg, protocol: number, tos: number, ttl: number, identification: number): void {
  emitIpv4Header(out, 0, {
    totalLength: out.length,
    dscp: tos >> 2,
    ecn: tos & 3,
    identification: out.length > DF_ABOVE ? 0 : identification & 0xffff,
    dontFragment: out.length > DF_ABOVE,
    ttl,
    protocol,
    source: u32(leg.source),
    destination: u32(leg.destination),
  });
}

export function emitTranslated6(out: Uint8Array, leg: Leg, nextHeader: number, trafficClass: number, hopLimit: number): void {
  emitIpv6Header(out, 0, {
    trafficClass,
    payloadLength: out.length - IPV6_HEADER_LENGTH,
    nextHeader,
    hopLimit,
    source: leg.source,
    destination: leg.destination,
  });
}

/** ICMP echo type of the other family, or -1. */
function echoType(type: number, to: 4 | 6): number {
  if (to === 4) return type === Icmpv6Type.EchoRequest ? Icmpv4Type.EchoRequest : type === Icmpv6Type.EchoReply ? Icmpv4Type.EchoReply : -1;
  return type === Icmpv4Type.EchoRequest ? Icmpv6Type.EchoRequest : type === Icmpv4Type.EchoReply ? Icmpv6Type.EchoReply : -1;
}

/**
 * Translate a whole TCP/UDP/ICMP-echo packet along a leg that changes family. Returns the new
 * packet, or the reason it cannot be translated.
 */
export function translateAcrossFamilies(ip: Ipv4Packet | Ipv6Packet, t: TransportView, leg: Leg, identification: number): Uint8Array | Nat64DropReason {
  const to = leg.family;
  const hl = to === 4 ? 20 : IPV6_HEADER_LENGTH;
  const bodyStart = ip.version === 4 ? ip.payloadOffset : ip.upperOffset;
  const body = ip.bytes.subarray(bodyStart, ip.end);
  const out = new Uint8Array(hl + body.length);
  out.set(body, hl);
  const tos = ip.version === 4 ? ip.bytes[ip.start + 1]! : ip.trafficClass();
  const ttl = ip.version === 4 ? ip.ttl() : ip.hopLimit();
  switch (t.kind) {
    case 'tcp':
    case 'udp': {
      const proto = t.kind === 'tcp' ? IpProtocol.Tcp : IpProtocol.Udp;
      if (to === 4) emitTranslated4(out, leg, proto, tos, ttl, identification);
      else emitTranslated6(out, leg, proto, tos, ttl);
      const len = body.length;
      const ca = hl + (t.kind === 'tcp' ? 16 : 6);
      const oldSport = get16(out, hl);
      const oldDport = get16(out, hl + 2);
      put16(out, hl, leg.sourcePort);
      put16(out, hl + 2, leg.destinationPort);
      const newPseudo = to === 4 ? ipv4PseudoHeaderSum(out, 12, 16, proto, len) : ipv6PseudoHeaderSum(out, 8, 24, proto, len);
      const c = get16(out, ca);
      if (t.kind === 'udp' && c === 0) {
        // An IPv4 datagram without checksum: IPv6 needs one (RFC 7915 section 4.5).
        put16(out, ca, 0);
        put16(out, ca, finishUdpChecksum(onesComplementSum(out, hl, hl + t.length, newPseudo)));
        break;
      }
      const oldPseudo = ip.pseudoHeaderSum(proto, len);
      let s = (~c & 0xffff) + (~foldSum(oldPseudo) & 0xffff) + foldSum(newPseudo) + (~oldSport & 0xffff) + (~oldDport & 0xffff) + leg.sourcePort + leg.destinationPort;
      s = foldSum(s);
      let next = ~s & 0xffff;
      if (t.kind === 'udp' && next === 0) next = 0xffff;
      put16(out, ca, next);
      break;
    }
    case 'icmpv4':
    case 'icmpv6': {
      const m: Icmpv4Message | Icmpv6Message = t;
      const type = echoType(m.type(), to);
      if (type < 0) return 'nat64-untranslatable';
      const request = type === Icmpv4Type.EchoRequest || type === Icmpv6Type.EchoRequest;
      out[hl] = type;
      put16(out, hl + 4, request ? leg.sourcePort : leg.destinationPort);
      if (to === 4) emitTranslated4(out, leg, IpProtocol.Icmp, tos, ttl, identification);
      else emitTranslated6(out, leg, IpProtocol.Icmpv6, tos, ttl);
      fillIcmpChecksum(out, to);
      break;
    }
    case 'other':
      return 'nat64-untranslatable';
  }
  return out;
}

/** Compute the checksum of the ICMP message after the IP header of a packet built here. */
export function fillIcmpChecksum(out: Uint8Array, family: 4 | 6): void {
  const hl = family === 4 ? 20 : IPV6_HEADER_LENGTH;
  put16(out, hl + 2, 0);
  const pseudo = family === 4 ? 0 : ipv6PseudoHeaderSum(out, 8, 24, IpProtocol.Icmpv6, out.length - hl);
  put16(out, hl + 2, internetChecksum(out, hl, out.length, pseudo));
}

/** Fill a TCP/UDP checksum in full (a quoted packet rebuilt in another family keeps what is present). */
export function recomputeChecksum(out: Uint8Array, at: number, end: number, pseudo: number): number {
  return finishChecksum(onesComplementSum(out, at, end, pseudo));
}

export interface IcmpErrorHeader {
  readonly type: number;
  readonly code: number;
  /** The 4 type-specific bytes. */
  readonly rest: number;
}

/** RFC 7915 section 4.2: the ICMPv6 error for an ICMPv4 one, or null (not translated). */
export function icmpErrorType4to6(m: Icmpv4Message, mtu: number): IcmpErrorHeader | null {
  const code = m.code();
  switch (m.type()) {
    case Icmpv4Type.DestinationUnreachable:
      switch (code) {
        case 0:
        case 1:
        case 5:
        case 6:
        case 7:
        case 8:
        case 11:
        case 12:
          return { type: Icmpv6Type.DestinationUnreachable, code: 0, rest: 0 };
        case 3:
          return { type: Icmpv6Type.DestinationUnreachable, code: 4, rest: 0 };
        case 4: {
          // Packet too big: the IPv6 header is 20 bytes longer; never below the IPv6 minimum.
          const hop = m.nextHopMtu();
          const v6 = Math.max(1280, Math.min((hop === 0 ? mtu - 20 : hop) + 20, mtu));
          return { type: Icmpv6Type.PacketTooBig, code: 0, rest: v6 };
        }
        case 9:
        case 10:
        case 13:
        case 15:
          return { type: Icmpv6Type.DestinationUnreachable, code: 1, rest: 0 };
        default:
          return null;
      }
    case Icmpv4Type.TimeExceeded:
      return { type: Icmpv6Type.TimeExceeded, code, rest: 0 };
    default:
      return null;
  }
}

/** RFC 7915 section 5.2: the ICMPv4 error for an ICMPv6 one, or null (not translated). */
export function icmpErrorType6to4(m: Icmpv6Message): IcmpErrorHeader | null {
  const code = m.code();
  switch (m.type()) {
    case Icmpv6Type.DestinationUnreachable:
      switch (code) {
        case 0:
        case 2:
        case 3:
          return { type: Icmpv4Type.DestinationUnreachable, code: 1, rest: 0 };
        case 1:
          return { type: Icmpv4Type.DestinationUnreachable, code: 10, rest: 0 };
        case 4:
          return { type: Icmpv4Type.DestinationUnreachable, code: 3, rest: 0 };
        default:
          return null;
      }
    case Icmpv6Type.PacketTooBig: {
      const v4 = Math.max(68, Math.min(m.mtu() - 20, 0xffff));
      return { type: Icmpv4Type.DestinationUnreachable, code: 4, rest: v4 };
    }
    case Icmpv6Type.TimeExceeded:
      return { type: Icmpv4Type.TimeExceeded, code, rest: 0 };
    case Icmpv6Type.ParameterProblem:
      return code === 1 ? { type: Icmpv4Type.DestinationUnreachable, code: 2, rest: 0 } : null;
    default:
      return null;
  }
}
