/**
 * One entry point for a raw IP packet: version, network header, transport header, each checked,
 * or the reason the packet is dropped. A fragment is neither: it is reported as such, for the
 * reassembler (fragments.ts), since its transport header is not (all) there.
 *
 * `PacketParser` owns one view of each kind and re-points them at every packet: a parse
 * allocates nothing, and its verdict (and the views it names) are valid until the next `parse`
 * on the same parser. `parsePacket` is the one-shot form with a parser of its own.
 *
 * Checksums are not verified by default (a NAT forwards and updates them incrementally, which
 * keeps a sender's error visible to the receiver); `verifyChecksums: true` verifies the IPv4
 * header checksum and the TCP, UDP and ICMP checksums.
 */

import { Icmpv4Message, Icmpv6Message, type IcmpDropReason } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { Ipv4Packet, type Ipv4DropReason } from './ipv4.js';
import { Ipv6Packet, type Ipv6DropReason } from './ipv6.js';
import { ipv6Limits, type Ipv6Limits } from './ipv6-extensions.js';
import { TcpSegment, type TcpDropReason } from './tcp.js';
import { UdpDatagram, type UdpDropReason } from './udp.js';
import { dropTable } from './verdict.js';
import { assertRange } from './range.js';

/** An upper layer this folder has no view for (ESP, GRE, SCTP, No Next Header, ...): its bounds. */
export class OtherTransport {
  readonly kind = 'other' as const;
  private p = 0;
  private s = 0;
  private e = 0;
  point(protocol: number, start: number, end: number): void {
    this.p = protocol;
    this.s = start;
    this.e = end;
  }
  get protocol(): number {
    return this.p;
  }
  get start(): number {
    return this.s;
  }
  get end(): number {
    return this.e;
  }
}

export type IpPacket = Ipv4Packet | Ipv6Packet;
export type TransportView = TcpSegment | UdpDatagram | Icmpv4Message | Icmpv6Message | OtherTransport;

/**
 * Every reason `parse` drops a packet for. 'bad-header-checksum' is the IPv4 header's;
 * 'bad-checksum' the transport's; both only with `verifyChecksums`.
 */
export type PacketDropReason =
  | Ipv4DropReason
  | Ipv6DropReason
  | TcpDropReason
  | UdpDropReason
  | IcmpDropReason
  | 'bad-checksum';

const REASONS = [
  'truncated',
  'bad-version',
  'bad-header-length',
  'bad-total-length',
  'bad-header-checksum',
  'jumbogram',
  'too-many-extension-headers',
  'extension-headers-too-long',
  'bad-extension-header',
  'bad-data-offset',
  'bad-length',
  'zero-checksum',
  'bad-checksum',
] as const satisfies readonly PacketDropReason[];

// Compile-time proof that the list names every reason of the union.
const everyReason: Exclude<PacketDropReason, (typeof REASONS)[number]> extends never ? true : never = true;

/** Every PacketDropReason, for counters and tests. */
export const PACKET_DROP_REASONS: readonly PacketDropReason[] = Object.freeze(everyReason ? [...REASONS] : []);

const DROP = dropTable<PacketDropReason>(PACKET_DROP_REASONS);

export type PacketVerdict =
  /** A whole packet: its network and transport views. */
  | { readonly ok: true; readonly kind: 'packet'; readonly ip: IpPacket; readonly transport: TransportView }
  /** A fragment (IPv4 MF or offset; IPv6 non-atomic Fragment header): hand it to a Reassembler. */
  | { readonly ok: true; readonly kind: 'fragment'; readonly ip: IpPacket }
  | { readonly ok: false; readonly reason: PacketDropReason };

export interface PacketParserOptions extends Partial<Ipv6Limits> {
  /** Verify the IPv4 header and transport checksums. Default false. */
  readonly verifyChecksums?: boolean;
  /** Accept UDP checksum 0 over IPv6 (tunnels, RFC 6935). Default false. */
  readonly allowZeroUdpChecksumIpv6?: boolean;
}

type WholeVerdict = Extract<PacketVerdict, { kind: 'packet' }>;
type Verdicts = Record<TransportView['kind'], WholeVerdict>;

export class PacketParser {
  readonly ipv4 = new Ipv4Packet();
  readonly ipv6 = new Ipv6Packet();
  readonly tcp = new TcpSegment();
  readonly udp = new UdpDatagram();
  readonly icmpv4 = new Icmpv4Message();
  readonly icmpv6 = new Icmpv6Message();
  readonly other = new OtherTransport();
  private readonly verify: boolean;
  private readonly zeroUdp6: boolean;
  private readonly limits: Ipv6Limits;
  // One frozen verdict per (network, transport) pair, made once: parse allocates nothing.
  private readonly v4: Verdicts;
  private readonly v6: Verdicts;
  private readonly fragment4: PacketVerdict;
  private readonly fragment6: PacketVerdict;

