/**
 * TCP options (RFC 9293 section 3.1; MSS, RFC 9293; window scale and timestamps, RFC 7323;
 * SACK-permitted and SACK, RFC 2018): a reader that records where each known option lies, and
 * an emitter.
 *
 * The reader takes the option bytes of a checked segment (at most 40) from a stranger:
 * - End of Option List stops it; the rest is padding;
 * - No-Operation is one byte; every other option has a length byte of at least 2 and must fit in
 *   the option area, so each step moves forward and the loop ends within 40 steps;
 * - a known option with the wrong length, or a known option given twice, is a verdict, never a
 *   loop or an exception: a gateway that rewrote one of two SACK options would leave the other
 *   stale. Unknown kinds are skipped by their length.
 * Option values are read where they lie (offsets are recorded), so a `TcpOptions` allocates
 * nothing per segment and can be reused.
 */

import type { SeqNumber } from './seq-number.js';
import { toSeq } from './seq-number.js';
import { NatAlgError } from '../errors.js';
import { assertRange, assertU16, assertU32, assertU8 } from './range.js';
import { dropTable } from './verdict.js';

export const TcpOptionKind = {
  End: 0,
  Nop: 1,
  Mss: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];

/** Most SACK blocks that fit in 40 bytes of options (2 + 4 * 8 = 34). */
export const MAX_SACK_BLOCKS = 4;

export type TcpOptionsDropReason = 'bad-option-length' | 'duplicate-option';

const DROP = dropTable<TcpOptionsDropReason>(['bad-option-length', 'duplicate-option']);

export type TcpOptionsVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: TcpOptionsDropReason };

const OK: TcpOptionsVerdict = Object.freeze({ ok: true });
const EMPTY = new Uint8Array(0);

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/** What the options of one segment say. Reset by each `read`. */
export class TcpOptions {
  /** MSS value, or -1 when absent. */
  mss = -1;
  /** Offset of the MSS option's value (2 bytes), or -1. */
  mssOffset = -1;
  /** Window scale shift count as sent (RFC 7323 caps its use at 14), or -1 when absent. */
  windowScale = -1;
  sackPermitted = false;
  /** Number of SACK blocks (0 when no SACK option). */
  sackBlockCount = 0;
  /** Offset of the first SACK block (8 bytes each: left edge, right edge), or -1. */
  sackOffset = -1;
  /** Offset of the timestamps option's TSval (TSecr follows), or -1. */
  timestampOffset = -1;
  /** After a failed read: offset of the option that was malformed. */
  errorOffset = -1;
  private b: Uint8Array = EMPTY;
  private from = 0;

  /** The buffer and start of the option area last read (checked by setters that take these options). */
  get bytes(): Uint8Array {
    return this.b;
  }
  get start(): number {
    return this.from;
  }

  private reset(): void {
    this.mss = this.mssOffset = this.windowScale = this.sackOffset = this.timestampOffset = this.errorOffset = -1;
    this.sackPermitted = false;
    this.sackBlockCount = 0;
  }

  /** Read the options in bytes[start, end) (a segment's option area). */
  read(bytes: Uint8Array, start: number, end: number): TcpOptionsVerdict {
    assertRange(bytes, start, end);
    this.reset();
    this.b = bytes;
    this.from = start;
    let i = start;
    let seenSackPermitted = false;
    while (i < end) {
      const kind = bytes[i]!;
      if (kind === TcpOptionKind.End) break;
      if (kind === TcpOptionKind.Nop) {
        i++;
        continue;
      }
      if (i + 1 >= end) return this.fail(i, 'bad-option-length');
      const len = bytes[i + 1]!;
      if (len < 2 || i + len > end) return this.fail(i, 'bad-option-length');
      switch (kind) {
        case TcpOptionKind.Mss:
          if (len !== 4) return this.fail(i, 'bad-option-length');
          if (this.mssOffset >= 0) return this.fail(i, 'duplicate-option');
          this.mssOffset = i + 2;
          this.mss = (bytes[i + 2]! << 8) | bytes[i + 3]!;
          break;
        case TcpOptionKind.WindowScale:
          if (len !== 3) return this.fail(i, 'bad-option-length');
          if (this.windowScale >= 0) return this.fail(i, 'duplicate-option');
          this.windowScale = bytes[i + 2]!;
          break;
        case TcpOptionKind.SackPermitted:
          if (len !== 2) return this.fail(i, 'bad-option-length');
          if (seenSackPermitted) return this.fail(i, 'duplicate-option');
          seenSackPermitted = true;
          this.sackPermitted = true;
          break;
        case TcpOptionKind.Sack:
          if (len < 10 || (len - 2) % 8 !== 0) return this.fail(i, 'bad-option-length');
          if (this.sackOffset >= 0) return this.fail(i, 'duplicate-option');
          this.sackOffset = i + 2;
          this.sackBlockCount = (len - 2) >> 3;
          break;
        case TcpOptionKind.Timestamps:
          if (len !== 10) return this.fail(i, 'bad-option-length');
          if (this.timestampOffset >= 0) return this.fail(i, 'duplicate-option');
          this.timestampOffset = i + 2;
          break;
        default:
          break; // unknown kinds are skipped by their length
      }
      i += len;
    }
    return OK;
  }

