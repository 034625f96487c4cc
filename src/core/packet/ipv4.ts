/**
 * IPv4 header (RFC 791 section 3.1): a checked view over bytes from the network, and an emitter.
 *
 * Invariants after `check` returns ok (until the next `check`):
 * - bytes[start] has version 4 and an IHL of at least 5; the header (IHL * 4 bytes) and the
 *   whole datagram (Total Length bytes) lie within [start, end) given to `check`;
 * - `end` is start + Total Length: trailing bytes (Ethernet padding of a short frame) are not part
 *   of the packet and not part of its payload;
 * - every accessor reads bytes inside the header and cannot fail.
 * Before a successful `check` the view shows a blank header (see verdict.ts): reads give 0, writes throw.
 *
 * A view is a plain object meant to be re-pointed at packet after packet (`check` allocates
 * nothing); `Ipv4Packet.parse` is the one-shot form. Setters write in place and keep the header
 * checksum correct incrementally (RFC 1624); they do not touch the transport checksum, whose
 * pseudo-header also covers the addresses (see `adjustChecksum32` on the transport views, or
 * `rewriteIpv4Endpoint`, which does both in one call).
 */

import { formatIPv4 } from '../net/ip.js';
import { NatAlgError } from '../errors.js';
import { internetChecksum, ipv4PseudoHeaderSum, onesComplementSum, updateChecksum16, updateChecksum16Pair } from './checksum.js';
import { assertRange, assertU16, assertU32, assertU8 } from './range.js';
import { BLANK, assertWritable, dropTable } from './verdict.js';

/** Byte offsets of the fields, from the start of the header. */
export const Ipv4Field = {
  VersionIhl: 0,
  Tos: 1,
  TotalLength: 2,
  Identification: 4,
  FlagsFragmentOffset: 6,
  Ttl: 8,
  Protocol: 9,
  Checksum: 10,
  Source: 12,
  Destination: 16,
  Options: 20,
} as const;

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;
export const IPV4_MAX_TOTAL_LENGTH = 65535;

/** Bits of the 16-bit flags/fragment-offset word. */
const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/**
 * - truncated: fewer bytes than 20, than the header length, or than Total Length says;
 * - bad-version: the version nibble is not 4;
 * - bad-header-length: IHL below 5;
 * - bad-total-length: Total Length smaller than the header;
 * - bad-header-checksum: the header checksum does not verify (only when asked to verify).
 */
export type Ipv4DropReason = 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-total-length' | 'bad-header-checksum';

const DROP = dropTable<Ipv4DropReason>(['truncated', 'bad-version', 'bad-header-length', 'bad-total-length', 'bad-header-checksum']);

export type Ipv4Verdict = { readonly ok: true; readonly packet: Ipv4Packet } | { readonly ok: false; readonly reason: Ipv4DropReason };

const EMPTY = new Uint8Array(0);

export class Ipv4Packet {
  readonly version = 4 as const;
  private b: Uint8Array = BLANK;
  private s = 0;
  private hl = IPV4_MIN_HEADER_LENGTH;
  private tl = IPV4_MIN_HEADER_LENGTH;
  private readonly okVerdict: Ipv4Verdict = { ok: true, packet: this };

  /** Check bytes[start, end) as an IPv4 packet with a new view. */
  static parse(bytes: Uint8Array, start = 0, end = bytes.length, verifyChecksum = false): Ipv4Verdict {
    return new Ipv4Packet().check(bytes, start, end, verifyChecksum);
  }

