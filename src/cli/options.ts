/**
 * The one table of `nat-alg` settings. Each entry is written once and gives, from its key alone,
 * the command-line flag (`idleTimeout` → `--idle-timeout`), the environment variable
 * (`NAT_ALG_IDLE_TIMEOUT`) and the key in the JSON config file (`idleTimeout`), together with
 * where it may appear (the whole process, or each listener), which ALGs take it, how it is written
 * in JSON, and the one parser that checks its text for all three sources. Merging the sources and
 * the rules between settings are in config.ts.
 */

import { canonicalAddress, familyOf, parseEndpoint, type Endpoint } from '../core/net/ip.js';

export type Alg = 'ftp' | 'irc';
export const ALGS: readonly Alg[] = ['ftp', 'irc'];

export type LogFormat = 'text' | 'json';

/** Where to relay to: an address endpoint, or a host name resolved when a session opens. */
export type Upstream = { readonly host: string; readonly port: number };

/** `all`, `none`, or the interfaces whose forwarded packets are dropped unless the relay installed them. */
export type NftForwardGuard = { readonly kind: 'all' } | { readonly kind: 'none' } | { readonly kind: 'interfaces'; readonly interfaces: readonly string[] };

/** One address, or one per family (then in the order given). */
export type AnnouncedAddressSetting = string | readonly [string, string];

/** Every setting's parsed value; timeouts and the grace period in milliseconds. */
export interface Settings {
  // The process: one of each, whatever the number of listeners.
  readonly log: LogFormat;
  readonly verbose: boolean;
  readonly grace: number;
  readonly drainDelay: number;
  readonly metrics: Endpoint;
  // Each listener.
  readonly listen: Endpoint;
  readonly upstream: Upstream;
  readonly publicAddress: AnnouncedAddressSetting;
  readonly upstreamPublicAddress: AnnouncedAddressSetting;
  readonly dataPorts: { readonly min: number; readonly max: number };
  readonly allowForeignAddress: boolean;
  readonly allowLowPorts: boolean;
  readonly maxSessions: number;
  readonly maxSessionsPerClient: number;
  readonly maxUnauthenticatedPerClient: number;
  readonly maxPendingDataChannelsPerClient: number;
  readonly clientPrefixLength6: number;
  readonly idleTimeout: number;
  readonly loginTimeout: number;
  readonly lineTimeout: number;
  readonly upstreamConnectTimeout: number;
  readonly maxLineLength: number;
  readonly overlongLine: 'refuse' | 'close';
  readonly maxDiscardedBytes: number;
  // FTP listeners.
  readonly tls: 'pass' | 'refuse';
  readonly ftp64: 'auto' | boolean;
  readonly maxPendingDataChannels: number;
  readonly dataListenTimeout: number;
  readonly dataPlane: 'relay' | 'nftables';
  readonly nftTable: string;
  readonly nftForwardGuard: NftForwardGuard;
  // IRC listeners.
  readonly offerTimeout: number;
  readonly maxWaitingOffers: number;
  readonly noticeSender: string;
}

export type SettingKey = keyof Settings;

/**
 * How a value is written in the JSON file: `number` and `boolean` as JSON numbers and booleans,
 * `text` as a string, `list` as a string (commas between items) or an array of strings. On the
 * command line and in the environment every value is text; a boolean flag takes no value.
 */
export type JsonType = 'boolean' | 'number' | 'text' | 'list';

/** A value that does not parse: what was expected (the caller adds where and what it got), or a whole message. */
export class Invalid {
  constructor(
    readonly message: string,
    /** The message already quotes the value. */
    readonly complete = false,
  ) {}
}

export interface SettingSpec<K extends SettingKey> {
  /** `process`: top level of the config file, one for all listeners. `listener`: `defaults` or a listener. */
  readonly scope: 'process' | 'listener';
  /** The ALGs whose listeners take it. */
  readonly algs: readonly Alg[];
  readonly json: JsonType;
  readonly parse: (text: string, alg: Alg) => Settings[K] | Invalid;
}

// ---- the parsers, each rule once -----------------------------------------------------------------

const BOTH = ALGS;
const FTP: readonly Alg[] = ['ftp'];
const IRC: readonly Alg[] = ['irc'];

function wholeNumber(min: number, max: number): (text: string) => number | Invalid {
  return (text) => (/^[0-9]{1,10}$/.test(text) && Number(text) >= min && Number(text) <= max ? Number(text) : new Invalid(`expected a whole number from ${min} to ${max}`));
}

