/**
 * The packet quoted in an ICMP error message (RFC 792: the IP header and at least 8 bytes of
 * what followed; RFC 1812 and RFC 4443: as much as fits). A NAT reads it to find the flow the
 * error is about, from the quoted addresses and ports (RFC 5508 section 4).
 *
 * The quote is a packet cut short on purpose, so this view is lenient where the packet views
 * are strict: the quoted Total Length / Payload Length may exceed what is present, and the
 * transport header may be partial or absent. Invariants after `check` returns ok:
 * - the quoted IP header is complete: version matching the ICMP version, a valid IHL (IPv4), the
 *   addresses present, so the address accessors cannot fail;
 * - `transportOffset` / `transportLength` give the bytes of the quoted transport header that are
 *   present (at most up to the quoted packet's own length), 0 when none: a non-first fragment,
 *   or an IPv6 extension-header chain that is not whole within the quote or within the bounds;
 * - `hasPorts()` and the other `has…()` say which transport fields are present; the accessors
 *   behind them read 0 when asked anyway, never out of range.
 */

import { formatIPv4, formatIPv6 } from '../net/ip.js';
import { IcmpField, Icmpv4Type, Icmpv6Type } from './icmp.js';
import { IpProtocol, hasPortsAtStart } from './ip-protocol.js';
import { Ipv4Field } from './ipv4.js';
import { Ipv6Field, IPV6_HEADER_LENGTH } from './ipv6.js';
import { TcpField } from './tcp.js';
import { DEFAULT_IPV6_LIMITS, Ipv6FragmentField, Ipv6HeaderChain, type Ipv6Limits } from './ipv6-extensions.js';
import { assertRange } from './range.js';
import { toSeq, type SeqNumber } from './seq-number.js';
import { BLANK, dropTable } from './verdict.js';

/**
 * - truncated: the quoted IP header is not whole;
 * - bad-version: the quoted header is not of the ICMP message's IP version;
 * - bad-header-length: quoted IPv4 IHL below 5;
 * - bad-total-length: quoted IPv4 Total Length smaller than its header.
 */
export type IcmpQuoteDropReason = 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-total-length';

const DROP = dropTable<IcmpQuoteDropReason>(['truncated', 'bad-version', 'bad-header-length', 'bad-total-length']);

export type IcmpQuoteVerdict = { readonly ok: true; readonly quote: IcmpQuote } | { readonly ok: false; readonly reason: IcmpQuoteDropReason };

export class IcmpQuote {
  private b: Uint8Array = BLANK;
  private s = 0;
  private v: 4 | 6 = 4;
  private hl = 20;
  private claimed = 20;
  private present = 20;
  private proto = -1;
  private to = 20;
  private tl = 0;
  private readonly chain = new Ipv6HeaderChain();
  private readonly okVerdict: IcmpQuoteVerdict = { ok: true, quote: this };

  /** Point this view at the quote bytes[start, end) of an ICMPv`version` error and check it. */
  check(bytes: Uint8Array, start: number, end: number, version: 4 | 6, limits: Ipv6Limits = DEFAULT_IPV6_LIMITS): IcmpQuoteVerdict {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = this.tl = 0;
    this.v = 4;
    this.hl = this.claimed = this.present = this.to = 20;
    this.proto = -1;
    const available = end - start;
    return version === 4 ? this.check4(bytes, start, available) : this.check6(bytes, start, available, limits);
  }

  private check4(bytes: Uint8Array, start: number, available: number): IcmpQuoteVerdict {
    if (available < 20) return DROP.truncated;
    const vihl = bytes[start]!;
    if (vihl >> 4 !== 4) return DROP['bad-version'];
    const hl = (vihl & 0x0f) << 2;
    if (hl < 20) return DROP['bad-header-length'];
    if (hl > available) return DROP.truncated;
    const claimed = (bytes[start + Ipv4Field.TotalLength]! << 8) | bytes[start + Ipv4Field.TotalLength + 1]!;
    if (claimed < hl) return DROP['bad-total-length'];
    this.set(bytes, start, 4, hl, claimed, Math.min(available, claimed));
    this.proto = bytes[start + Ipv4Field.Protocol]!;
    // Only the first fragment carries the transport header.
    const fragmentOffset = ((bytes[start + Ipv4Field.FlagsFragmentOffset]! << 8) | bytes[start + Ipv4Field.FlagsFragmentOffset + 1]!) & 0x1fff;
    this.to = start + hl;
    this.tl = fragmentOffset === 0 ? this.present - hl : 0;
    return this.okVerdict;
  }

