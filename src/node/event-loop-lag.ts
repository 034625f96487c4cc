/**
 * Event-loop lag of this process (perf_hooks.monitorEventLoopDelay): how late timers run, which
 * is how late every relayed byte and every control reply is too. One per metrics server.
 *
 * Quantiles describe the time since the previous sample (a scrape); the count and the sum keep
 * growing, so that a rate of sum over count gives the mean over any window.
 */

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The monitor's sampling period: 10 ms, Node's default, costs nothing measurable. */
const RESOLUTION_MS = 10;
/** The monitor records the whole period between its timer's runs: the lag is what exceeds it. */
const RESOLUTION_NS = RESOLUTION_MS * 1e6;

function lagSeconds(ns: number): number {
  return Math.max(0, ns - RESOLUTION_NS) / 1e9;
}

export interface EventLoopLagSample {
  /** Delay quantiles in seconds since the previous sample (0 when none was taken). */
  readonly quantiles: ReadonlyArray<readonly [quantile: number, seconds: number]>;
  /** Largest delay since the previous sample, in seconds. */
  readonly maxSeconds: number;
  /** Samples and their summed delay since the monitor started. */
  readonly count: number;
  readonly sumSeconds: number;
}

export const LAG_QUANTILES = [0.5, 0.9, 0.99] as const;

export class EventLoopLag {
  private readonly histogram: IntervalHistogram;
  private count = 0;
  private sumNs = 0;

  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
  }

  /** The lag since the previous call, then the window starts again. */
  sample(): EventLoopLagSample {
    const h = this.histogram;
    const n = h.count;
    const quantiles = LAG_QUANTILES.map((q) => [q, n > 0 ? lagSeconds(h.percentile(q * 100)) : 0] as const);
    const maxSeconds = n > 0 ? lagSeconds(h.max) : 0;
    if (n > 0) {
      this.count += n;
      this.sumNs += Math.max(0, h.mean - RESOLUTION_NS) * n;
    }
    h.reset();
    return { quantiles, maxSeconds, count: this.count, sumSeconds: this.sumNs / 1e9 };
  }

  stop(): void {
    this.histogram.disable();
  }
}
