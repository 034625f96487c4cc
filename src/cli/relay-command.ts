/**
 * What every relay command (`nat-alg ftp`, `nat-alg irc`, `nat-alg --config FILE`) does once it
 * knows its listeners: make and run each relay until a signal. Owns the process-facing behaviour
 * (a ready line per listener, log lines, graceful shutdown of all of them, exit codes) but reaches
 * the process only through `CliIo`, so that the entry point stays a few lines and the behaviour
 * can be driven from a test. The commands differ only in the relay they make (ftp-command.ts,
 * irc-command.ts).
 */

import { formatEndpoint, NatAlgError, type Endpoint } from '../core/index.js';
import { createMetricsServer, DataPlaneUnavailableError, type MetricsServer } from '../node/index.js';
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
function relayProxyOptions(options: RelayCommandOptions, io: CliIo, label?: string): RelayProxyOptions {
  return {
    upstream: options.upstream,
    ...(options.publicAddress !== undefined ? { publicAddress: options.publicAddress } : {}),
    ...(options.upstreamPublicAddress !== undefined ? { upstreamPublicAddress: options.upstreamPublicAddress } : {}),
    ...(options.dataPorts !== undefined ? { dataPorts: options.dataPorts } : {}),
    ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    ...(options.maxSessionsPerClient !== undefined ? { maxSessionsPerClient: options.maxSessionsPerClient } : {}),
    ...(options.maxUnauthenticatedPerClient !== undefined ? { maxUnauthenticatedPerClient: options.maxUnauthenticatedPerClient } : {}),
    ...(options.maxPendingDataChannelsPerClient !== undefined ? { maxPendingDataChannelsPerClient: options.maxPendingDataChannelsPerClient } : {}),
    ...(options.clientPrefixLength6 !== undefined ? { clientPrefixLength6: options.clientPrefixLength6 } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.loginTimeoutMs !== undefined ? { loginTimeoutMs: options.loginTimeoutMs } : {}),
    ...(options.dataListenTimeoutMs !== undefined ? { dataListenTimeoutMs: options.dataListenTimeoutMs } : {}),
    ...(options.upstreamConnectTimeoutMs !== undefined ? { upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs } : {}),
    logger: (entry) => {
      if (entry.level === 'debug' && !options.verbose) return;
      // With several listeners, each line says whose it is.
      io.err(formatLogEntry(label !== undefined ? { ...entry, listener: label } : entry, options.log, io.now()));
    },
  };
}

/** One relay to run: its command's name (`ftp`), options, and how to make it from the shared proxy options. */
export interface RelaySpec {
  readonly alg: string;
  readonly options: RelayCommandOptions;
  readonly dataPlane: 'relay' | 'nftables';
  readonly create: (base: RelayProxyOptions) => FtpProxy;
}

interface Running {
  /** `ftp`, or `ftp[name]` when the listener has a name (or an index, among several). */
  readonly prefix: string;
  /** The `relay` label of its metrics: the listener's name (or index), else the ALG's name. */
  readonly name: string;
  readonly proxy: FtpProxy;
  readonly readyLine: string;
}

/**
 * Make every relay and start it, in order; once all of them listen, print their ready lines and
 * run them until a signal. Exit codes: 0 clean stop, 1 runtime failure (a relay that cannot
 * listen: those already started are closed, and no ready line is printed), 2 usage error (option
 * values that the relay refuses). The grace period and the drain delay are the process's: the
 * same in every listener's options.
 */
