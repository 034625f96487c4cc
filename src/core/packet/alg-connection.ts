/**
 * An ALG on a TCP connection the NAT forwards: the segments of both directions go through one
 * AlgTranslator (alg/contract.ts) as two byte streams, and what the translator emits goes on as
 * segments of the NAT's making, with sequence and acknowledgement numbers corrected for every
 * change of length.
 *
 * How a segment is handled (see AlgDirection for the offsets):
 * - Its acknowledgement (and SACK blocks) refer to the other direction's output: they are mapped
 *   back to that direction's input, never past what the receiver or the NAT really has.
 * - Its new bytes are fed to the translator in order; bytes ahead of a gap wait (bounded) for it.
 *   Whatever the translator emits, in either direction, goes out as new segments no larger than
 *   the receiver's MSS and the path MTU allow (a rewritten line that grew is split).
 * - Bytes it carries again (a retransmission) are answered from the output log: the same output
 *   bytes as the first time, never translated twice; if the receiver already has all of it, the
 *   sender gets the acknowledgement it missed.
 * - A segment that ends inside a line the translator holds (a command or reply split across
 *   segments) is acknowledged by the NAT on the receiver's behalf, at once. The choice and its
 *   cost: a sender that waits for an acknowledgement before sending more (Nagle, or a full
 *   window) would otherwise stall until its retransmission timer, and a sender that retransmits
 *   the piece would be answered by nothing; acknowledging it makes the NAT responsible for those
 *   bytes (kept in the translator until the line completes, then in the log until the receiver
 *   acknowledges them) and for their retransmission, on its own timer. The bytes held are bounded
 *   by the translator's longest line. A refused command removed from the stream is acknowledged
 *   the same way, since the receiver will never acknowledge what it never got.
 * - Segments without payload (pure acknowledgements, window updates, RST) and the handshake are
 *   rewritten in place and forwarded (`forward`); segments with payload are replaced by the
 *   NAT's own (`consumed`).
 *
 * Data-channel requests are answered at once through the host (the NAT's mapping table decides),
 * so a direction never stays blocked. Window sizes pass unchanged (a few bytes of shift do not
 * matter to flow control); the urgent pointer is not carried over into rebuilt segments.
 */

import type { AlgEvent, AlgTranslator, DataChannelRequest } from '../alg/contract.js';
import type { Endpoint } from '../net/ip.js';
import { reverse, type Direction } from '../stream/translator.js';
import { AlgDirection } from './alg-direction.js';
import { buildTcpPacket, ipHeaderLength, type PacketFace, type NatSide } from './segment-builder.js';
import type { IpPacket } from './packet.js';
import { TcpFlag, TCP_MIN_HEADER_LENGTH, type TcpSegment } from './tcp.js';
import { TcpOptionKind, TcpOptions } from './tcp-options.js';

export type DataChannelAnswer = { readonly ok: true; readonly endpoint: Endpoint } | { readonly ok: false; readonly reason: string };

/** What the connection needs from the NAT around it. */
export interface AlgConnectionHost {
  /** The endpoint to announce for a data-channel request, decided now (the mapping table's answer). */
  planDataChannel(request: DataChannelRequest, nowMs: number): DataChannelAnswer;
  /** A data channel is no longer wanted (refused by the peer, reset). */
  releaseDataChannel(id: number): void;
  /** Every event of the translator, in order, for the embedding. */
  event(e: AlgEvent): void;
  /** A packet of the NAT's making to send on `to`. */
  transmit(to: NatSide, packet: Uint8Array): void;
}

export interface AlgConnectionLimits {
  /** Out-of-order bytes held per direction. */
  readonly maxAheadBytes: number;
  /** Unacknowledged output kept per direction; beyond it new data is refused (the sender retries). */
  readonly maxRetainedBytes: number;
  /** Corrections outstanding per direction; beyond it new data is refused likewise. */
  readonly maxOutstandingEdits: number;
  /** The NAT's first retransmission timeout for output it alone holds, ms. */
  readonly retransmitMs: number;
  /** Its longest, after doubling. */
  readonly maxRetransmitMs: number;
  /** Largest IP packet on the path. */
  readonly mtu: number;
}

/** How a segment went: rewritten in place (`forward`), replaced by the NAT's own (`consumed`), or dropped. */
export type AlgSegmentResult = 'forward' | 'consumed' | AlgDropReason;

