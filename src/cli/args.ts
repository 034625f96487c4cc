/**
 * Command-line parsing for `nat-alg`, kept apart from the process so that it is a pure function:
 * argv (with the environment and a file reader) in, a discriminated result out. The flags are
 * those of the settings table (options.ts); config.ts merges them with the environment and the
 * config file. Every mistake becomes a `usage-error` with a message that names the flag, the
 * variable or the file's key and what was expected; the entry point turns that into exit code 2.
 */

import type { Endpoint } from '../core/net/ip.js';
import { DEFAULT_GRACE_MS, resolveConfig, type Given } from './config.js';
import { CONFIG_ENV, CONFIG_FLAG, FLAG_KEYS, SETTINGS, type Alg, type LogFormat, type NftForwardGuard, type SettingKey, type Upstream } from './options.js';
import { parseNatArgs, type NatCommandOptions } from './nat-args.js';

export type { LogFormat, NftForwardGuard, Upstream } from './options.js';
export { DEFAULT_GRACE_MS };

/** What every relay command takes (`nat-alg ftp`, `nat-alg irc`), for one listener. */
export interface RelayCommandOptions {
  /** The listener's name in the config file: on its ready line and its log lines. */
  readonly name?: string;
  readonly listen: Endpoint;
  readonly upstream: Upstream;
  /** One address, or one per family. */
  readonly publicAddress?: string | readonly string[];
  readonly upstreamPublicAddress?: string | readonly string[];
  readonly dataPorts?: { readonly min: number; readonly max: number };
  readonly allowForeignAddress: boolean;
  readonly allowLowPorts: boolean;
  readonly log: LogFormat;
  /** Also log each translated control line (debug entries). */
  readonly verbose: boolean;
  /** How long running transfers may go on after SIGINT/SIGTERM before they are cut. */
  readonly graceMs: number;
  /**
   * Where to serve metrics and /healthz (`--metrics HOST:PORT`): one endpoint for the process,
   * the same in every listener's options.
   */
  readonly metrics?: Endpoint;
  /**
   * On SIGINT/SIGTERM, go on accepting this long (a balancer takes the instance out of rotation
   * meanwhile), then stop accepting and give running transfers `graceMs`. Default 0.
   */
  readonly drainDelayMs?: number;
  readonly maxSessions?: number;
  readonly maxSessionsPerClient?: number;
  readonly maxUnauthenticatedPerClient?: number;
  readonly maxPendingDataChannelsPerClient?: number;
  /** IPv6 clients are counted per block of this many leading bits. */
  readonly clientPrefixLength6?: number;
  readonly idleTimeoutMs?: number;
  readonly loginTimeoutMs?: number;
  readonly lineTimeoutMs?: number;
  readonly dataListenTimeoutMs?: number;
  readonly upstreamConnectTimeoutMs?: number;
  readonly maxLineLength?: number;
  readonly overlongLine?: 'refuse' | 'close';
  /** Bytes of over-long lines dropped per connection before it is closed. */
  readonly maxDiscardedBytes?: number;
}

export interface FtpCommandOptions extends RelayCommandOptions {
  readonly tls?: 'pass' | 'refuse';
  /** FTP64 (an IPv6 client, an IPv4 server): `auto` (on exactly then), or forced on or off. */
  readonly ftp64?: 'auto' | boolean;
  /** Data channels waiting per session (the FTP policy's maxPendingDataChannels). */
  readonly maxPendingDataChannels?: number;
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
  /** The sender of the relay's NOTICEs. */
  readonly noticeSender?: string;
}

/** One listener to run: its ALG and its options. */
export type ListenerPlan = { readonly alg: 'ftp'; readonly options: FtpCommandOptions } | { readonly alg: 'irc'; readonly options: IrcCommandOptions };

/** The relay commands, and `main` for the command-less help. */
export type HelpTopic = 'main' | 'ftp' | 'irc' | 'nat';

