/**
 * ICMP error messages about a translated flow (RFC 5508 section 4, RFC 7915 for NAT64): the
 * outer packet goes to the host that sent the offending packet, and the quoted packet is turned
 * back into that packet as its sender sent it, so that the sender's stack can match it.
 *
 * The offending packet P left the NAT on the side the error came from, as the output of one leg
 * of a session. The error is found through the other leg, `rev`, whose input is P's reply
 * direction: P's source and destination are rev's input destination and source. Translating P
 * back: its source becomes rev's output destination (the original sender), its destination
 * rev's output source (the peer as the sender knows it), ports alike; the outer destination is
 * the original sender too.
 *
 * Within one family the error is rewritten in place and every checksum follows incrementally
 * (RFC 1624): the quoted IPv4 header's, the quoted TCP/UDP/ICMP checksum when the quote holds
 * it, the outer IPv4 header's, and the ICMP checksum over all the changed words (plus, for
 * ICMPv6, the outer pseudo-header). Across families (NAT64) the error is built anew: type and
 * code mapped (nat64-translate.ts), the quoted header rebuilt in the other family, the quoted
 * transport header's ports and checksum adjusted, the ICMP checksum computed in full.
 */

import { foldSum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from './checksum.js';
import type { IcmpQuote } from './icmp-quote.js';
import { Icmpv4Type, Icmpv6Type } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { emitIpv4Header } from './ipv4.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from './ipv6.js';
import type { Leg } from './leg.js';
import { fillIcmpChecksum, type IcmpErrorHeader } from './nat64-translate.js';
import type { IpPacket } from './packet.js';

function get16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}
function u32(b: Uint8Array, at = 0): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Changes to 16-bit words of one checksummed area, summed for one RFC 1624 update at the end. */
class WordEdits {
  sum = 0;
  /** Write word v at b[at] and remember the change. */
  set(b: Uint8Array, at: number, v: number): void {
    this.sum += (~get16(b, at) & 0xffff) + (v & 0xffff);
    put16(b, at, v);
  }
  /** Count a change made elsewhere (pseudo-header words). */
  note(oldWord: number, newWord: number): void {
    this.sum += (~oldWord & 0xffff) + (newWord & 0xffff);
  }
  /** The checksum `c` updated by every change; `udp`: 0 stays 0 and 0 is sent as 0xFFFF. */
  apply(c: number, udp = false): number {
    if (udp && c === 0) return 0;
    const next = ~foldSum((~c & 0xffff) + foldSum(this.sum)) & 0xffff;
    return udp && next === 0 ? 0xffff : next;
  }
}

/** Which field of the quoted transport header carries what. */
function quotedChecksumAt(q: IcmpQuote): { at: number; udp: boolean; pseudo: boolean } | null {
  const t = q.transportOffset;
  const tl = q.transportLength;
  switch (q.protocol) {
    case IpProtocol.Tcp:
      return tl >= 18 ? { at: t + 16, udp: false, pseudo: true } : null;
    case IpProtocol.Udp:
      return tl >= 8 ? { at: t + 6, udp: true, pseudo: true } : null;
    case IpProtocol.Icmp:
      return tl >= 4 ? { at: t + 2, udp: false, pseudo: false } : null;
    case IpProtocol.Icmpv6:
      return tl >= 4 ? { at: t + 2, udp: false, pseudo: true } : null;
    default:
      return null;
  }
}

/** The quoted packet is an ICMP echo request (its identifier stands as the querier's port). */
function quotedEchoRequest(q: IcmpQuote): boolean {
  if (!q.hasIcmpEcho()) return false;
  const t = q.bytes[q.transportOffset]!;
  return t === Icmpv4Type.EchoRequest || t === Icmpv6Type.EchoRequest;
}

/**
 * Rewrite, in place, an ICMP error of one family whose quote matched `rev` (see the file
 * comment). `outerSource`: the new outer source address bytes (same family), or null to keep it.
 * `quotedSeq`: the quoted TCP sequence number to write back (an ALG shifted it), or -1.
 */
