/**
 * The FTP tests' shorthand over the exported sans-I/O harness (src/testing/harness.ts, published
 * as `runSession` in `nat-alg/testing`): so every translator test also exercises what users get.
 * `run(options, segments, resolver, split, end, setup)` makes a fresh FtpTranslator and runs the
 * script through it.
 */
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpEvent, FtpTranslatorOptions, FtpDataChannelRequest } from '../../src/core/ftp/types.js';
import type { Direction, StreamEdit } from '../../src/core/stream/translator.js';
import {
  bytesOf,
  concatBytes,
  gatewayEndpoints,
  runSession,
  textOf,
  type DataChannelResolver,
  type ScriptStep,
} from '../../src/testing/harness.js';

export const C2S: Direction = 'client-to-server';
export const S2C: Direction = 'server-to-client';

export interface Segment {
  readonly dir: Direction;
  readonly data: Uint8Array;
}

export type Resolver = DataChannelResolver<FtpDataChannelRequest>;

export interface RunResult {
  readonly c2s: Uint8Array;
  readonly s2c: Uint8Array;
  readonly events: FtpEvent[];
  /** Number of handleData calls that fed at least one byte. */
  readonly feeds: number;
  readonly translator: FtpTranslator;
  /** Chunks never consumed (a direction still blocked at the end). */
  readonly stuck: number;
}

export const bytes = bytesOf;
export const text = textOf;
export const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(parts);

export const seg = (dir: Direction, data: string | Uint8Array): Segment => ({
  dir,
  data: typeof data === 'string' ? bytes(data) : data,
});
export const c = (data: string | Uint8Array) => seg(C2S, data);
export const s = (data: string | Uint8Array) => seg(S2C, data);

/** Default resolver: every data channel maps to a fixed gateway endpoint of the wanted family. */
export const fixedResolver: Resolver = gatewayEndpoints;

/**
 * Run `segments` through a fresh translator. `split(data, index)` returns the chunk lengths to cut
 * each segment into (default: whole). See runSession for how blocked input is retried.
 */
export function run(
  options: FtpTranslatorOptions,
  segments: readonly Segment[],
  resolver: Resolver = fixedResolver,
  split: (data: Uint8Array, index: number) => number[] = (d) => [d.length],
  end = false,
  setup?: (t: FtpTranslator) => void,
): RunResult {
  const t = new FtpTranslator(options);
  setup?.(t);
  const script: ScriptStep[] = segments.map((sg) => ({ direction: sg.dir, bytes: sg.data }));
  const r = runSession(t, script, { resolve: resolver, chunking: split, end });
  return {
    c2s: r.clientToServer,
    s2c: r.serverToClient,
    events: [...r.events],
    feeds: r.feeds,
    translator: t,
    stuck: r.unconsumed.length,
  };
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
