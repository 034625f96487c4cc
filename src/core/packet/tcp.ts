/**
 * TCP header (RFC 9293 section 3.1): a checked view, setters that keep the checksum correct
 * incrementally, and an emitter.
 *
 * Invariants after `check` returns ok (until the next `check`):
 * - the segment is bytes[start, end) (the IP payload), at least 20 bytes;
 * - Data Offset is at least 5 and the header (Data Offset * 4 bytes) lies within the segment;
 * - every accessor reads inside the header and cannot fail.
 * Before a successful `check` the view shows a blank header (see verdict.ts): reads give 0, writes throw.
 * Options are read on demand (`readOptions`), with their own verdict: a segment whose options
 * are malformed is still a segment whose ports can be read.
 *
 * The checksum covers a pseudo-header (addresses, protocol, length) that lives in the IP header:
 * verifying or filling it takes the pseudo-header sum from the IP view
 * (`ip.pseudoHeaderSum(6, tcp.length)`), and a NAT that changes an address tells the segment with
 * `adjustChecksum32` (IPv4) or `adjustChecksumBytes` (IPv6).
 */

import { NatAlgError } from '../errors.js';
import { internetChecksum, onesComplementSum, swapBytes16, updateChecksum16, updateChecksum16Pair, updateChecksumBytes } from './checksum.js';
import { assertRange, assertU16 } from './range.js';
import { toSeq, type SeqNumber } from './seq-number.js';
import { TcpOptions, type TcpOptionsVerdict } from './tcp-options.js';
import { BLANK, assertWritable, dropTable } from './verdict.js';

/** Byte offsets of the fields, from the start of the header. */
export const TcpField = {
  SourcePort: 0,
  DestinationPort: 2,
  SeqNumber: 4,
  AckNumber: 8,
  DataOffset: 12,
  Flags: 13,
  Window: 14,
  Checksum: 16,
  UrgentPointer: 18,
  Options: 20,
} as const;

export const TCP_MIN_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;

/** Control bits. AE (RFC 9768, formerly NS) is the low bit of the Data Offset byte. */
export const TcpFlag = {
  Fin: 0x001,
  Syn: 0x002,
  Rst: 0x004,
  Psh: 0x008,
  Ack: 0x010,
  Urg: 0x020,
  Ece: 0x040,
  Cwr: 0x080,
  Ae: 0x100,
} as const;

export type TcpFlag = (typeof TcpFlag)[keyof typeof TcpFlag];

/**
 * - truncated: fewer than 20 bytes, or fewer than the header length Data Offset gives;
 * - bad-data-offset: Data Offset below 5.
 */
export type TcpDropReason = 'truncated' | 'bad-data-offset';

const DROP = dropTable<TcpDropReason>(['truncated', 'bad-data-offset']);

export type TcpVerdict = { readonly ok: true; readonly segment: TcpSegment } | { readonly ok: false; readonly reason: TcpDropReason };

const EMPTY = new Uint8Array(0);

export class TcpSegment {
  readonly kind = 'tcp' as const;
  private b: Uint8Array = BLANK;
  private s = 0;
  private e = TCP_MIN_HEADER_LENGTH;
  private hl = TCP_MIN_HEADER_LENGTH;
  private readonly okVerdict: TcpVerdict = { ok: true, segment: this };

  static parse(bytes: Uint8Array, start = 0, end = bytes.length): TcpVerdict {
    return new TcpSegment().check(bytes, start, end);
  }

  /** Point this view at the segment bytes[start, end) and check it. */
  check(bytes: Uint8Array, start = 0, end = bytes.length): TcpVerdict {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = 0;
    this.e = this.hl = TCP_MIN_HEADER_LENGTH;
    if (end - start < TCP_MIN_HEADER_LENGTH) return DROP.truncated;
    const hl = (bytes[start + TcpField.DataOffset]! >> 4) << 2;
    if (hl < TCP_MIN_HEADER_LENGTH) return DROP['bad-data-offset'];
    if (hl > end - start) return DROP.truncated;
    this.b = bytes;
    this.s = start;
    this.e = end;
    this.hl = hl;
    return this.okVerdict;
  }

