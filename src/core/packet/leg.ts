/**
 * One direction of a NAT session: which packets it takes (the side they arrive on, their
 * addresses and ports as received) and what they become (the side they leave on, their addresses
 * and ports there). A session has two legs: `a` for the packets of the side that opened it, `b`
 * for the replies; each leg's output is the other's input reversed.
 *
 * For IPv4 to IPv4 the rewrite is precomputed: the new addresses and ports and the one's
 * complement difference the rewrite makes to the IPv4 header checksum and to the TCP/UDP checksum
 * (RFC 1624 eqn 3 summed over every changed word: both addresses, which the pseudo-header covers,
 * and both ports), so translating a packet is a few loads, two checksum folds and the stores.
 * They are four 32-bit words (`Rewrite4`), so that the NAT's session rows (session-rows.ts) hold
 * a copy the fast path reads without touching the leg; `applyLeg4` reads them from either.
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

/** The words of a precomputed IPv4-to-IPv4 rewrite, by offset. */
export const Rewrite4 = {
  /** The new source address. */
  Source: 0,
  Destination: 1,
  /** New source port * 65536 + new destination port. */
  Ports: 2,
  /** IPv4 header checksum delta * 65536 + TCP/UDP checksum delta (folded one's complement sums). */
  Deltas: 3,
} as const;
export const REWRITE4_WORDS = 4;

export class Leg implements PacketFace {
  /** IPv4 to IPv4: the packets are rewritten in place by `applyLeg4` with `rewrite4`. */
  readonly fast4: boolean;
  /** Packets of this leg refresh the session and its mapping (outbound always; inbound by policy). */
  readonly refreshes: boolean;
  readonly to: NatSide;
  /** The precomputed rewrite (`Rewrite4` words; all 0 unless `fast4`). */
  readonly rewrite4: Uint32Array;
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
    this.rewrite4 = new Uint32Array(REWRITE4_WORDS);
    if (this.fast4) {
      const s = this.source;
      const d = this.destination;
      const os = this.sourceInBytes;
      const od = this.destinationInBytes;
      const ip =
        (~word(os, 0) & 0xffff) + (~word(os, 2) & 0xffff) + (~word(od, 0) & 0xffff) + (~word(od, 2) & 0xffff) + word(s, 0) + word(s, 2) + word(d, 0) + word(d, 2);
      const l4 = ip + (~sourceIn.port & 0xffff) + (~destinationIn.port & 0xffff) + sourceOut.port + destinationOut.port;
      this.rewrite4[Rewrite4.Source] = u32(s);
      this.rewrite4[Rewrite4.Destination] = u32(d);
      this.rewrite4[Rewrite4.Ports] = sourceOut.port * 65536 + destinationOut.port;
      this.rewrite4[Rewrite4.Deltas] = foldSum(ip) * 65536 + foldSum(l4);
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
 * Rewrite an IPv4 TCP (`udp` false) or UDP packet in place with the `Rewrite4` words at `at` of
 * `words` (a leg's `rewrite4`, or its copy in a session row): addresses, ports, IPv4 header
 * checksum and transport checksum (UDP without checksum stays without one; a computed 0 goes as
 * 0xFFFF).
 */
export function applyLeg4(b: Uint8Array, ipStart: number, l4Start: number, udp: boolean, words: Uint32Array, at: number): void {
  const deltas = words[at + Rewrite4.Deltas]!;
  const hc = ipStart + 10;
  let s = (~((b[hc]! << 8) | b[hc + 1]!) & 0xffff) + (deltas >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const ipSum = ~s & 0xffff;
  b[hc] = ipSum >>> 8;
  b[hc + 1] = ipSum & 0xff;
  const src = words[at + Rewrite4.Source]!;
  const dst = words[at + Rewrite4.Destination]!;
  b[ipStart + 12] = src >>> 24;
  b[ipStart + 13] = (src >>> 16) & 0xff;
  b[ipStart + 14] = (src >>> 8) & 0xff;
  b[ipStart + 15] = src & 0xff;
  b[ipStart + 16] = dst >>> 24;
  b[ipStart + 17] = (dst >>> 16) & 0xff;
  b[ipStart + 18] = (dst >>> 8) & 0xff;
  b[ipStart + 19] = dst & 0xff;
  const ca = l4Start + (udp ? 6 : 16);
  const c = (b[ca]! << 8) | b[ca + 1]!;
  if (!(udp && c === 0)) {
    let u = (~c & 0xffff) + (deltas & 0xffff);
    u = (u & 0xffff) + (u >>> 16);
    u = (u & 0xffff) + (u >>> 16);
    let next = ~u & 0xffff;
    if (udp && next === 0) next = 0xffff;
    b[ca] = next >>> 8;
    b[ca + 1] = next & 0xff;
  }
  const ports = words[at + Rewrite4.Ports]!;
  b[l4Start] = ports >>> 24;
  b[l4Start + 1] = (ports >>> 16) & 0xff;
  b[l4Start + 2] = (ports >>> 8) & 0xff;
  b[l4Start + 3] = ports & 0xff;
}
