/**
 * IPv6 header (RFC 8200 section 3) with its extension-header chain: a checked view and an emitter.
 *
 * Invariants after `check` returns ok (until the next `check`):
 * - bytes[start] has version 6, the 40-byte header and Payload Length bytes after it lie within
 *   the range given to `check`; `end` is start + 40 + Payload Length (trailing bytes are not ours);
 * - the extension headers were walked within bounds (see ipv6-extensions.ts) and
 *   `upperProtocol` / `upperOffset` name the upper layer, or, for a fragment, what follows the
 *   Fragment header;
 * - every accessor reads inside the checked bytes and cannot fail.
 * Before a successful `check` the view shows a blank header (see verdict.ts): reads give 0, writes throw.
 *
 * A Payload Length of 0 with a Hop-by-Hop header next is a jumbogram (RFC 2675), which this
 * layer refuses ('jumbogram'); a Payload Length of 0 otherwise is an empty payload.
 *
 * IPv6 has no header checksum: changing an address (setters below) changes only the upper
 * layer's checksum, through its pseudo-header, which the caller adjusts on the transport view.
 */

import { formatIPv6 } from '../net/ip.js';
import { NatAlgError } from '../errors.js';
import { ipv6PseudoHeaderSum } from './checksum.js';
import { IpProtocol } from './ip-protocol.js';
import { DEFAULT_IPV6_LIMITS, Ipv6FragmentField, Ipv6HeaderChain, type Ipv6ChainDropReason, type Ipv6Limits } from './ipv6-extensions.js';
import { assertRange, assertU16, assertU8 } from './range.js';
import { BLANK, assertWritable, dropTable } from './verdict.js';

/** Byte offsets of the fixed header's fields. */
export const Ipv6Field = {
  VersionClassFlow: 0,
  PayloadLength: 4,
  NextHeader: 6,
  HopLimit: 7,
  Source: 8,
  Destination: 24,
} as const;

export const IPV6_HEADER_LENGTH = 40;

export type Ipv6DropReason = 'truncated' | 'bad-version' | 'jumbogram' | Ipv6ChainDropReason;

const DROP = dropTable<Ipv6DropReason>([
  'truncated',
  'bad-version',
  'jumbogram',
  'too-many-extension-headers',
  'extension-headers-too-long',
  'bad-extension-header',
]);

export type Ipv6Verdict = { readonly ok: true; readonly packet: Ipv6Packet } | { readonly ok: false; readonly reason: Ipv6DropReason };

export class Ipv6Packet {
  readonly version = 6 as const;
  private b: Uint8Array = BLANK;
  private s = 0;
  private pl = 0;
  private readonly chain = new Ipv6HeaderChain();
  private readonly okVerdict: Ipv6Verdict = { ok: true, packet: this };

  static parse(bytes: Uint8Array, start = 0, end = bytes.length, limits: Ipv6Limits = DEFAULT_IPV6_LIMITS): Ipv6Verdict {
    return new Ipv6Packet().check(bytes, start, end, limits);
  }

  /** Point this view at bytes[start, end) and check it (see the file comment). */
  check(bytes: Uint8Array, start = 0, end = bytes.length, limits: Ipv6Limits = DEFAULT_IPV6_LIMITS): Ipv6Verdict {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = this.pl = 0;
    this.chain.clear(IPV6_HEADER_LENGTH);
    if (end - start < IPV6_HEADER_LENGTH) return DROP.truncated;
    if (bytes[start]! >> 4 !== 6) return DROP['bad-version'];
    const pl = (bytes[start + Ipv6Field.PayloadLength]! << 8) | bytes[start + Ipv6Field.PayloadLength + 1]!;
    if (pl === 0 && bytes[start + Ipv6Field.NextHeader] === IpProtocol.HopByHop) return DROP.jumbogram;
    const packetEnd = start + IPV6_HEADER_LENGTH + pl;
    if (packetEnd > end) return DROP.truncated;
    const why = this.chain.walk(bytes, start + Ipv6Field.NextHeader, start + IPV6_HEADER_LENGTH, packetEnd, limits);
    if (why !== null) {
      this.chain.clear(IPV6_HEADER_LENGTH);
      return DROP[why];
    }
    this.b = bytes;
    this.s = start;
    this.pl = pl;
    return this.okVerdict;
  }

