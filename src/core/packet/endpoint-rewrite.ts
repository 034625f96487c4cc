/**
 * Rewriting one endpoint of a parsed packet in place, as a NAT does: the source (outbound) or
 * destination (inbound) address, and with it the port (TCP, UDP) or the echo identifier (ICMP
 * query), every checksum kept correct by incremental update (RFC 1624):
 * - the IPv4 header checksum, for the address;
 * - the TCP or UDP checksum, for the address (pseudo-header) and the port, in one update; UDP
 *   over IPv4 without a checksum stays without one;
 * - the ICMPv6 checksum, for the address (pseudo-header) and the identifier; ICMPv4's, for the
 *   identifier only (it covers no pseudo-header).
 * For other protocols only the address changes: a protocol of theirs that covers the
 * pseudo-header (DCCP, UDP-Lite) is the caller's to update. Of an ICMP error only the outer
 * header changes: the quoted packet (icmp-quote.ts) is translated by the caller, if at all.
 *
 * One call per packet on purpose: doing it through the views' setters works as well, but costs
 * one call and one checksum read-modify-write per field. The address is split at once into
 * 16-bit halves: an unsigned 32-bit value above 2^30 is a heap number in V8 when it crosses a
 * call the JIT did not inline, so the work below never passes it on.
 */

import { NatAlgError } from '../errors.js';
import { updateChecksum16, updateChecksumBytes } from './checksum.js';
import type { Icmpv4Message, Icmpv6Message } from './icmp.js';
import { Ipv4Field, type Ipv4Packet } from './ipv4.js';
import type { Ipv6Packet } from './ipv6.js';
import type { TransportView } from './packet.js';
import { assertRange, assertU16, assertU32 } from './range.js';
import { TcpField } from './tcp.js';
import { UdpField } from './udp.js';
import { assertWritable } from './verdict.js';

export type EndpointSide = 'source' | 'destination';

/** No port given: leave the port or identifier as it is. */
const KEEP = -1;

/**
 * Set `side`'s IPv4 address (unsigned 32-bit) and, when given, its port (TCP, UDP) or the echo
 * identifier (ICMP echo request or reply). `ip` and `transport` are the views of one packet, as
 * a PacketParser verdict gives them.
 */
export function rewriteIpv4Endpoint(ip: Ipv4Packet, transport: TransportView, side: EndpointSide, address: number, port?: number): void {
  assertU32(address, 'address');
  if (port !== undefined) assertU16(port, 'port');
  rewrite4(ip, transport, side === 'source', address >>> 16, address & 0xffff, port ?? KEEP);
}

/** As rewriteIpv4Endpoint, with the 16-byte IPv6 address at address[at]. */
export function rewriteIpv6Endpoint(ip: Ipv6Packet, transport: TransportView, side: EndpointSide, address: Uint8Array, at: number, port?: number): void {
  assertRange(address, at, at + 16);
  if (port !== undefined) assertU16(port, 'port');
  rewrite6(ip, transport, side === 'source', address, at, port ?? KEEP);
}

function samePacket(ipBytes: Uint8Array, transport: TransportView): void {
  if (transport.kind !== 'other' && transport.bytes !== ipBytes) {
    throw new NatAlgError('invalid-argument', 'the transport view is not of this packet');
  }
}

function get16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

/**
 * The IPv4 work, in one function with no calls on the TCP/UDP path. Measured with V8 (Node 20):
 * at this size the JIT compiles it on its own instead of inlining it into the caller's loop,
 * whose inlining budget then goes to the parser, and it has nothing of its own left to call.
 * Split into helpers, the same work ran about a quarter slower in packet-wire's benchmark.
 */