  /**
   * Point this view at bytes[start, end) and check it. The range must lie within `bytes` (a
   * programming error throws); anything in the bytes themselves gives a verdict.
   */
  check(bytes: Uint8Array, start = 0, end = bytes.length, verifyChecksum = false): Ipv4Verdict {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = 0;
    this.hl = this.tl = IPV4_MIN_HEADER_LENGTH;
    const available = end - start;
    if (available < IPV4_MIN_HEADER_LENGTH) return DROP.truncated;
    const vihl = bytes[start]!;
    if (vihl >> 4 !== 4) return DROP['bad-version'];
    const hl = (vihl & 0x0f) << 2;
    if (hl < IPV4_MIN_HEADER_LENGTH) return DROP['bad-header-length'];
    if (hl > available) return DROP.truncated;
    const tl = (bytes[start + Ipv4Field.TotalLength]! << 8) | bytes[start + Ipv4Field.TotalLength + 1]!;
    if (tl < hl) return DROP['bad-total-length'];
    if (tl > available) return DROP.truncated;
    // A correct header sums to 0xFFFF (its checksum is the complement of the rest).
    if (verifyChecksum && onesComplementSum(bytes, start, start + hl) !== 0xffff) return DROP['bad-header-checksum'];
    this.b = bytes;
    this.s = start;
    this.hl = hl;
    this.tl = tl;
    return this.okVerdict;
  }

  // ------------------------------------------------------------ layout (fixed by check)

  get bytes(): Uint8Array {
    return this.b;
  }
  /** Offset of the header in `bytes`. */
  get start(): number {
    return this.s;
  }
  /** Offset just past the packet (start + Total Length); trailing bytes beyond are not ours. */
  get end(): number {
    return this.s + this.tl;
  }
  get headerLength(): number {
    return this.hl;
  }
  get totalLength(): number {
    return this.tl;
  }
  get payloadOffset(): number {
    return this.s + this.hl;
  }
  get payloadLength(): number {
    return this.tl - this.hl;
  }
  get sourceOffset(): number {
    return this.s + Ipv4Field.Source;
  }
  get destinationOffset(): number {
    return this.s + Ipv4Field.Destination;
  }
  get optionsOffset(): number {
    return this.s + Ipv4Field.Options;
  }
  get optionsLength(): number {
    return this.hl - IPV4_MIN_HEADER_LENGTH;
  }
  hasOptions(): boolean {
    return this.hl > IPV4_MIN_HEADER_LENGTH;
  }

  // ------------------------------------------------------------ fields

  private u16(at: number): number {
    return (this.b[this.s + at]! << 8) | this.b[this.s + at + 1]!;
  }
  private u32(at: number): number {
    const b = this.b;
    const i = this.s + at;
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }

