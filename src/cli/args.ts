/**
 * Command-line parsing for `nat-alg`, kept apart from the process so that it is a pure function:
 * argv in, a discriminated result out. Every mistake becomes a `usage-error` with a message that
 * names the flag and what was expected; the entry point turns that into exit code 2.
 */

import { canonicalAddress, parseEndpoint, type Endpoint } from '../core/net/ip.js';
import { parseNatArgs, type NatCommandOptions } from './nat-args.js';

export type LogFormat = 'text' | 'json';

/** Where to relay to: an address endpoint, or a host name resolved when a session opens. */
export type Upstream = { readonly host: string; readonly port: number };

/** What every relay command takes (`nat-alg ftp`, `nat-alg irc`). */
export interface RelayCommandOptions {
  readonly listen: Endpoint;
  readonly upstream: Upstream;
  readonly publicAddress?: string;
  readonly dataPorts?: { readonly min: number; readonly max: number };
  readonly allowForeignAddress: boolean;
  readonly allowLowPorts: boolean;
  readonly log: LogFormat;
  /** Also log each translated control line (debug entries). */
  readonly verbose: boolean;
  /** How long running transfers may go on after SIGINT/SIGTERM before they are cut. */
  readonly graceMs: number;
  readonly maxSessions?: number;
  readonly maxSessionsPerClient?: number;
  readonly maxUnauthenticatedPerClient?: number;
  readonly maxPendingDataChannelsPerClient?: number;
  readonly idleTimeoutMs?: number;
  readonly loginTimeoutMs?: number;
  readonly lineTimeoutMs?: number;
  readonly dataListenTimeoutMs?: number;
  readonly upstreamConnectTimeoutMs?: number;
  readonly maxLineLength?: number;
  readonly overlongLine?: 'refuse' | 'close';
}

export interface FtpCommandOptions extends RelayCommandOptions {
  readonly tls?: 'pass' | 'refuse';
  /** What carries the data channels: the relay's sockets, or the kernel's NAT. */
  readonly dataPlane: 'relay' | 'nftables';
  /** nftables plane: its table (inet NAME), and which forwarded packets its guard drops. */
  readonly nftTable?: string;
  readonly nftForwardGuard?: NftForwardGuard;
}

export interface IrcCommandOptions extends RelayCommandOptions {
  /** How long a DCC offer's data channel waits for its peer. */
  readonly offerTimeoutMs?: number;
  /** DCC offers waiting for their peer at once per connection. */
  readonly maxWaitingOffers?: number;
}

/** The relay commands, and `main` for the command-less help. */
export type HelpTopic = 'main' | 'ftp' | 'irc' | 'nat';

/** `all`, `none`, or the interfaces whose forwarded packets are dropped unless the relay installed them. */
export type NftForwardGuard = { readonly kind: 'all' } | { readonly kind: 'none' } | { readonly kind: 'interfaces'; readonly interfaces: readonly string[] };

export type ParsedArgs =
  | { readonly kind: 'help'; readonly topic: HelpTopic }
  | { readonly kind: 'version' }
  | { readonly kind: 'ftp'; readonly options: FtpCommandOptions }
  | { readonly kind: 'nat'; readonly options: NatCommandOptions }
  | { readonly kind: 'irc'; readonly options: IrcCommandOptions }
  | { readonly kind: 'usage-error'; readonly message: string; readonly topic: HelpTopic };

export const DEFAULT_GRACE_MS = 10_000;

export const MAIN_USAGE = `Usage: nat-alg <command> [options]

Commands:
  ftp         run an FTP application-layer gateway (a relay that translates data channels)
  irc         run an IRC relay that translates DCC offers (file transfers, chats) both ways
  nat         run a packet NAT with ALGs between two links of IP packets in UDP datagrams

Options:
  -h, --help     show this help (or "nat-alg ftp --help", "nat-alg irc --help", "nat-alg nat --help")
  --version      print the version

Exit codes: 0 success, 1 runtime failure, 2 usage error.
`;