/**
 * - alg-no-handshake: data before both SYNs were seen;
 * - alg-syn-data: a SYN carrying data (TCP Fast Open) on a connection an ALG reads;
 * - alg-buffer-full: more out-of-order data than the bound, or output unacknowledged beyond it.
 */
export type AlgDropReason = 'alg-no-handshake' | 'alg-syn-data' | 'alg-buffer-full';

/** Most bytes the NAT's own retransmission sends at once. */
const MAX_RETRANSMIT_BYTES = 64 * 1024;

export class AlgConnection {
  private readonly dirs: Record<Direction, AlgDirection>;
  private readonly options = new TcpOptions();
  private now = 0;
  /** The translator asked to close: both peers get a RST after its last words. */
  private closing = false;
  /** Closed: by a RST from a peer or by the NAT. */
  closed = false;

  constructor(
    readonly translator: AlgTranslator,
    private readonly faces: Record<Direction, PacketFace>,
    private readonly host: AlgConnectionHost,
    private readonly limits: AlgConnectionLimits,
  ) {
    this.dirs = {
      'client-to-server': new AlgDirection('client-to-server', limits.maxAheadBytes, limits.retransmitMs, faces['client-to-server'].family),
      'server-to-client': new AlgDirection('server-to-client', limits.maxAheadBytes, limits.retransmitMs, faces['server-to-client'].family),
    };
  }

  /** The state of one direction (tests, diagnostics). */
  direction(d: Direction): AlgDirection {
    return this.dirs[d];
  }

  // ------------------------------------------------------------------ segments

  /** A checked segment from the sender of `dir`, in its IP packet as received. */
  handleSegment(dir: Direction, ip: IpPacket, tcp: TcpSegment, nowMs: number): AlgSegmentResult {
    this.now = nowMs;
    const d = this.dirs[dir];
    const r = this.dirs[reverse(dir)];
    const flags = tcp.flags();
    this.remember(d, ip, tcp);
    if (flags & TcpFlag.Syn) return this.syn(d, r, tcp);
    if (d.isn === null || r.isn === null) return 'alg-no-handshake';
    if (this.closed) return this.rewriteBare(d, r, tcp);
    if (flags & TcpFlag.Rst) {
      const res = this.rewriteBare(d, r, tcp);
      this.closed = true;
      return res;
    }
    const acked = (flags & TcpFlag.Ack) !== 0 && this.acknowledge(r, tcp);
    const n = tcp.payloadLength;
    const fin = (flags & TcpFlag.Fin) !== 0;
    if (n === 0 && !fin) return this.rewriteBare(d, r, tcp);
    const result = this.data(d, r, tcp, n, fin, acked);
    this.finishClose();
    return result;
  }

  /** The SYN or SYN-ACK of the sender of d: its ISN and MSS; forwarded as it is. */
  private syn(d: AlgDirection, r: AlgDirection, tcp: TcpSegment): AlgSegmentResult {
    if (tcp.payloadLength > 0) return 'alg-syn-data';
    const isn = tcp.seqNumber();
    if (d.isn === null || d.consumed === 0) d.isn = isn;
    if (tcp.readOptions(this.options).ok && this.options.mss > 0) r.mss = this.options.mss;
    return 'forward';
  }

  /** Keep the sender's latest header values for the segments the NAT makes in its direction. */
  private remember(d: AlgDirection, ip: IpPacket, tcp: TcpSegment): void {
    d.window = tcp.window();
    if (ip.version === 4) {
      const b = ip.bytes;
      d.tos = b[ip.start + 1]!;
      d.ttl = ip.ttl();
      d.dontFragment = ip.dontFragment();
      d.identification = ip.identification();
    } else {
      d.tos = ip.trafficClass();
      d.ttl = ip.hopLimit();
    }
    // Options as sent, with a SACK option blanked out (it described the other stream at one
    // moment; the NAT's own segments must not repeat it) and without an MSS option.
    const opts = tcp.bytes.slice(tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength);
    if (!tcp.readOptions(this.options).ok) return;
    if (tcp.flags() & TcpFlag.Syn) {
      // A SYN's options are for the handshake; of them only the timestamps go on in later segments.
      const ts = this.options.timestampOffset;
      d.options = ts < 0 ? new Uint8Array(0) : Uint8Array.of(TcpOptionKind.Nop, TcpOptionKind.Nop, TcpOptionKind.Timestamps, 10, ...tcp.bytes.subarray(ts, ts + 8));
    } else {
      if (this.options.sackOffset >= 0) {
        const at = this.options.sackOffset - 2 - tcp.optionsOffset;
        opts.fill(TcpOptionKind.Nop, at, at + 2 + 8 * this.options.sackBlockCount);
      }
      d.options = opts;
    }
  }

