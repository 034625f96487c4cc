/**
 * Building whole IPv4/IPv6 TCP packets from fields: what a NAT that rewrites a byte stream sends
 * when a segment's payload is new (a rewritten line, a split, a retransmission from its own log,
 * an acknowledgement on a peer's behalf). The IP header, the TCP header and the checksum are
 * computed in full: the payload is new, so there is nothing to update incrementally.
 */

import { internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from './checksum.js';
import { IpProtocol } from './ip-protocol.js';
import { emitIpv4Header } from './ipv4.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from './ipv6.js';
import type { SeqNumber } from './seq-number.js';
import { TcpField, TCP_MIN_HEADER_LENGTH, emitTcpHeader } from './tcp.js';

export type NatSide = 'inside' | 'outside';

/** How the packets of one direction of a flow look as they leave the NAT. */
export interface PacketFace {
  /** The side they leave on. */
  readonly to: NatSide;
  readonly family: 4 | 6;
  /** 4 or 16 bytes. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly sourcePort: number;
  readonly destinationPort: number;
}

export interface SegmentFields {
  readonly seq: SeqNumber;
  readonly ack: SeqNumber;
  /** Mask of TcpFlag values. */
  readonly flags: number;
  readonly window: number;
  /** Raw option bytes, a multiple of 4, at most 40. */
  readonly options: Uint8Array;
  readonly payload: Uint8Array;
  /** IPv4 TOS / IPv6 traffic class. */
  readonly tos: number;
  /** IPv4 TTL / IPv6 hop limit. */
  readonly ttl: number;
  /** IPv4 only. */
  readonly identification: number;
  readonly dontFragment: boolean;
}

export function ipHeaderLength(family: 4 | 6): number {
  return family === 4 ? 20 : IPV6_HEADER_LENGTH;
}

function u32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** One packet carrying `f` from `face.source` to `face.destination`, every checksum computed. */
export function buildTcpPacket(face: PacketFace, f: SegmentFields): Uint8Array {
  const ipLen = ipHeaderLength(face.family);
  const tcpLen = TCP_MIN_HEADER_LENGTH + f.options.length + f.payload.length;
  const out = new Uint8Array(ipLen + tcpLen);
  if (face.family === 4) {
    emitIpv4Header(out, 0, {
      totalLength: ipLen + tcpLen,
      dscp: f.tos >> 2,
      ecn: f.tos & 3,
      identification: f.identification & 0xffff,
      dontFragment: f.dontFragment,
      ttl: f.ttl,
      protocol: IpProtocol.Tcp,
      source: u32(face.source),
      destination: u32(face.destination),
    });
  } else {
    emitIpv6Header(out, 0, {
      trafficClass: f.tos,
      payloadLength: tcpLen,
      nextHeader: IpProtocol.Tcp,
      hopLimit: f.ttl,
      source: face.source,
      destination: face.destination,
    });
  }
  emitTcpHeader(out, ipLen, {
    sourcePort: face.sourcePort,
    destinationPort: face.destinationPort,
    seqNumber: f.seq,
    ackNumber: f.ack,
    flags: f.flags,
    window: f.window,
    options: f.options,
  });
  out.set(f.payload, ipLen + TCP_MIN_HEADER_LENGTH + f.options.length);
  const pseudo =
    face.family === 4
      ? ipv4PseudoHeaderSum(out, 12, 16, IpProtocol.Tcp, tcpLen)
      : ipv6PseudoHeaderSum(out, 8, 24, IpProtocol.Tcp, tcpLen);
  const c = internetChecksum(out, ipLen, out.length, pseudo);
  out[ipLen + TcpField.Checksum] = c >>> 8;
  out[ipLen + TcpField.Checksum + 1] = c & 0xff;
  return out;
}
