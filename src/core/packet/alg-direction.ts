/**
 * One direction of a TCP connection whose payload an ALG rewrites, as the NAT in the middle keeps
 * it: the sender's sequence space ("input", the bytes the sender sent) and the receiver's
 * ("output", the bytes the NAT sent on), both counted as stream offsets from the byte after the
 * SYN. Sequence number = ISN + 1 + offset in both spaces (the same ISN: no shift before the first
 * edit), so only the edits (SeqShift) tell the two apart.
 *
 * Invariants:
 * - consumed: input fed to the translator, in order, each byte once; sentEnd <= outEnd: output
 *   emitted at least once, of all produced; rcvAck <= sentEnd (+1 once a FIN was sent): what the
 *   receiver acknowledged;
 * - the log holds output [rcvAck, outEnd): anything not acknowledged can be sent again as it was;
 * - ownAck: input the NAT acknowledged to the sender on the receiver's behalf (bytes held in the
 *   translator, or removed by it); from then on the NAT alone must deliver their output, which
 *   its own retransmission timer does.
 */

import { AheadSegments } from './ahead-segments.js';
import { ByteLog } from './byte-log.js';
import { SeqShift } from './seq-shift.js';
import { seqDiff, toSeq, type SeqNumber } from './seq-number.js';
import type { Direction } from '../stream/translator.js';

export class AlgDirection {
  /** The sender's initial sequence number, once its SYN was seen. */
  isn: SeqNumber | null = null;
  consumed = 0;
  outEnd = 0;
  sentEnd = 0;
  rcvAck = 0;
  ownAck = 0;
  /** End of output inserted by the ALG itself (a local reply): the NAT's alone to deliver. */
  insertedOwned = 0;
  /** Input offset of the sender's FIN, or -1. */
  finIn = -1;
  /** The FIN went out after output offset `sentEnd` (it then occupies sequence sentEnd). */
  finSent = false;
  readonly shift = new SeqShift();
  readonly log = new ByteLog();
  readonly ahead: AheadSegments;
  /** Largest payload the receiver takes (its MSS option; RFC 9293 defaults when absent). */
  mss: number;
  // The latest header values of the sender: what the NAT's own segments of this direction carry.
  window = 0;
  options: Uint8Array = new Uint8Array(0);
  tos = 0;
  ttl = 64;
  dontFragment = true;
  identification = 0;
  // The NAT's retransmission timer for output it alone must deliver.
  rtxAt = -1;
  rtxMs: number;

  constructor(
    readonly direction: Direction,
    maxAheadBytes: number,
    readonly initialRtxMs: number,
    family: 4 | 6,
  ) {
    this.ahead = new AheadSegments(maxAheadBytes);
    this.mss = family === 4 ? 536 : 1220;
    this.rtxMs = initialRtxMs;
  }

  /** The sequence number of stream offset `offset` (either space: they share the ISN). */
  seqOf(offset: number): SeqNumber {
    return toSeq((this.isn ?? 0) + 1 + offset);
  }

  /** Input offset of a sequence number from the sender, unwrapped near `consumed`. */
  inputOffsetOf(seq: SeqNumber): number {
    return this.consumed + seqDiff(seq, this.seqOf(this.consumed));
  }

  /** Output offset of an acknowledgement (or SACK edge) from the receiver, unwrapped near `rcvAck`. */
  outputOffsetOf(seq: SeqNumber): number {
    return this.rcvAck + seqDiff(seq, this.seqOf(this.rcvAck));
  }

  /** Where the receiver's next expected byte is, as far as the NAT sent: sentEnd, past the FIN once sent. */
  get sendNext(): number {
    return this.sentEnd + (this.finSent ? 1 : 0);
  }

  /** The FIN was acknowledged by the receiver. */
  get finAcked(): boolean {
    return this.finSent && this.rcvAck > this.sentEnd;
  }

  /**
   * The input the sender may be told is acknowledged: what the receiver's acknowledgement covers
   * (through the edits), or what the NAT acknowledged itself, whichever is further; past the
   * FIN once the receiver acknowledged it.
   */
  ackedInput(): number {
    if (this.finAcked) return this.finIn + 1;
    return Math.max(this.shift.inCovered(Math.min(this.rcvAck, this.outEnd)), this.ownAck);
  }

  /** Output the NAT alone must deliver, up to where (<= sentEnd); rcvAck when none. */
  ownedEnd(): number {
    let end = Math.min(this.insertedOwned, this.sentEnd);
    if (this.ownAck > this.shift.inCovered(Math.min(this.rcvAck, this.outEnd))) {
      end = Math.max(end, Math.min(this.shift.outEnd(this.ownAck), this.sentEnd));
    }
    return Math.max(end, this.rcvAck);
  }

  /**
   * The receiver acknowledged output up to `offset`: release the log and the edits both sides
   * have passed. Returns true when it moved.
   */
  acknowledge(offset: number): boolean {
    const limit = this.sendNext;
    const o = Math.min(offset, limit);
    if (o <= this.rcvAck) return false;
    this.rcvAck = o;
    const out = Math.min(o, this.outEnd);
    this.log.release(out);
    this.shift.prune(this.ackedInput(), out);
    return true;
  }
}
