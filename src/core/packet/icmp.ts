/**
 * ICMPv4 (RFC 792, RFC 1191 for the next-hop MTU) and ICMPv6 (RFC 4443) messages: checked views.
 *
 * Every ICMP message starts with type, code, checksum and 4 bytes whose meaning depends on the
 * type (echo: identifier and sequence number; fragmentation needed: next-hop MTU; packet too
 * big: MTU; parameter problem: pointer). Invariants after `check` returns ok:
 * - the message is bytes[start, end) (the IP payload), at least those 8 bytes;
 * - every accessor reads inside them and cannot fail.
 * Before a successful `check` the view shows a blank header (see verdict.ts): reads give 0,
 * writes throw. A type-specific accessor used on another
 *   type reads the same bytes (for example `identifier()` of an error message is its unused
 *   field): ask `messageKind()` first.
 * Error messages quote the packet that caused them after the 8 bytes: `quote` points an
 * `IcmpQuote` view at it (see icmp-quote.ts), with its own verdict.
 *
 * Checksums: ICMPv4's covers the message only; ICMPv6's also covers the IPv6 pseudo-header
 * (RFC 4443 section 2.3), so it changes with the addresses, like TCP's and UDP's.
 * Incremental updates (RFC 1624 eqn 3) equal a full recomputation whenever the message holds a
 * non-zero byte besides the checksum, which ICMPv6 always does through its pseudo-header. An
 * ICMPv4 echo reply of identifier 0, sequence 0 and zero data is all zeros: its checksum must be
 * 0xFFFF, where eqn 3 gives 0x0000 (which a receiver would reject). So a 16-bit update that
 * yields 0 looks at the message (1 time in 65536, and the type byte settles it at once for every
 * type but echo reply) and sends 0xFFFF when it is all zeros.
 */

import { internetChecksum, onesComplementSum, updateChecksum16, updateChecksumBytes } from './checksum.js';
import type { IcmpQuote, IcmpQuoteVerdict } from './icmp-quote.js';
import { DEFAULT_IPV6_LIMITS, type Ipv6Limits } from './ipv6-extensions.js';
import { assertRange, assertU16, assertU32, assertU8 } from './range.js';
import { BLANK, assertWritable, dropTable } from './verdict.js';

export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSolicitation: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
} as const;
export type Icmpv4Type = (typeof Icmpv4Type)[keyof typeof Icmpv4Type];

/** Codes of ICMPv4 Destination Unreachable (RFC 792, RFC 1812 section 5.2.7.1). */
export const Icmpv4UnreachableCode = {
  Net: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
  NetUnknown: 6,
  HostUnknown: 7,
  NetProhibited: 9,
  HostProhibited: 10,
  AdministrativelyProhibited: 13,
} as const;
export type Icmpv4UnreachableCode = (typeof Icmpv4UnreachableCode)[keyof typeof Icmpv4UnreachableCode];

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
} as const;
export type Icmpv6Type = (typeof Icmpv6Type)[keyof typeof Icmpv6Type];

/** What a message is about, across both versions. */
export type IcmpMessageKind =
  | 'echo-request'
  | 'echo-reply'
  | 'destination-unreachable'
  | 'packet-too-big'
  | 'time-exceeded'
  | 'parameter-problem'
  | 'other';

/**
 * Byte offsets from the start of a message: the 4 bytes every message has, then the 4 whose
 * meaning depends on the type.
 */
export const IcmpField = {
  Type: 0,
  Code: 1,
  Checksum: 2,
  /** The 4 type-specific bytes, as one field. */
  RestOfHeader: 4,
  /** Echo request and reply. */
  Identifier: 4,
  SequenceNumber: 6,
  /** ICMPv4 parameter problem: 1 byte; ICMPv6: 4 bytes. */
  Pointer: 4,
  /** ICMPv4 fragmentation needed (RFC 1191): 2 bytes. */
  NextHopMtu: 6,
  /** ICMPv6 packet too big: 4 bytes. */
  Mtu: 4,
  /** What follows: echo data, or the quoted packet of an error. */
  Body: 8,
} as const;

export const ICMP_HEADER_LENGTH = 8;

/** - truncated: fewer than the 8 bytes every message has. */
export type IcmpDropReason = 'truncated';

const DROP = dropTable<IcmpDropReason>(['truncated']);

/** What ICMPv4 and ICMPv6 messages share: the 8-byte header and its common fields. */
export abstract class IcmpMessage {
  protected b: Uint8Array = BLANK;
  protected s = 0;
  protected e = ICMP_HEADER_LENGTH;

