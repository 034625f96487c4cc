/**
 * Command-line parsing for `nat-alg nat`, a pure function: argv in, the gateway's options or a
 * usage error naming the flag out. Flags that may be given more than once collect their values.
 */

import { canonicalAddress, familyOf, parseEndpoint, type Endpoint } from '../core/net/ip.js';
import { parseCidr } from '../core/net/cidr.js';
import { parseNat64Prefix } from '../core/nat/rfc6052.js';
import type { LogFormat } from './args.js';

export interface NatCommandOptions {
  readonly inside: Endpoint;
  readonly outside: Endpoint;
  readonly insidePeer?: Endpoint;
  readonly outsidePeer?: Endpoint;
  readonly insideNetworks: readonly string[];
  readonly natAddresses: readonly string[];
  readonly forwards: readonly { readonly protocol: 'tcp' | 'udp'; readonly external: Endpoint; readonly internal: Endpoint }[];
  readonly oneToOne: readonly { readonly inside: string; readonly outside: string }[];
  readonly nat64?: { readonly prefix: string; readonly pool: readonly string[] };
  /** ALGs by name and server port; empty: none. */
  readonly algs: readonly { readonly name: string; readonly port?: number }[];
  readonly mtu?: number;
  readonly log: LogFormat;
  readonly verbose: boolean;
}

export type NatParse = { readonly kind: 'nat'; readonly options: NatCommandOptions } | { readonly kind: 'help' } | { readonly kind: 'usage-error'; readonly message: string };

export const NAT_USAGE = `Usage: nat-alg nat --inside udp:HOST:PORT --outside udp:HOST:PORT --nat-address IP [options]

A packet NAT with ALGs (FTP on port 21 by default): raw IP packets arrive and leave as UDP
datagrams of one packet each, as "socat TUN:... UDP-DATAGRAM:..." carries them, so that two TUN
devices can be joined by nat-alg alone. Packets from the inside link are translated out, packets
from the outside link back in. See docs/packet.md and examples/tun-gateway.

Required:
  --inside udp:HOST:PORT    UDP address to bind for the inside link
  --outside udp:HOST:PORT   UDP address to bind for the outside link
  --nat-address IP          the NAT's outside address (repeatable: a pool); or --nat64-pool

Options:
  --inside-peer udp:HOST:PORT, --outside-peer udp:HOST:PORT
                            where to send on a link before anything arrived on it (then the
                            gateway answers whoever last sent on the link)
  --inside-network CIDR     inside block to translate (repeatable; default: all of the pool's family)
  --forward tcp:PUBLIC_IP:PORT=INSIDE_IP:PORT
                            a static port forward (tcp or udp; repeatable)
  --one-to-one INSIDE_IP=OUTSIDE_IP
                            a 1:1 address rule, ports unchanged (repeatable)
  --nat64 PREFIX            NAT64 for IPv6 inside hosts: IPv4 destinations under this RFC 6052
                            prefix (for example 64:ff9b::/96)
  --nat64-pool IPV4         IPv4 address(es) NAT64 sources take (repeatable; added to the pool)
  --alg NAME[:PORT]         an ALG on its server port (repeatable; default ftp:21; "none": no ALG)
  --mtu BYTES               largest packet sent; rewritten segments are split to fit (default 1500)
  --log text|json           log format, one line per event on stderr (default text)
  --verbose                 also log every session and translated line
  -h, --help                show this help

The ready line "nat-alg nat: inside udp:..., outside udp:..." goes to stdout once both links are
bound. Exit codes: 0 success (including shutdown by signal), 1 runtime failure, 2 usage error.
`;

const REPEATABLE = new Set(['--inside-network', '--nat-address', '--forward', '--one-to-one', '--nat64-pool', '--alg']);
const SINGLE = new Set(['--inside', '--outside', '--inside-peer', '--outside-peer', '--nat64', '--mtu', '--log']);
const BOOLEAN = new Set(['--verbose']);

function udpEndpoint(flag: string, text: string): Endpoint | string {
  if (!text.startsWith('udp:')) return `${flag}: expected udp:HOST:PORT, got ${JSON.stringify(text)}`;
  try {
    return parseEndpoint(text.slice(4));
  } catch (e) {
    return `${flag}: ${(e as Error).message}`;
  }
}

function address(flag: string, text: string): string | { error: string } {
  try {
    return canonicalAddress(text);
  } catch {
    return { error: `${flag}: ${JSON.stringify(text)} is not an IPv4 or IPv6 address` };
  }
}