/**
 * Seconds in, whole milliseconds out: at least 1 ms, at most a week. A value that rounds to 0 ms
 * would pass here and be refused later by the translators' policy checks, without naming the flag.
 */
function seconds(text: string): number | Invalid {
  const ms = Math.round(Number(text) * 1000);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || ms < 1 || Number(text) > 86_400 * 7) return new Invalid('expected seconds (at least 0.001, at most a week)');
  return ms;
}

function choice<T extends string>(...values: T[]): (text: string) => T | Invalid {
  const expected = `expected ${values.slice(0, -1).join(', ')}${values.length > 1 ? ' or ' : ''}${values[values.length - 1]}`;
  return (text) => ((values as string[]).includes(text) ? (text as T) : new Invalid(expected));
}

/** `true`/`false`, and the usual spellings of them in environment variables. */
function boolean(text: string): boolean | Invalid {
  const t = text.toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes' || t === 'on') return true;
  if (t === 'false' || t === '0' || t === 'no' || t === 'off') return false;
  return new Invalid('expected true or false');
}

function listenEndpoint(text: string): Endpoint | Invalid {
  try {
    return parseEndpoint(text);
  } catch (e) {
    return new Invalid((e as Error).message, true);
  }
}

/** An address endpoint, or a DNS name with a port. */
function upstream(text: string): Upstream | Invalid {
  try {
    const e = parseEndpoint(text);
    if (e.port === 0) return new Invalid('port must be 1-65535', true);
    return { host: e.address, port: e.port };
  } catch (e) {
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?):([0-9]{1,5})$/.exec(text);
    // A name needs a letter somewhere: "300.1.1.1:21" is a bad address, not a host name.
    if (!m || !/[A-Za-z]/.test(m[1]!) || m[1]!.length > 253) return new Invalid((e as Error).message, true);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return new Invalid('port must be 1-65535', true);
    return { host: m[1]!, port };
  }
}

/** One address, or one of each family separated by a comma. */
function announcedAddress(text: string): AnnouncedAddressSetting | Invalid {
  const expected = 'expected an IPv4 or IPv6 address, or one of each separated by a comma';
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > 2) return new Invalid(expected);
  const addresses: string[] = [];
  for (const p of parts) {
    try {
      addresses.push(canonicalAddress(p));
    } catch {
      return new Invalid(expected);
    }
  }
  if (addresses.length === 1) return addresses[0]!;
  if (familyOf(addresses[0]!) === familyOf(addresses[1]!)) return new Invalid(`${expected} (two IPv${familyOf(addresses[0]!)} addresses given)`);
  return [addresses[0]!, addresses[1]!];
}

function portRange(text: string): { min: number; max: number } | Invalid {
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text);
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2]) : NaN;
  if (!m || min < 1 || max > 65535 || min > max) return new Invalid('expected LO-HI with 1 <= LO <= HI <= 65535');
  return { min, max };
}

function forwardGuard(text: string): NftForwardGuard | Invalid {
  if (text === 'all' || text === 'none') return { kind: text };
  const interfaces = text.split(',');
  if (interfaces.some((i) => !/^[A-Za-z0-9_.:@-]{1,15}$/.test(i))) return new Invalid('expected all, none or interface names separated by commas');
  return { kind: 'interfaces', interfaces };
}

/** The range of maxLineLength per ALG (each ALG's policy bounds). */
export const LINE_LENGTH_RANGE: Readonly<Record<Alg, readonly [number, number]>> = { ftp: [128, 1_048_576], irc: [512, 65_536] };

const LIMIT = wholeNumber(1, 9_999_999);

/** Seconds from 0 to `max` (a fraction allowed), as milliseconds. */
function secondsUpTo(max: number): (t: string) => number | Invalid {
  return (t) => (/^[0-9]+(\.[0-9]+)?$/.test(t) && Number(t) <= max ? Math.round(Number(t) * 1000) : new Invalid(`expected seconds (0-${max})`));
}

// ---- the table --------------------------------------------------------------------------------

