/**
 * A small TCP world for the packet NAT's tests, on virtual time: two endpoints (a client inside,
 * a server outside) joined through a PacketNat by links that delay, reorder, duplicate and lose
 * packets. Written for the tests, independent of the library's TCP code: each endpoint is a plain
 * go-back-N sender with random segment sizes and a receiver that takes bytes in order only and
 * acknowledges every segment.
 *
 * It records what each application wrote and received, and every acknowledgement an endpoint
 * got that claimed bytes it never sent (which must never happen).
 */
import type { PacketNat, NatSide } from '../../src/core/packet/index.js';
import { concat, ipv4Packet, tcpSegment, u16, u32 } from './builders.js';
import { decode } from './nat-helpers.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;
const PSH = 0x08;

export interface LinkFaults {
  /** Probability that a packet is lost. */
  readonly loss: number;
  /** Probability that a packet is delivered twice. */
  readonly duplicate: number;
  /** Delay range, ms (a spread reorders). */
  readonly minDelay: number;
  readonly maxDelay: number;
}

export interface SimEndpointConfig {
  readonly address: string;
  readonly port: number;
  readonly isn: number;
  /** Largest segment the sender makes (it picks 1..max at random). */
  readonly maxSegment: number;
}

interface Flight {
  at: number;
  seq: number;
  to: 'client' | 'server' | 'nat-inside' | 'nat-outside';
  packet: Uint8Array;
}

export class SimEndpoint {
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  private out: Uint8Array = new Uint8Array(0);
  finQueued = false;
  finSent = false;
  /** A FIN went out at least once (an acknowledgement may cover it). */
  finEver = false;
  finAcked = false;
  rcvNxt = 0;
  received: number[] = [];
  peerIsn = -1;
  peerFin = false;
  established = false;
  synAcked = false;
  rtoAt = -1;
  rto = 200;
  /** Acknowledgements that claimed unsent bytes. */
  readonly badAcks: string[] = [];
  peerAddress = '';
  peerPort = 0;

  constructor(
    readonly cfg: SimEndpointConfig,
    private readonly rnd: () => number,
    readonly role: 'client' | 'server',
  ) {}

  write(bytes: Uint8Array): void {
    this.out = concat(this.out, bytes);
  }
  close(): void {
    this.finQueued = true;
  }
  get receivedBytes(): Uint8Array {
    return Uint8Array.from(this.received);
  }
  private seqOf(offset: number): number {
    return (this.cfg.isn + 1 + offset) >>> 0;
  }

  private packet(flags: number, offset: number, payload: Uint8Array): Uint8Array {
    const seg = tcpSegment({
      sport: this.cfg.port,
      dport: this.peerPort,
      seq: flags & SYN ? this.cfg.isn : this.seqOf(offset),
      ack: this.peerIsn >= 0 ? (this.peerIsn + 1 + this.rcvNxt + (this.peerFin ? 1 : 0)) >>> 0 : 0,
      flags: flags | (this.peerIsn >= 0 ? ACK : 0),
      window: 65535,
      payload,
    });
    return ipv4Packet({ src: this.cfg.address, dst: this.peerAddress, proto: 6, payload: seg, df: true });
  }

  connect(peerAddress: string, peerPort: number, now: number): Uint8Array {
    this.peerAddress = peerAddress;
    this.peerPort = peerPort;
    this.rtoAt = now + this.rto;
    return this.packet(SYN, 0, new Uint8Array(0));
  }

  /** Segments to send now (new data, window permitting), and the timer. */
  output(now: number): Uint8Array[] {
    const res: Uint8Array[] = [];
    if (!this.established) return res;
    while (this.sndNxt < this.out.length && this.sndNxt - this.sndUna < 16384) {
      const n = Math.min(this.out.length - this.sndNxt, 1 + Math.floor(this.rnd() * this.cfg.maxSegment));
      res.push(this.packet(PSH, this.sndNxt, this.out.subarray(this.sndNxt, this.sndNxt + n)));
      this.sndNxt += n;
      this.sndMax = Math.max(this.sndMax, this.sndNxt);
    }
    if (this.finQueued && !this.finSent && this.sndNxt === this.out.length) {
      res.push(this.packet(FIN, this.sndNxt, new Uint8Array(0)));
      this.finSent = true;
      this.finEver = true;
    }
    if ((this.sndUna < this.sndMax || (this.finSent && !this.finAcked)) && this.rtoAt < 0) this.rtoAt = now + this.rto;
    return res;
  }