export const FTP_USAGE = `Usage: nat-alg ftp --listen HOST:PORT --upstream HOST:PORT [options]

Relays FTP clients that connect to --listen to the server at --upstream, rewriting the
addresses in PORT/EPRT commands and PASV/EPSV replies and relaying the data connections.
IPv6 addresses go in brackets: --listen [::1]:2121

Required:
  --listen HOST:PORT        address and port to accept clients on (port 0: any free port)
  --upstream HOST:PORT      the FTP server (an address, or a host name resolved per session)

Options:
  --public-address IP       address to put in passive replies instead of the relay's own
                            (the relay is behind another NAT: a container, a cloud instance)
  --data-ports LO-HI        port range for the relay's data listeners (default: any free port)
  --allow-foreign-address   let PORT/EPRT name a host other than the client (FTP bounce; unsafe)
  --allow-low-ports         allow data ports below 1024 (unsafe)
  --log text|json           log format, one line per session event on stderr (default text)
  --verbose                 also log every translated control line
  --grace SECONDS           on SIGINT/SIGTERM, let transfers finish this long (default 10)
  --max-sessions N          sessions at once; more clients get 421 (default 1000)
  --max-sessions-per-client N
                            sessions at once from one client: an IPv4 address or
                            an IPv6 /64 (default 32)
  --max-unauthenticated-per-client N
                            of those, sessions not logged in yet, counting
                            sessions encrypted before a login (default 8)
  --max-pending-data-channels-per-client N
                            data listeners waiting for their peer per client, over
                            all its sessions; more get 425 (default 32, and at most
                            1/8 of --data-ports, at least 4)
  --idle-timeout SECONDS    close a control connection with no complete line and no
                            transfer for this long (default 600)
  --login-timeout SECONDS   a client must log in (or, after AUTH TLS, finish its TLS
                            handshake) within this long (default 60)
  --line-timeout SECONDS    a command or reply line must be complete within this long
                            of its first byte (default 30)
  --data-listen-timeout SECONDS
                            close a data listener nobody connected to (default 30)
  --upstream-connect-timeout SECONDS
                            upstream connect and greeting, and the relay's own data
                            connections, within this long (default 10)
  --max-line-length BYTES   longest command or reply line held, line end included
                            (default 2048; 128-1048576)
  --overlong-line refuse|close
                            a longer line: refuse it with 500 (a reply: 425) and go on,
                            or close the connection with 421 (default refuse)
  --tls pass|refuse         AUTH TLS: forward it (the control channel then cannot be
                            translated), or answer 534 and stay in plain text
                            (default pass)
  --data-plane relay|nftables
                            what carries data connections: the relay itself (default),
                            or the Linux kernel's NAT through nft (Linux only; needs
                            CAP_NET_ADMIN and IP forwarding on; see docs/relay.md)
  --nft-table NAME          nftables plane: the relay's table, inet NAME (default nat_alg)
  --nft-forward-guard all|none|IFACE[,IFACE...]
                            nftables plane: drop forwarded packets the relay did not
                            install: all of them (default), those through these
                            interfaces, or none (another firewall does it)
  -h, --help                show this help

The ready line "nat-alg ftp: listening on ..." goes to stdout once clients can connect.
Exit codes: 0 success (including shutdown by signal), 1 runtime failure, 2 usage error.
`;