  /** The acknowledgement in a segment of the other direction's sender: r's receiver acknowledges. */
  private acknowledge(r: AlgDirection, tcp: TcpSegment): boolean {
    const moved = r.acknowledge(r.outputOffsetOf(tcp.ackNumber()));
    if (moved) {
      r.rtxMs = r.initialRtxMs;
      r.rtxAt = -1;
      this.arm(r);
    }
    return moved;
  }

  /**
   * A segment without payload (or any segment once closed): sequence, acknowledgement and SACK
   * blocks rewritten in place, incrementally.
   */
  private rewriteBare(d: AlgDirection, r: AlgDirection, tcp: TcpSegment): AlgSegmentResult {
    const o = d.inputOffsetOf(tcp.seqNumber());
    const seqOut = o >= d.consumed ? d.sendNext + Math.max(0, o - d.consumed - (d.finIn >= 0 ? 1 : 0)) : d.shift.outStart(Math.max(o, d.shift.inCovered(d.rcvAck)));
    tcp.setSeqNumber(d.seqOf(seqOut));
    if (tcp.flags() & TcpFlag.Ack) {
      tcp.setAckNumber(r.seqOf(r.ackedInput()));
      if (tcp.readOptions(this.options).ok && this.options.sackBlockCount > 0) {
        const floor = r.ackedInput();
        for (let i = 0; i < this.options.sackBlockCount; i++) {
          let left = r.shift.inAfter(Math.max(r.outputOffsetOf(this.options.sackLeft(i)), r.rcvAck));
          let right = r.shift.inCovered(Math.min(Math.max(r.outputOffsetOf(this.options.sackRight(i)), r.rcvAck), r.outEnd));
          if (right <= left) left = right = floor;
          tcp.setSackBlock(this.options, i, r.seqOf(left), r.seqOf(right));
        }
      }
    }
    return 'forward';
  }

  private data(d: AlgDirection, r: AlgDirection, tcp: TcpSegment, n: number, fin: boolean, acked: boolean): AlgSegmentResult {
    const o = d.inputOffsetOf(tcp.seqNumber());
    const end = o + n;
    const consumedBefore = d.consumed;
    const outBefore = d.outEnd;
    // Nothing is fresh once the sender's FIN arrived: bytes claiming its sequence space or beyond
    // (a broken or hostile sender) would be input after the translator's end of stream.
    const fresh = d.finIn < 0 && (end > d.consumed || (fin && end >= d.consumed));
    if (fresh) {
      if (o > d.consumed) {
        if (!d.ahead.hold(o, tcp.payload(), fin)) return 'alg-buffer-full';
        // Nothing to say on the data yet; the acknowledgement it carried goes on.
        if (acked) this.sendBare(d, r);
        return 'consumed';
      }
      if (d.log.size > this.limits.maxRetainedBytes || d.shift.outstanding > this.limits.maxOutstandingEdits) return 'alg-buffer-full';
      this.feed(d, tcp.payload().subarray(d.consumed - o));
      let finAt = -1;
      if (d.consumed === end) {
        if (fin) finAt = end;
        // Segments held ahead that now continue the stream.
        for (let more = finAt < 0 ? d.ahead.take(d.consumed) : null; more !== null; more = d.ahead.take(d.consumed)) {
          const at = d.consumed + more.bytes.length;
          this.feed(d, more.bytes);
          if (d.consumed !== at) break; // not all taken: the sender brings the rest again
          if (more.fin) {
            finAt = at;
            break;
          }
        }
      }
      if (finAt >= 0 && d.finIn < 0) {
        d.finIn = finAt;
        d.ahead.clear();
        this.translator.handleEnd(d.direction, this.now);
      }
      this.pump();
    }
    // What the receiver must get now: the new output, and what this segment carried again.
    let from = d.sentEnd;
    let to = d.finSent ? d.sentEnd : d.outEnd;
    let withFin = d.finIn >= 0 && !d.finSent;
    const again = Math.min(end, consumedBefore);
    if (o < again) {
      const lo = Math.max(o, d.ackedInput());
      if (lo < again) {
        const a = Math.max(d.rcvAck, d.shift.outStart(lo));
        const b = Math.min(d.shift.outEnd(again), d.sentEnd);
        if (a < b) {
          if (to > from) from = Math.min(from, a);
          else {
            from = a;
            to = b;
          }
        }
      }
    }
    // The sender sent its FIN again and the receiver has not acknowledged the NAT's.
    const finAgain = fin && d.finSent && !d.finAcked && d.finIn === end;
    if (finAgain) {
      withFin = true;
      to = d.sentEnd;
    }
    // The NAT's own acknowledgement: fresh input that the receiver will not acknowledge soon
    // (held in the translator, or removed by it).
    if (d.consumed > Math.max(consumedBefore, d.ownAck)) {
      const held = d.consumed > d.shift.inCovered(d.outEnd);
      if (held || d.outEnd === outBefore) d.ownAck = d.consumed;
    }
    const answered = from < to || withFin;
    if (answered) this.emit(d, r, from, to, withFin);
    // Local replies (anything the translator made for the sender) carry the acknowledgement;
    // without them the sender still gets one when it is owed: bytes the NAT acknowledges itself,
    // or a retransmission of what the receiver already has.
    const replied = r.outEnd > r.sentEnd && !r.finSent;
    if (replied) this.emit(r, d, r.sentEnd, r.outEnd, false);
    else if (d.ownAck > consumedBefore || !answered) this.sendBare(r, d);
    return 'consumed';
  }