export const SETTINGS: { readonly [K in SettingKey]: SettingSpec<K> } = {
  log: { scope: 'process', algs: BOTH, json: 'text', parse: choice('text', 'json') },
  verbose: { scope: 'process', algs: BOTH, json: 'boolean', parse: boolean },
  grace: {
    scope: 'process',
    algs: BOTH,
    json: 'number',
    parse: secondsUpTo(86_400),
  },
  drainDelay: {
    scope: 'process',
    algs: BOTH,
    json: 'number',
    parse: secondsUpTo(3600),
  },
  metrics: { scope: 'process', algs: BOTH, json: 'text', parse: listenEndpoint },
  listen: { scope: 'listener', algs: BOTH, json: 'text', parse: listenEndpoint },
  upstream: { scope: 'listener', algs: BOTH, json: 'text', parse: upstream },
  publicAddress: { scope: 'listener', algs: BOTH, json: 'list', parse: announcedAddress },
  upstreamPublicAddress: { scope: 'listener', algs: BOTH, json: 'list', parse: announcedAddress },
  dataPorts: { scope: 'listener', algs: BOTH, json: 'text', parse: portRange },
  allowForeignAddress: { scope: 'listener', algs: BOTH, json: 'boolean', parse: boolean },
  allowLowPorts: { scope: 'listener', algs: BOTH, json: 'boolean', parse: boolean },
  maxSessions: { scope: 'listener', algs: BOTH, json: 'number', parse: LIMIT },
  maxSessionsPerClient: { scope: 'listener', algs: BOTH, json: 'number', parse: LIMIT },
  maxUnauthenticatedPerClient: { scope: 'listener', algs: BOTH, json: 'number', parse: LIMIT },
  maxPendingDataChannelsPerClient: { scope: 'listener', algs: BOTH, json: 'number', parse: LIMIT },
  clientPrefixLength6: { scope: 'listener', algs: BOTH, json: 'number', parse: wholeNumber(1, 128) },
  idleTimeout: { scope: 'listener', algs: BOTH, json: 'number', parse: seconds },
  loginTimeout: { scope: 'listener', algs: BOTH, json: 'number', parse: seconds },
  lineTimeout: { scope: 'listener', algs: BOTH, json: 'number', parse: seconds },
  upstreamConnectTimeout: { scope: 'listener', algs: BOTH, json: 'number', parse: seconds },
  maxLineLength: { scope: 'listener', algs: BOTH, json: 'number', parse: (t, alg) => wholeNumber(...LINE_LENGTH_RANGE[alg])(t) },
  overlongLine: { scope: 'listener', algs: BOTH, json: 'text', parse: choice('refuse', 'close') },
  maxDiscardedBytes: { scope: 'listener', algs: BOTH, json: 'number', parse: wholeNumber(0, 1_073_741_824) },
  tls: { scope: 'listener', algs: FTP, json: 'text', parse: choice('pass', 'refuse') },
  ftp64: {
    scope: 'listener',
    algs: FTP,
    json: 'text',
    parse: (t) => (t === 'auto' ? 'auto' : t === 'on' ? true : t === 'off' ? false : new Invalid('expected auto, on or off')),
  },
  maxPendingDataChannels: { scope: 'listener', algs: FTP, json: 'number', parse: wholeNumber(1, 65_536) },
  dataListenTimeout: { scope: 'listener', algs: FTP, json: 'number', parse: seconds },
  dataPlane: { scope: 'listener', algs: FTP, json: 'text', parse: choice('relay', 'nftables') },
  nftTable: {
    scope: 'listener',
    algs: FTP,
    json: 'text',
    parse: (t) => (/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(t) ? t : new Invalid('expected letters, digits and _, starting with a letter, at most 32')),
  },
  nftForwardGuard: { scope: 'listener', algs: FTP, json: 'list', parse: forwardGuard },
  offerTimeout: { scope: 'listener', algs: IRC, json: 'number', parse: seconds },
  maxWaitingOffers: { scope: 'listener', algs: IRC, json: 'number', parse: wholeNumber(1, 256) },
  noticeSender: {
    scope: 'listener',
    algs: IRC,
    json: 'text',
    parse: (t) => (/^[\x21-\x7e]{1,63}$/.test(t) && !t.startsWith(':') ? t : new Invalid('expected a name without spaces (1-63 printable characters, not starting with ":")')),
  },
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** `idleTimeout` → `--idle-timeout`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `idleTimeout` → `NAT_ALG_IDLE_TIMEOUT`. */
export function envOf(key: string): string {
  return `NAT_ALG_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** The settings of one kind: every flag, every environment variable. */
export const FLAG_KEYS: ReadonlyMap<string, SettingKey> = new Map(SETTING_KEYS.map((k) => [flagOf(k), k]));
export const ENV_KEYS: ReadonlyMap<string, SettingKey> = new Map(SETTING_KEYS.map((k) => [envOf(k), k]));

/** The config file (a flag and a variable, never a key of the file itself). */
export const CONFIG_FLAG = '--config';
export const CONFIG_ENV = 'NAT_ALG_CONFIG';
