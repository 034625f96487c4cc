/**
 * UDP header (RFC 768): a checked view, setters that keep the checksum correct incrementally,
 * and an emitter.
 *
 * Invariants after `check` returns ok (until the next `check`):
 * - the IP payload is bytes[start, end), at least 8 bytes;
 * - the Length field is at least 8 and at most the IP payload; the datagram is
 *   bytes[start, start + Length). IP payload beyond Length (the UDP options surplus area of
 *   draft-ietf-tsvwg-udp-options, or junk) is not part of the datagram or of its checksum;
 * - over IPv6, the checksum is not 0 unless the caller allowed it (RFC 8200 section 8.1 makes it
 *   mandatory; RFC 6935/6936 allow 0 for tunnels by configuration).
 *
 * Before a successful `check` the view shows a blank header (see verdict.ts): reads give 0,
 * writes throw.
 *
 * Checksum 0 over IPv4 means "none": setters leave it 0. A checksum computed as 0 is sent as
 * 0xFFFF (see checksum.ts).
 */

import { NatAlgError } from '../errors.js';
import { finishUdpChecksum, onesComplementSum, updateUdpChecksum16, updateUdpChecksum32, updateUdpChecksumBytes } from './checksum.js';
import { assertRange, assertU16 } from './range.js';
import { BLANK, assertWritable, dropTable } from './verdict.js';

export const UdpField = {
  SourcePort: 0,
  DestinationPort: 2,
  Length: 4,
  Checksum: 6,
} as const;

export const UDP_HEADER_LENGTH = 8;

/**
 * - truncated: fewer than 8 bytes;
 * - bad-length: the Length field is below 8 or beyond the IP payload;
 * - zero-checksum: checksum 0 over IPv6, not allowed by the caller.
 */
export type UdpDropReason = 'truncated' | 'bad-length' | 'zero-checksum';

const DROP = dropTable<UdpDropReason>(['truncated', 'bad-length', 'zero-checksum']);

export type UdpVerdict = { readonly ok: true; readonly datagram: UdpDatagram } | { readonly ok: false; readonly reason: UdpDropReason };

export class UdpDatagram {
  readonly kind = 'udp' as const;
  private b: Uint8Array = BLANK;
  private s = 0;
  private len = UDP_HEADER_LENGTH;
  private v: 4 | 6 = 4;
  private readonly okVerdict: UdpVerdict = { ok: true, datagram: this };

  static parse(bytes: Uint8Array, start: number, end: number, ipVersion: 4 | 6, allowZeroChecksumIpv6 = false): UdpVerdict {
    return new UdpDatagram().check(bytes, start, end, ipVersion, allowZeroChecksumIpv6);
  }

  /** Point this view at the IP payload bytes[start, end) of an IPv4 or IPv6 packet and check it. */
  check(bytes: Uint8Array, start: number, end: number, ipVersion: 4 | 6, allowZeroChecksumIpv6 = false): UdpVerdict {
    assertRange(bytes, start, end);
    this.b = BLANK;
    this.s = 0;
    this.len = UDP_HEADER_LENGTH;
    if (end - start < UDP_HEADER_LENGTH) return DROP.truncated;
    const len = (bytes[start + UdpField.Length]! << 8) | bytes[start + UdpField.Length + 1]!;
    if (len < UDP_HEADER_LENGTH || len > end - start) return DROP['bad-length'];
    if (ipVersion === 6 && !allowZeroChecksumIpv6 && bytes[start + UdpField.Checksum] === 0 && bytes[start + UdpField.Checksum + 1] === 0) {
      return DROP['zero-checksum'];
    }
    this.b = bytes;
    this.s = start;
    this.len = len;
    this.v = ipVersion;
    return this.okVerdict;
  }