  private fail(at: number, reason: TcpOptionsDropReason): TcpOptionsVerdict {
    const errorOffset = at;
    this.reset();
    this.errorOffset = errorOffset;
    return DROP[reason];
  }

  /** Left edge of SACK block i (0 <= i < sackBlockCount; other i throw). */
  sackLeft(i: number): SeqNumber {
    this.assertBlock(i);
    return toSeq(u32(this.b, this.sackOffset + i * 8));
  }
  sackRight(i: number): SeqNumber {
    this.assertBlock(i);
    return toSeq(u32(this.b, this.sackOffset + i * 8 + 4));
  }
  private assertBlock(i: number): void {
    if (i >>> 0 !== i || i >= this.sackBlockCount) throw new NatAlgError('invalid-argument', `no SACK block ${i} (have ${this.sackBlockCount})`);
  }
  /** TSval, or -1 without a timestamps option. */
  timestampValue(): number {
    return this.timestampOffset < 0 ? -1 : u32(this.b, this.timestampOffset);
  }
  /** TSecr, or -1 without a timestamps option. */
  timestampEcho(): number {
    return this.timestampOffset < 0 ? -1 : u32(this.b, this.timestampOffset + 4);
  }
}

/** Options to emit; absent fields are not emitted. */
export interface TcpOptionFields {
  readonly mss?: number;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly timestamps?: readonly [tsVal: number, tsEcr: number];
  readonly sackBlocks?: ReadonlyArray<readonly [left: SeqNumber, right: SeqNumber]>;
}

/**
 * Write options at buf[at] in the common layout (MSS; SACK-permitted with timestamps; NOP and
 * window scale; NOPs and SACK), padded with End of Option List to a multiple of 4. Returns the
 * length written (0-40). More than fits in 40 bytes throws NatAlgError.
 */
export function emitTcpOptions(buf: Uint8Array, at: number, f: TcpOptionFields): number {
  const out: number[] = [];
  const push32 = (v: number): void => {
    out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  };
  if (f.mss !== undefined) {
    assertU16(f.mss, 'mss');
    out.push(TcpOptionKind.Mss, 4, f.mss >>> 8, f.mss & 0xff);
  }
  if (f.timestamps !== undefined) {
    assertU32(f.timestamps[0], 'tsVal');
    assertU32(f.timestamps[1], 'tsEcr');
    if (f.sackPermitted) out.push(TcpOptionKind.SackPermitted, 2);
    else out.push(TcpOptionKind.Nop, TcpOptionKind.Nop);
    out.push(TcpOptionKind.Timestamps, 10);
    push32(f.timestamps[0]);
    push32(f.timestamps[1]);
  } else if (f.sackPermitted) {
    out.push(TcpOptionKind.Nop, TcpOptionKind.Nop, TcpOptionKind.SackPermitted, 2);
  }
  if (f.windowScale !== undefined) {
    assertU8(f.windowScale, 'windowScale');
    out.push(TcpOptionKind.Nop, TcpOptionKind.WindowScale, 3, f.windowScale);
  }
  const blocks = f.sackBlocks ?? [];
  if (blocks.length > 0) {
    if (blocks.length > MAX_SACK_BLOCKS) throw new NatAlgError('invalid-argument', `at most ${MAX_SACK_BLOCKS} SACK blocks`);
    out.push(TcpOptionKind.Nop, TcpOptionKind.Nop, TcpOptionKind.Sack, 2 + 8 * blocks.length);
    for (const [l, r] of blocks) {
      push32(l);
      push32(r);
    }
  }
  while (out.length % 4 !== 0) out.push(TcpOptionKind.End);
  if (out.length > 40) throw new NatAlgError('invalid-argument', `options take ${out.length} bytes; at most 40 fit`);
  assertRange(buf, at, at + out.length);
  buf.set(out, at);
  return out.length;
}
