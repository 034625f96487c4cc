/**
 * Review driver: runs a script of API calls (data in a chosen chunking, answers to data-channel
 * requests at chosen points, handleEnd) through a translator, so that the fast lanes and the
 * general path (fastLanes = false) can be compared under the same call sequence. Unlike
 * harness.ts `run`, answers are not given at once: requests stay outstanding across chunks and
 * segments until an `answer` step, and handleEnd can come at any step.
 */
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { DataChannelRequest, FtpEvent, FtpTranslatorOptions } from '../../src/core/ftp/types.js';
import type { Direction } from '../../src/core/stream/translator.js';
import { C2S, S2C, concat, text } from './harness.js';

export type Step =
  | { readonly t: 'data'; readonly dir: Direction; readonly data: Uint8Array; readonly cuts: readonly number[] }
  | { readonly t: 'answer'; readonly pick: number; readonly refuse: boolean }
  | { readonly t: 'end'; readonly dir: Direction };

export interface DriveResult {
  c2s: string;
  s2c: string;
  events: FtpEvent[];
  /** Per handleData call: direction and bytes consumed (the call sequence itself). */
  log: string[];
  stuck: number;
  /** Input bytes consumed, both directions. */
  consumed: number;
}

/** One translator being driven step by step (so that two can be interleaved). */
export class Driver {
  readonly t: FtpTranslator;
  private readonly out: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  private readonly waiting: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  private readonly ended: Record<Direction, boolean> = { 'client-to-server': false, 'server-to-client': false };
  readonly events: FtpEvent[] = [];
  readonly log: string[] = [];
  consumed = 0;
  private readonly outstanding: DataChannelRequest[] = [];

  /** eager: answer each request as soon as it is polled (every third refused), like harness.ts. */
  constructor(o: FtpTranslatorOptions, fast: boolean, private readonly eager = false) {
    this.t = new FtpTranslator(o);
    this.t.fastLanes = fast;
  }

  private drain(): void {
    for (const d of [C2S, S2C]) for (let b = this.t.pollOutput(d); b; b = this.t.pollOutput(d)) this.out[d].push(b.slice());
    for (let e = this.t.pollEvent(); e; e = this.t.pollEvent()) {
      this.events.push(e);
      if (e.type === 'data-channel-request') this.outstanding.push(e.request);
    }
    while (this.eager && this.outstanding.length > 0) {
      const r = this.outstanding.shift()!;
      this.answer(r, r.id % 3 === 0);
    }
  }

  private pump(dir: Direction): void {
    const q = this.waiting[dir];
    while (q.length > 0 && !this.t.isBlocked(dir) && !this.ended[dir]) {
      const chunk = q[0]!;
      const buf = chunk.slice();
      const used = this.t.handleData(dir, buf, 0);
      this.consumed += used;
      this.log.push(`${dir === C2S ? 'c' : 's'}${used}/${chunk.length}`);
      this.drain();
      buf.fill(0xee); // the caller reuses its buffer once output is drained
      if (used >= chunk.length) q.shift();
      else if (used > 0) q[0] = chunk.subarray(used);
      else if (!this.t.isBlocked(dir)) throw new Error('consumed nothing while not blocked');
    }
  }

  private answer(r: DataChannelRequest, refuse: boolean): void {
    if (refuse) this.t.refuseDataChannel(r.id, 'review refusal');
    else this.t.resolveDataChannel(r.id, r.family === 4 ? { family: 4, address: '192.0.2.1', port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id });
    this.drain();
  }

  step(st: Step): void {
    if (st.t === 'data') {
      if (this.ended[st.dir]) return;
      let off = 0;
      for (const len of [...st.cuts, st.data.length]) {
        const to = Math.min(Math.max(len, off), st.data.length);
        if (to > off) this.waiting[st.dir].push(st.data.subarray(off, to));
        off = to;
        this.pump(st.dir);
      }
    } else if (st.t === 'answer') {
      if (this.outstanding.length === 0) return;
      this.answer(this.outstanding.splice(st.pick % this.outstanding.length, 1)[0]!, st.refuse);
    } else {
      // an embedding ends a direction only once its input is consumed
      if (this.waiting[st.dir].length === 0 && !this.ended[st.dir]) {
        this.ended[st.dir] = true;
        this.t.handleEnd(st.dir, 0);
        this.drain();
      }
    }
    this.pump(C2S);
    this.pump(S2C);
  }

  result(): DriveResult {
    this.drain();
    return {
      c2s: text(concat(this.out[C2S])),
      s2c: text(concat(this.out[S2C])),
      events: this.events,
      log: this.log,
      stuck: this.waiting[C2S].length + this.waiting[S2C].length,
      consumed: this.consumed,
    };
  }
}

export function drive(o: FtpTranslatorOptions, steps: readonly Step[], fast: boolean, eager = false): DriveResult {
  const d = new Driver(o, fast, eager);
  for (const st of steps) d.step(st);
  return d.result();
}

/** The same script with every data step fed whole (no cuts). */
export function whole(steps: readonly Step[]): Step[] {
  return steps.map((st) => (st.t === 'data' ? { ...st, cuts: [] } : st));
}
