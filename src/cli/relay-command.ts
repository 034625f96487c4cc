/**
 * What every relay command (`nat-alg ftp`, `nat-alg irc`) does once its relay exists: run it
 * until a signal. Owns the process-facing behaviour (the ready line, log lines, graceful
 * shutdown, exit codes) but reaches the process only through `CliIo`, so that the entry point
 * stays a few lines and the behaviour can be driven from a test. The commands differ only in the
 * relay they make (ftp-command.ts, irc-command.ts).
 */

import { formatEndpoint, NatAlgError } from '../core/index.js';
import { DataPlaneUnavailableError } from '../node/index.js';
import type { FtpProxy, RelayProxyOptions } from '../node/types.js';
import type { RelayCommandOptions } from './args.js';
import { formatLogEntry } from './log.js';

export interface CliIo {
  /** One line to stdout (the ready line). */
  out(line: string): void;
  /** One line to stderr (logs, errors). */
  err(line: string): void;
  /** Call `handler` on SIGINT/SIGTERM; returns a function that removes it. */
  onSignal(handler: (signal: string) => void): () => void;
  now(): Date;
}

/** The relay options every command shares, from its command-line options. */
export function relayProxyOptions(options: RelayCommandOptions, io: CliIo): RelayProxyOptions {
  return {
    upstream: options.upstream,
    ...(options.publicAddress !== undefined ? { publicAddress: options.publicAddress } : {}),
    ...(options.dataPorts !== undefined ? { dataPorts: options.dataPorts } : {}),
    ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    ...(options.maxSessionsPerClient !== undefined ? { maxSessionsPerClient: options.maxSessionsPerClient } : {}),
    ...(options.maxUnauthenticatedPerClient !== undefined ? { maxUnauthenticatedPerClient: options.maxUnauthenticatedPerClient } : {}),
    ...(options.maxPendingDataChannelsPerClient !== undefined ? { maxPendingDataChannelsPerClient: options.maxPendingDataChannelsPerClient } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.loginTimeoutMs !== undefined ? { loginTimeoutMs: options.loginTimeoutMs } : {}),
    ...(options.dataListenTimeoutMs !== undefined ? { dataListenTimeoutMs: options.dataListenTimeoutMs } : {}),
    ...(options.upstreamConnectTimeoutMs !== undefined ? { upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs } : {}),
    logger: (entry) => {
      if (entry.level === 'debug' && !options.verbose) return;
      io.err(formatLogEntry(entry, options.log, io.now()));
    },
  };
}

/**
 * Make the relay with `create` and run it. Exit codes: 0 clean stop, 1 runtime failure, 2 usage
 * error (bad option values).
 */
export async function runRelayCommand(
  name: string,
  create: () => FtpProxy,
  options: RelayCommandOptions,
  io: CliIo,
  dataPlane: 'relay' | 'nftables' = 'relay',
): Promise<number> {
  let proxy: FtpProxy;
  try {
    proxy = create();
  } catch (e) {
    io.err(`nat-alg ${name}: ${(e as Error).message}`);
    return e instanceof NatAlgError ? 2 : 1;
  }

  const listen = formatEndpoint(options.listen);
  const upstream = options.upstream.host.includes(':') ? `[${options.upstream.host}]:${options.upstream.port}` : `${options.upstream.host}:${options.upstream.port}`;
  const started = await new Promise<Error | null>((resolve) => {
    const onError = (err: Error) => resolve(err);
    proxy.once('error', onError);
    proxy.listen({ port: options.listen.port, host: options.listen.address }, () => {
      proxy.off('error', onError);
      resolve(null);
    });
  });
  if (started) {
    // The data plane is started before the listener: its failure names the cause and the fix.
    if (started instanceof DataPlaneUnavailableError || (started instanceof NatAlgError && dataPlane === 'nftables')) {
      io.err(`nat-alg ${name}: ${started.message}`);
    } else io.err(`nat-alg ${name}: cannot listen on ${listen}: ${describe(started)}`);
    return 1;
  }

  const bound = proxy.address();
  const actual = bound && typeof bound === 'object' ? formatEndpoint({ family: bound.family === 'IPv6' ? 6 : 4, address: options.listen.address, port: bound.port }) : listen;
  io.out(`nat-alg ${name}: listening on ${actual}, upstream ${upstream}${dataPlane === 'nftables' ? ', data plane nftables' : ''}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      removeSignal();
      resolve(code);
    };
    proxy.on('error', (err) => {
      io.err(`nat-alg ${name}: ${describe(err)}`);
      if (!stopping) {
        stopping = true;
        proxy.shutdown({ graceMs: 0 }).then(() => stop(1), () => stop(1));
      }
    });
    const removeSignal = io.onSignal((signal) => {
      if (stopping) {
        // A second signal: do not wait for transfers any longer.
        io.err(`nat-alg ${name}: ${signal} again, closing now`);
        proxy.shutdown({ graceMs: 0 }).then(() => stop(0), () => stop(1));
        return;
      }
      stopping = true;
      const { sessions } = proxy.stats();
      io.err(`nat-alg ${name}: ${signal}, shutting down (${sessions} session${sessions === 1 ? '' : 's'} open, grace ${options.graceMs / 1000} s)`);
      proxy.shutdown({ graceMs: options.graceMs }).then(
        () => stop(0),
        (e: unknown) => {
          io.err(`nat-alg ${name}: shutdown failed: ${describe(e)}`);
          stop(1);
        },
      );
    });
  });
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    EADDRNOTAVAIL: 'address not available on this host',
  };
  return code && known[code] ? `${code} (${known[code]})` : e.message;
}
