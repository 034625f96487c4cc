/** The log limiter on fake time: the first N entries of an event per interval, then one summary. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogLimiter } from '../../src/node/log-limiter.js';
import type { FtpProxyLogEntry } from '../../src/node/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('LogLimiter', () => {
  it('logs the first N per interval and each event apart; the summary comes when the interval ends', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const out: FtpProxyLogEntry[] = [];
    const l = new LogLimiter((e) => out.push(e), { perInterval: 3, intervalMs: 1000 });
    for (let k = 0; k < 10; k++) l.log({ level: 'warn', event: 'session-refused', k });
    l.log({ level: 'warn', event: 'data-limit' });
    expect(out.map((e) => e.event)).toEqual(['session-refused', 'session-refused', 'session-refused', 'data-limit']);
    vi.advanceTimersByTime(999);
    expect(out).toHaveLength(4);
    vi.advanceTimersByTime(1);
    expect(out.at(-1)).toEqual({ level: 'warn', event: 'log-suppressed', suppressedEvent: 'session-refused', count: 7, intervalMs: 1000 });
    // A new interval starts afresh.
    for (let k = 0; k < 4; k++) l.log({ level: 'warn', event: 'session-refused' });
    expect(out.filter((e) => e.event === 'session-refused')).toHaveLength(6);
    l.flush();
    expect(out.at(-1)).toMatchObject({ event: 'log-suppressed', count: 1 });
    l.flush();
    expect(out.filter((e) => e.event === 'log-suppressed')).toHaveLength(2);
  });

  it('writes no summary when nothing was left out', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const out: FtpProxyLogEntry[] = [];
    const l = new LogLimiter((e) => out.push(e), { perInterval: 3, intervalMs: 1000 });
    l.log({ level: 'warn', event: 'session-refused' });
    vi.advanceTimersByTime(5000);
    l.log({ level: 'warn', event: 'session-refused' });
    l.flush();
    expect(out.map((e) => e.event)).toEqual(['session-refused', 'session-refused']);
  });
});