  /** Feed bytes to the translator; data-channel requests are answered as they come. */
  private feed(d: AlgDirection, bytes: Uint8Array): void {
    let rest = bytes;
    while (rest.length > 0) {
      const taken = this.translator.handleData(d.direction, rest, this.now);
      d.consumed += taken;
      rest = rest.subarray(taken);
      this.pump();
      if (taken === 0 && this.translator.isBlocked(d.direction)) break;
      if (taken === 0) break;
    }
  }

  /** Drain the translator: answer its requests, record its edits, collect its output. */
  private pump(): void {
    for (let e = this.translator.pollEvent(); e !== null; e = this.translator.pollEvent()) {
      switch (e.type) {
        case 'data-channel-request': {
          this.host.event(e);
          const answer = this.host.planDataChannel(e.request, this.now);
          if (answer.ok) this.translator.resolveDataChannel(e.request.id, answer.endpoint);
          else this.translator.refuseDataChannel(e.request.id, answer.reason);
          continue;
        }
        case 'edit': {
          const x = this.dirs[e.edit.direction];
          x.shift.add(e.edit.inputOffset, e.edit.inputLength, e.edit.outputOffset, e.edit.outputLength);
          if (e.edit.inputLength === 0) x.insertedOwned = Math.max(x.insertedOwned, e.edit.outputOffset + e.edit.outputLength);
          break;
        }
        case 'data-channel-released':
          this.host.releaseDataChannel(e.id);
          break;
        case 'close':
          this.closing = true;
          break;
        default:
          break;
      }
      this.host.event(e);
    }
    for (const x of [this.dirs['client-to-server'], this.dirs['server-to-client']]) {
      for (let chunk = this.translator.pollOutput(x.direction); chunk !== null; chunk = this.translator.pollOutput(x.direction)) {
        x.log.append(chunk);
        x.outEnd += chunk.length;
      }
    }
  }

  // ------------------------------------------------------------------ output

  /** Largest payload of a segment towards x's receiver. */
  private maxPayload(x: AlgDirection): number {
    const face = this.faces[x.direction];
    const room = this.limits.mtu - ipHeaderLength(face.family) - TCP_MIN_HEADER_LENGTH - x.options.length;
    return Math.max(1, Math.min(x.mss - x.options.length, room));
  }