export type ParsedArgs =
  | { readonly kind: 'help'; readonly topic: HelpTopic }
  | { readonly kind: 'version' }
  /** Run these listeners (one from the command line, or those of the config file); print the warnings first. */
  | { readonly kind: 'run'; readonly listeners: readonly ListenerPlan[]; readonly warnings: readonly string[] }
  /** `nat-alg nat`: the packet gateway (its own flags, nat-args.ts; not a relay listener). */
  | { readonly kind: 'nat'; readonly options: NatCommandOptions }
  | { readonly kind: 'usage-error'; readonly message: string; readonly topic: HelpTopic };

export const MAIN_USAGE = `Usage: nat-alg <command> [options]
       nat-alg --config FILE [options]

Commands:
  ftp         run an FTP application-layer gateway (a relay that translates data channels)
  irc         run an IRC relay that translates DCC offers (file transfers, chats) both ways
  nat         run a packet NAT with ALGs between two links of IP packets in UDP datagrams

Options:
  --config FILE  run every listener of a JSON config file (FTP and IRC, several upstreams);
                 the options of both commands apply to the listeners that take them
  -h, --help     show this help (or "nat-alg ftp --help", "nat-alg irc --help",
                 "nat-alg nat --help")
  --version      print the version

Every option is also an environment variable (--idle-timeout: NAT_ALG_IDLE_TIMEOUT,
--config: NAT_ALG_CONFIG) and a key of the config file (idleTimeout). Flags win over the
environment, the environment over the file. See docs/cli.md.

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
  --config FILE             read settings (and possibly several listeners) from a JSON file;
                            flags and NAT_ALG_* variables override it (docs/cli.md)
  --public-address IP[,IP]  address to put in passive replies instead of the relay's own
                            (the relay is behind another NAT: a container, a cloud instance);
                            one per family: 203.0.113.10,2001:db8::10
  --upstream-public-address IP[,IP]
                            address to put in PORT/EPRT sent to the server instead of the
                            relay's own (its upstream side is behind another NAT)
  --data-ports LO-HI        port range for the relay's data listeners (default: any free port)
  --allow-foreign-address   let PORT/EPRT name a host other than the client (FTP bounce; unsafe)
  --allow-low-ports         allow data ports below 1024 (unsafe)
  --log text|json           log format, one line per session event on stderr (default text)
  --verbose                 also log every translated control line
  --grace SECONDS           on SIGINT/SIGTERM, let transfers finish this long (default 10)
  --metrics HOST:PORT       serve Prometheus metrics (/metrics) and /healthz there
  --drain-delay SECONDS     on SIGINT/SIGTERM, go on accepting this long before
                            stopping (/healthz says draining meanwhile; default 0)
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
  --max-pending-data-channels N
                            data channels waiting for their peer per session; more
                            get 425 (default 8; 1-65536)
  --client-prefix-length6 N IPv6 clients are counted per block of this many bits
                            for the per-client limits (default 64; 128: per address)
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
  --max-discarded-bytes BYTES
                            bytes of over-long lines refused per connection before it
                            is closed with 421 (default 65536)
  --ftp64 auto|on|off       FTP64 (RFC 6384) for IPv6 clients of an IPv4 server: auto
                            (default) turns it on exactly then
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
  --config FILE             read settings (and possibly several listeners) from a JSON file;
                            flags and NAT_ALG_* variables override it (docs/cli.md)
  --public-address IP[,IP]  address to put in offers to the client instead of the relay's own
                            (one per family: 203.0.113.10,2001:db8::10)
  --upstream-public-address IP[,IP]
                            address to put in offers to the server's side instead of the
                            relay's own (its upstream side is behind another NAT)
  --data-ports LO-HI        port range for the relay's data listeners (default: any free port)
  --allow-foreign-address   let the client's offers name another host than the client (unsafe)
  --allow-low-ports         allow DCC ports below 1024 (unsafe)
  --log text|json           log format, one line per session event on stderr (default text)
  --verbose                 also log every translated line
  --grace SECONDS           on SIGINT/SIGTERM, let transfers finish this long (default 10)
  --metrics HOST:PORT       serve Prometheus metrics (/metrics) and /healthz there
  --drain-delay SECONDS     on SIGINT/SIGTERM, go on accepting this long before
                            stopping (/healthz says draining meanwhile; default 0)
  --max-sessions N          sessions at once; more clients get an ERROR line (default 1000)
  --max-sessions-per-client N
                            sessions at once from one client: an IPv4 address or
                            an IPv6 /64 (default 32)
  --max-unauthenticated-per-client N
                            of those, sessions not registered yet (default 8)
  --max-pending-data-channels-per-client N
                            DCC data listeners waiting for their peer per client, over
                            all its connections (default 32, at most 1/8 of --data-ports)
  --client-prefix-length6 N IPv6 clients are counted per block of this many bits
                            for the per-client limits (default 64; 128: per address)
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
  --max-discarded-bytes BYTES
                            bytes of over-long lines dropped per connection before it is
                            closed (default 65536)
  --notice-sender NAME      the sender of the relay's NOTICEs to clients (default nat-alg)
  -h, --help                show this help

The ready line "nat-alg irc: listening on ..." goes to stdout once clients can connect.
Exit codes: 0 success (including shutdown by signal), 1 runtime failure, 2 usage error.
`;