export const IRC_USAGE = `Usage: nat-alg irc --listen HOST:PORT --upstream HOST:PORT [options]

Relays IRC clients that connect to --listen to the server at --upstream, rewriting the
address and port of every DCC offer (SEND, CHAT, RESUME/ACCEPT, passive) in both directions
and relaying the data connections: a client behind the relay can send and receive files.
IPv6 addresses go in brackets: --listen [::1]:6667

Required:
  --listen HOST:PORT        address and port to accept clients on (port 0: any free port)
  --upstream HOST:PORT      the IRC server (an address, or a host name resolved per session)

Options:
  --public-address IP       address to put in offers to the client instead of the relay's own
  --data-ports LO-HI        port range for the relay's data listeners (default: any free port)
  --allow-foreign-address   let the client's offers name another host than the client (unsafe)
  --allow-low-ports         allow DCC ports below 1024 (unsafe)
  --log text|json           log format, one line per session event on stderr (default text)
  --verbose                 also log every translated line
  --grace SECONDS           on SIGINT/SIGTERM, let transfers finish this long (default 10)
  --max-sessions N          sessions at once; more clients get an ERROR line (default 1000)
  --max-sessions-per-client N
                            sessions at once from one client: an IPv4 address or
                            an IPv6 /64 (default 32)
  --max-unauthenticated-per-client N
                            of those, sessions not registered yet (default 8)
  --idle-timeout SECONDS    close a connection with no complete line and no transfer
                            for this long (default 600)
  --login-timeout SECONDS   a client must complete registration (001) within this long
                            (default 60)
  --line-timeout SECONDS    a line must be complete within this long of its first byte
                            (default 30)
  --offer-timeout SECONDS   how long a DCC offer waits for its peer to connect (default 300)
  --max-waiting-offers N    DCC offers waiting for their peer per connection; a newer one
                            retires the oldest (default 16; 1-256)
  --upstream-connect-timeout SECONDS
                            upstream connect, and the relay's own data connections,
                            within this long (default 10)
  --max-line-length BYTES   longest line held, line end included (default 8703:
                            IRCv3 tags and a 512-byte message; 512-65536)
  --overlong-line refuse|close
                            a longer line: drop it with a NOTICE to the client and go on,
                            or close the connection with an ERROR line (default refuse)
  -h, --help                show this help

The ready line "nat-alg irc: listening on ..." goes to stdout once clients can connect.
Exit codes: 0 success (including shutdown by signal), 1 runtime failure, 2 usage error.
`;