  /**
   * Send output [from, to) of x towards its receiver, split to fit, the last with FIN when asked;
   * acknowledging `other` (the reverse direction) as far as it may be.
   */
  private emit(x: AlgDirection, other: AlgDirection, from: number, to: number, withFin: boolean): void {
    const face = this.faces[x.direction];
    const max = this.maxPayload(x);
    let at = from;
    do {
      const stop = Math.min(to, at + max);
      const last = stop === to;
      const fin = last && withFin;
      const payload = x.log.slice(at, stop);
      const flags = TcpFlag.Ack | (last && payload.length > 0 ? TcpFlag.Psh : 0) | (fin ? TcpFlag.Fin : 0);
      this.host.transmit(
        face.to,
        buildTcpPacket(face, {
          seq: x.seqOf(at),
          ack: other.seqOf(other.ackedInput()),
          flags,
          window: x.window,
          options: x.options,
          payload,
          tos: x.tos,
          ttl: x.ttl,
          identification: x.identification++ & 0xffff,
          dontFragment: x.dontFragment,
        }),
      );
      at = stop;
    } while (at < to);
    if (to > x.sentEnd) x.sentEnd = to;
    if (withFin) x.finSent = true;
    this.arm(x);
  }

  /** A segment without payload towards x's receiver: an acknowledgement of `other`. */
  private sendBare(x: AlgDirection, other: AlgDirection, flags: number = TcpFlag.Ack): void {
    const face = this.faces[x.direction];
    this.host.transmit(
      face.to,
      buildTcpPacket(face, {
        seq: x.seqOf(x.sendNext),
        ack: other.seqOf(other.ackedInput()),
        flags,
        window: x.window,
        options: x.options,
        payload: new Uint8Array(0),
        tos: x.tos,
        ttl: x.ttl,
        identification: x.identification++ & 0xffff,
        dontFragment: x.dontFragment,
      }),
    );
  }

  // ------------------------------------------------------------------ timers

  /** Start x's retransmission timer when it owes output and the timer is not running. */
  private arm(x: AlgDirection): void {
    if (x.ownedEnd() > x.rcvAck) {
      if (x.rtxAt < 0) x.rtxAt = this.now + x.rtxMs;
    } else x.rtxAt = -1;
  }

  pollTimeout(): number | null {
    // Closed: handleTimeout does nothing more, so a deadline left here would be due for ever.
    if (this.closed) return null;
    let t = this.translator.pollTimeout() ?? Infinity;
    for (const x of [this.dirs['client-to-server'], this.dirs['server-to-client']]) if (x.rtxAt >= 0 && x.rtxAt < t) t = x.rtxAt;
    return t === Infinity ? null : t;
  }

  handleTimeout(nowMs: number): void {
    this.now = nowMs;
    const t = this.translator.pollTimeout();
    if (t !== null && t <= nowMs && !this.closed) {
      this.translator.handleTimeout(nowMs);
      this.pump();
      for (const [x, y] of [
        [this.dirs['client-to-server'], this.dirs['server-to-client']],
        [this.dirs['server-to-client'], this.dirs['client-to-server']],
      ] as const) {
        if (x.isn !== null && y.isn !== null && x.outEnd > x.sentEnd && !x.finSent) this.emit(x, y, x.sentEnd, x.outEnd, false);
      }
      this.finishClose();
    }
    for (const [x, y] of [
      [this.dirs['client-to-server'], this.dirs['server-to-client']],
      [this.dirs['server-to-client'], this.dirs['client-to-server']],
    ] as const) {
      if (x.rtxAt < 0 || x.rtxAt > nowMs || this.closed) continue;
      const end = Math.min(x.ownedEnd(), x.rcvAck + MAX_RETRANSMIT_BYTES);
      x.rtxAt = -1;
      if (end > x.rcvAck) {
        this.emit(x, y, x.rcvAck, end, false);
        x.rtxMs = Math.min(x.rtxMs * 2, this.limits.maxRetransmitMs);
        x.rtxAt = nowMs + x.rtxMs;
      }
    }
  }

  /** The translator asked to close: after what it said last, a RST to each peer. */
  private finishClose(): void {
    if (!this.closing || this.closed) return;
    this.closed = true;
    const c2s = this.dirs['client-to-server'];
    const s2c = this.dirs['server-to-client'];
    if (c2s.isn !== null && s2c.isn !== null) {
      this.sendBare(c2s, s2c, TcpFlag.Rst | TcpFlag.Ack);
      this.sendBare(s2c, c2s, TcpFlag.Rst | TcpFlag.Ack);
    }
  }
}
