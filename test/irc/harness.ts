/**
 * Test driver for IrcTranslator: feeds a script of (direction, bytes) segments in a chosen
 * chunking, answers data-channel requests with a resolver, and collects the output per direction
 * and the events. Input a blocked direction does not take is fed again once it is unblocked, at
 * segment boundaries only, so the interleaving never depends on the chunking.
 */
import { IrcTranslator } from '../../src/core/irc/translator.js';
import type { IrcEvent, IrcTranslatorOptions } from '../../src/core/irc/types.js';
import type { DataChannelRequest } from '../../src/core/alg/contract.js';
import type { Direction } from '../../src/core/stream/translator.js';
import type { Endpoint } from '../../src/core/net/ip.js';

export const C2S: Direction = 'client-to-server';
export const S2C: Direction = 'server-to-client';

export interface Segment {
  readonly dir: Direction;
  readonly data: Uint8Array;
}

export type Resolver = (r: DataChannelRequest) => Endpoint | { refuse: string };

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

export const c = (data: string | Uint8Array): Segment => ({ dir: C2S, data: typeof data === 'string' ? bytes(data) : data });
export const s = (data: string | Uint8Array): Segment => ({ dir: S2C, data: typeof data === 'string' ? bytes(data) : data });

/** The gateway's side facing the server is 198.51.100.1, facing the client 192.0.2.1. */
export const GATEWAY_OUT = '198.51.100.1';
export const GATEWAY_IN = '192.0.2.1';
export const CLIENT = '192.0.2.10';
export const SERVER = '198.51.100.7';

export const OPTIONS: IrcTranslatorOptions = {
  clientAddress: CLIENT,
  serverAddress: SERVER,
  gateway: { client: { local: GATEWAY_IN, announced: [] }, server: { local: GATEWAY_OUT, announced: [] } },
};

/** Every request gets the gateway's address facing its connector, port 40000 + id. */
export const fixedResolver: Resolver = (r) => {
  const v6 = r.family === 6;
  const address = r.connector === 'server' ? (v6 ? '2001:db8:2::1' : GATEWAY_OUT) : v6 ? '2001:db8:1::1' : GATEWAY_IN;
  return { family: r.family, address, port: 40000 + r.id };
};

export interface RunResult {
  readonly c2s: string;
  readonly s2c: string;
  readonly events: IrcEvent[];
  readonly feeds: number;
  readonly translator: IrcTranslator;
  readonly stuck: number;
}

export function run(
  segments: readonly Segment[],
  options: IrcTranslatorOptions = OPTIONS,
  resolver: Resolver = fixedResolver,
  split: (data: Uint8Array, index: number) => number[] = (d) => [d.length],
  end = false,
): RunResult {
  const t = new IrcTranslator(options);
  const out: Record<Direction, string[]> = { 'client-to-server': [], 'server-to-client': [] };
  const waiting: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  const events: IrcEvent[] = [];
  let feeds = 0;
  const drain = (): void => {
    for (const d of [C2S, S2C]) for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) out[d].push(text(b));
    for (let e = t.pollEvent(); e; e = t.pollEvent()) {
      events.push(e);
      if (e.type === 'data-channel-request') {
        const answer = resolver(e.request);
        if ('refuse' in answer) t.refuseDataChannel(e.request.id, answer.refuse);
        else t.resolveDataChannel(e.request.id, answer);
      }
    }
    for (const d of [C2S, S2C]) for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) out[d].push(text(b));
  };
  const pump = (dir: Direction): void => {
    const q = waiting[dir];
    while (q.length > 0 && !t.isBlocked(dir)) {
      const chunk = q[0]!;
      const buf = chunk.slice();
      const used = t.handleData(dir, buf, 0);
      if (used > 0) feeds++;
      drain();
      buf.fill(0xee); // output must not alias input once polled
      if (used >= chunk.length) q.shift();
      else if (used > 0) q[0] = chunk.subarray(used);
      else if (!t.isBlocked(dir)) throw new Error(`translator consumed nothing in ${dir} while not blocked`);
    }
  };
  segments.forEach((sg, index) => {
    let off = 0;
    for (const len of split(sg.data, index)) {
      if (len > 0) waiting[sg.dir].push(sg.data.subarray(off, off + len));
      off += len;
      pump(sg.dir);
    }
    if (off !== sg.data.length) throw new Error('split lengths do not cover the segment');
    pump(C2S);
    pump(S2C);
  });
  if (end) {
    for (const d of [C2S, S2C]) {
      if (waiting[d].length === 0) {
        t.handleEnd(d, 0);
        drain();
      }
    }
  }
  let stuck = 0;
  for (const d of [C2S, S2C]) stuck += waiting[d].length;
  return { c2s: out[C2S].join(''), s2c: out[S2C].join(''), events, feeds, translator: t, stuck };
}

/** Bytes cut into pieces of `n`. */
export const every = (n: number) => (d: Uint8Array): number[] => {
  const lens: number[] = [];
  for (let i = 0; i < d.length; i += n) lens.push(Math.min(n, d.length - i));
  return lens;
};

/** The events without the edit bookkeeping, for readable assertions. */
export function kinds(events: readonly IrcEvent[]): string[] {
  return events.filter((e) => e.type !== 'edit').map((e) => e.type);
}

export const REGISTER = [c('NICK alice\r\nUSER alice 0 * :Alice\r\n'), s(':irc.test 001 alice :Welcome\r\n')];