export function rewriteIcmpErrorInPlace(ip: IpPacket, icmpStart: number, q: IcmpQuote, rev: Leg, outerSource: Uint8Array | null, quotedSeq: number): void {
  const b = ip.bytes;
  const v6 = ip.version === 6;
  const alen = v6 ? 16 : 4;
  const icmp = new WordEdits();
  // The quoted transport checksum: `inner` counts its pseudo-header (the addresses) and its own
  // fields, `own` only its own fields (ICMPv4 covers no pseudo-header).
  const inner = new WordEdits();
  const own = new WordEdits();
  const innerHeader = new WordEdits();
  // Quoted addresses: source <- the original sender, destination <- the peer as it knows it.
  const qs = q.sourceOffset;
  const qd = q.destinationOffset;
  for (let k = 0; k < alen; k += 2) {
    const ns = get16(rev.destination, k);
    const nd = get16(rev.source, k);
    inner.note(get16(b, qs + k), ns);
    inner.note(get16(b, qd + k), nd);
    innerHeader.note(get16(b, qs + k), ns);
    innerHeader.note(get16(b, qd + k), nd);
    icmp.set(b, qs + k, ns);
    icmp.set(b, qd + k, nd);
  }
  if (!v6) icmp.set(b, q.start + 10, innerHeader.apply(get16(b, q.start + 10)));
  const t = q.transportOffset;
  const sum = quotedChecksumAt(q);
  const field = (at: number, v: number): void => {
    inner.note(get16(b, at), v);
    own.note(get16(b, at), v);
    icmp.set(b, at, v);
  };
  if (q.hasPorts()) {
    field(t, rev.destinationPort);
    field(t + 2, rev.sourcePort);
    if (quotedSeq >= 0 && q.hasTcpSeqNumber()) {
      field(t + 4, quotedSeq >>> 16);
      field(t + 6, quotedSeq & 0xffff);
    }
  } else if (quotedEchoRequest(q)) {
    field(t + 4, rev.destinationPort);
  }
  if (sum) icmp.set(b, sum.at, (sum.pseudo ? inner : own).apply(get16(b, sum.at), sum.udp));
  // Outer header: destination <- the original sender; source maybe.
  const od = v6 ? ip.start + 24 : ip.start + 16;
  const os = v6 ? ip.start + 8 : ip.start + 12;
  const outer = new WordEdits();
  for (let k = 0; k < alen; k += 2) {
    const nd = get16(rev.destination, k);
    const ns = outerSource ? get16(outerSource, k) : get16(b, os + k);
    if (v6) {
      icmp.note(get16(b, od + k), nd);
      icmp.note(get16(b, os + k), ns);
    }
    outer.set(b, od + k, nd);
    outer.set(b, os + k, ns);
  }
  if (!v6) put16(b, ip.start + 10, outer.apply(get16(b, ip.start + 10)));
  put16(b, icmpStart + 2, icmp.apply(get16(b, icmpStart + 2)));
}

/** Largest ICMP error: IPv4 576 bytes (RFC 1812), IPv6 1280 (RFC 4443). */
const MAX_ERROR = { 4: 576, 6: 1280 } as const;

/**
 * Build the ICMP error of the other family for an error whose quote matched `rev` (NAT64).
 * `header`: the translated type, code and rest; `outerSource`: the outer source in rev's family.
 */
