/**
 * Test helpers for the packet NAT: packets built by the tests (builders.ts, with a naive
 * checksum), an independent decoder that recomputes every checksum from scratch, and a NAT with
 * documentation addresses.
 */
import { expect } from 'vitest';
import { PacketNat, type PacketNatOptions, type NatSide, type Transmit } from '../../src/core/packet/index.js';
import { formatIPv4, formatIPv6 } from '../../src/core/net/ip.js';
import { concat, ipv4Packet, ipv6Packet, naiveChecksum, pseudo4, pseudo6, tcpSegment, u16, u32, udpDatagram } from './builders.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder('latin1').decode(b);

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface TcpSpec4 {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  payload?: Uint8Array | string;
  options?: number[];
  window?: number;
  df?: boolean;
  id?: number;
}

function bytesOf(p: Uint8Array | string | undefined): Uint8Array {
  return p === undefined ? new Uint8Array(0) : typeof p === 'string' ? enc(p) : p;
}

export function tcp(spec: TcpSpec4): Uint8Array {
  const seg = tcpSegment({
    sport: spec.sport,
    dport: spec.dport,
    seq: spec.seq >>> 0,
    ack: (spec.ack ?? 0) >>> 0,
    flags: spec.flags,
    window: spec.window ?? 65535,
    options: spec.options ?? [],
    payload: bytesOf(spec.payload),
  });
  if (spec.src.includes(':')) return ipv6Packet({ src: spec.src, dst: spec.dst, proto: 6, payload: seg });
  return ipv4Packet({ src: spec.src, dst: spec.dst, proto: 6, payload: seg, df: spec.df ?? true, id: spec.id ?? 0x1234 });
}

export function udp(src: string, sport: number, dst: string, dport: number, payload: Uint8Array | string, zeroChecksum = false): Uint8Array {
  const d = udpDatagram(sport, dport, bytesOf(payload));
  if (src.includes(':')) return ipv6Packet({ src, dst, proto: 17, payload: d });
  return ipv4Packet({ src, dst, proto: 17, payload: d, transportChecksum: !zeroChecksum });
}

/** What a packet says, decoded without the library, with its checksums recomputed naively. */
export interface Decoded {
  version: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  ttl: number;
  headerOk: boolean;
  transportOk: boolean;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payload: Uint8Array;
  text: string;
  /** UDP checksum field / ICMP type etc. */
  checksum: number;
  icmpType: number;
  icmpCode: number;
  identifier: number;
  ipId: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  /** Raw TCP option bytes. */
  options: Uint8Array;
  length: number;
}

export function decode(p: Uint8Array): Decoded {
  const version = (p[0]! >> 4) as 4 | 6;
  let hl: number;
  let src: string;
  let dst: string;
  let proto: number;
  let end: number;
  let headerOk = true;
  let ttl: number;
  let pseudo: (proto: number, len: number) => number[];
  let ipId = 0;
  let df = false;
  let mf = false;
  let fragOffset = 0;
  if (version === 4) {
    hl = (p[0]! & 15) * 4;
    end = u16(p, 2);
    src = formatIPv4(p, 12);
    dst = formatIPv4(p, 16);
    proto = p[9]!;
    ttl = p[8]!;
    headerOk = naiveChecksum(p.subarray(0, hl)) === 0;
    const s = p.subarray(12, 16);
    const d = p.subarray(16, 20);
    pseudo = (pr, len) => pseudo4(s, d, pr, len);
    ipId = u16(p, 4);
    df = (p[6]! & 0x40) !== 0;
    mf = (p[6]! & 0x20) !== 0;
    fragOffset = (u16(p, 6) & 0x1fff) * 8;
  } else {
    hl = 40;
    end = 40 + u16(p, 4);
    src = formatIPv6(p, 8);
    dst = formatIPv6(p, 24);
    proto = p[6]!;
    ttl = p[7]!;
    const s = p.subarray(8, 24);
    const d = p.subarray(24, 40);
    pseudo = (pr, len) => pseudo6(s, d, pr, len);
  }
  expect(end).toBe(p.length);
  const seg = p.subarray(hl, end);
  const out: Decoded = {
    version, src, dst, proto, ttl, headerOk, transportOk: true, sport: 0, dport: 0, seq: 0, ack: 0, flags: 0, window: 0,
    payload: new Uint8Array(0), text: '', checksum: 0, icmpType: -1, icmpCode: -1, identifier: 0, ipId, df, mf, fragOffset,
    options: new Uint8Array(0), length: p.length,
  };
  if (mf || fragOffset > 0) return out;
  if (proto === 6) {
    const doff = (seg[12]! >> 4) * 4;
    out.sport = u16(seg, 0);
    out.dport = u16(seg, 2);
    out.seq = u32(seg, 4);
    out.ack = u32(seg, 8);
    out.flags = seg[13]!;
    out.window = u16(seg, 14);
    out.options = seg.slice(20, doff);
    out.payload = seg.slice(doff);
    out.text = dec(out.payload);
    out.transportOk = naiveChecksum(concat(pseudo(6, seg.length), seg)) === 0;
  } else if (proto === 17) {
    out.sport = u16(seg, 0);
    out.dport = u16(seg, 2);
    out.checksum = u16(seg, 6);
    out.payload = seg.slice(8);
    out.text = dec(out.payload);
    out.transportOk = out.checksum === 0 ? version === 4 : naiveChecksum(concat(pseudo(17, seg.length), seg)) === 0;
  } else if (proto === 1 || proto === 58) {
    out.icmpType = seg[0]!;
    out.icmpCode = seg[1]!;
    out.identifier = u16(seg, 4);
    out.payload = seg.slice(8);
    out.transportOk = proto === 1 ? naiveChecksum(seg) === 0 : naiveChecksum(concat(pseudo(58, seg.length), seg)) === 0;
  }
  return out;
}

/** Decode and insist that every checksum is right. */
export function checked(p: Uint8Array): Decoded {
  const d = decode(p);
  expect(d.headerOk, 'IPv4 header checksum').toBe(true);
  expect(d.transportOk, 'transport checksum').toBe(true);
  return d;
}

export const INSIDE_CLIENT = '192.0.2.10';
export const NAT_ADDRESS = '203.0.113.1';
export const SERVER = '198.51.100.7';

/** A deterministic random source. */
export function seeded(seed = 42): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

export function makeNat(extra: Partial<PacketNatOptions> = {}): PacketNat {
  return new PacketNat({ externalAddresses: [NAT_ADDRESS], random: seeded(), insideNetworks: ['192.0.2.0/24'], ...extra });
}

/**
 * Push a packet through the NAT and collect what leaves: the packet itself when forwarded (a
 * copy), then everything queued. Drops are returned as a reason.
 */
export function through(nat: PacketNat, side: NatSide, packet: Uint8Array, nowMs: number): { out: Transmit[]; drop: string | null } {
  const v = nat.handle(side, packet, nowMs);
  const out: Transmit[] = [];
  if (!v.ok) return { out: drain(nat), drop: v.reason };
  if (v.action === 'forward') out.push({ to: v.to, packet: packet.slice() });
  out.push(...drain(nat));
  return { out, drop: null };
}

export function drain(nat: PacketNat): Transmit[] {
  const out: Transmit[] = [];
  for (let t = nat.pollTransmit(); t; t = nat.pollTransmit()) out.push(t);
  return out;
}
