/**
 * The FTP control-channel translator as a pair of Node Transform streams, for users who already
 * run their own proxy and only want the control lines translated:
 *
 *   clientSocket.pipe(clientToServer).pipe(serverSocket);
 *   serverSocket.pipe(serverToClient).pipe(clientSocket);
 *
 * A data-channel request is answered by the user's `resolveDataChannel` (sync or async); while it
 * is pending, the stream that carried the line holds its input (its transform callback waits), so
 * backpressure reaches the socket. Replies the translator makes itself (a refused command) come
 * out of `serverToClient`.
 */

import { Transform } from 'node:stream';
import { performance } from 'node:perf_hooks';
import {
  FtpTranslator,
  NatAlgError,
  type AlgEvent,
  type AlgTranslator,
  type DataChannelRequest,
  type Direction,
  type Endpoint,
  type FtpTranslatorOptions,
} from '../core/index.js';

export interface FtpTranslatorStreamsOptions extends FtpTranslatorOptions {
  /** The endpoint that replaces `request.original` in the line, or null to refuse the command. */
  resolveDataChannel(request: DataChannelRequest): Promise<Endpoint | null> | Endpoint | null;
  /** Every translator event, in order. */
  onEvent?: (event: AlgEvent) => void;
  /** Builds the translator; defaults to this package's `FtpTranslator`. */
  createTranslator?: (options: FtpTranslatorOptions) => AlgTranslator;
}

export interface FtpTranslatorStreams {
  readonly clientToServer: Transform;
  readonly serverToClient: Transform;
  readonly translator: AlgTranslator;
}

interface Held {
  rest: Uint8Array;
  callback: (err?: Error | null) => void;
}

export function createFtpTranslatorStreams(options: FtpTranslatorStreamsOptions): FtpTranslatorStreams {
  const { resolveDataChannel, onEvent, createTranslator, ...translatorOptions } = options;
  const translator = createTranslator ? createTranslator(translatorOptions) : new FtpTranslator(translatorOptions);
  const held: Record<Direction, Held | null> = { 'client-to-server': null, 'server-to-client': null };
  const finished: Record<Direction, boolean> = { 'client-to-server': false, 'server-to-client': false };
  let timer: NodeJS.Timeout | null = null;

  const make = (dir: Direction): Transform =>
    new Transform({
      transform(chunk: Buffer, _enc, callback) {
        feed(dir, chunk, callback);
      },
      flush(callback) {
        translator.handleEnd(dir, performance.now());
        pump();
        finished[dir] = true;
        callback();
      },
    });

  const streams: Record<Direction, Transform> = {
    'client-to-server': make('client-to-server'),
    'server-to-client': make('server-to-client'),
  };

  function feed(dir: Direction, bytes: Uint8Array, callback: (err?: Error | null) => void): void {
    const used = translator.handleData(dir, bytes, performance.now());
    if (used < bytes.length && !translator.isBlocked(dir)) {
      // Not waiting for an answer yet not taking input: the translator has given up on the stream.
      pump();
      callback(new NatAlgError('invalid-state', `the translator stopped taking ${dir} input`));
      return;
    }
    if (used < bytes.length) held[dir] = { rest: bytes.subarray(used), callback };
    pump();
    if (used >= bytes.length) callback();
  }

  function push(dir: Direction, bytes: Uint8Array): void {
    const s = streams[dir];
    // A reply made after that direction ended has nobody to go to.
    if (finished[dir] || s.destroyed) return;
    s.push(bytes);
  }

  function answer(request: DataChannelRequest): void {
    let result: Promise<Endpoint | null> | Endpoint | null;
    try {
      result = resolveDataChannel(request);
    } catch {
      result = null;
    }
    Promise.resolve(result).then(
      (ep) => settle(request, ep),
      () => settle(request, null),
    );
  }

  /**
   * Answer the translator. An endpoint it cannot use (IPv6 for a 227, port 0) refuses the
   * command: thrown inside the promise chain it would only be an unhandled rejection, and the
   * held line would never go. Anything else that goes wrong here fails both streams.
   */
  function settle(request: DataChannelRequest, ep: Endpoint | null): void {
    try {
      if (ep) {
        try {
          translator.resolveDataChannel(request.id, ep);
        } catch (err) {
          if (!(err instanceof NatAlgError) || err.kind !== 'invalid-argument') throw err;
          translator.refuseDataChannel(request.id, 'unusable data endpoint');
        }
      } else {
        translator.refuseDataChannel(request.id);
      }
      pump();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      streams['client-to-server'].destroy(e);
      streams['server-to-client'].destroy(e);
    }
  }

  function pump(): void {
    for (let e = translator.pollEvent(); e; e = translator.pollEvent()) {
      onEvent?.(e);
      if (e.type === 'data-channel-request') answer(e.request);
      if (e.type === 'close') {
        streams['client-to-server'].destroy();
        streams['server-to-client'].destroy();
      }
    }
    for (const dir of ['client-to-server', 'server-to-client'] as const) {
      for (let out = translator.pollOutput(dir); out; out = translator.pollOutput(dir)) push(dir, out);
    }
    for (const dir of ['client-to-server', 'server-to-client'] as const) {
      const h = held[dir];
      if (!h || translator.isBlocked(dir)) continue;
      held[dir] = null;
      feed(dir, h.rest, h.callback);
    }
    arm();
  }

  function arm(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const at = translator.pollTimeout();
    if (at === null) return;
    timer = setTimeout(() => {
      timer = null;
      translator.handleTimeout(performance.now());
      pump();
    }, Math.max(0, Math.ceil(at - performance.now())));
    timer.unref();
  }

  for (const s of Object.values(streams)) s.once('close', () => timer && clearTimeout(timer));
  return { clientToServer: streams['client-to-server'], serverToClient: streams['server-to-client'], translator };
}
