/**
 * One log line per relay event, as text (for people) or JSON (for log collectors). Pure
 * functions: the entry and the time come in, a line (without newline) goes out. Endpoints are
 * written as `a.b.c.d:p` / `[v6]:p` in both formats so that they can be grepped the same way.
 */

import type { FtpProxyLogEntry } from '../node/types.js';
import type { LogFormat } from './args.js';

export function formatLogEntry(entry: FtpProxyLogEntry, format: LogFormat, time: Date): string {
  const { level, event, sessionId, ...fields } = entry;
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) plain[k] = simplify(v);
  if (format === 'json') {
    return JSON.stringify({ time: time.toISOString(), level, event, ...(sessionId !== undefined ? { session: sessionId } : {}), ...plain });
  }
  const parts = [time.toISOString(), level.padEnd(5), event];
  if (sessionId !== undefined) parts.push(`session=${sessionId}`);
  for (const [k, v] of Object.entries(plain)) appendText(parts, k, v);
  return parts.join(' ');
}

/** Endpoints to text, errors to their message; everything else as is. */
function simplify(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  if (isEndpoint(v)) return v.family === 6 ? `[${v.address}]:${v.port}` : `${v.address}:${v.port}`;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = simplify(x);
    return out;
  }
  return v;
}

function isEndpoint(v: unknown): v is { family: 4 | 6; address: string; port: number } {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (o.family === 4 || o.family === 6) && typeof o.address === 'string' && typeof o.port === 'number';
}

/** `key=value`, nested objects flattened as `key.sub=value`, text quoted when it needs to be. */
function appendText(parts: string[], key: string, v: unknown): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) appendText(parts, `${key}.${k}`, x);
    return;
  }
  if (v === undefined) return;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  const quote = typeof v === 'string' && (s === '' || !/^[\x21-\x7e]+$/.test(s) || /["=]/.test(s));
  parts.push(`${key}=${quote ? JSON.stringify(s) : s}`);
}
