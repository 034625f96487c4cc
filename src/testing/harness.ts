/**
 * A sans-I/O test harness for ALG translators: feed a scripted control session through a
 * translator (FTP's `FtpTranslator`, or any `AlgTranslator`), cut into chunks the way you choose,
 * answer its data-channel requests with a resolver, and get back what it wrote each way and every
 * event, in order. No sockets and no timers: a run is a plain function call, so a property test
 * can run thousands of sessions. This is the driver nat-alg's own translator tests use.
 *
 * ```ts
 * import { FtpTranslator } from 'nat-alg';
 * import { runSession, fromClient, fromServer, chunkings, textOf } from 'nat-alg/testing';
 *
 * const script = [fromServer('220 hi\r\n'), fromClient('PASV\r\n'), fromServer('227 Entering Passive Mode (198,51,100,7,4,1).\r\n')];
 * const run = runSession(new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.7' }), script, {
 *   chunking: chunkings.bytewise, // or chunkings.whole, chunkings.at(3), chunkings.random(seed)
 * });
 * textOf(run.serverToClient); // '220 hi\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n'
 * ```
 *
 * Like a real embedding, the harness keeps input the translator does not take (a direction is
 * blocked while one of its lines waits for an answer) and feeds it again once the direction is
 * unblocked. That is retried after every chunk of either direction and at the end of every step,
 * never in the middle of the other direction's step, so the interleaving of the two directions is
 * the script's and never depends on the chunking: the same script must give the same output and
 * events in every chunking (docs/testing.md, "The sans-I/O harness").
 */

import { NatAlgError } from '../core/errors.js';
import type { AlgEvent, AlgTranslator, DataChannelRequest } from '../core/alg/contract.js';
import type { Endpoint } from '../core/net/ip.js';
import type { Direction, StreamEdit } from '../core/stream/translator.js';

/** One step of a scripted session: bytes that one peer sends (`direction` is named from the client). */
export interface ScriptStep {
  readonly direction: Direction;
  readonly bytes: Uint8Array;
}

/**
 * Text as bytes, one byte per character (Latin-1: char codes 0-255, higher codes keep their low
 * byte). Control protocols are byte streams, so a script can hold any byte, `\xff` for Telnet IAC
 * included, which UTF-8 would turn into two.
 */
export function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Bytes as text, one character per byte (Latin-1): the inverse of `bytesOf`. */
export function textOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x2000) s += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return s;
}

function step(direction: Direction, data: string | Uint8Array): ScriptStep {
  return { direction, bytes: typeof data === 'string' ? bytesOf(data) : data };
}

/** A step the client sends (towards the server). Strings are taken as Latin-1 (`bytesOf`). */
export function fromClient(data: string | Uint8Array): ScriptStep {
  return step('client-to-server', data);
}

/** A step the server sends (towards the client). Strings are taken as Latin-1 (`bytesOf`). */
export function fromServer(data: string | Uint8Array): ScriptStep {
  return step('server-to-client', data);
}

/** How the embedding answers a data-channel request: the endpoint to announce, or a refusal. */
export type DataChannelAnswer = Endpoint | { readonly refuse: string };

/** Answers each data-channel request as it is reported (synchronously, like a NAT's table). */
export type DataChannelResolver<R extends DataChannelRequest = DataChannelRequest> = (request: R) => DataChannelAnswer;

/**
 * The default resolver: every request gets a gateway endpoint of the family it asks for,
 * `192.0.2.1` or `2001:db8::1` (documentation addresses), port 40000 + the request's id.
 */
export const gatewayEndpoints: DataChannelResolver = (r) =>
  r.family === 4 ? { family: 4, address: '192.0.2.1', port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id };

/** A resolver that refuses every request with `reason` (the translator tells the peer). */
export function refuseAll(reason = 'refused by the test'): DataChannelResolver {
  return () => ({ refuse: reason });
}

/**
 * How a step's bytes are cut into the chunks handed to `handleData`: the chunk lengths, in order,
 * summing to `bytes.length` (a zero length is skipped). `stepIndex` is the step's index in the
 * script, for cutting one step only.
 */
export type Chunking = (bytes: Uint8Array, stepIndex: number) => readonly number[];