  // ------------------------------------------------------------ layout (fixed by check)

  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.s;
  }
  get end(): number {
    return this.e;
  }
  /** Segment length: header and payload (the pseudo-header's length). */
  get length(): number {
    return this.e - this.s;
  }
  get headerLength(): number {
    return this.hl;
  }
  get optionsOffset(): number {
    return this.s + TcpField.Options;
  }
  get optionsLength(): number {
    return this.hl - TCP_MIN_HEADER_LENGTH;
  }
  get payloadOffset(): number {
    return this.s + this.hl;
  }
  get payloadLength(): number {
    return this.e - this.s - this.hl;
  }
  /** The data: a view into the segment (it allocates the view, not the bytes). */
  payload(): Uint8Array {
    return this.b.subarray(this.s + this.hl, this.e);
  }

  // ------------------------------------------------------------ fields

  private u16(at: number): number {
    return (this.b[at]! << 8) | this.b[at + 1]!;
  }
  private u32(at: number): number {
    const b = this.b;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  sourcePort(): number {
    return this.u16(this.s + TcpField.SourcePort);
  }
  destinationPort(): number {
    return this.u16(this.s + TcpField.DestinationPort);
  }
  seqNumber(): SeqNumber {
    return toSeq(this.u32(this.s + TcpField.SeqNumber));
  }
  ackNumber(): SeqNumber {
    return toSeq(this.u32(this.s + TcpField.AckNumber));
  }
  /** Data Offset in 32-bit words (5-15). */
  dataOffset(): number {
    return this.hl >> 2;
  }
  /** Control bits as a mask of `TcpFlag` values. */
  flags(): number {
    return this.u16(this.s + TcpField.DataOffset) & 0x1ff;
  }
  /** All bits of `mask` are set. */
  hasFlags(mask: number): boolean {
    return (this.flags() & mask) === mask;
  }
  window(): number {
    return this.u16(this.s + TcpField.Window);
  }
  checksum(): number {
    return this.u16(this.s + TcpField.Checksum);
  }
  urgentPointer(): number {
    return this.u16(this.s + TcpField.UrgentPointer);
  }
  /** Read the options into `out` (reusable); see tcp-options.ts for the verdicts. */
  readOptions(out: TcpOptions): TcpOptionsVerdict {
    return out.read(this.b, this.s + TcpField.Options, this.s + this.hl);
  }
  /** With the pseudo-header sum from the IP view: the segment sums to 0xFFFF. */
  verifyChecksum(pseudoHeaderSum: number): boolean {
    return onesComplementSum(this.b, this.s, this.e, pseudoHeaderSum) === 0xffff;
  }

  // ------------------------------------------------------------ setters (in place, checksum kept)

  private setU16(at: number, v: number): void {
    assertWritable(this.b);
    this.b[at] = v >>> 8;
    this.b[at + 1] = v & 0xff;
  }
  private set16(at: number, v: number): void {
    const old = this.u16(at);
    // A word at an odd distance from the segment start sums byte-swapped (only options can be).
    const odd = ((at - this.s) & 1) === 1;
    const c = odd ? updateChecksum16(this.checksum(), swapBytes16(old), swapBytes16(v)) : updateChecksum16(this.checksum(), old, v);
    this.setU16(this.s + TcpField.Checksum, c);
    this.setU16(at, v);
  }
  /**
   * Write a 32-bit value given as 16-bit halves (small integers: an unsigned 32-bit value would be
   * a heap number across a call the JIT did not inline). At an odd position each half sums
   * byte-swapped.
   */
  private set32(at: number, high: number, low: number): void {
    const oldHigh = this.u16(at);
    const oldLow = this.u16(at + 2);
    const c =
      ((at - this.s) & 1) === 1
        ? updateChecksum16Pair(this.checksum(), swapBytes16(oldHigh), swapBytes16(oldLow), swapBytes16(high), swapBytes16(low))
        : updateChecksum16Pair(this.checksum(), oldHigh, oldLow, high, low);
    this.setU16(this.s + TcpField.Checksum, c);
    this.setU16(at, high);
    this.setU16(at + 2, low);
  }

  setSourcePort(port: number): void {
    assertU16(port, 'port');
    this.set16(this.s + TcpField.SourcePort, port);
  }
  setDestinationPort(port: number): void {
    assertU16(port, 'port');
    this.set16(this.s + TcpField.DestinationPort, port);
  }
  setSeqNumber(seq: SeqNumber): void {
    this.set32(this.s + TcpField.SeqNumber, seq >>> 16, seq & 0xffff);
  }
  setAckNumber(ack: SeqNumber): void {
    this.set32(this.s + TcpField.AckNumber, ack >>> 16, ack & 0xffff);
  }
  setWindow(window: number): void {
    assertU16(window, 'window');
    this.set16(this.s + TcpField.Window, window);
  }
  setChecksum(checksum: number): void {
    assertU16(checksum, 'checksum');
    this.setU16(this.s + TcpField.Checksum, checksum);
  }
  /** Compute the checksum from scratch over the segment and the pseudo-header sum. */
  fillChecksum(pseudoHeaderSum: number): void {
    this.setU16(this.s + TcpField.Checksum, 0);
    this.setU16(this.s + TcpField.Checksum, internetChecksum(this.b, this.s, this.e, pseudoHeaderSum));
  }
  /** A 32-bit value of the pseudo-header changed (an IPv4 address): update the checksum. */
  adjustChecksum32(oldValue: number, newValue: number): void {
    this.setU16(this.s + TcpField.Checksum, updateChecksum16Pair(this.checksum(), oldValue >>> 16, oldValue & 0xffff, newValue >>> 16, newValue & 0xffff));
  }
  /**
   * Bytes of the pseudo-header changed (an IPv6 address: 16 bytes): update the checksum. Call it
   * before overwriting the old bytes.
   */
  adjustChecksumBytes(oldBytes: Uint8Array, oldStart: number, newBytes: Uint8Array, newStart: number, length: number): void {
    this.setU16(this.s + TcpField.Checksum, updateChecksumBytes(this.checksum(), oldBytes, oldStart, newBytes, newStart, length));
  }

  private assertOwnOptions(options: TcpOptions): void {
    if (options.bytes !== this.b || options.start !== this.s + TcpField.Options) {
      throw new NatAlgError('invalid-state', 'these TcpOptions were not read from this segment');
    }
  }
  /** Rewrite SACK block i (as read into `options` from this segment), checksum kept. */
  setSackBlock(options: TcpOptions, i: number, left: SeqNumber, right: SeqNumber): void {
    this.assertOwnOptions(options);
    if (i >>> 0 !== i || i >= options.sackBlockCount) throw new NatAlgError('invalid-argument', `no SACK block ${i}`);
    this.set32(options.sackOffset + i * 8, left >>> 16, left & 0xffff);
    this.set32(options.sackOffset + i * 8 + 4, right >>> 16, right & 0xffff);
  }
  /** Rewrite the MSS option's value (MSS clamping), checksum kept; the segment must carry MSS. */
  setMss(options: TcpOptions, mss: number): void {
    this.assertOwnOptions(options);
    assertU16(mss, 'mss');
    if (options.mssOffset < 0) throw new NatAlgError('invalid-state', 'the segment has no MSS option');
    this.set16(options.mssOffset, mss);
    options.mss = mss;
  }
}

