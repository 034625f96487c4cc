/**
 * Test-only packet builders and a deliberately naive Internet checksum. Nothing here uses the
 * code under test (src/core/packet): packets are assembled byte by byte from plain arrays, and
 * checksums are computed by a plain word loop with an end-around carry at every step, so a
 * mistake in the library cannot hide behind the same mistake in its test.
 */
import { parseIPv4, parseIPv6 } from '../../src/core/net/ip.js';

// ------------------------------------------------------------------ naive checksum

/** One's complement sum, the slow obvious way: 16-bit words, carry folded after every add. */
export function naiveSum(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i += 2) {
    const w = (data[i]! << 8) | (i + 1 < data.length ? data[i + 1]! : 0);
    s += w;
    if (s > 0xffff) s = (s & 0xffff) + 1;
  }
  return s;
}

export function naiveChecksum(data: ArrayLike<number>): number {
  return ~naiveSum(data) & 0xffff;
}

export function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(Array.from(p), at);
    at += p.length;
  }
  return out;
}

export function pseudo4(src: ArrayLike<number>, dst: ArrayLike<number>, proto: number, length: number): number[] {
  return [...Array.from(src), ...Array.from(dst), 0, proto, length >> 8, length & 0xff];
}

export function pseudo6(src: ArrayLike<number>, dst: ArrayLike<number>, next: number, length: number): number[] {
  return [...Array.from(src), ...Array.from(dst), (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, 0, 0, 0, next];
}

export function u16(b: ArrayLike<number>, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
export function u32(b: ArrayLike<number>, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
export function put16(b: Uint8Array | number[], at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}
export function put32(b: Uint8Array | number[], at: number, v: number): void {
  put16(b, at, (v >>> 16) & 0xffff);
  put16(b, at + 2, v & 0xffff);
}

export function v4(text: string): Uint8Array {
  const b = parseIPv4(text);
  if (!b) throw new Error(`bad test address ${text}`);
  return b;
}
export function v6(text: string): Uint8Array {
  const b = parseIPv6(text);
  if (!b) throw new Error(`bad test address ${text}`);
  return b;
}
export function v4num(text: string): number {
  return u32(v4(text), 0);
}

// ------------------------------------------------------------------ transports (checksum 0)

export interface TcpSpec {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  urgent?: number;
  /** Raw option bytes; padded with zeros to a multiple of 4 unless `dataOffset` is given. */
  options?: number[];
  /** Override the Data Offset nibble (words). */
  dataOffset?: number;
  payload?: ArrayLike<number>;
}

export function tcpSegment(t: TcpSpec): Uint8Array {
  const opts = [...(t.options ?? [])];
  while (opts.length % 4 !== 0) opts.push(0);
  const h: number[] = new Array(20).fill(0);
  put16(h, 0, t.sport ?? 40000);
  put16(h, 2, t.dport ?? 80);
  put32(h, 4, t.seq ?? 1000);
  put32(h, 8, t.ack ?? 2000);
  const doff = t.dataOffset ?? (20 + opts.length) / 4;
  const flags = t.flags ?? 0x18;
  h[12] = (doff << 4) | ((flags >> 8) & 1);
  h[13] = flags & 0xff;
  put16(h, 14, t.window ?? 65535);
  put16(h, 18, t.urgent ?? 0);
  return concat(h, opts, t.payload ?? []);
}

export function udpDatagram(sport: number, dport: number, payload: ArrayLike<number>, lengthOverride?: number): Uint8Array {
  const h: number[] = new Array(8).fill(0);
  put16(h, 0, sport);
  put16(h, 2, dport);
  put16(h, 4, lengthOverride ?? 8 + payload.length);
  return concat(h, payload);
}

/** An ICMP message: type, code, checksum 0, the 4 bytes of `rest`, then body. */
export function icmpMessage(type: number, code: number, rest: number, body: ArrayLike<number>): Uint8Array {
  const h = [type, code, 0, 0, 0, 0, 0, 0];
  put32(h, 4, rest >>> 0);
  return concat(h, body);
}

/** Where each transport keeps its checksum; -1 for none we fill. */
export function checksumOffset(proto: number): number {
  return proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 || proto === 58 ? 2 : -1;
}

/** Fill the transport checksum in place, the naive way. */
export function fillTransportChecksum(version: 4 | 6, src: ArrayLike<number>, dst: ArrayLike<number>, proto: number, seg: Uint8Array): void {
  const at = checksumOffset(proto);
  if (at < 0 || seg.length < at + 2) return;
  put16(seg, at, 0);
  let length = seg.length;
  if (proto === 17) length = u16(seg, 4);
  const covered = proto === 17 ? seg.subarray(0, Math.min(length, seg.length)) : seg;
  let c: number;
  if (proto === 1) c = naiveChecksum(covered);
  else if (version === 4) c = naiveChecksum(concat(pseudo4(src, dst, proto, length), covered));
  else c = naiveChecksum(concat(pseudo6(src, dst, proto, length), covered));
  if (proto === 17 && c === 0) c = 0xffff;
  put16(seg, at, c);
}

// ------------------------------------------------------------------ IPv4

export interface Ipv4Spec {
  src?: string;
  dst?: string;
  proto: number;
  payload: ArrayLike<number>;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  reserved?: boolean;
  /** Fragment offset in bytes. */
  offset?: number;
  /** Raw options, padded with zeros (End of Options) to a multiple of 4. */
  options?: number[];
  ihl?: number;
  totalLength?: number;
  checksum?: number;
  /** Bytes appended after the packet (link-layer padding). */
  trailing?: number;
  /** Fill the transport checksum (default true; only for unfragmented packets). */
  transportChecksum?: boolean;
}

export function ipv4Packet(p: Ipv4Spec): Uint8Array {
  const src = v4(p.src ?? '192.0.2.10');
  const dst = v4(p.dst ?? '198.51.100.20');
  const opts = [...(p.options ?? [])];
  while (opts.length % 4 !== 0) opts.push(0);
  const hl = 20 + opts.length;
  const payload = Uint8Array.from(Array.from(p.payload));
  if (p.transportChecksum !== false && !p.mf && !p.offset) fillTransportChecksum(4, src, dst, p.proto, payload);
  const h: number[] = new Array(20).fill(0);
  h[0] = 0x40 | (p.ihl ?? hl / 4);
  h[1] = p.tos ?? 0;
  put16(h, 2, p.totalLength ?? hl + payload.length);
  put16(h, 4, p.id ?? 0x1234);
  put16(h, 6, (p.reserved ? 0x8000 : 0) | (p.df ? 0x4000 : 0) | (p.mf ? 0x2000 : 0) | ((p.offset ?? 0) >> 3));
  h[8] = p.ttl ?? 64;
  h[9] = p.proto;
  h.splice(12, 4, ...src);
  h.splice(16, 4, ...dst);
  const header = [...h, ...opts];
  put16(header, 10, p.checksum ?? naiveChecksum(header));
  return concat(header, payload, new Array(p.trailing ?? 0).fill(0));
}

// ------------------------------------------------------------------ IPv6

export type ExtSpec =
  | { type: 0 | 43 | 60 | 135 | 139 | 140; /** total length, multiple of 8 */ length?: number }
  | { type: 51; /** total length, multiple of 4 */ length?: number }
  | { type: 44; offset?: number; more?: boolean; id?: number };

export interface Ipv6Spec {
  src?: string;
  dst?: string;
  /** Upper-layer protocol, after the extension headers. */
  proto: number;
  ext?: ExtSpec[];
  payload: ArrayLike<number>;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  payloadLength?: number;
  trailing?: number;
  transportChecksum?: boolean;
}

export function extensionHeaders(ext: ExtSpec[], upper: number): number[] {
  const out: number[] = [];
  ext.forEach((e, i) => {
    const next = i + 1 < ext.length ? ext[i + 1]!.type : upper;
    if (e.type === 44) {
      const h = [next, 0, 0, 0, 0, 0, 0, 0];
      put16(h, 2, (e.offset ?? 0) | (e.more ? 1 : 0));
      put32(h, 4, e.id ?? 0xabcdef01);
      out.push(...h);
    } else if (e.type === 51) {
      const len = e.length ?? 12;
      const h: number[] = new Array(len).fill(0).map((_, k) => (k * 7 + 3) & 0xff);
      h[0] = next;
      h[1] = len / 4 - 2;
      out.push(...h);
    } else {
      const len = e.length ?? 8;
      // Options area filled with PadN-looking bytes; content does not matter to the walk.
      const h: number[] = new Array(len).fill(0).map((_, k) => (k * 5 + 1) & 0xff);
      h[0] = next;
      h[1] = len / 8 - 1;
      out.push(...h);
    }
  });
  return out;
}

export function ipv6Packet(p: Ipv6Spec): Uint8Array {
  const src = v6(p.src ?? '2001:db8::10');
  const dst = v6(p.dst ?? '2001:db8:1::20');
  const ext = p.ext ?? [];
  const exts = extensionHeaders(ext, p.proto);
  const payload = Uint8Array.from(Array.from(p.payload));
  const fragmented = ext.some((e) => e.type === 44 && ((e.offset ?? 0) !== 0 || e.more));
  if (p.transportChecksum !== false && !fragmented) fillTransportChecksum(6, src, dst, p.proto, payload);
  const h: number[] = new Array(8).fill(0);
  const first = ((6 << 28) | ((p.trafficClass ?? 0) << 20) | (p.flowLabel ?? 0)) >>> 0;
  put32(h, 0, first);
  put16(h, 4, p.payloadLength ?? exts.length + payload.length);
  h[6] = ext.length > 0 ? ext[0]!.type : p.proto;
  h[7] = p.hopLimit ?? 64;
  return concat(h, src, dst, exts, payload, new Array(p.trailing ?? 0).fill(0));
}

// ------------------------------------------------------------------ fragmentation (test side)

/** Split an unfragmented IPv4 packet into fragments of `size` data bytes (a multiple of 8; the rest in the last). */
export function fragmentIpv4(packet: Uint8Array, size: number): Uint8Array[] {
  const hl = (packet[0]! & 0x0f) * 4;
  const tl = u16(packet, 2);
  const data = packet.subarray(hl, tl);
  const header = Array.from(packet.subarray(0, hl));
  const flagsBase = u16(packet, 6) & 0xc000;
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) {
    const chunk = data.subarray(at, Math.min(at + size, data.length));
    const more = at + size < data.length;
    const h = [...header];
    put16(h, 2, hl + chunk.length);
    put16(h, 6, flagsBase | (more ? 0x2000 : 0) | (at >> 3));
    put16(h, 10, 0);
    put16(h, 10, naiveChecksum(h));
    out.push(concat(h, chunk));
  }
  return out;
}

/**
 * Split an unfragmented IPv6 packet: the first `unfragmentable` bytes after the fixed header
 * (extension headers that stay) are repeated in every fragment, then a Fragment header.
 */
export function fragmentIpv6(packet: Uint8Array, unfragmentable: number, size: number, id: number): Uint8Array[] {
  // Find the Next Header byte that names what follows the unfragmentable part.
  let linkAt = 6;
  let at = 40;
  while (at < 40 + unfragmentable) {
    linkAt = at;
    at += (packet[at + 1]! + 1) * 8;
  }
  if (at !== 40 + unfragmentable) throw new Error('unfragmentable length does not end on a header');
  const nextOfFragmentable = packet[linkAt]!;
  const head = Array.from(packet.subarray(0, 40 + unfragmentable));
  head[linkAt] = 44;
  const data = packet.subarray(40 + unfragmentable, 40 + u16(packet, 4));
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += size) {
    const chunk = data.subarray(off, Math.min(off + size, data.length));
    const more = off + size < data.length;
    const fh = [nextOfFragmentable, 0, 0, 0, 0, 0, 0, 0];
    put16(fh, 2, off | (more ? 1 : 0));
    put32(fh, 4, id);
    const h = [...head];
    put16(h, 4, unfragmentable + 8 + chunk.length);
    out.push(concat(h, fh, chunk));
  }
  return out;
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