  // ------------------------------------------------------------ layout (fixed by check)

  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.s;
  }
  /** start + Length: the end of the datagram (not of the IP payload, when they differ). */
  get end(): number {
    return this.s + this.len;
  }
  /** The Length field: header and payload (the pseudo-header's length). */
  get length(): number {
    return this.len;
  }
  get payloadOffset(): number {
    return this.s + UDP_HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.len - UDP_HEADER_LENGTH;
  }
  /** The data (up to Length): a view into the datagram (it allocates the view, not the bytes). */
  payload(): Uint8Array {
    return this.b.subarray(this.s + UDP_HEADER_LENGTH, this.s + this.len);
  }
  get ipVersion(): 4 | 6 {
    return this.v;
  }

  // ------------------------------------------------------------ fields

  private u16(at: number): number {
    return (this.b[this.s + at]! << 8) | this.b[this.s + at + 1]!;
  }
  sourcePort(): number {
    return this.u16(UdpField.SourcePort);
  }
  destinationPort(): number {
    return this.u16(UdpField.DestinationPort);
  }
  checksum(): number {
    return this.u16(UdpField.Checksum);
  }
  /** The sender computed a checksum (always true over IPv6 unless zero was allowed). */
  hasChecksum(): boolean {
    return this.checksum() !== 0;
  }
  /** True for a correct checksum, and for "no checksum" (0) where the check allowed it. */
  verifyChecksum(pseudoHeaderSum: number): boolean {
    if (this.checksum() === 0) return true;
    return onesComplementSum(this.b, this.s, this.s + this.len, pseudoHeaderSum) === 0xffff;
  }

  // ------------------------------------------------------------ setters (in place, checksum kept)

  private setU16(at: number, v: number): void {
    assertWritable(this.b);
    this.b[this.s + at] = v >>> 8;
    this.b[this.s + at + 1] = v & 0xff;
  }
  private set16(at: number, v: number): void {
    this.setU16(UdpField.Checksum, updateUdpChecksum16(this.checksum(), this.u16(at), v));
    this.setU16(at, v);
  }
  setSourcePort(port: number): void {
    assertU16(port, 'port');
    this.set16(UdpField.SourcePort, port);
  }
  setDestinationPort(port: number): void {
    assertU16(port, 'port');
    this.set16(UdpField.DestinationPort, port);
  }
  setChecksum(checksum: number): void {
    assertU16(checksum, 'checksum');
    this.setU16(UdpField.Checksum, checksum);
  }
  /** Compute the checksum from scratch (0 becomes 0xFFFF). */
  fillChecksum(pseudoHeaderSum: number): void {
    this.setU16(UdpField.Checksum, 0);
    this.setU16(UdpField.Checksum, finishUdpChecksum(onesComplementSum(this.b, this.s, this.s + this.len, pseudoHeaderSum)));
  }
  /** Set "no checksum". Allowed over IPv4 only; over IPv6 it throws. */
  clearChecksum(): void {
    if (this.v === 6) throw new NatAlgError('invalid-state', 'UDP over IPv6 must carry a checksum');
    this.setU16(UdpField.Checksum, 0);
  }
  /** A 32-bit value of the pseudo-header changed (an IPv4 address). "No checksum" stays so. */
  adjustChecksum32(oldValue: number, newValue: number): void {
    this.setU16(UdpField.Checksum, updateUdpChecksum32(this.checksum(), oldValue, newValue));
  }
  /** Bytes of the pseudo-header changed (an IPv6 address); call before overwriting them. */
  adjustChecksumBytes(oldBytes: Uint8Array, oldStart: number, newBytes: Uint8Array, newStart: number, length: number): void {
    this.setU16(UdpField.Checksum, updateUdpChecksumBytes(this.checksum(), oldBytes, oldStart, newBytes, newStart, length));
  }
}

export interface UdpHeaderFields {
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** Header plus payload. */
  readonly length: number;
  /** Default 0; fill with `UdpDatagram.fillChecksum`. */
  readonly checksum?: number;
}

/** Write an 8-byte UDP header at buf[at]; returns 8. Bad fields throw NatAlgError. */
export function emitUdpHeader(buf: Uint8Array, at: number, f: UdpHeaderFields): number {
  assertRange(buf, at, at + UDP_HEADER_LENGTH);
  assertU16(f.sourcePort, 'sourcePort');
  assertU16(f.destinationPort, 'destinationPort');
  assertU16(f.length, 'length');
  if (f.length < UDP_HEADER_LENGTH) throw new NatAlgError('invalid-argument', 'UDP length is at least 8');
  const c = f.checksum ?? 0;
  assertU16(c, 'checksum');
  const fields = [f.sourcePort, f.destinationPort, f.length, c];
  for (let k = 0; k < 4; k++) {
    buf[at + 2 * k] = fields[k]! >>> 8;
    buf[at + 2 * k + 1] = fields[k]! & 0xff;
  }
  return UDP_HEADER_LENGTH;
}

export function readUdpHeaderFields(u: UdpDatagram): UdpHeaderFields {
  return { sourcePort: u.sourcePort(), destinationPort: u.destinationPort(), length: u.length, checksum: u.checksum() };
}
