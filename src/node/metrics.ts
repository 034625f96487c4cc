/**
 * The Prometheus text exposition format (version 0.0.4) of relay metrics: a pure function from
 * `proxy.metrics()` snapshots to the text a scraper reads. The HTTP side is metrics-server.ts;
 * an embedder with an HTTP server of its own can serve this text from it instead.
 *
 * Format rules kept here: each family once, `# HELP` then `# TYPE` then its samples; counters end
 * in `_total`; label values escape `\`, `"` and line feeds, HELP text escapes `\` and line feeds;
 * the text ends with a line feed. Every per-relay sample carries `relay` (its name) and `alg`.
 */

import type { EventLoopLagSample } from './event-loop-lag.js';
import type { RelayMetrics } from './relay-counters.js';

/** The content type of the text this file writes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One relay's snapshot and the name it is labelled with (`relay="..."`). */
export interface NamedRelayMetrics {
  readonly name: string;
  readonly metrics: RelayMetrics;
}

export interface PrometheusInput {
  readonly relays: readonly NamedRelayMetrics[];
  /** The process is draining (its health endpoint says so): `nat_alg_draining`. */
  readonly draining?: boolean;
  /** Event-loop lag of this process, if measured. */
  readonly eventLoopLag?: EventLoopLagSample;
}

type Labels = ReadonlyArray<readonly [string, string]>;
type Sample = readonly [labels: Labels, value: number, suffix?: string];

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: readonly Sample[]): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [labels, value, suffix] of samples) this.lines.push(`${name}${suffix ?? ''}${formatLabels(labels)} ${formatValue(value)}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** Counter families (name without `_total`, help, samples of one relay). */
type PerRelay = readonly [name: string, type: 'counter' | 'gauge', help: string, samples: (m: RelayMetrics) => ReadonlyArray<readonly [Labels, number]>];

const one = (v: number): ReadonlyArray<readonly [Labels, number]> => [[[], v]];
const byKey = (label: string, table: Readonly<Record<string, number>>): ReadonlyArray<readonly [Labels, number]> =>
  Object.keys(table)
    .sort()
    .map((k) => [[[label, k]], table[k]!] as const);

/** Every per-relay family, in the order they are written. docs/relay.md lists the same. */
const RELAY_FAMILIES: readonly PerRelay[] = [
  ['nat_alg_sessions_open', 'gauge', 'Sessions open now.', (m) => one(m.sessions.open)],
  ['nat_alg_sessions_unauthenticated', 'gauge', 'Sessions open now that have not logged in yet.', (m) => one(m.sessions.unauthenticated)],
  ['nat_alg_sessions_total', 'counter', 'Sessions accepted since the start.', (m) => one(m.sessions.total)],
  ['nat_alg_sessions_refused_total', 'counter', 'Connections refused (over a session limit, or shutting down), by reason.', (m) => byKey('reason', m.sessions.refused)],
  ['nat_alg_sessions_failed_total', 'counter', 'Sessions torn down by an internal failure (see the session-failed log entry).', (m) => one(m.sessions.failed)],
  ['nat_alg_sockets_open', 'gauge', 'Sockets of the relay open now (control and data).', (m) => one(m.sockets)],
  ['nat_alg_data_listeners_open', 'gauge', 'Data listeners open now (each waits for its peer on a data port).', (m) => one(m.listeners)],
  ['nat_alg_commands_refused_total', 'counter', 'Control lines refused by the ALG (the peer got a reply instead), by reason.', (m) => byKey('reason', m.commandsRefused)],
  [
    'nat_alg_data_channels_total', 'counter', 'Data connections made (both ends connected), by mode and by the plane that carried them.',
    (m) =>
      (['active', 'passive'] as const).flatMap((mode) =>
        Object.keys(m.dataChannels.opened[mode])
          .sort()
          .map((plane) => [[['mode', mode], ['plane', plane]], m.dataChannels.opened[mode][plane]!] as const),
      ),
  ],
  ['nat_alg_data_rejected_total', 'counter', 'Connections to a data listener from someone other than the expected peer (data-port theft attempts), refused.', (m) => one(m.dataChannels.rejected)],
  ['nat_alg_data_limited_total', 'counter', 'Data commands refused because the client had its maximum of data listeners waiting.', (m) => one(m.dataChannels.limited)],
  [
    'nat_alg_control_received_bytes_total', 'counter', 'Control-connection bytes received, by peer (open sessions included).',
    (m) => [[[['from', 'client']], m.bytes.control.fromClient], [[['from', 'server']], m.bytes.control.fromServer]],
  ],
  [
    'nat_alg_control_sent_bytes_total', 'counter', 'Control-connection bytes written after translation, by peer (open sessions included).',
    (m) => [[[['to', 'client']], m.bytes.control.toClient], [[['to', 'server']], m.bytes.control.toServer]],
  ],
  [
    'nat_alg_data_bytes_total', 'counter', 'Data-connection bytes of closed channels, by direction and plane (relay: payload; nftables: IP packets).',
    (m) =>
      Object.keys(m.bytes.data)
        .sort()
        .flatMap((plane) => [
          [[['direction', 'to_client'], ['plane', plane]], m.bytes.data[plane]!.toClient] as const,
          [[['direction', 'to_server'], ['plane', plane]], m.bytes.data[plane]!.toServer] as const,
        ]),
  ],
  ['nat_alg_upstream_failures_total', 'counter', 'Upstream connections that failed (refused, timed out, closed before the greeting).', (m) => one(m.upstreamFailures)],
  [
    'nat_alg_protocol_errors_total', 'counter', 'Protocol errors the translator reported, by direction.',
    (m) => [[[['direction', 'client_to_server']], m.protocolErrors.clientToServer], [[['direction', 'server_to_client']], m.protocolErrors.serverToClient]],
  ],
  ['nat_alg_relay_draining', 'gauge', '1 once the relay stopped accepting sessions (shutdown or close began), else 0.', (m) => one(m.draining ? 1 : 0)],
];

/** The names of every family written, for docs and tests. */
export const METRIC_FAMILIES: readonly string[] = [
  ...RELAY_FAMILIES.map(([name]) => name),
  'nat_alg_draining',
  'nat_alg_event_loop_lag_seconds',
  'nat_alg_event_loop_lag_max_seconds',
];

/** The exposition text of these relays (and of the process, when given). */
export function formatPrometheusMetrics(input: PrometheusInput): string {
  const out = new Exposition();
  for (const [name, type, help, samplesOf] of RELAY_FAMILIES) {
    const samples: Sample[] = [];
    for (const r of input.relays) {
      const base: Labels = [['relay', r.name], ['alg', r.metrics.alg]];
      for (const [labels, value] of samplesOf(r.metrics)) samples.push([[...base, ...labels], value]);
    }
    out.family(name, type, help, samples);
  }
  if (input.draining !== undefined) {
    out.family('nat_alg_draining', 'gauge', '1 when the health endpoint says draining (the instance is leaving rotation), else 0.', [[[], input.draining ? 1 : 0]]);
  }
  const lag = input.eventLoopLag;
  if (lag !== undefined) {
    out.family('nat_alg_event_loop_lag_seconds', 'summary', 'Event-loop lag of the process: quantiles since the previous scrape; sum and count since the start.', [
      ...lag.quantiles.map(([q, v]) => [[['quantile', String(q)]], v] as const),
      [[], lag.sumSeconds, '_sum'],
      [[], lag.count, '_count'],
    ]);
    out.family('nat_alg_event_loop_lag_max_seconds', 'gauge', 'Largest event-loop lag since the previous scrape.', [[[], lag.maxSeconds]]);
  }
  return out.text();
}