export function buildIcmpErrorAcross(ip: IpPacket, q: IcmpQuote, rev: Leg, header: IcmpErrorHeader, outerSource: Uint8Array, quotedSeq: number): Uint8Array {
  const to = rev.family;
  const hl = to === 4 ? 20 : IPV6_HEADER_LENGTH;
  const innerHl = to === 4 ? 20 : IPV6_HEADER_LENGTH;
  const fromHl = q.transportOffset - q.start;
  const present = q.quotedLength - fromHl;
  const transportPresent = Math.max(0, Math.min(q.transportLength, present));
  const room = MAX_ERROR[to] - hl - 8 - innerHl;
  const carried = Math.max(0, Math.min(transportPresent, room));
  const out = new Uint8Array(hl + 8 + innerHl + carried);
  const ttl = ip.version === 4 ? ip.ttl() : ip.hopLimit();
  const icmpAt = hl;
  const innerAt = hl + 8;
  const innerTransport = innerAt + innerHl;
  // The quoted packet's own length, in the new family.
  const payloadLength = Math.max(0, q.originalLength - fromHl);
  const innerProtocol = q.protocol === IpProtocol.Icmp ? IpProtocol.Icmpv6 : q.protocol === IpProtocol.Icmpv6 ? IpProtocol.Icmp : q.protocol;
  const quotedTtl = q.version === 4 ? q.bytes[q.start + 8]! : q.bytes[q.start + 7]!;
  if (to === 4) {
    emitIpv4Header(out, innerAt, {
      totalLength: Math.min(0xffff, innerHl + payloadLength),
      ttl: quotedTtl,
      protocol: innerProtocol,
      source: u32(rev.destination),
      destination: u32(rev.source),
    });
  } else {
    emitIpv6Header(out, innerAt, {
      payloadLength: Math.min(0xffff, payloadLength),
      nextHeader: innerProtocol,
      hopLimit: quotedTtl,
      source: rev.destination,
      destination: rev.source,
    });
  }
  out.set(q.bytes.subarray(q.transportOffset, q.transportOffset + carried), innerTransport);
  if (carried >= 4 && q.hasPorts()) {
    const oldS = get16(out, innerTransport);
    const oldD = get16(out, innerTransport + 2);
    put16(out, innerTransport, rev.destinationPort);
    put16(out, innerTransport + 2, rev.sourcePort);
    let oldSeqHi = -1;
    let oldSeqLo = -1;
    if (quotedSeq >= 0 && carried >= 8 && q.protocol === IpProtocol.Tcp) {
      oldSeqHi = get16(out, innerTransport + 4);
      oldSeqLo = get16(out, innerTransport + 6);
      put16(out, innerTransport + 4, quotedSeq >>> 16);
      put16(out, innerTransport + 6, quotedSeq & 0xffff);
    }
    const sumAt = q.protocol === IpProtocol.Tcp ? 16 : q.protocol === IpProtocol.Udp ? 6 : -1;
    if (sumAt >= 0 && carried >= sumAt + 2) {
      const c = get16(out, innerTransport + sumAt);
      const udp = q.protocol === IpProtocol.Udp;
      if (!(udp && c === 0)) {
        const oldPseudo =
          q.version === 4
            ? ipv4PseudoHeaderSum(q.bytes, q.sourceOffset, q.destinationOffset, q.protocol, payloadLength)
            : ipv6PseudoHeaderSum(q.bytes, q.sourceOffset, q.destinationOffset, q.protocol, payloadLength);
        const newPseudo =
          to === 4
            ? ipv4PseudoHeaderSum(out, innerAt + 12, innerAt + 16, q.protocol, payloadLength)
            : ipv6PseudoHeaderSum(out, innerAt + 8, innerAt + 24, q.protocol, payloadLength);
        let s = (~c & 0xffff) + (~foldSum(oldPseudo) & 0xffff) + foldSum(newPseudo) + (~oldS & 0xffff) + (~oldD & 0xffff) + rev.destinationPort + rev.sourcePort;
        if (oldSeqHi >= 0) s += (~oldSeqHi & 0xffff) + (~oldSeqLo & 0xffff) + (quotedSeq >>> 16) + (quotedSeq & 0xffff);
        let next = ~foldSum(s) & 0xffff;
        if (udp && next === 0) next = 0xffff;
        put16(out, innerTransport + sumAt, next);
      }
    }
  } else if (carried >= 8 && q.hasIcmpEcho()) {
    const type = out[innerTransport]!;
    const mapped =
      type === Icmpv4Type.EchoRequest ? Icmpv6Type.EchoRequest : type === Icmpv4Type.EchoReply ? Icmpv6Type.EchoReply : type === Icmpv6Type.EchoRequest ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
    out[innerTransport] = mapped;
    if (quotedEchoRequest(q)) put16(out, innerTransport + 4, rev.destinationPort);
    // The quoted echo's checksum is left as it is: the quote is cut short, so it cannot be
    // recomputed, and receivers match errors by identifier, not by checksum.
  }
  // Outer header and ICMP header.
  if (to === 4) {
    emitIpv4Header(out, 0, { totalLength: out.length, ttl, protocol: IpProtocol.Icmp, source: u32(outerSource), destination: u32(rev.destination) });
  } else {
    emitIpv6Header(out, 0, { payloadLength: out.length - IPV6_HEADER_LENGTH, nextHeader: IpProtocol.Icmpv6, hopLimit: ttl, source: outerSource, destination: rev.destination });
  }
  out[icmpAt] = header.type;
  out[icmpAt + 1] = header.code;
  out[icmpAt + 4] = header.rest >>> 24;
  out[icmpAt + 5] = (header.rest >>> 16) & 0xff;
  out[icmpAt + 6] = (header.rest >>> 8) & 0xff;
  out[icmpAt + 7] = header.rest & 0xff;
  fillIcmpChecksum(out, to);
  return out;
}