export async function runRelays(specs: readonly RelaySpec[], io: CliIo): Promise<number> {
  const running: Running[] = [];
  // A relay that fails once running stops them all; until the handlers below exist, it is remembered.
  let failed: ((r: Running, err: Error) => void) | null = null;
  const early: Array<[Running, Error]> = [];
  for (const [i, spec] of specs.entries()) {
    const label = spec.options.name ?? (specs.length > 1 ? String(i) : undefined);
    const prefix = label !== undefined ? `${spec.alg}[${label}]` : spec.alg;
    const started = await start(spec, prefix, label, io);
    if (typeof started === 'number') {
      await Promise.allSettled(running.map((r) => r.proxy.shutdown({ graceMs: 0 })));
      return started;
    }
    const r: Running = { prefix, name: label ?? spec.alg, ...started };
    started.proxy.on('error', (err) => (failed ? failed(r, err) : early.push([r, err])));
    running.push(r);
  }
  // One metrics endpoint for the process, up before the ready lines: a supervisor waiting for
  // them can scrape at once.
  let metrics: MetricsServer | null = null;
  let metricsSuffix = '';
  const metricsAt = specs[0]?.options.metrics;
  if (metricsAt !== undefined) {
    const m = await startMetrics(running, metricsAt, io);
    if (typeof m === 'number') {
      await Promise.allSettled(running.map((r) => r.proxy.shutdown({ graceMs: 0 })));
      return m;
    }
    metrics = m.server;
    metricsSuffix = `, metrics on ${m.at}`;
  }
  // Ready only when every listener is: a supervisor waiting for the lines can use them all.
  for (const r of running) io.out(r.readyLine + metricsSuffix);
  const graceMs = specs[0]?.options.graceMs ?? 0;
  const drainDelayMs = specs[0]?.options.drainDelayMs ?? 0;

  return new Promise<number>((resolve) => {
    let stopping = false;
    let drainTimer: ReturnType<typeof setTimeout> | null = null;
    const stop = (code: number) => {
      removeSignal();
      if (!metrics) return resolve(code);
      metrics.close(() => resolve(code));
    };
    const shutdownAll = (grace: number) =>
      Promise.all(
        running.map((r) =>
          r.proxy.shutdown({ graceMs: grace }).then(
            () => true,
            (e: unknown) => {
              io.err(`nat-alg ${r.prefix}: shutdown failed: ${describe(e)}`);
              return false;
            },
          ),
        ),
      ).then((ok) => ok.every(Boolean));
    const shutdown = (signal: string) => {
      drainTimer = null;
      for (const r of running) {
        const { sessions } = r.proxy.stats();
        io.err(`nat-alg ${r.prefix}: ${signal}, shutting down (${sessions} session${sessions === 1 ? '' : 's'} open, grace ${graceMs / 1000} s)`);
      }
      void shutdownAll(graceMs).then((ok) => stop(ok ? 0 : 1));
    };
    const removeSignal = io.onSignal((signal) => {
      if (stopping) {
        // A second signal: do not wait for the drain delay or for transfers any longer.
        if (drainTimer) clearTimeout(drainTimer);
        drainTimer = null;
        for (const r of running) io.err(`nat-alg ${r.prefix}: ${signal} again, closing now`);
        void shutdownAll(0).then((ok) => stop(ok ? 0 : 1));
        return;
      }
      stopping = true;
      // Out of rotation first: balancers checking /healthz stop sending new clients.
      metrics?.setDraining();
      if (drainDelayMs <= 0) return shutdown(signal);
      // Still accepting while a balancer takes the instance out of rotation.
      for (const r of running) io.err(`nat-alg ${r.prefix}: ${signal}, draining: still accepting for ${drainDelayMs / 1000} s`);
      drainTimer = setTimeout(() => shutdown(signal), drainDelayMs);
    });
    failed = (r, err) => {
      io.err(`nat-alg ${r.prefix}: ${describe(err)}`);
      if (stopping && drainTimer === null) return;
      stopping = true;
      if (drainTimer) clearTimeout(drainTimer);
      drainTimer = null;
      void shutdownAll(0).then(() => stop(1));
    };
    for (const [r, err] of early.splice(0)) failed(r, err);
  });
}

/** The process's metrics endpoint over every relay, listening: the server and where, or the exit code of its failure. */
async function startMetrics(running: readonly Running[], at: Endpoint, io: CliIo): Promise<{ server: MetricsServer; at: string } | number> {
  let server: MetricsServer;
  try {
    server = createMetricsServer({ proxies: running.map((r) => ({ proxy: r.proxy, name: r.name })) });
  } catch (e) {
    io.err(`nat-alg: metrics: ${(e as Error).message}`);
    return e instanceof NatAlgError ? 2 : 1;
  }
  const failed = await new Promise<Error | null>((resolve) => {
    server.once('error', resolve);
    server.listen({ port: at.port, host: at.address }, () => {
      server.off('error', resolve);
      resolve(null);
    });
  });
  if (failed) {
    io.err(`nat-alg: cannot listen for metrics on ${formatEndpoint(at)}: ${describe(failed)}`);
    return 1;
  }
  server.on('error', (err) => io.err(`nat-alg: metrics endpoint: ${describe(err)}`));
  const bound = server.address();
  return { server, at: formatEndpoint(bound && typeof bound === 'object' ? { ...at, port: bound.port } : at) };
}

/** Make one relay and listen: the relay and its ready line, or the exit code of its failure (reported on stderr). */
async function start(spec: RelaySpec, prefix: string, label: string | undefined, io: CliIo): Promise<{ proxy: FtpProxy; readyLine: string } | number> {
  const { options, dataPlane } = spec;
  let proxy: FtpProxy;
  try {
    proxy = spec.create(relayProxyOptions(options, io, label));
  } catch (e) {
    io.err(`nat-alg ${prefix}: ${(e as Error).message}`);
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
      io.err(`nat-alg ${prefix}: ${started.message}`);
    } else io.err(`nat-alg ${prefix}: cannot listen on ${listen}: ${describe(started)}`);
    return 1;
  }

  const bound = proxy.address();
  const actual = bound && typeof bound === 'object' ? formatEndpoint({ family: bound.family === 'IPv6' ? 6 : 4, address: options.listen.address, port: bound.port }) : listen;
  return { proxy, readyLine: `nat-alg ${prefix}: listening on ${actual}, upstream ${upstream}${dataPlane === 'nftables' ? ', data plane nftables' : ''}` };
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
