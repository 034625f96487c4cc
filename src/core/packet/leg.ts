/**
 * One direction of a NAT session: which packets it takes (the side they arrive on, their
 * addresses and ports as received) and what they become (the side they leave on, their addresses
 * and ports there). A session has two legs: `a` for the packets of the side that opened it, `b`
 * for the replies; each leg's output is the other's input reversed.
 *
 * For IPv4 to IPv4 the rewrite is precomputed: the new address words and the one's complement
 * difference the rewrite makes to the IPv4 header checksum and to the TCP/UDP checksum (RFC 1624
 * eqn 3 summed over every changed word: both addresses, which the pseudo-header covers, and both
 * ports), so translating a packet is a few loads, two checksum folds and the stores.
 */

import { parseAddress, type Endpoint } from '../net/ip.js';
import { foldSum } from './checksum.js';
import type { PacketFace, NatSide } from './segment-builder.js';

function bytesOf(e: Endpoint): Uint8Array {
  const p = parseAddress(e.address);
  // Endpoints reach here from the mapping table and the address translator: always valid.
  return p ? p.bytes : new Uint8Array(e.family === 4 ? 4 : 16);
}

function word(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export class Leg implements PacketFace {
  // Field order is memory layout (V8 lays an object's fields out in their order of definition):
  // what the IPv4 fast path reads of a leg comes first, next to the object's header, so one
  // packet usually touches one cache line of its leg.
  // ---- IPv4 to IPv4, precomputed
  readonly fast4: boolean;
  /** Packets of this leg refresh the session and its mapping (outbound always; inbound by policy). */
  readonly refreshes: boolean;
  readonly to: NatSide;
  /** Folded one's complement difference of the address words (IPv4 header checksum). */
  readonly ipDelta: number;
  /** The same plus both ports (TCP/UDP checksum). */
  readonly l4Delta: number;
  readonly srcHi: number;
  readonly srcLo: number;
  readonly dstHi: number;
  readonly dstLo: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  // ---- what it takes
  readonly from: NatSide;
  readonly inFamily: 4 | 6;
  readonly sourceIn: Endpoint;
  readonly destinationIn: Endpoint;
  readonly sourceInBytes: Uint8Array;
  readonly destinationInBytes: Uint8Array;
  // ---- what it gives (PacketFace; with `to` and the ports above)
  readonly family: 4 | 6;
  readonly sourceOut: Endpoint;
  readonly destinationOut: Endpoint;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;

  constructor(from: NatSide, sourceIn: Endpoint, destinationIn: Endpoint, to: NatSide, sourceOut: Endpoint, destinationOut: Endpoint, refreshes: boolean) {
    this.from = from;
    this.inFamily = sourceIn.family;
    this.sourceIn = sourceIn;
    this.destinationIn = destinationIn;
    this.sourceInBytes = bytesOf(sourceIn);
    this.destinationInBytes = bytesOf(destinationIn);
    this.to = to;
    this.family = sourceOut.family;
    this.sourceOut = sourceOut;
    this.destinationOut = destinationOut;
    this.source = bytesOf(sourceOut);
    this.destination = bytesOf(destinationOut);
    this.sourcePort = sourceOut.port;
    this.destinationPort = destinationOut.port;
    this.refreshes = refreshes;
    this.fast4 = this.inFamily === 4 && this.family === 4;
    if (this.fast4) {
      const s = this.source;
      const d = this.destination;
      this.srcHi = word(s, 0);
      this.srcLo = word(s, 2);
      this.dstHi = word(d, 0);
      this.dstLo = word(d, 2);
      const os = this.sourceInBytes;
      const od = this.destinationInBytes;
      const ip =
        (~word(os, 0) & 0xffff) + (~word(os, 2) & 0xffff) + (~word(od, 0) & 0xffff) + (~word(od, 2) & 0xffff) + this.srcHi + this.srcLo + this.dstHi + this.dstLo;
      this.ipDelta = foldSum(ip);
      this.l4Delta = foldSum(ip + (~sourceIn.port & 0xffff) + (~destinationIn.port & 0xffff) + sourceOut.port + destinationOut.port);
    } else {
      this.srcHi = this.srcLo = this.dstHi = this.dstLo = this.ipDelta = this.l4Delta = 0;
    }
  }

  /** Source address as received, as a number (IPv4 legs). */
  get sourceInNumber(): number {
    return this.inFamily === 4 ? u32(this.sourceInBytes) : 0;
  }
  get destinationInNumber(): number {
    return this.inFamily === 4 ? u32(this.destinationInBytes) : 0;
  }
}

/**
 * Rewrite an IPv4 TCP (`udp` false) or UDP packet of an IPv4-to-IPv4 leg in place: addresses,
 * ports, IPv4 header checksum and transport checksum (UDP without checksum stays without one;
 * a computed 0 goes as 0xFFFF).
 */
export function applyLeg4(b: Uint8Array, ipStart: number, l4Start: number, udp: boolean, leg: Leg): void {
  const hc = ipStart + 10;
  let s = (~((b[hc]! << 8) | b[hc + 1]!) & 0xffff) + leg.ipDelta;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const ipSum = ~s & 0xffff;
  b[hc] = ipSum >>> 8;
  b[hc + 1] = ipSum & 0xff;
  b[ipStart + 12] = leg.srcHi >>> 8;
  b[ipStart + 13] = leg.srcHi & 0xff;
  b[ipStart + 14] = leg.srcLo >>> 8;
  b[ipStart + 15] = leg.srcLo & 0xff;
  b[ipStart + 16] = leg.dstHi >>> 8;
  b[ipStart + 17] = leg.dstHi & 0xff;
  b[ipStart + 18] = leg.dstLo >>> 8;
  b[ipStart + 19] = leg.dstLo & 0xff;
  const ca = l4Start + (udp ? 6 : 16);
  const c = (b[ca]! << 8) | b[ca + 1]!;
  if (!(udp && c === 0)) {
    let u = (~c & 0xffff) + leg.l4Delta;
    u = (u & 0xffff) + (u >>> 16);
    u = (u & 0xffff) + (u >>> 16);
    let next = ~u & 0xffff;
    if (udp && next === 0) next = 0xffff;
    b[ca] = next >>> 8;
    b[ca + 1] = next & 0xff;
  }
  const sp = leg.sourcePort;
  const dp = leg.destinationPort;
  b[l4Start] = sp >>> 8;
  b[l4Start + 1] = sp & 0xff;
  b[l4Start + 2] = dp >>> 8;
  b[l4Start + 3] = dp & 0xff;
}