  /** Retransmission: go back to the first unacknowledged byte. */
  timeout(now: number): Uint8Array[] {
    if (this.rtoAt < 0 || now < this.rtoAt) return [];
    this.rtoAt = -1;
    this.rto = Math.min(this.rto * 2, 3200);
    if (!this.established) {
      // The client's SYN, or the server's SYN-ACK, again.
      if ((this.role === 'client' && !this.synAcked) || (this.role === 'server' && this.peerIsn >= 0)) {
        this.rtoAt = now + this.rto;
        return [this.packet(SYN, 0, new Uint8Array(0))];
      }
      return [];
    }
    this.sndNxt = this.sndUna;
    if (this.finSent && !this.finAcked) this.finSent = false;
    return this.output(now);
  }

  /** A packet for this endpoint; returns the segments to send in answer. */
  receive(p: Uint8Array, now: number): Uint8Array[] {
    const d = decode(p);
    const flags = d.flags;
    const res: Uint8Array[] = [];
    if (flags & RST) {
      this.established = false;
      return res;
    }
    if (flags & SYN) {
      // A SYN (or SYN-ACK) again once established: a duplicate; answer with an acknowledgement.
      if (this.established) return [this.packet(0, this.sndNxt, new Uint8Array(0))];
      if (this.role === 'server') {
        this.peerIsn = d.seq;
        this.peerAddress = d.src;
        this.peerPort = d.sport;
        if (this.rtoAt < 0) this.rtoAt = now + this.rto;
        res.push(this.packet(SYN, 0, new Uint8Array(0)));
        return res;
      }
      // SYN-ACK at the client.
      if (d.ack !== ((this.cfg.isn + 1) >>> 0)) this.badAcks.push(`syn-ack acks ${d.ack}`);
      this.peerIsn = d.seq;
      this.synAcked = true;
      this.established = true;
      this.rtoAt = -1;
      this.rto = 200;
      res.push(this.packet(0, this.sndNxt, new Uint8Array(0)));
      return [...res, ...this.output(now)];
    }
    if (this.role === 'server' && !this.established) {
      if (this.peerIsn < 0 || !(flags & ACK)) return res;
      this.established = true;
      this.rtoAt = -1;
      this.rto = 200;
    }
    if (flags & ACK) {
      const off = ((d.ack - this.cfg.isn - 1) | 0);
      const limit = this.sndMax + (this.finEver ? 1 : 0);
      if (off > limit) this.badAcks.push(`${this.role} got ack of offset ${off}, sent only ${limit}`);
      if (off > this.sndUna) {
        this.sndUna = Math.min(off, this.out.length);
        if (this.sndNxt < this.sndUna) this.sndNxt = this.sndUna;
        if (this.finEver && off === this.out.length + 1) this.finAcked = true;
        this.rto = 200;
        this.rtoAt = this.sndUna < this.sndMax || (this.finSent && !this.finAcked) ? now + this.rto : -1;
      }
    }
    const n = d.payload.length;
    const off = ((d.seq - this.peerIsn - 1) | 0);
    let ackNeeded = n > 0 || (flags & FIN) !== 0;
    if (n > 0 && off <= this.rcvNxt && off + n > this.rcvNxt) {
      const fresh = d.payload.subarray(this.rcvNxt - off);
      for (const b of fresh) this.received.push(b);
      this.rcvNxt += fresh.length;
    }
    if (flags & FIN && off + n === this.rcvNxt) this.peerFin = true;
    if (ackNeeded) res.push(this.packet(0, this.sndNxt, new Uint8Array(0)));
    ackNeeded = false;
    return [...res, ...this.output(now)];
  }
}

