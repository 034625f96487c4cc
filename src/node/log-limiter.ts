/**
 * A bound on log lines that a peer can cause at will: a flood of connections over a limit would
 * otherwise write one `session-refused` line each and fill the disk. Per event name, the first
 * `perInterval` entries of each interval are logged; the rest are counted, and one summary entry
 * (`log-suppressed`, with the event name and the count) follows when the interval ends, or when
 * the relay stops. Events emitted on the proxy and its counters are never limited, only the log.
 */

import type { FtpProxyLogEntry } from './types.js';

export interface LogLimits {
  /** Entries of one event name logged per interval. */
  readonly perInterval: number;
  readonly intervalMs: number;
}

/** 20 lines per 10 s for each limited event: a burst of refusals is still visible, a flood is not copied. */
export const DEFAULT_LOG_LIMITS: LogLimits = Object.freeze({ perInterval: 20, intervalMs: 10_000 });

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}

export class LogLimiter {
  private readonly sink: (entry: FtpProxyLogEntry) => void;
  private readonly limits: LogLimits;
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;

  constructor(sink: (entry: FtpProxyLogEntry) => void, limits: LogLimits = DEFAULT_LOG_LIMITS) {
    this.sink = sink;
    this.limits = limits;
  }

  /** Log `entry` if its event has budget left in this interval; else count it for the summary. */
  log(entry: FtpProxyLogEntry): void {
    const now = performance.now();
    let w = this.windows.get(entry.event);
    if (w && now - w.start >= this.limits.intervalMs) {
      this.summarize(entry.event, w);
      w = undefined;
    }
    if (!w) {
      w = { start: now, logged: 0, suppressed: 0 };
      this.windows.set(entry.event, w);
    }
    if (w.logged < this.limits.perInterval) {
      w.logged++;
      this.sink(entry);
      return;
    }
    w.suppressed++;
    this.arm();
  }

  /** Write the summaries owed now (the relay stops) and forget every window. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const [event, w] of this.windows) this.summarize(event, w);
    this.windows.clear();
  }

  private summarize(event: string, w: Window): void {
    if (w.suppressed > 0) {
      this.sink({ level: 'warn', event: 'log-suppressed', suppressedEvent: event, count: w.suppressed, intervalMs: this.limits.intervalMs });
    }
    this.windows.delete(event);
  }

  /** One timer for the earliest window with suppressed entries; it never keeps the process alive. */
  private arm(): void {
    if (this.timer) return;
    let due = Infinity;
    for (const w of this.windows.values()) if (w.suppressed > 0) due = Math.min(due, w.start + this.limits.intervalMs);
    if (due === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      for (const [event, w] of [...this.windows]) if (now - w.start >= this.limits.intervalMs) this.summarize(event, w);
      this.arm();
    }, Math.max(0, Math.ceil(due - performance.now())));
    this.timer.unref();
  }
}
