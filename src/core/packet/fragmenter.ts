/**
 * Splitting an IPv4 packet into fragments that fit an MTU (RFC 791 section 3.2): what a NAT that
 * reassembled a datagram to translate it does before sending it on. Every fragment carries the
 * original header (options are copied into each: rarely present, and simpler than sorting out
 * the copy flags), its own Total Length, offset and MF, and a computed header checksum.
 *
 * A packet with DF set, or that fits, is returned as it is: the caller decides what a DF packet
 * too big means (an ICMP error).
 */

import { internetChecksum } from './checksum.js';
import type { Ipv4Packet } from './ipv4.js';

/** `ip` (checked) in pieces of at most `mtu` bytes; [ip's bytes] when it fits or has DF set. */
export function fragmentIpv4(ip: Ipv4Packet, mtu: number): Uint8Array[] {
  const whole = ip.bytes.subarray(ip.start, ip.end);
  if (ip.totalLength <= mtu || ip.dontFragment()) return [whole];
  const hl = ip.headerLength;
  // Data per fragment: a multiple of 8, at least 8 (an MTU below 68 is not IPv4's).
  const step = Math.max(8, Math.floor((mtu - hl) / 8) * 8);
  const data = ip.bytes.subarray(ip.payloadOffset, ip.end);
  const baseOffset = ip.fragmentOffset();
  const lastMore = ip.moreFragments();
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += step) {
    const chunk = data.subarray(at, Math.min(data.length, at + step));
    const f = new Uint8Array(hl + chunk.length);
    f.set(ip.bytes.subarray(ip.start, ip.start + hl), 0);
    f.set(chunk, hl);
    const more = at + step < data.length || lastMore;
    const off = (baseOffset + at) >>> 3;
    f[2] = f.length >>> 8;
    f[3] = f.length & 0xff;
    const flags = (f[6]! & 0xc0) | (more ? 0x20 : 0);
    f[6] = flags | ((off >>> 8) & 0x1f);
    f[7] = off & 0xff;
    f[10] = 0;
    f[11] = 0;
    const c = internetChecksum(f, 0, hl);
    f[10] = c >>> 8;
    f[11] = c & 0xff;
    out.push(f);
  }
  return out;
}

/**
 * An IPv6 packet built by the NAT (a fixed header and the upper layer, no extension headers: what
 * NAT64 translation makes) in fragments of at most `mtu` bytes, each with a Fragment header
 * (RFC 8200 section 4.5) carrying `identification`. [the packet] when it fits.
 */
export function fragmentIpv6(packet: Uint8Array, mtu: number, identification: number): Uint8Array[] {
  if (packet.length <= mtu) return [packet];
  const next = packet[6]!;
  const data = packet.subarray(40);
  const step = Math.max(8, Math.floor((mtu - 48) / 8) * 8);
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += step) {
    const chunk = data.subarray(at, Math.min(data.length, at + step));
    const f = new Uint8Array(48 + chunk.length);
    f.set(packet.subarray(0, 40), 0);
    f[4] = (8 + chunk.length) >>> 8;
    f[5] = (8 + chunk.length) & 0xff;
    f[6] = 44;
    f[40] = next;
    const more = at + step < data.length ? 1 : 0;
    f[42] = at >>> 8;
    f[43] = (at & 0xf8) | more;
    f[44] = identification >>> 24;
    f[45] = (identification >>> 16) & 0xff;
    f[46] = (identification >>> 8) & 0xff;
    f[47] = identification & 0xff;
    f.set(chunk, 48);
    out.push(f);
  }
  return out;
}