/** Ready-made chunkings. For a property test, draw the lengths yourself (fast-check) instead. */
export const chunkings = {
  /** Each step in one chunk (the default). */
  whole: ((bytes) => [bytes.length]) as Chunking,
  /** One byte per chunk: every line split at every byte. */
  bytewise: ((bytes) => Array.from({ length: bytes.length }, () => 1)) as Chunking,
  /** Every step cut at these offsets (those inside it; unordered and repeated offsets are fine). */
  at(...offsets: number[]): Chunking {
    return (bytes) => {
      const cuts = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) => a - b);
      const lengths: number[] = [];
      let from = 0;
      for (const c of [...cuts, bytes.length]) {
        lengths.push(c - from);
        from = c;
      }
      return lengths;
    };
  },
  /**
   * Pseudo-random chunks of 1 to `maxChunk` bytes, the same for the same `seed` (a small
   * xorshift generator: reproducible, and no `Math.random` in a test that must be repeatable).
   */
  random(seed: number, maxChunk = 16): Chunking {
    if (!Number.isInteger(maxChunk) || maxChunk < 1) throw new NatAlgError('invalid-argument', `maxChunk must be a positive integer, got ${maxChunk}`);
    let state = seed >>> 0 || 0x9e3779b9;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state;
    };
    return (bytes) => {
      const lengths: number[] = [];
      for (let left = bytes.length; left > 0; ) {
        const n = Math.min(left, 1 + (next() % maxChunk));
        lengths.push(n);
        left -= n;
      }
      return lengths;
    };
  },
} as const;

/** The events a translator reports (what its `pollEvent` returns, without the null). */
export type EventOf<T extends AlgTranslator> = NonNullable<ReturnType<T['pollEvent']>>;

/** The data-channel requests a translator makes (FTP's carry `mode` and `command`). */
export type RequestOf<T extends AlgTranslator> = Extract<EventOf<T>, { readonly type: 'data-channel-request' }>['request'];

export interface RunSessionOptions<R extends DataChannelRequest = DataChannelRequest> {
  /** Answers data-channel requests. Default `gatewayEndpoints`. */
  readonly resolve?: DataChannelResolver<R>;
  /** How each step is cut into chunks. Default `chunkings.whole`. */
  readonly chunking?: Chunking;
  /**
   * After the script, both peers close their side (`handleEnd`), each once all of its input was
   * taken: a direction still blocked is not ended (its rest stays in `unconsumed`) unless the
   * other direction's end unblocks it. Default false.
   */
  readonly end?: boolean;
  /** The time passed with every call (the translator's clock). Default 0. */
  readonly nowMs?: number;
}

/** What a run produced. */
export interface SessionRun<T extends AlgTranslator> {
  /** The translator, as the run left it (for `isBlocked`, `lastActivityMs`, its own getters). */
  readonly translator: T;
  /** Everything written towards the server, concatenated. */
  readonly clientToServer: Uint8Array;
  /** Everything written towards the client, concatenated (the gateway's own replies included). */
  readonly serverToClient: Uint8Array;
  /** Every event, in order; data-channel requests were answered as they came. */
  readonly events: readonly EventOf<T>[];
  /** `handleData` calls that took at least one byte. */
  readonly feeds: number;
  /** Chunks never taken, in order: a direction was still blocked when the script ended. */
  readonly unconsumed: readonly ScriptStep[];
}

const DIRECTIONS: readonly Direction[] = ['client-to-server', 'server-to-client'];

/**
 * Run `script` through `translator` (fresh, or prepared by the caller). Throws NatAlgError when
 * the chunking does not cover a step, or when the translator breaks its contract by taking no
 * input while not blocked.
 *
 * Every chunk is fed as a copy that is overwritten once its output has been collected, so a
 * translator that kept a view of an input buffer beyond the documented contract shows up as
 * corrupted output.
 */