/** Where settings come from besides argv: the environment (`NAT_ALG_*`) and a config file reader. */
export interface ArgSources {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly readFile?: (path: string) => string;
}

export function parseArgs(argv: readonly string[], sources: ArgSources = {}): ParsedArgs {
  const env = sources.env ?? {};
  const [command, ...rest] = argv;
  if (command === undefined) {
    // A config file named in the environment is enough to run (a unit's Environment=NAT_ALG_CONFIG=...).
    if (env[CONFIG_ENV]) return parseRelay(null, [], env, sources.readFile);
    return { kind: 'usage-error', message: 'missing command (try "nat-alg --help")', topic: 'main' };
  }
  if (command === '-h' || command === '--help' || command === 'help') return { kind: 'help', topic: 'main' };
  if (command === '--version' || command === '-V') return { kind: 'version' };
  if (command === 'ftp' || command === 'irc') return parseRelay(command, rest, env, sources.readFile);
  if (command === 'nat') {
    const r = parseNatArgs(rest);
    if (r.kind === 'help') return { kind: 'help', topic: 'nat' };
    if (r.kind === 'usage-error') return { kind: 'usage-error', message: r.message, topic: 'nat' };
    return r;
  }
  // `nat-alg --config FILE [flags]`: every listener of the file, each naming its ALG.
  if (command.startsWith('--')) return parseRelay(null, argv, env, sources.readFile);
  const what = command.startsWith('-') ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`;
  return { kind: 'usage-error', message: what, topic: 'main' };
}

function parseRelay(command: Alg | null, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile: ((path: string) => string) | undefined): ParsedArgs {
  const topic: HelpTopic = command ?? 'main';
  const fail = (message: string): ParsedArgs => ({ kind: 'usage-error', message, topic });
  const flags = new Map<SettingKey, Given>();
  let config: { path: string; where: string } | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help', topic };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const key = FLAG_KEYS.get(name);
    // A command takes the flags of its ALG; without one, every flag (each reaches the listeners that take it).
    if (name !== CONFIG_FLAG && (key === undefined || (command !== null && !SETTINGS[key].algs.includes(command)))) {
      return fail(arg.startsWith('-') ? `unknown option ${name}` : `unexpected argument ${JSON.stringify(arg)}`);
    }
    if (key !== undefined && SETTINGS[key].json === 'boolean') {
      if (eq >= 0) return fail(`${name} takes no value`);
      flags.set(key, { raw: 'true', source: 'flag', where: name });
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) return fail(`${name} needs a value`);
      i++;
    }
    if (key === undefined) {
      if (config !== undefined) return fail(`${name} given twice`);
      if (value === '') return fail(`${name} needs a file name`);
      config = { path: value, where: name };
      continue;
    }
    if (flags.has(key)) return fail(`${name} given twice`);
    flags.set(key, { raw: value, source: 'flag', where: name });
  }
  const fromEnv = env[CONFIG_ENV];
  if (config === undefined && fromEnv) config = { path: fromEnv, where: CONFIG_ENV };

  const r = resolveConfig({ command, flags, env, ...(config !== undefined ? { config } : {}), ...(readFile !== undefined ? { readFile } : {}) });
  if (r.kind === 'error') return fail(r.message);
  return { kind: 'run', listeners: r.listeners, warnings: r.warnings };
}