export function parseNatArgs(argv: readonly string[]): NatParse {
  const single = new Map<string, string>();
  const many = new Map<string, string[]>();
  const flags = new Set<string>();
  const fail = (message: string): NatParse => ({ kind: 'usage-error', message });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN.has(name)) {
      if (eq >= 0) return fail(`${name} takes no value`);
      flags.add(name);
      continue;
    }
    if (!SINGLE.has(name) && !REPEATABLE.has(name)) return fail(arg.startsWith('-') ? `unknown option ${name}` : `unexpected argument ${JSON.stringify(arg)}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) return fail(`${name} needs a value`);
      i++;
    }
    if (REPEATABLE.has(name)) many.set(name, [...(many.get(name) ?? []), value]);
    else {
      if (single.has(name)) return fail(`${name} given twice`);
      single.set(name, value);
    }
  }
  const links: Partial<Record<'inside' | 'outside' | 'insidePeer' | 'outsidePeer', Endpoint>> = {};
  for (const [flag, key, required] of [
    ['--inside', 'inside', true],
    ['--outside', 'outside', true],
    ['--inside-peer', 'insidePeer', false],
    ['--outside-peer', 'outsidePeer', false],
  ] as const) {
    const v = single.get(flag);
    if (v === undefined) {
      if (required) return fail(`${flag} udp:HOST:PORT is required`);
      continue;
    }
    const e = udpEndpoint(flag, v);
    if (typeof e === 'string') return fail(e);
    links[key] = e;
  }
  const natAddresses: string[] = [];
  for (const v of many.get('--nat-address') ?? []) {
    const a = address('--nat-address', v);
    if (typeof a !== 'string') return fail(a.error);
    natAddresses.push(a);
  }
  let nat64: NatCommandOptions['nat64'];
  const prefix = single.get('--nat64');
  const pool: string[] = [];
  for (const v of many.get('--nat64-pool') ?? []) {
    const a = address('--nat64-pool', v);
    if (typeof a !== 'string') return fail(a.error);
    if (familyOf(a) !== 4) return fail(`--nat64-pool: ${a} is not an IPv4 address`);
    pool.push(a);
  }
  if (prefix !== undefined) {
    try {
      nat64 = { prefix: parseNat64Prefix(prefix).text, pool };
    } catch (e) {
      return fail(`--nat64: ${(e as Error).message}`);
    }
  } else if (pool.length > 0) return fail('--nat64-pool needs --nat64 PREFIX');
  if (natAddresses.length === 0 && pool.length === 0) return fail('--nat-address IP is required (or --nat64 with --nat64-pool)');
  const families = new Set([...natAddresses, ...pool].map(familyOf));
  if (families.size > 1) return fail('--nat-address and --nat64-pool must all be of one family');
  const insideNetworks: string[] = [];
  for (const v of many.get('--inside-network') ?? []) {
    try {
      insideNetworks.push(parseCidr(v).text);
    } catch (e) {
      return fail(`--inside-network: ${(e as Error).message}`);
    }
  }
  const forwards: { protocol: 'tcp' | 'udp'; external: Endpoint; internal: Endpoint }[] = [];
  for (const v of many.get('--forward') ?? []) {
    const m = /^(tcp|udp):(.+)=(.+)$/.exec(v);
    if (!m) return fail(`--forward: expected tcp:PUBLIC_IP:PORT=INSIDE_IP:PORT, got ${JSON.stringify(v)}`);
    try {
      const external = parseEndpoint(m[2]!);
      const internal = parseEndpoint(m[3]!);
      if (external.port === 0 || internal.port === 0) return fail('--forward: ports must be 1-65535');
      forwards.push({ protocol: m[1] as 'tcp' | 'udp', external, internal });
    } catch (e) {
      return fail(`--forward: ${(e as Error).message}`);
    }
  }
  const oneToOne: { inside: string; outside: string }[] = [];
  for (const v of many.get('--one-to-one') ?? []) {
    const [i, o] = v.split('=');
    const a = i === undefined ? { error: '' } : address('--one-to-one', i);
    const b = o === undefined ? { error: '' } : address('--one-to-one', o);
    if (typeof a !== 'string' || typeof b !== 'string') return fail(`--one-to-one: expected INSIDE_IP=OUTSIDE_IP, got ${JSON.stringify(v)}`);
    oneToOne.push({ inside: a, outside: b });
  }
  let algs: { name: string; port?: number }[] = [{ name: 'ftp' }];
  const algArgs = many.get('--alg');
  if (algArgs) {
    algs = [];
    for (const v of algArgs) {
      if (v === 'none') continue;
      const m = /^([a-z0-9-]+)(?::([0-9]{1,5}))?$/.exec(v);
      if (!m) return fail(`--alg: expected NAME or NAME:PORT, got ${JSON.stringify(v)}`);
      const port = m[2] === undefined ? undefined : Number(m[2]);
      if (port !== undefined && (port < 1 || port > 65535)) return fail('--alg: port must be 1-65535');
      algs.push(port === undefined ? { name: m[1]! } : { name: m[1]!, port });
    }
  }
  let mtu: number | undefined;
  const mtuText = single.get('--mtu');
  if (mtuText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(mtuText) || Number(mtuText) < 1280 || Number(mtuText) > 65535) return fail(`--mtu: expected 1280-65535, got ${JSON.stringify(mtuText)}`);
    mtu = Number(mtuText);
  }
  const log = single.get('--log') ?? 'text';
  if (log !== 'text' && log !== 'json') return fail(`--log: expected text or json, got ${JSON.stringify(log)}`);
  return {
    kind: 'nat',
    options: {
      inside: links.inside!,
      outside: links.outside!,
      ...(links.insidePeer ? { insidePeer: links.insidePeer } : {}),
      ...(links.outsidePeer ? { outsidePeer: links.outsidePeer } : {}),
      insideNetworks,
      natAddresses,
      forwards,
      oneToOne,
      ...(nat64 ? { nat64 } : {}),
      algs,
      ...(mtu !== undefined ? { mtu } : {}),
      log,
      verbose: flags.has('--verbose'),
    },
  };
}