export function runSession<T extends AlgTranslator>(
  translator: T,
  script: readonly ScriptStep[],
  options: RunSessionOptions<RequestOf<T>> = {},
): SessionRun<T> {
  const resolve = (options.resolve ?? gatewayEndpoints) as DataChannelResolver<DataChannelRequest>;
  const chunking = options.chunking ?? chunkings.whole;
  const nowMs = options.nowMs ?? 0;
  const out: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  const waiting: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  const events: EventOf<T>[] = [];
  let feeds = 0;

  const drain = () => {
    for (const d of DIRECTIONS) {
      for (let b = translator.pollOutput(d); b; b = translator.pollOutput(d)) out[d].push(b.slice());
    }
    for (let e = translator.pollEvent(); e; e = translator.pollEvent()) {
      events.push(e as EventOf<T>);
      if (e.type === 'data-channel-request') {
        const answer = resolve(e.request);
        if ('refuse' in answer) translator.refuseDataChannel(e.request.id, answer.refuse);
        else translator.resolveDataChannel(e.request.id, answer);
      }
    }
  };

  const pump = (dir: Direction) => {
    const queue = waiting[dir];
    while (queue.length > 0 && !translator.isBlocked(dir)) {
      const chunk = queue[0]!;
      const copy = chunk.slice();
      const used = translator.handleData(dir, copy, nowMs);
      if (used > 0) feeds++;
      drain();
      copy.fill(0xee);
      if (used >= chunk.length) queue.shift();
      else if (used > 0) queue[0] = chunk.subarray(used);
      else if (!translator.isBlocked(dir)) {
        throw new NatAlgError('invalid-state', `the translator took no ${dir} input although that direction is not blocked`);
      }
    }
  };

  script.forEach((s, index) => {
    let offset = 0;
    for (const length of chunking(s.bytes, index)) {
      if (!Number.isInteger(length) || length < 0 || offset + length > s.bytes.length) break;
      if (length > 0) waiting[s.direction].push(s.bytes.subarray(offset, offset + length));
      offset += length;
      pump(s.direction);
    }
    if (offset !== s.bytes.length) {
      throw new NatAlgError('invalid-argument', `the chunking of step ${index} does not cover its ${s.bytes.length} bytes exactly`);
    }
    for (const d of DIRECTIONS) pump(d);
  });
  if (options.end) {
    // A peer closes its side once everything it sent was taken. An end can unblock the other
    // direction (no answer will come any more), whose rest is then fed and which may end in turn.
    const ended: Record<Direction, boolean> = { 'client-to-server': false, 'server-to-client': false };
    for (let progress = true; progress; ) {
      progress = false;
      for (const d of DIRECTIONS) {
        if (ended[d] || waiting[d].length > 0) continue;
        translator.handleEnd(d, nowMs);
        ended[d] = true;
        progress = true;
        drain();
        for (const other of DIRECTIONS) pump(other);
      }
    }
  }
  drain();

  const unconsumed: ScriptStep[] = [];
  for (const d of DIRECTIONS) for (const b of waiting[d]) unconsumed.push({ direction: d, bytes: b });
  return {
    translator,
    clientToServer: concatBytes(out['client-to-server']),
    serverToClient: concatBytes(out['server-to-client']),
    events,
    feeds,
    unconsumed,
  };
}

/** The `edit` events' edits, in order, of one direction or of both. */
export function editsOf(events: readonly AlgEvent[], direction?: Direction): StreamEdit[] {
  const found: StreamEdit[] = [];
  for (const e of events) {
    if (e.type === 'edit' && (direction === undefined || e.edit.direction === direction)) found.push(e.edit);
  }
  return found;
}

/**
 * Rebuild a direction's output from its input and its edits: the bytes between edits come from
 * `input`, each edit's bytes from `output` at its output offset. For a translator whose edits are
 * complete and consistent this gives `output` back exactly, which is what a packet-level NAT
 * relies on to shift sequence numbers; a missing, misplaced or mis-sized edit gives other bytes.
 * Edits must be of one direction, in order (`editsOf(events, direction)`).
 */
export function applyEdits(input: Uint8Array, output: Uint8Array, edits: readonly StreamEdit[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (const e of edits) {
    if (e.inputOffset < pos || e.inputOffset + e.inputLength > input.length) {
      throw new NatAlgError('invalid-argument', `edit at input offset ${e.inputOffset} is out of order or beyond the input`);
    }
    parts.push(input.subarray(pos, e.inputOffset));
    parts.push(output.subarray(e.outputOffset, e.outputOffset + e.outputLength));
    pos = e.inputOffset + e.inputLength;
  }
  parts.push(input.subarray(pos));
  return concatBytes(parts);
}

/** The bytes of `parts`, one after another, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const joined = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    joined.set(p, o);
    o += p.length;
  }
  return joined;
}
