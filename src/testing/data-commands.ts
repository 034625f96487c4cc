/**
 * The arguments of PORT and EPRT as a server reads them: strict, every field range-checked and
 * never masked into range, so that a test server refuses what a careful real server refuses.
 */

import { endpoint, parseAddress, type Endpoint } from '../core/net/ip.js';

/** `h1,h2,h3,h4,p1,p2`, every field 0-255, or null. */
export function parsePort(arg: string): Endpoint | null {
  const m = /^\s*([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3})\s*$/.exec(arg);
  if (!m) return null;
  const f = m.slice(1, 7).map((s) => Number.parseInt(s, 10));
  if (f.some((v) => v > 255)) return null;
  return endpoint(`${f[0]}.${f[1]}.${f[2]}.${f[3]}`, f[4]! * 256 + f[5]!);
}

/** `<d>af<d>addr<d>port<d>`; 'family' for an address family other than 1 or 2. */
export function parseEprt(arg: string): Endpoint | 'family' | null {
  const d = arg.charAt(0);
  if (arg.length < 7 || d.charCodeAt(0) < 33 || d.charCodeAt(0) > 126) return null;
  const parts = arg.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return null;
  const [, af, addr, portText] = parts as [string, string, string, string, string];
  if (af !== '1' && af !== '2') return /^[0-9]+$/.test(af) ? 'family' : null;
  const parsed = parseAddress(addr);
  if (!parsed || parsed.family !== (af === '1' ? 4 : 6)) return null;
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return endpoint(addr, Number(portText));
}
