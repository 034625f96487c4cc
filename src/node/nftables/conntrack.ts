/**
 * Reading the kernel's connection tracking table (/proc/net/nf_conntrack) for the flows of the
 * plane's channels.
 *
 * Why polling this file: a data channel's flow never passes through the relay, and the only
 * tool allowed at runtime is nft, which reports no conntrack events (ctnetlink events would need
 * a netlink socket, i.e. a native addon or the conntrack tool). The file is per network
 * namespace, readable by root, and shows each flow's original and reply tuple and TCP state;
 * that is all the plane needs: the reply tuple proves the flow was redirected by us (its source
 * is the target), the state says when it is established and when it ended.
 *
 * Line format (one flow; `packets= bytes=` follow each tuple only with nf_conntrack_acct=1):
 *   ipv4     2 tcp      6 116 TIME_WAIT src=192.0.2.2 dst=192.0.2.1 sport=43792 dport=40000
 *     src=198.51.100.2 dst=198.51.100.1 sport=7000 dport=43792 [ASSURED] mark=0 zone=0 use=2
 * IPv6 addresses are written in full: 2001:0db8:0001:0000:0000:0000:0000:0002.
 */

import { parseAddress } from '../../core/net/ip.js';

export interface Tuple {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

/** TCP states as conntrack names them. */
export type TcpState =
  | 'NONE'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'SYN_SENT2';

export interface TrackedFlow {
  readonly family: 4 | 6;
  readonly state: TcpState;
  readonly original: Tuple;
  readonly reply: Tuple;
  /** [ASSURED]: conntrack saw the handshake complete at some point (kept after a reset). */
  readonly assured: boolean;
}

const STATES = new Set<string>(['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2']);

/** The spelling conntrack uses for an address: dotted quad, or eight 4-digit lowercase groups. */
export function procAddress(address: string): string {
  const p = parseAddress(address);
  if (!p) throw new Error(`not an address: ${address}`);
  if (p.family === 4) return address;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((p.bytes[i]! << 8) | p.bytes[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

/** Tracked state that counts as the flow having carried its connection: the handshake completed. */
export function isEstablished(state: TcpState): boolean {
  return state === 'ESTABLISHED' || state === 'FIN_WAIT' || state === 'CLOSE_WAIT' || state === 'LAST_ACK' || state === 'TIME_WAIT';
}

/** The flow is over: both FINs seen (TIME_WAIT) or a reset (CLOSE). */
export function isEnded(state: TcpState): boolean {
  return state === 'TIME_WAIT' || state === 'CLOSE';
}

/**
 * The TCP flows whose original destination port is one of `ports` (a cheap pre-filter: the
 * whole table is read, only candidate lines are split). Addresses stay in conntrack's spelling.
 */
export function parseConntrack(text: string, ports: ReadonlySet<number>): TrackedFlow[] {
  const flows: TrackedFlow[] = [];
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    at = nl + 1;
    const d = line.indexOf(' dport=');
    if (d < 0) continue;
    const dEnd = line.indexOf(' ', d + 7);
    const dport = Number(line.slice(d + 7, dEnd < 0 ? undefined : dEnd));
    if (!ports.has(dport)) continue;
    const flow = parseLine(line);
    if (flow) flows.push(flow);
  }
  return flows;
}

export function parseLine(line: string): TrackedFlow | null {
  const f = line.split(/\s+/);
  const family = f[0] === 'ipv4' ? 4 : f[0] === 'ipv6' ? 6 : null;
  if (family === null || f[2] !== 'tcp') return null;
  const state = f[5] ?? '';
  if (!STATES.has(state)) return null;
  const vals: Record<'src' | 'dst' | 'sport' | 'dport', string[]> = { src: [], dst: [], sport: [], dport: [] };
  for (let i = 6; i < f.length; i++) {
    const t = f[i]!;
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    const k = t.slice(0, eq);
    if (k === 'src' || k === 'dst' || k === 'sport' || k === 'dport') vals[k].push(t.slice(eq + 1));
  }
  const tuple = (n: 0 | 1): Tuple | null => {
    const src = vals.src[n];
    const dst = vals.dst[n];
    const sport = Number(vals.sport[n]);
    const dport = Number(vals.dport[n]);
    if (src === undefined || dst === undefined || !Number.isInteger(sport) || !Number.isInteger(dport)) return null;
    return { src, dst, sport, dport };
  };
  const original = tuple(0);
  const reply = tuple(1);
  if (!original || !reply) return null;
  return { family, state: state as TcpState, original, reply, assured: f.includes('[ASSURED]') };
}