const BOOLEAN_FLAGS = new Set(['--allow-foreign-address', '--allow-low-ports', '--verbose']);
/** Value flags of every relay command. */
const VALUE_FLAGS = new Set([
  '--listen',
  '--upstream',
  '--public-address',
  '--data-ports',
  '--log',
  '--grace',
  '--max-sessions',
  '--max-sessions-per-client',
  '--max-unauthenticated-per-client',
  '--max-pending-data-channels-per-client',
  '--idle-timeout',
  '--login-timeout',
  '--line-timeout',
  '--upstream-connect-timeout',
  '--max-line-length',
  '--overlong-line',
]);
/** Value flags of one command only. */
const COMMAND_FLAGS: Readonly<Record<'ftp' | 'irc', ReadonlySet<string>>> = {
  ftp: new Set(['--tls', '--data-listen-timeout', '--data-plane', '--nft-table', '--nft-forward-guard']),
  irc: new Set(['--offer-timeout', '--max-waiting-offers']),
};
/** The range of --max-line-length per command (each ALG's policy bounds). */
const LINE_LENGTH_RANGE: Readonly<Record<'ftp' | 'irc', readonly [number, number]>> = { ftp: [128, 1_048_576], irc: [512, 65_536] };

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined) return { kind: 'usage-error', message: 'missing command (try "nat-alg --help")', topic: 'main' };
  if (command === '-h' || command === '--help' || command === 'help') return { kind: 'help', topic: 'main' };
  if (command === '--version' || command === '-V') return { kind: 'version' };
  if (command === 'nat') {
    const r = parseNatArgs(rest);
    if (r.kind === 'help') return { kind: 'help', topic: 'nat' };
    if (r.kind === 'usage-error') return { kind: 'usage-error', message: r.message, topic: 'nat' };
    return r;
  }
  if (command !== 'ftp' && command !== 'irc') {
    const what = command.startsWith('-') ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`;
    return { kind: 'usage-error', message: what, topic: 'main' };
  }
  return parseRelay(command, rest);
}

function parseRelay(topic: 'ftp' | 'irc', argv: readonly string[]): ParsedArgs {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const fail = (message: string): ParsedArgs => ({ kind: 'usage-error', message, topic });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help', topic };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq >= 0) return fail(`${name} takes no value`);
      flags.add(name);
      continue;
    }
    if (!VALUE_FLAGS.has(name) && !COMMAND_FLAGS[topic].has(name)) {
      return fail(arg.startsWith('-') ? `unknown option ${name}` : `unexpected argument ${JSON.stringify(arg)}`);
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) return fail(`${name} needs a value`);
      i++;
    }
    if (values.has(name)) return fail(`${name} given twice`);
    values.set(name, value);
  }

  const listenText = values.get('--listen');
  const upstreamText = values.get('--upstream');
  if (listenText === undefined) return fail('--listen HOST:PORT is required');
  if (upstreamText === undefined) return fail('--upstream HOST:PORT is required');

  let listen: Endpoint;
  try {
    listen = parseEndpoint(listenText);
  } catch (e) {
    return fail(`--listen: ${(e as Error).message}`);
  }
  const upstream = parseUpstream(upstreamText);
  if (typeof upstream === 'string') return fail(`--upstream: ${upstream}`);

  let publicAddress: string | undefined;
  const pub = values.get('--public-address');
  if (pub !== undefined) {
    try {
      publicAddress = canonicalAddress(pub);
    } catch {
      return fail(`--public-address: ${JSON.stringify(pub)} is not an IPv4 or IPv6 address`);
    }
  }

  let dataPorts: { min: number; max: number } | undefined;
  const dp = values.get('--data-ports');
  if (dp !== undefined) {
    const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(dp);
    const min = m ? Number(m[1]) : NaN;
    const max = m ? Number(m[2]) : NaN;
    if (!m || min < 1 || max > 65535 || min > max) return fail(`--data-ports: expected LO-HI with 1 <= LO <= HI <= 65535, got ${JSON.stringify(dp)}`);
    dataPorts = { min, max };
  }

  const log = values.get('--log') ?? 'text';
  if (log !== 'text' && log !== 'json') return fail(`--log: expected text or json, got ${JSON.stringify(log)}`);

  let graceMs = DEFAULT_GRACE_MS;
  const grace = values.get('--grace');
  if (grace !== undefined) {
    if (!/^[0-9]+(\.[0-9]+)?$/.test(grace) || Number(grace) > 86_400) return fail(`--grace: expected seconds (0-86400), got ${JSON.stringify(grace)}`);
    graceMs = Math.round(Number(grace) * 1000);
  }

  const limits: {
    -readonly [K in 'maxSessions' | 'maxSessionsPerClient' | 'maxUnauthenticatedPerClient' | 'maxPendingDataChannelsPerClient' | 'maxLineLength' | 'maxWaitingOffers']?: number;
  } = {};
  const [minLine, maxLine] = LINE_LENGTH_RANGE[topic];
  for (const [flag, key, min, max] of [
    ['--max-sessions', 'maxSessions', 1, 9_999_999],
    ['--max-sessions-per-client', 'maxSessionsPerClient', 1, 9_999_999],
    ['--max-unauthenticated-per-client', 'maxUnauthenticatedPerClient', 1, 9_999_999],
    ['--max-pending-data-channels-per-client', 'maxPendingDataChannelsPerClient', 1, 9_999_999],
    ['--max-line-length', 'maxLineLength', minLine, maxLine],
    ['--max-waiting-offers', 'maxWaitingOffers', 1, 256],
  ] as const) {
    const v = values.get(flag);
    if (v === undefined) continue;
    if (!/^[0-9]{1,7}$/.test(v) || Number(v) < min || Number(v) > max) {
      return fail(`${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    limits[key] = Number(v);
  }
  const timeouts: {
    -readonly [K in 'idleTimeoutMs' | 'loginTimeoutMs' | 'lineTimeoutMs' | 'dataListenTimeoutMs' | 'upstreamConnectTimeoutMs' | 'offerTimeoutMs']?: number;
  } = {};
  for (const [flag, key] of [
    ['--idle-timeout', 'idleTimeoutMs'],
    ['--login-timeout', 'loginTimeoutMs'],
    ['--line-timeout', 'lineTimeoutMs'],
    ['--data-listen-timeout', 'dataListenTimeoutMs'],
    ['--upstream-connect-timeout', 'upstreamConnectTimeoutMs'],
    ['--offer-timeout', 'offerTimeoutMs'],
  ] as const) {
    const v = values.get(flag);
    if (v === undefined) continue;
    if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86_400 * 7) {
      return fail(`${flag}: expected seconds (more than 0, at most a week), got ${JSON.stringify(v)}`);
    }
    timeouts[key] = Math.round(Number(v) * 1000);
  }
  const choices: { overlongLine?: 'refuse' | 'close'; tls?: 'pass' | 'refuse' } = {};
  const overlong = values.get('--overlong-line');
  if (overlong !== undefined) {
    if (overlong !== 'refuse' && overlong !== 'close') return fail(`--overlong-line: expected refuse or close, got ${JSON.stringify(overlong)}`);
    choices.overlongLine = overlong;
  }
  const tls = values.get('--tls');
  if (tls !== undefined) {
    if (tls !== 'pass' && tls !== 'refuse') return fail(`--tls: expected pass or refuse, got ${JSON.stringify(tls)}`);
    choices.tls = tls;
  }

  const plane = values.get('--data-plane') ?? 'relay';
  if (plane !== 'relay' && plane !== 'nftables') return fail(`--data-plane: expected relay or nftables, got ${JSON.stringify(plane)}`);
  const nft: { nftTable?: string; nftForwardGuard?: NftForwardGuard } = {};
  const table = values.get('--nft-table');
  const guard = values.get('--nft-forward-guard');
  if ((table !== undefined || guard !== undefined) && plane !== 'nftables') {
    return fail(`${table !== undefined ? '--nft-table' : '--nft-forward-guard'} needs --data-plane nftables`);
  }
  if (table !== undefined) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table)) return fail(`--nft-table: letters, digits and _, starting with a letter, at most 32; got ${JSON.stringify(table)}`);
    nft.nftTable = table;
  }
  if (guard !== undefined) {
    if (guard === 'all' || guard === 'none') nft.nftForwardGuard = { kind: guard };
    else {
      const interfaces = guard.split(',');
      const bad = interfaces.find((i) => !/^[A-Za-z0-9_.:@-]{1,15}$/.test(i));
      if (bad !== undefined) return fail(`--nft-forward-guard: expected all, none or interface names separated by commas, got ${JSON.stringify(guard)}`);
      nft.nftForwardGuard = { kind: 'interfaces', interfaces };
    }
  }

  const { maxWaitingOffers, ...commonLimits } = limits;
  const { offerTimeoutMs, ...commonTimeouts } = timeouts;
  const common: RelayCommandOptions = {
      listen,
      upstream,
      ...(publicAddress !== undefined ? { publicAddress } : {}),
      ...(dataPorts !== undefined ? { dataPorts } : {}),
      allowForeignAddress: flags.has('--allow-foreign-address'),
      allowLowPorts: flags.has('--allow-low-ports'),
      log,
      verbose: flags.has('--verbose'),
      graceMs,
      ...commonLimits,
      ...commonTimeouts,
      ...(choices.overlongLine !== undefined ? { overlongLine: choices.overlongLine } : {}),
  };
  if (topic === 'irc') {
    return {
      kind: 'irc',
      options: {
        ...common,
        ...(offerTimeoutMs !== undefined ? { offerTimeoutMs } : {}),
        ...(maxWaitingOffers !== undefined ? { maxWaitingOffers } : {}),
      },
    };
  }
  return { kind: 'ftp', options: { ...common, ...(choices.tls !== undefined ? { tls: choices.tls } : {}), dataPlane: plane, ...nft } };
}

/** An address endpoint, or a DNS name with a port; a message when neither. */
function parseUpstream(text: string): Upstream | string {
  try {
    const e = parseEndpoint(text);
    if (e.port === 0) return 'port must be 1-65535';
    return { host: e.address, port: e.port };
  } catch (e) {
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?):([0-9]{1,5})$/.exec(text);
    // A name needs a letter somewhere: "300.1.1.1:21" is a bad address, not a host name.
    if (!m || !/[A-Za-z]/.test(m[1]!) || m[1]!.length > 253) return (e as Error).message;
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return 'port must be 1-65535';
    return { host: m[1]!, port };
  }
}