  // ------------------------------------------------------------ layout (fixed by check)

  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.s;
  }
  /** Offset just past the packet: start + 40 + Payload Length. */
  get end(): number {
    return this.s + IPV6_HEADER_LENGTH + this.pl;
  }
  get payloadLength(): number {
    return this.pl;
  }
  get sourceOffset(): number {
    return this.s + Ipv6Field.Source;
  }
  get destinationOffset(): number {
    return this.s + Ipv6Field.Destination;
  }
  /** Upper-layer protocol (for a fragment: the Fragment header's Next Header). */
  get upperProtocol(): number {
    return this.chain.upperProtocol;
  }
  /** Offset of the upper-layer header (for a fragment: of the fragment's data). */
  get upperOffset(): number {
    return this.chain.upperOffset;
  }
  /** Bytes from the upper-layer header to the end of the packet. */
  get upperLength(): number {
    return this.end - this.chain.upperOffset;
  }
  get extensionHeaderCount(): number {
    return this.chain.count;
  }

  // ------------------------------------------------------------ fields

  private u32(at: number): number {
    const b = this.b;
    const i = this.s + at;
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }

  trafficClass(): number {
    return (this.u32(Ipv6Field.VersionClassFlow) >>> 20) & 0xff;
  }
  flowLabel(): number {
    return this.u32(Ipv6Field.VersionClassFlow) & 0xfffff;
  }
  /** Next Header of the fixed header (the first extension header, or the upper layer). */
  nextHeader(): number {
    return this.b[this.s + Ipv6Field.NextHeader]!;
  }
  hopLimit(): number {
    return this.b[this.s + Ipv6Field.HopLimit]!;
  }
  /** The 16 source bytes: a view into the packet (it allocates the view, not the bytes). */
  sourceBytes(): Uint8Array {
    return this.b.subarray(this.s + Ipv6Field.Source, this.s + Ipv6Field.Source + 16);
  }
  destinationBytes(): Uint8Array {
    return this.b.subarray(this.s + Ipv6Field.Destination, this.s + Ipv6Field.Destination + 16);
  }
  sourceText(): string {
    return formatIPv6(this.b, this.s + Ipv6Field.Source);
  }
  destinationText(): string {
    return formatIPv6(this.b, this.s + Ipv6Field.Destination);
  }
  pseudoHeaderSum(nextHeader: number, length: number): number {
    return ipv6PseudoHeaderSum(this.b, this.s + Ipv6Field.Source, this.s + Ipv6Field.Destination, nextHeader, length);
  }

  // ------------------------------------------------------------ fragment header

  /** A Fragment header is present (atomic or not). */
  hasFragmentHeader(): boolean {
    return this.chain.fragmentAt >= 0;
  }
  /** A real fragment: a Fragment header with offset or M set. The upper layer is then not here. */
  isFragment(): boolean {
    return this.chain.fragmented;
  }
  /** Offset of the Fragment header, or -1: the unfragmentable part ends there. */
  get fragmentHeaderOffset(): number {
    return this.chain.fragmentAt;
  }
  /** Offset of the Next Header byte that names the Fragment header, or -1. */
  get fragmentLinkOffset(): number {
    return this.chain.fragmentLinkAt;
  }
  /** Fragment offset in bytes; 0 without a Fragment header. */
  fragmentOffset(): number {
    const at = this.chain.fragmentAt;
    if (at < 0) return 0;
    return ((this.b[at + Ipv6FragmentField.OffsetFlags]! << 8) | this.b[at + Ipv6FragmentField.OffsetFlags + 1]!) & 0xfff8;
  }
  moreFragments(): boolean {
    const at = this.chain.fragmentAt;
    return at >= 0 && (this.b[at + Ipv6FragmentField.OffsetFlags + 1]! & 1) === 1;
  }
  /** The Fragment header's 32-bit Identification; 0 without one. */
  fragmentIdentification(): number {
    const at = this.chain.fragmentAt;
    if (at < 0) return 0;
    const b = this.b;
    const i = at + Ipv6FragmentField.Identification;
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }

  // ------------------------------------------------------------ setters (in place)

  setHopLimit(hopLimit: number): void {
    assertU8(hopLimit, 'hopLimit');
    assertWritable(this.b);
    this.b[this.s + Ipv6Field.HopLimit] = hopLimit;
  }
  /**
   * Copy a 16-byte source address from address[at]. No checksum here: adjust the transport's
   * (`adjustChecksumBytes`) before overwriting, while the old address is still in place.
   */
  setSource(address: Uint8Array, at = 0): void {
    this.copyAddress(address, at, this.s + Ipv6Field.Source);
  }
  setDestination(address: Uint8Array, at = 0): void {
    this.copyAddress(address, at, this.s + Ipv6Field.Destination);
  }
  /** A 16-byte loop: no subarray object per packet. */
  private copyAddress(address: Uint8Array, at: number, to: number): void {
    assertRange(address, at, at + 16);
    assertWritable(this.b);
    const b = this.b;
    for (let k = 0; k < 16; k++) b[to + k] = address[at + k]!;
  }
}