  protected point(bytes: Uint8Array, start: number, end: number): IcmpDropReason | null {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = 0;
    this.e = ICMP_HEADER_LENGTH;
    if (end - start < ICMP_HEADER_LENGTH) return 'truncated';
    this.b = bytes;
    this.s = start;
    this.e = end;
    return null;
  }

  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.s;
  }
  get end(): number {
    return this.e;
  }
  /** The whole message: header and body (the ICMPv6 pseudo-header's length). */
  get length(): number {
    return this.e - this.s;
  }
  /** Offset of what follows the 8-byte header: echo data, or the quoted packet of an error. */
  get bodyOffset(): number {
    return this.s + ICMP_HEADER_LENGTH;
  }
  /** What follows the 8-byte header: a view into the message (it allocates the view only). */
  body(): Uint8Array {
    return this.b.subarray(this.s + ICMP_HEADER_LENGTH, this.e);
  }
  /** The 4 type-specific bytes as one unsigned 32-bit number. */
  restOfHeader(): number {
    return this.u32(IcmpField.RestOfHeader);
  }

  protected u16(at: number): number {
    return (this.b[this.s + at]! << 8) | this.b[this.s + at + 1]!;
  }
  protected u32(at: number): number {
    const b = this.b;
    const i = this.s + at;
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }
  type(): number {
    return this.b[this.s + IcmpField.Type]!;
  }
  code(): number {
    return this.b[this.s + IcmpField.Code]!;
  }
  checksum(): number {
    return this.u16(IcmpField.Checksum);
  }
  /** Echo identifier. */
  identifier(): number {
    return this.u16(IcmpField.Identifier);
  }
  /** Echo sequence number. */
  sequenceNumber(): number {
    return this.u16(IcmpField.SequenceNumber);
  }
  abstract messageKind(): IcmpMessageKind;
  abstract isError(): boolean;
  isEcho(): boolean {
    const k = this.messageKind();
    return k === 'echo-request' || k === 'echo-reply';
  }

  protected setU16(at: number, v: number): void {
    assertWritable(this.b);
    this.b[this.s + at] = v >>> 8;
    this.b[this.s + at + 1] = v & 0xff;
  }
  /** Write the word at `at` and update the checksum (see the file comment on an all-zero message). */
  private set16(at: number, v: number): void {
    const c = updateChecksum16(this.checksum(), this.u16(at), v);
    this.setU16(at, v);
    this.setU16(IcmpField.Checksum, c === 0 && this.allZeroButChecksum() ? 0xffff : c);
  }
  private allZeroButChecksum(): boolean {
    const b = this.b;
    const at = this.s + IcmpField.Checksum;
    for (let i = this.s; i < this.e; i++) if (b[i] !== 0 && i !== at && i !== at + 1) return false;
    return true;
  }
  /** Rewrite the echo identifier (query NAT, RFC 5508 section 3.1), checksum kept. */
  setIdentifier(id: number): void {
    assertU16(id, 'identifier');
    this.set16(IcmpField.Identifier, id);
  }
  setSequenceNumber(seq: number): void {
    assertU16(seq, 'sequenceNumber');
    this.set16(IcmpField.SequenceNumber, seq);
  }
  setChecksum(checksum: number): void {
    assertU16(checksum, 'checksum');
    this.setU16(IcmpField.Checksum, checksum);
  }
}

export interface IcmpHeaderFields {
  readonly type: number;
  readonly code: number;
  /** The 4 type-specific bytes (identifier and sequence, MTU, pointer) as one unsigned 32-bit number. */
  readonly rest?: number;
  /** Default 0; fill it afterwards with the message view's `fillChecksum`. */
  readonly checksum?: number;
}

/** Write the 8-byte ICMP (v4 or v6) header at buf[at]; returns 8. Bad fields throw NatAlgError. */
export function emitIcmpHeader(buf: Uint8Array, at: number, f: IcmpHeaderFields): number {
  assertRange(buf, at, at + ICMP_HEADER_LENGTH);
  assertU8(f.type, 'type');
  assertU8(f.code, 'code');
  const rest = f.rest ?? 0;
  const checksum = f.checksum ?? 0;
  assertU32(rest, 'rest');
  assertU16(checksum, 'checksum');
  buf[at + IcmpField.Type] = f.type;
  buf[at + IcmpField.Code] = f.code;
  buf[at + IcmpField.Checksum] = checksum >>> 8;
  buf[at + IcmpField.Checksum + 1] = checksum & 0xff;
  const r = at + IcmpField.RestOfHeader;
  buf[r] = rest >>> 24;
  buf[r + 1] = (rest >>> 16) & 0xff;
  buf[r + 2] = (rest >>> 8) & 0xff;
  buf[r + 3] = rest & 0xff;
  return ICMP_HEADER_LENGTH;
}

/** The header fields of a checked message, as `emitIcmpHeader` takes them. */
export function readIcmpHeaderFields(m: IcmpMessage): IcmpHeaderFields {
  return { type: m.type(), code: m.code(), rest: m.restOfHeader(), checksum: m.checksum() };
}

export type Icmpv4Verdict = { readonly ok: true; readonly message: Icmpv4Message } | { readonly ok: false; readonly reason: IcmpDropReason };

export class Icmpv4Message extends IcmpMessage {
  readonly kind = 'icmpv4' as const;
  private readonly okVerdict: Icmpv4Verdict = { ok: true, message: this };

  static parse(bytes: Uint8Array, start = 0, end = bytes.length): Icmpv4Verdict {
    return new Icmpv4Message().check(bytes, start, end);
  }

