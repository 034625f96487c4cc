/**
 * The FTP control-channel translator as a pair of Node Transform streams, for users who already
 * run their own proxy and only want the control lines translated:
 *
 *   pipeline(clientSocket, clientToServer, serverSocket, done);
 *   pipeline(serverSocket, serverToClient, clientSocket, done);
 *
 * A data-channel request is answered by the user's `resolveDataChannel` (sync or async); while it
 * is pending, the stream that carried the line holds its input (its transform callback waits), so
 * backpressure reaches the socket. Replies the translator makes itself (a refused command) come
 * out of `serverToClient`.
 *
 * Use `stream.pipeline()`, not `.pipe()`: when the translator gives the connection up
 * (its `close` event: an over-long line under `overlongLine: 'close'`, a line timeout, too much
 * discarded input), both streams fail with a `TranslatorClosedError`
 * (`ERR_NAT_ALG_TRANSLATOR_CLOSED`), and pipeline() destroys the sockets; `.pipe()` would leave
 * them open.
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

/** How long the translator's farewell (a `421`) may take to be read out of the streams before they fail. */
const FAREWELL_LINGER_MS = 2000;

const TRANSLATOR_CLOSED = 'ERR_NAT_ALG_TRANSLATOR_CLOSED';

/**
 * The translator gave the connection up (its `close` event), so both streams fail with this.
 * Not a NatAlgError: nothing was misused, a peer misbehaved; it carries a Node-style `code` so
 * that a pipeline() callback can tell it from a socket's own error.
 */
export class TranslatorClosedError extends Error {
  readonly code = TRANSLATOR_CLOSED;
  /** The translator's reason (`line not complete within 30 s`, ...). */
  readonly reason: string;

  constructor(reason: string) {
    super(`the translator closed the connection: ${reason}`);
    this.name = 'TranslatorClosedError';
    this.reason = reason;
  }
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
  /** The translator's `close` reason once it gave up, else null. */
  let closedReason: string | null = null;

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
    if (closedReason !== null) return; // the translator gave up meanwhile: nobody waits for it
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
    let closing: string | null = null;
    for (let e = translator.pollEvent(); e; e = translator.pollEvent()) {
      onEvent?.(e);
      if (e.type === 'data-channel-request') answer(e.request);
      if (e.type === 'close') closing ??= e.reason;
    }
    for (const dir of ['client-to-server', 'server-to-client'] as const) {
      for (let out = translator.pollOutput(dir); out; out = translator.pollOutput(dir)) push(dir, out);
    }
    // After the output: the farewell the translator wrote must reach the client first.
    if (closing !== null && closedReason === null) {
      closedReason = closing;
      giveUp(closing);
      return;
    }
    if (closedReason !== null) return;
    for (const dir of ['client-to-server', 'server-to-client'] as const) {
      const h = held[dir];
      if (!h || translator.isBlocked(dir)) continue;
      held[dir] = null;
      feed(dir, h.rest, h.callback);
    }
    arm();
  }

  /**
   * The translator gave up. Both streams must fail, with an error (not an orderly end): an end
   * would FIN the peers through pipeline()/pipe() but leave the sockets that feed the streams
   * open, and the peer the translator gave up on is typically one that never closes by itself
   * (a trickling or flooding client). An error makes pipeline() destroy every stream of both
   * pipelines and report the code to its callback, which is what its users branch on.
   * First the output already queued (the farewell `421`) is let out: each readable side is ended
   * after its last byte, and the streams fail once both ends have been read (at most
   * FAREWELL_LINGER_MS later, for a consumer that stopped reading).
   */
  function giveUp(reason: string): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const error = new TranslatorClosedError(reason);
    // Lines held for a data-channel answer will never go: their callbacks are dropped with the streams.
    held['client-to-server'] = held['server-to-client'] = null;
    let waiting = 0;
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      clearTimeout(linger);
      for (const st of Object.values(streams)) if (!st.destroyed) st.destroy(error);
    };
    const linger = setTimeout(fail, FAREWELL_LINGER_MS);
    linger.unref();
    for (const dir of ['client-to-server', 'server-to-client'] as const) {
      const st = streams[dir];
      if (st.destroyed || st.readableEnded) continue;
      waiting++;
      st.once('end', () => {
        if (--waiting === 0) fail();
      });
      if (!finished[dir]) {
        finished[dir] = true;
        st.push(null);
      }
    }
    if (waiting === 0) setImmediate(fail);
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