export interface Ipv6HeaderFields {
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  readonly payloadLength: number;
  readonly nextHeader: number;
  /** Default 64. */
  readonly hopLimit?: number;
  /** 16 bytes. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/** Write the 40-byte fixed header at buf[at]; returns 40. Bad fields throw NatAlgError. */
export function emitIpv6Header(buf: Uint8Array, at: number, f: Ipv6HeaderFields): number {
  assertRange(buf, at, at + IPV6_HEADER_LENGTH);
  const tc = f.trafficClass ?? 0;
  const flow = f.flowLabel ?? 0;
  assertU8(tc, 'trafficClass');
  if (flow >>> 0 !== flow || flow > 0xfffff) throw new NatAlgError('invalid-argument', 'flowLabel must be 0-0xFFFFF');
  assertU16(f.payloadLength, 'payloadLength');
  assertU8(f.nextHeader, 'nextHeader');
  assertU8(f.hopLimit ?? 64, 'hopLimit');
  if (f.source.length !== 16 || f.destination.length !== 16) throw new NatAlgError('invalid-argument', 'IPv6 addresses are 16 bytes');
  const first = ((6 << 28) | (tc << 20) | flow) >>> 0;
  buf[at] = first >>> 24;
  buf[at + 1] = (first >>> 16) & 0xff;
  buf[at + 2] = (first >>> 8) & 0xff;
  buf[at + 3] = first & 0xff;
  buf[at + Ipv6Field.PayloadLength] = f.payloadLength >>> 8;
  buf[at + Ipv6Field.PayloadLength + 1] = f.payloadLength & 0xff;
  buf[at + Ipv6Field.NextHeader] = f.nextHeader;
  buf[at + Ipv6Field.HopLimit] = f.hopLimit ?? 64;
  buf.set(f.source, at + Ipv6Field.Source);
  buf.set(f.destination, at + Ipv6Field.Destination);
  return IPV6_HEADER_LENGTH;
}

/** The fixed header's fields of a checked packet, as `emitIpv6Header` takes them. */
export function readIpv6HeaderFields(p: Ipv6Packet): Ipv6HeaderFields {
  return {
    trafficClass: p.trafficClass(),
    flowLabel: p.flowLabel(),
    payloadLength: p.payloadLength,
    nextHeader: p.nextHeader(),
    hopLimit: p.hopLimit(),
    source: p.bytes.slice(p.sourceOffset, p.sourceOffset + 16),
    destination: p.bytes.slice(p.destinationOffset, p.destinationOffset + 16),
  };
}
