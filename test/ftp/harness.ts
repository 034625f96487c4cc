/**
 * Test driver for FtpTranslator: feeds a script of (direction, bytes) segments through a
 * translator in a chosen chunking, answers data-channel requests with a resolver, and collects
 * the output per direction and the events. Used by unit, property and golden tests.
 */
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpEvent, FtpTranslatorOptions, FtpDataChannelRequest } from '../../src/core/ftp/types.js';
import type { Direction, StreamEdit } from '../../src/core/stream/translator.js';
import type { Endpoint } from '../../src/core/net/ip.js';

export const C2S: Direction = 'client-to-server';
export const S2C: Direction = 'server-to-client';

export interface Segment {
  readonly dir: Direction;
  readonly data: Uint8Array;
}

export type Resolver = (r: FtpDataChannelRequest) => Endpoint | { refuse: string };

/** What the harness drives: the FTP translator, or another translator with its shape. */
export interface DrivenTranslator {
  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number;
  handleEnd(direction: Direction, nowMs: number): void;
  pollOutput(direction: Direction): Uint8Array | null;
  pollEvent(): FtpEvent | null;
  isBlocked(direction: Direction): boolean;
  resolveDataChannel(id: number, replacement: Endpoint): void;
  refuseDataChannel(id: number, reason?: string): void;
}

export interface RunResult<T extends DrivenTranslator = FtpTranslator> {
  readonly c2s: Uint8Array;
  readonly s2c: Uint8Array;
  readonly events: FtpEvent[];
  /** Number of handleData calls that fed at least one byte. */
  readonly feeds: number;
  readonly translator: T;
  /** Chunks never consumed (a direction still blocked at the end). */
  readonly stuck: number;
}

export function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export function text(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const seg = (dir: Direction, data: string | Uint8Array): Segment => ({
  dir,
  data: typeof data === 'string' ? bytes(data) : data,
});
export const c = (data: string | Uint8Array) => seg(C2S, data);
export const s = (data: string | Uint8Array) => seg(S2C, data);

/** Default resolver: every data channel maps to a fixed gateway endpoint of the wanted family. */
export const fixedResolver: Resolver = (r) =>
  r.family === 4 ? { family: 4, address: '192.0.2.1', port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id };

/**
 * Run `segments` through a fresh translator. `split(data, index)` returns the chunk lengths to cut
 * each segment into (default: whole). Like a real embedding, input the translator does not
 * consume (a blocked direction) is kept and fed again once the direction is unblocked; that is
 * retried at segment boundaries only, so the interleaving of the two directions depends on the
 * script and never on the chunking.
 */
export function run(
  options: FtpTranslatorOptions,
  segments: readonly Segment[],
  resolver: Resolver = fixedResolver,
  split: (data: Uint8Array, index: number) => number[] = (d) => [d.length],
  end = false,
  setup?: (t: FtpTranslator) => void,
): RunResult {
  return runWith((o) => new FtpTranslator(o), options, segments, resolver, split, end, setup);
}

/** `run` with another translator of the same shape (the differential test's oracle). */
export function runWith<T extends DrivenTranslator>(
  create: (options: FtpTranslatorOptions) => T,
  options: FtpTranslatorOptions,
  segments: readonly Segment[],
  resolver: Resolver = fixedResolver,
  split: (data: Uint8Array, index: number) => number[] = (d) => [d.length],
  end = false,
  setup?: (t: T) => void,
): RunResult<T> {
  const t = create(options);
  setup?.(t);
  const out: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  const waiting: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  const events: FtpEvent[] = [];
  let feeds = 0;
  const drain = () => {
    for (const d of [C2S, S2C]) {
      for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) out[d].push(b.slice());
    }
    for (let e = t.pollEvent(); e; e = t.pollEvent()) {
      events.push(e);
      if (e.type === 'data-channel-request') {
        const answer = resolver(e.request);
        if ('refuse' in answer) t.refuseDataChannel(e.request.id, answer.refuse);
        else t.resolveDataChannel(e.request.id, answer);
      }
    }
  };
  const pump = (dir: Direction) => {
    const q = waiting[dir];
    while (q.length > 0 && !t.isBlocked(dir)) {
      const chunk = q[0]!;
      // Feed a fresh copy and scribble over it afterwards: output must not depend on input
      // buffers staying unchanged once pollOutput has been drained.
      const buf = chunk.slice();
      const used = t.handleData(dir, buf, 0);
      if (used > 0) feeds++;
      drain();
      buf.fill(0xee);
      if (used >= chunk.length) q.shift();
      else if (used > 0) q[0] = chunk.subarray(used);
      else if (!t.isBlocked(dir)) throw new Error(`translator consumed nothing in ${dir} while not blocked`);
    }
  };
  segments.forEach((sg, index) => {
    const lens = split(sg.data, index);
    let off = 0;
    for (const len of lens) {
      if (len > 0) waiting[sg.dir].push(sg.data.subarray(off, off + len));
      off += len;
      pump(sg.dir);
    }
    if (off !== sg.data.length) throw new Error('split lengths do not cover the segment');
    pump(C2S);
    pump(S2C);
  });
  if (end) {
    for (const d of [C2S, S2C]) if (waiting[d].length === 0) t.handleEnd(d, 0);
  }
  drain();
  const stuck = waiting[C2S].length + waiting[S2C].length;
  return { c2s: concat(out[C2S]), s2c: concat(out[S2C]), events, feeds, translator: t, stuck };
}

/** Apply a direction's edits to its input: must give its output. */
export function applyEdits(input: Uint8Array, edits: StreamEdit[], insertions: (e: StreamEdit) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (const e of edits) {
    parts.push(input.subarray(pos, e.inputOffset));
    parts.push(insertions(e));
    pos = e.inputOffset + e.inputLength;
  }
  parts.push(input.subarray(pos));
  return concat(parts);
}

export function edits(events: FtpEvent[]): StreamEdit[] {
  return events.flatMap((e) => (e.type === 'edit' ? [e.edit] : []));
}

export const opts: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' };