  /** Differentiated Services code point (RFC 2474), the top 6 bits of the old TOS byte. */
  dscp(): number {
    return this.b[this.s + Ipv4Field.Tos]! >> 2;
  }
  /** Explicit Congestion Notification bits (RFC 3168). */
  ecn(): number {
    return this.b[this.s + Ipv4Field.Tos]! & 3;
  }
  identification(): number {
    return this.u16(Ipv4Field.Identification);
  }
  /** The reserved ("evil", RFC 3514) flag bit, which senders must leave clear. */
  reservedFlag(): boolean {
    return (this.u16(Ipv4Field.FlagsFragmentOffset) & FLAG_RESERVED) !== 0;
  }
  dontFragment(): boolean {
    return (this.u16(Ipv4Field.FlagsFragmentOffset) & FLAG_DF) !== 0;
  }
  moreFragments(): boolean {
    return (this.u16(Ipv4Field.FlagsFragmentOffset) & FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  fragmentOffset(): number {
    return (this.u16(Ipv4Field.FlagsFragmentOffset) & OFFSET_MASK) << 3;
  }
  /** A fragment: more fragments follow or this one is not the first. */
  isFragment(): boolean {
    return (this.u16(Ipv4Field.FlagsFragmentOffset) & (FLAG_MF | OFFSET_MASK)) !== 0;
  }
  ttl(): number {
    return this.b[this.s + Ipv4Field.Ttl]!;
  }
  protocol(): number {
    return this.b[this.s + Ipv4Field.Protocol]!;
  }
  headerChecksum(): number {
    return this.u16(Ipv4Field.Checksum);
  }
  verifyHeaderChecksum(): boolean {
    return onesComplementSum(this.b, this.s, this.s + this.hl) === 0xffff;
  }
  /** Source address as an unsigned 32-bit number (the mapping table's numeric form). */
  sourceAddress(): number {
    return this.u32(Ipv4Field.Source);
  }
  destinationAddress(): number {
    return this.u32(Ipv4Field.Destination);
  }
  /** The 4 source bytes: a view into the packet (it allocates the view, not the bytes). */
  sourceBytes(): Uint8Array {
    return this.b.subarray(this.s + Ipv4Field.Source, this.s + Ipv4Field.Source + 4);
  }
  destinationBytes(): Uint8Array {
    return this.b.subarray(this.s + Ipv4Field.Destination, this.s + Ipv4Field.Destination + 4);
  }
  sourceText(): string {
    return formatIPv4(this.b, this.s + Ipv4Field.Source);
  }
  destinationText(): string {
    return formatIPv4(this.b, this.s + Ipv4Field.Destination);
  }
  /** Sum of the pseudo-header for an upper layer of `length` bytes (see checksum.ts). */
  pseudoHeaderSum(protocol: number, length: number): number {
    return ipv4PseudoHeaderSum(this.b, this.s + Ipv4Field.Source, this.s + Ipv4Field.Destination, protocol, length);
  }

  // ------------------------------------------------------------ setters (in place)

  private setU16(at: number, v: number): void {
    assertWritable(this.b);
    this.b[this.s + at] = v >>> 8;
    this.b[this.s + at + 1] = v & 0xff;
  }
  /** Write an address given as 16-bit halves (small integers: see updateChecksum32 on why). */
  private setAddressWords(at: number, high: number, low: number): void {
    const c = updateChecksum16Pair(this.headerChecksum(), this.u16(at), this.u16(at + 2), high, low);
    this.setU16(Ipv4Field.Checksum, c);
    this.setU16(at, high);
    this.setU16(at + 2, low);
  }

  setSourceAddress(address: number): void {
    assertU32(address, 'address');
    this.setAddressWords(Ipv4Field.Source, address >>> 16, address & 0xffff);
  }
  setDestinationAddress(address: number): void {
    assertU32(address, 'address');
    this.setAddressWords(Ipv4Field.Destination, address >>> 16, address & 0xffff);
  }
  /** TTL shares a 16-bit word with the protocol: the update covers the whole word. */
  setTtl(ttl: number): void {
    assertU8(ttl, 'ttl');
    const old = this.u16(Ipv4Field.Ttl);
    const next = (ttl << 8) | (old & 0xff);
    this.setU16(Ipv4Field.Checksum, updateChecksum16(this.headerChecksum(), old, next));
    this.setU16(Ipv4Field.Ttl, next);
  }
  setIdentification(id: number): void {
    assertU16(id, 'identification');
    this.setU16(Ipv4Field.Checksum, updateChecksum16(this.headerChecksum(), this.identification(), id));
    this.setU16(Ipv4Field.Identification, id);
  }
  setHeaderChecksum(checksum: number): void {
    assertU16(checksum, 'checksum');
    this.setU16(Ipv4Field.Checksum, checksum);
  }
  /** Recompute the header checksum from scratch. */
  fillHeaderChecksum(): void {
    this.setU16(Ipv4Field.Checksum, 0);
    this.setU16(Ipv4Field.Checksum, internetChecksum(this.b, this.s, this.s + this.hl));
  }
}

/** Everything an IPv4 header says, as the emitter takes it. */
export interface Ipv4HeaderFields {
  readonly dscp?: number;
  readonly ecn?: number;
  /** Header plus payload, in bytes. */
  readonly totalLength: number;
  readonly identification?: number;
  readonly reservedFlag?: boolean;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** In bytes, a multiple of 8. */
  readonly fragmentOffset?: number;
  /** Default 64. */
  readonly ttl?: number;
  readonly protocol: number;
  readonly source: number;
  readonly destination: number;
  /** Raw option bytes, a multiple of 4 long, at most 40. */
  readonly options?: Uint8Array;
}

/**
 * Write an IPv4 header at buf[at] with a correct checksum; returns its length. Fields out of
 * range or a buffer too short throw NatAlgError (the caller's mistake, not the network's).
 */
export function emitIpv4Header(buf: Uint8Array, at: number, f: Ipv4HeaderFields): number {
  const options = f.options ?? EMPTY;
  if (options.length % 4 !== 0 || options.length > IPV4_MAX_HEADER_LENGTH - IPV4_MIN_HEADER_LENGTH) {
    throw new NatAlgError('invalid-argument', 'IPv4 options must be a multiple of 4 bytes, at most 40');
  }
  const hl = IPV4_MIN_HEADER_LENGTH + options.length;
  assertRange(buf, at, at + hl);
  const dscp = f.dscp ?? 0;
  const ecn = f.ecn ?? 0;
  const offset = f.fragmentOffset ?? 0;
  const ttl = f.ttl ?? 64;
  if (dscp >>> 0 !== dscp || dscp > 63 || ecn >>> 0 !== ecn || ecn > 3) throw new NatAlgError('invalid-argument', 'dscp must be 0-63 and ecn 0-3');
  assertU16(f.totalLength, 'totalLength');
  if (f.totalLength < hl) throw new NatAlgError('invalid-argument', `totalLength ${f.totalLength} is shorter than the ${hl}-byte header`);
  assertU16(f.identification ?? 0, 'identification');
  if (offset >>> 0 !== offset || offset % 8 !== 0 || offset > OFFSET_MASK << 3) {
    throw new NatAlgError('invalid-argument', 'fragmentOffset must be a multiple of 8 bytes, at most 65528');
  }
  assertU8(ttl, 'ttl');
  assertU8(f.protocol, 'protocol');
  assertU32(f.source, 'source');
  assertU32(f.destination, 'destination');
  const flags = (f.reservedFlag ? FLAG_RESERVED : 0) | (f.dontFragment ? FLAG_DF : 0) | (f.moreFragments ? FLAG_MF : 0) | (offset >>> 3);
  const put16 = (i: number, v: number): void => {
    buf[at + i] = v >>> 8;
    buf[at + i + 1] = v & 0xff;
  };
  const put32 = (i: number, v: number): void => {
    put16(i, v >>> 16);
    put16(i + 2, v & 0xffff);
  };
  buf[at + Ipv4Field.VersionIhl] = 0x40 | (hl >> 2);
  buf[at + Ipv4Field.Tos] = (dscp << 2) | ecn;
  put16(Ipv4Field.TotalLength, f.totalLength);
  put16(Ipv4Field.Identification, f.identification ?? 0);
  put16(Ipv4Field.FlagsFragmentOffset, flags);
  buf[at + Ipv4Field.Ttl] = ttl;
  buf[at + Ipv4Field.Protocol] = f.protocol;
  put16(Ipv4Field.Checksum, 0);
  put32(Ipv4Field.Source, f.source);
  put32(Ipv4Field.Destination, f.destination);
  buf.set(options, at + Ipv4Field.Options);
  put16(Ipv4Field.Checksum, internetChecksum(buf, at, at + hl));
  return hl;
}

/** The fields of a checked header, as `emitIpv4Header` takes them (emit(read(p)) == p's header). */
export function readIpv4HeaderFields(p: Ipv4Packet): Ipv4HeaderFields {
  return {
    dscp: p.dscp(),
    ecn: p.ecn(),
    totalLength: p.totalLength,
    identification: p.identification(),
    reservedFlag: p.reservedFlag(),
    dontFragment: p.dontFragment(),
    moreFragments: p.moreFragments(),
    fragmentOffset: p.fragmentOffset(),
    ttl: p.ttl(),
    protocol: p.protocol(),
    source: p.sourceAddress(),
    destination: p.destinationAddress(),
    options: p.bytes.slice(p.optionsOffset, p.optionsOffset + p.optionsLength),
  };
}