  constructor(options: PacketParserOptions = {}) {
    this.verify = options.verifyChecksums ?? false;
    this.zeroUdp6 = options.allowZeroUdpChecksumIpv6 ?? false;
    this.limits = ipv6Limits(options);
    const whole = (ip: IpPacket): Verdicts => ({
      tcp: Object.freeze({ ok: true, kind: 'packet', ip, transport: this.tcp }),
      udp: Object.freeze({ ok: true, kind: 'packet', ip, transport: this.udp }),
      icmpv4: Object.freeze({ ok: true, kind: 'packet', ip, transport: this.icmpv4 }),
      icmpv6: Object.freeze({ ok: true, kind: 'packet', ip, transport: this.icmpv6 }),
      other: Object.freeze({ ok: true, kind: 'packet', ip, transport: this.other }),
    });
    this.v4 = whole(this.ipv4);
    this.v6 = whole(this.ipv6);
    this.fragment4 = Object.freeze({ ok: true, kind: 'fragment', ip: this.ipv4 });
    this.fragment6 = Object.freeze({ ok: true, kind: 'fragment', ip: this.ipv6 });
  }

  /** Parse the IP packet in bytes[start, end). The range must lie within `bytes` (else it throws). */
  parse(bytes: Uint8Array, start = 0, end = bytes.length): PacketVerdict {
    assertRange(bytes, start, end);
    if (end === start) return DROP.truncated;
    const version = bytes[start]! >> 4;
    if (version === 4) return this.parse4(bytes, start, end);
    if (version === 6) return this.parse6(bytes, start, end);
    return DROP['bad-version'];
  }

  // The per-packet path is split into small methods on purpose: the JIT inlines small callees
  // into the caller's loop, and one large method would spend its whole inlining budget.

  private parse4(bytes: Uint8Array, start: number, end: number): PacketVerdict {
    const ip = this.ipv4;
    const r = ip.check(bytes, start, end, this.verify);
    if (!r.ok) return DROP[r.reason];
    if (ip.isFragment()) return this.fragment4;
    return this.transport(this.v4, ip, ip.protocol(), ip.payloadOffset, ip.end);
  }

  private parse6(bytes: Uint8Array, start: number, end: number): PacketVerdict {
    const ip = this.ipv6;
    const r = ip.check(bytes, start, end, this.limits);
    if (!r.ok) return DROP[r.reason];
    if (ip.isFragment()) return this.fragment6;
    return this.transport(this.v6, ip, ip.upperProtocol, ip.upperOffset, ip.end);
  }

  private transport(verdicts: Verdicts, ip: IpPacket, protocol: number, from: number, to: number): PacketVerdict {
    // TCP first and alone: the common case stays small enough to inline.
    return protocol === IpProtocol.Tcp ? this.tcpOf(verdicts, ip, from, to) : this.otherTransport(verdicts, ip, protocol, from, to);
  }

  private otherTransport(verdicts: Verdicts, ip: IpPacket, protocol: number, from: number, to: number): PacketVerdict {
    switch (protocol) {
      case IpProtocol.Udp:
        return this.udpOf(verdicts, ip, from, to);
      // ICMPv4 inside IPv6, or ICMPv6 inside IPv4, is ICMP to no one: an unknown protocol.
      case IpProtocol.Icmp:
        return ip.version === 4 ? this.icmpv4Of(verdicts, from, to) : this.otherOf(verdicts, protocol, from, to);
      case IpProtocol.Icmpv6:
        return ip.version === 6 ? this.icmpv6Of(verdicts, ip, from, to) : this.otherOf(verdicts, protocol, from, to);
      default:
        return this.otherOf(verdicts, protocol, from, to);
    }
  }

  private tcpOf(verdicts: Verdicts, ip: IpPacket, from: number, to: number): PacketVerdict {
    const r = this.tcp.check(ip.bytes, from, to);
    if (!r.ok) return DROP[r.reason];
    if (this.verify && !this.tcp.verifyChecksum(ip.pseudoHeaderSum(IpProtocol.Tcp, to - from))) return DROP['bad-checksum'];
    return verdicts.tcp;
  }

  private udpOf(verdicts: Verdicts, ip: IpPacket, from: number, to: number): PacketVerdict {
    const r = this.udp.check(ip.bytes, from, to, ip.version, this.zeroUdp6);
    if (!r.ok) return DROP[r.reason];
    if (this.verify && !this.udp.verifyChecksum(ip.pseudoHeaderSum(IpProtocol.Udp, this.udp.length))) return DROP['bad-checksum'];
    return verdicts.udp;
  }

  private icmpv4Of(verdicts: Verdicts, from: number, to: number): PacketVerdict {
    const r = this.icmpv4.check(this.ipv4.bytes, from, to);
    if (!r.ok) return DROP[r.reason];
    if (this.verify && !this.icmpv4.verifyChecksum()) return DROP['bad-checksum'];
    return verdicts.icmpv4;
  }

  private icmpv6Of(verdicts: Verdicts, ip: IpPacket, from: number, to: number): PacketVerdict {
    const r = this.icmpv6.check(ip.bytes, from, to);
    if (!r.ok) return DROP[r.reason];
    if (this.verify && !this.icmpv6.verifyChecksum(ip.pseudoHeaderSum(IpProtocol.Icmpv6, to - from))) return DROP['bad-checksum'];
    return verdicts.icmpv6;
  }

  private otherOf(verdicts: Verdicts, protocol: number, from: number, to: number): PacketVerdict {
    this.other.point(protocol, from, to);
    return verdicts.other;
  }
}

/** Parse one packet with a parser of its own (allocates; use a PacketParser per flow of packets). */
export function parsePacket(bytes: Uint8Array, options?: PacketParserOptions): PacketVerdict {
  return new PacketParser(options).parse(bytes);
}