export interface TcpHeaderFields {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly seqNumber: SeqNumber;
  readonly ackNumber: SeqNumber;
  /** Mask of `TcpFlag` values. */
  readonly flags: number;
  readonly window: number;
  /** Default 0; fill it afterwards with `TcpSegment.fillChecksum`. */
  readonly checksum?: number;
  readonly urgentPointer?: number;
  /** Raw option bytes, a multiple of 4 long, at most 40 (see `emitTcpOptions`). */
  readonly options?: Uint8Array;
}

/** Write a TCP header at buf[at]; returns its length. Bad fields throw NatAlgError. */
export function emitTcpHeader(buf: Uint8Array, at: number, f: TcpHeaderFields): number {
  const options = f.options ?? EMPTY;
  if (options.length % 4 !== 0 || options.length > TCP_MAX_HEADER_LENGTH - TCP_MIN_HEADER_LENGTH) {
    throw new NatAlgError('invalid-argument', 'TCP options must be a multiple of 4 bytes, at most 40');
  }
  const hl = TCP_MIN_HEADER_LENGTH + options.length;
  assertRange(buf, at, at + hl);
  assertU16(f.sourcePort, 'sourcePort');
  assertU16(f.destinationPort, 'destinationPort');
  if (f.flags >>> 0 !== f.flags || f.flags > 0x1ff) throw new NatAlgError('invalid-argument', 'flags must be a mask of TcpFlag values');
  assertU16(f.window, 'window');
  assertU16(f.checksum ?? 0, 'checksum');
  assertU16(f.urgentPointer ?? 0, 'urgentPointer');
  const put16 = (i: number, v: number): void => {
    buf[at + i] = v >>> 8;
    buf[at + i + 1] = v & 0xff;
  };
  const put32 = (i: number, v: number): void => {
    put16(i, v >>> 16);
    put16(i + 2, v & 0xffff);
  };
  put16(TcpField.SourcePort, f.sourcePort);
  put16(TcpField.DestinationPort, f.destinationPort);
  put32(TcpField.SeqNumber, f.seqNumber >>> 0);
  put32(TcpField.AckNumber, f.ackNumber >>> 0);
  put16(TcpField.DataOffset, ((hl >> 2) << 12) | f.flags);
  put16(TcpField.Window, f.window);
  put16(TcpField.Checksum, f.checksum ?? 0);
  put16(TcpField.UrgentPointer, f.urgentPointer ?? 0);
  buf.set(options, at + TcpField.Options);
  return hl;
}

/** The header fields of a checked segment, as `emitTcpHeader` takes them. */
export function readTcpHeaderFields(t: TcpSegment): TcpHeaderFields {
  return {
    sourcePort: t.sourcePort(),
    destinationPort: t.destinationPort(),
    seqNumber: t.seqNumber(),
    ackNumber: t.ackNumber(),
    flags: t.flags(),
    window: t.window(),
    checksum: t.checksum(),
    urgentPointer: t.urgentPointer(),
    options: t.bytes.slice(t.optionsOffset, t.optionsOffset + t.optionsLength),
  };
}