  private check6(bytes: Uint8Array, start: number, available: number, limits: Ipv6Limits): IcmpQuoteVerdict {
    if (available < IPV6_HEADER_LENGTH) return DROP.truncated;
    if (bytes[start]! >> 4 !== 6) return DROP['bad-version'];
    const claimed = IPV6_HEADER_LENGTH + ((bytes[start + Ipv6Field.PayloadLength]! << 8) | bytes[start + Ipv6Field.PayloadLength + 1]!);
    this.set(bytes, start, 6, IPV6_HEADER_LENGTH, claimed, Math.min(available, claimed));
    const why = this.chain.walk(bytes, start + Ipv6Field.NextHeader, start + IPV6_HEADER_LENGTH, start + this.present, limits);
    this.to = start + this.present;
    if (why === null && !(this.chain.fragmented && this.fragmentOffsetOfChain(bytes) !== 0)) {
      this.proto = this.chain.upperProtocol;
      this.to = this.chain.upperOffset;
      this.tl = start + this.present - this.to;
    }
    return this.okVerdict;
  }

  private fragmentOffsetOfChain(bytes: Uint8Array): number {
    const at = this.chain.fragmentAt;
    return ((bytes[at + Ipv6FragmentField.OffsetFlags]! << 8) | bytes[at + Ipv6FragmentField.OffsetFlags + 1]!) & 0xfff8;
  }

  private set(bytes: Uint8Array, start: number, v: 4 | 6, hl: number, claimed: number, present: number): void {
    this.b = bytes;
    this.s = start;
    this.v = v;
    this.hl = hl;
    this.claimed = claimed;
    this.present = present;
  }

  // ------------------------------------------------------------ layout

  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.s;
  }
  get version(): 4 | 6 {
    return this.v;
  }
  /** Quoted IP header length (IPv4 IHL * 4; IPv6 40, extension headers not included). */
  get headerLength(): number {
    return this.hl;
  }
  /** Length the quoted packet had (IPv4 Total Length; IPv6 40 + Payload Length). */
  get originalLength(): number {
    return this.claimed;
  }
  /** Bytes of the quoted packet present in the quote. */
  get quotedLength(): number {
    return this.present;
  }
  /** The whole original packet is quoted. */
  isComplete(): boolean {
    return this.present === this.claimed;
  }
  /** Upper-layer protocol of the quoted packet, or -1 when the IPv6 header chain could not be followed. */
  get protocol(): number {
    return this.proto;
  }
  get transportOffset(): number {
    return this.to;
  }
  /** Bytes of the quoted transport header (and beyond) present; 0 when none. */
  get transportLength(): number {
    return this.tl;
  }
  get sourceOffset(): number {
    return this.s + (this.v === 4 ? Ipv4Field.Source : Ipv6Field.Source);
  }
  get destinationOffset(): number {
    return this.s + (this.v === 4 ? Ipv4Field.Destination : Ipv6Field.Destination);
  }

  // ------------------------------------------------------------ fields

  private u16(at: number): number {
    return (this.b[at]! << 8) | this.b[at + 1]!;
  }
  private u32(at: number): number {
    const b = this.b;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }
  /** IPv4 quote: source address as an unsigned 32-bit number (0 for IPv6: use sourceOffset). */
  sourceAddress(): number {
    return this.v === 4 ? this.u32(this.sourceOffset) : 0;
  }
  destinationAddress(): number {
    return this.v === 4 ? this.u32(this.destinationOffset) : 0;
  }
  sourceText(): string {
    return this.v === 4 ? formatIPv4(this.b, this.sourceOffset) : formatIPv6(this.b, this.sourceOffset);
  }
  destinationText(): string {
    return this.v === 4 ? formatIPv4(this.b, this.destinationOffset) : formatIPv6(this.b, this.destinationOffset);
  }
  /** Both ports of a TCP, UDP, UDP-Lite, DCCP or SCTP header are quoted. */
  hasPorts(): boolean {
    return this.tl >= 4 && hasPortsAtStart(this.proto);
  }
  sourcePort(): number {
    return this.hasPorts() ? this.u16(this.to + TcpField.SourcePort) : 0;
  }
  destinationPort(): number {
    return this.hasPorts() ? this.u16(this.to + TcpField.DestinationPort) : 0;
  }
  /** A quoted TCP header with its sequence number (needed to undo a sequence-number shift). */
  hasTcpSeqNumber(): boolean {
    return this.proto === IpProtocol.Tcp && this.tl >= 8;
  }
  tcpSeqNumber(): SeqNumber {
    return toSeq(this.hasTcpSeqNumber() ? this.u32(this.to + TcpField.SeqNumber) : 0);
  }
  /** A quoted ICMP echo request or reply with its identifier (query NAT). */
  hasIcmpEcho(): boolean {
    if (this.tl < 8) return false;
    const t = this.b[this.to + IcmpField.Type]!;
    if (this.v === 4) return this.proto === IpProtocol.Icmp && (t === Icmpv4Type.EchoRequest || t === Icmpv4Type.EchoReply);
    return this.proto === IpProtocol.Icmpv6 && (t === Icmpv6Type.EchoRequest || t === Icmpv6Type.EchoReply);
  }
  icmpIdentifier(): number {
    return this.hasIcmpEcho() ? this.u16(this.to + IcmpField.Identifier) : 0;
  }
}
