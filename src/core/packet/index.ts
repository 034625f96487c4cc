/**
 * Packet wire layer: checked views over raw IPv4/IPv6 packets and their TCP, UDP and ICMP
 * headers, checksums (full and incremental), and fragment reassembly. Pure: bytes in, verdicts
 * and in-place edits out; no I/O, no clock (time is `nowMs`), no allocation per packet on the
 * re-pointable views.
 */

export * from './checksum.js';
export * from './ip-protocol.js';
export * from './ipv4.js';
export { Ipv6Packet, Ipv6Field, IPV6_HEADER_LENGTH, emitIpv6Header, readIpv6HeaderFields } from './ipv6.js';
export type { Ipv6DropReason, Ipv6Verdict, Ipv6HeaderFields } from './ipv6.js';
export { DEFAULT_IPV6_LIMITS, Ipv6FragmentField, Ipv6HeaderChain, ipv6Limits } from './ipv6-extensions.js';
export type { Ipv6Limits, Ipv6ChainDropReason } from './ipv6-extensions.js';
export * from './seq-number.js';
export * from './tcp.js';
export * from './tcp-options.js';
export * from './udp.js';
export * from './icmp.js';
export * from './icmp-quote.js';
export * from './packet.js';
export * from './endpoint-rewrite.js';
export * from './fragments.js';
export type { Drop } from './verdict.js';
export * from './seq-shift.js';
export { AlgConnection, type AlgConnectionHost, type AlgConnectionLimits, type AlgSegmentResult, type AlgDropReason, type DataChannelAnswer } from './alg-connection.js';
export { AlgDirection } from './alg-direction.js';
export { buildTcpPacket, type PacketFace, type SegmentFields } from './segment-builder.js';
export { nextTcpState, tcpEventOf, tcpPhase, type TcpState, type TcpEvent } from './tcp-tracker.js';
export { planPacketDataChannel, type DataChannelContext, type DataChannelPlan } from './data-channel-plan.js';
export { fragmentIpv4 as fragmentIpv4Packet } from './fragmenter.js';
export { PacketNat } from './packet-nat.js';
export * from './nat-types.js';