  check(bytes: Uint8Array, start = 0, end = bytes.length): Icmpv4Verdict {
    const why = this.point(bytes, start, end);
    return why === null ? this.okVerdict : DROP[why];
  }

  messageKind(): IcmpMessageKind {
    switch (this.type()) {
      case Icmpv4Type.EchoRequest:
        return 'echo-request';
      case Icmpv4Type.EchoReply:
        return 'echo-reply';
      case Icmpv4Type.DestinationUnreachable:
        return 'destination-unreachable';
      case Icmpv4Type.TimeExceeded:
        return 'time-exceeded';
      case Icmpv4Type.ParameterProblem:
        return 'parameter-problem';
      default:
        return 'other';
    }
  }
  /** Messages that quote the offending datagram (RFC 792): also the deprecated quench and redirect. */
  isError(): boolean {
    const t = this.type();
    return (
      t === Icmpv4Type.DestinationUnreachable ||
      t === Icmpv4Type.SourceQuench ||
      t === Icmpv4Type.Redirect ||
      t === Icmpv4Type.TimeExceeded ||
      t === Icmpv4Type.ParameterProblem
    );
  }
  /** Destination unreachable, fragmentation needed and DF set (path MTU discovery). */
  isFragmentationNeeded(): boolean {
    return this.type() === Icmpv4Type.DestinationUnreachable && this.code() === Icmpv4UnreachableCode.FragmentationNeeded;
  }
  /** Next-hop MTU of a fragmentation-needed message (RFC 1191; 0 from routers older than it). */
  nextHopMtu(): number {
    return this.u16(IcmpField.NextHopMtu);
  }
  /** Parameter problem: offset of the offending byte in the quoted header. */
  pointer(): number {
    return this.b[this.s + IcmpField.Pointer]!;
  }
  verifyChecksum(): boolean {
    return onesComplementSum(this.b, this.s, this.e) === 0xffff;
  }
  fillChecksum(): void {
    this.setU16(IcmpField.Checksum, 0);
    this.setU16(IcmpField.Checksum, internetChecksum(this.b, this.s, this.e));
  }
  /** Point `view` at the quoted datagram of an error message (any message: see isError). */
  quote(view: IcmpQuote): IcmpQuoteVerdict {
    return view.check(this.b, this.s + ICMP_HEADER_LENGTH, this.e, 4);
  }
}

export type Icmpv6Verdict = { readonly ok: true; readonly message: Icmpv6Message } | { readonly ok: false; readonly reason: IcmpDropReason };

export class Icmpv6Message extends IcmpMessage {
  readonly kind = 'icmpv6' as const;
  private readonly okVerdict: Icmpv6Verdict = { ok: true, message: this };

  static parse(bytes: Uint8Array, start = 0, end = bytes.length): Icmpv6Verdict {
    return new Icmpv6Message().check(bytes, start, end);
  }

  check(bytes: Uint8Array, start = 0, end = bytes.length): Icmpv6Verdict {
    const why = this.point(bytes, start, end);
    return why === null ? this.okVerdict : DROP[why];
  }

  messageKind(): IcmpMessageKind {
    switch (this.type()) {
      case Icmpv6Type.EchoRequest:
        return 'echo-request';
      case Icmpv6Type.EchoReply:
        return 'echo-reply';
      case Icmpv6Type.DestinationUnreachable:
        return 'destination-unreachable';
      case Icmpv6Type.PacketTooBig:
        return 'packet-too-big';
      case Icmpv6Type.TimeExceeded:
        return 'time-exceeded';
      case Icmpv6Type.ParameterProblem:
        return 'parameter-problem';
      default:
        return 'other';
    }
  }
  /** Types 0-127 are errors (RFC 4443 section 2.1); they quote the invoking packet. */
  isError(): boolean {
    return this.type() < 128;
  }
  /** MTU of a packet-too-big message. */
  mtu(): number {
    return this.u32(IcmpField.Mtu);
  }
  /** Parameter problem: offset of the offending byte in the quoted packet. */
  pointer(): number {
    return this.u32(IcmpField.Pointer);
  }
  /** With `ip.pseudoHeaderSum(58, message.length)`. */
  verifyChecksum(pseudoHeaderSum: number): boolean {
    return onesComplementSum(this.b, this.s, this.e, pseudoHeaderSum) === 0xffff;
  }
  fillChecksum(pseudoHeaderSum: number): void {
    this.setU16(IcmpField.Checksum, 0);
    this.setU16(IcmpField.Checksum, internetChecksum(this.b, this.s, this.e, pseudoHeaderSum));
  }
  /** An address of the pseudo-header changed; call before overwriting the old bytes. */
  adjustChecksumBytes(oldBytes: Uint8Array, oldStart: number, newBytes: Uint8Array, newStart: number, length: number): void {
    this.setU16(IcmpField.Checksum, updateChecksumBytes(this.checksum(), oldBytes, oldStart, newBytes, newStart, length));
  }
  quote(view: IcmpQuote, limits: Ipv6Limits = DEFAULT_IPV6_LIMITS): IcmpQuoteVerdict {
    return view.check(this.b, this.s + ICMP_HEADER_LENGTH, this.e, 6, limits);
  }
}