export interface SimOptions {
  readonly faults: LinkFaults;
  readonly rnd: () => number;
  readonly clientMaxSegment: number;
  readonly serverMaxSegment: number;
  /** Check every packet the NAT emits. */
  readonly onNatPacket?: (to: NatSide, p: Uint8Array) => void;
}

/**
 * Client and server joined through `nat`. The applications are callbacks run after every
 * delivery: they look at what their endpoint received and write or close.
 */
export class TcpSim {
  now = 0;
  private flights: Flight[] = [];
  private seq = 0;
  readonly client: SimEndpoint;
  readonly server: SimEndpoint;
  natAddress = '';

  constructor(
    readonly nat: PacketNat,
    clientCfg: SimEndpointConfig,
    serverCfg: SimEndpointConfig,
    readonly o: SimOptions,
  ) {
    this.client = new SimEndpoint(clientCfg, o.rnd, 'client');
    this.server = new SimEndpoint(serverCfg, o.rnd, 'server');
  }

  private launch(to: Flight['to'], packet: Uint8Array): void {
    const f = this.o.faults;
    if (this.o.rnd() < f.loss) return;
    const copies = this.o.rnd() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = f.minDelay + this.o.rnd() * (f.maxDelay - f.minDelay);
      this.flights.push({ at: this.now + delay, seq: this.seq++, to, packet: packet.slice() });
    }
  }

  sendFromClient(ps: Uint8Array[]): void {
    for (const p of ps) this.launch('nat-inside', p);
  }
  sendFromServer(ps: Uint8Array[]): void {
    for (const p of ps) this.launch('nat-outside', p);
  }

  private natIn(side: NatSide, p: Uint8Array): void {
    const v = this.nat.handle(side, p, this.now);
    if (v.ok && v.action === 'forward') this.natOut(v.to, p);
    for (let t = this.nat.pollTransmit(); t; t = this.nat.pollTransmit()) this.natOut(t.to, t.packet);
  }

  private natOut(to: NatSide, p: Uint8Array): void {
    this.o.onNatPacket?.(to, p);
    this.launch(to === 'inside' ? 'client' : 'server', p);
  }

  /** Run until `done()` or the time limit; `app()` runs after each step. */
  run(app: () => void, done: () => boolean, limitMs: number): boolean {
    for (let steps = 0; steps < 1_000_000; steps++) {
      app();
      this.sendFromClient(this.client.output(this.now));
      this.sendFromServer(this.server.output(this.now));
      if (done()) return true;
      // Next event: a flight, an endpoint timer, the NAT's timer.
      let next = Infinity;
      for (const f of this.flights) if (f.at < next) next = f.at;
      if (this.client.rtoAt >= 0) next = Math.min(next, this.client.rtoAt);
      if (this.server.rtoAt >= 0) next = Math.min(next, this.server.rtoAt);
      const nt = this.nat.pollTimeout();
      if (nt !== null) next = Math.min(next, Math.max(nt, this.now));
      if (next === Infinity || next > limitMs) return false;
      this.now = Math.max(this.now, next);
      const due = this.flights.filter((f) => f.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
      this.flights = this.flights.filter((f) => f.at > this.now);
      for (const f of due) {
        switch (f.to) {
          case 'nat-inside':
            this.natIn('inside', f.packet);
            break;
          case 'nat-outside':
            this.natIn('outside', f.packet);
            break;
          case 'client':
            this.sendFromClient(this.client.receive(f.packet, this.now));
            break;
          case 'server':
            this.sendFromServer(this.server.receive(f.packet, this.now));
            break;
        }
      }
      if (nt !== null && nt <= this.now) {
        this.nat.handleTimeout(this.now);
        for (let t = this.nat.pollTransmit(); t; t = this.nat.pollTransmit()) this.natOut(t.to, t.packet);
      }
      this.sendFromClient(this.client.timeout(this.now));
      this.sendFromServer(this.server.timeout(this.now));
    }
    return false;
  }
}

export { u16, u32 };