function rewrite4(ip: Ipv4Packet, t: TransportView, source: boolean, high: number, low: number, port: number): void {
  const b = ip.bytes;
  assertWritable(b);
  samePacket(b, t);
  const a = ip.start + (source ? Ipv4Field.Source : Ipv4Field.Destination);
  const oldHigh = (b[a]! << 8) | b[a + 1]!;
  const oldLow = (b[a + 2]! << 8) | b[a + 3]!;
  const hc = ip.start + Ipv4Field.Checksum;
  let s = (~((b[hc]! << 8) | b[hc + 1]!) & 0xffff) + (~oldHigh & 0xffff) + (~oldLow & 0xffff) + high + low;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const ipSum = ~s & 0xffff;
  b[hc] = ipSum >>> 8;
  b[hc + 1] = ipSum & 0xff;
  b[a] = high >>> 8;
  b[a + 1] = high & 0xff;
  b[a + 2] = low >>> 8;
  b[a + 3] = low & 0xff;
  if (t.kind === 'tcp' || t.kind === 'udp') {
    // TCP and UDP keep their ports at the same offsets; only the checksum's place differs.
    const udp = t.kind === 'udp';
    const ca = t.start + (udp ? UdpField.Checksum : TcpField.Checksum);
    const pa = t.start + (source ? TcpField.SourcePort : TcpField.DestinationPort);
    const oldPort = (b[pa]! << 8) | b[pa + 1]!;
    const newPort = port === KEEP ? oldPort : port;
    const c = (b[ca]! << 8) | b[ca + 1]!;
    if (!(udp && c === 0)) {
      // One RFC 1624 update for the pseudo-header's address and the port together.
      let u = (~c & 0xffff) + (~oldHigh & 0xffff) + (~oldLow & 0xffff) + (~oldPort & 0xffff) + high + low + newPort;
      u = (u & 0xffff) + (u >>> 16);
      u = (u & 0xffff) + (u >>> 16);
      let next = ~u & 0xffff;
      if (udp && next === 0) next = 0xffff; // RFC 768: a computed 0 is sent as 0xFFFF
      b[ca] = next >>> 8;
      b[ca + 1] = next & 0xff;
    }
    b[pa] = newPort >>> 8;
    b[pa + 1] = newPort & 0xff;
  } else if (t.kind === 'icmpv4') {
    echoIdentifier(t, port);
  }
  // ICMPv6 inside IPv4 does not come out of a PacketParser, and other protocols keep no
  // checksum this folder knows: nothing more to do.
}

function echoIdentifier(m: Icmpv4Message | Icmpv6Message, id: number): void {
  if (id !== KEEP && m.isEcho()) m.setIdentifier(id);
}

function rewrite6(ip: Ipv6Packet, t: TransportView, source: boolean, address: Uint8Array, at: number, port: number): void {
  const b = ip.bytes;
  assertWritable(b);
  samePacket(b, t);
  const a = source ? ip.sourceOffset : ip.destinationOffset;
  switch (t.kind) {
    case 'tcp':
    case 'udp': {
      const udp = t.kind === 'udp';
      const checksumAt = t.start + (udp ? UdpField.Checksum : TcpField.Checksum);
      const portAt = t.start + (source ? TcpField.SourcePort : TcpField.DestinationPort);
      const c = get16(b, checksumAt);
      const oldPort = get16(b, portAt);
      const newPort = port === KEEP ? oldPort : port;
      // Over IPv6 a UDP checksum of 0 was let through only by choice (tunnels): keep it 0.
      if (!(udp && c === 0)) {
        const next = updateChecksum16(updateChecksumBytes(c, b, a, address, at, 16), oldPort, newPort);
        put16(b, checksumAt, udp && next === 0 ? 0xffff : next);
      }
      put16(b, portAt, newPort);
      break;
    }
    case 'icmpv6':
      t.adjustChecksumBytes(b, a, address, at, 16);
      break;
    case 'icmpv4':
    case 'other':
      break;
  }
  for (let k = 0; k < 16; k++) b[a + k] = address[at + k]!;
  if (t.kind === 'icmpv6') echoIdentifier(t, port);
}
