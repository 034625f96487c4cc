/**
 * Where `nat-alg` settings come from and which one wins: flags > environment (`NAT_ALG_*`) >
 * config file (`--config FILE`, a listener's own entry before the file's `defaults`) > built-in
 * defaults. Every source is checked whole, even a value that a higher one overrides, and every
 * mistake is one message naming where it is: the flag, the variable, or the key path in the file
 * (`listeners[1].idleTimeout`). Pure: the environment and a file reader come in, listeners go out.
 *
 * The config file:
 *   { "log": "json", "grace": 30,                     process settings, at the top
 *     "defaults": { "maxSessions": 500 },             listener settings shared by all listeners
 *     "listeners": [ { "alg": "ftp", "name": "out", "listen": "0.0.0.0:21", "upstream": "...", ... } ] }
 * Without `listeners`, the command line (or the environment) gives the one listener.
 */

import { formatEndpoint } from '../core/net/ip.js';
import type { FtpCommandOptions, IrcCommandOptions, ListenerPlan, RelayCommandOptions } from './args.js';
import { ALGS, CONFIG_ENV, ENV_KEYS, envOf, flagOf, Invalid, SETTING_KEYS, SETTINGS, type Alg, type SettingKey, type Settings } from './options.js';

export type Source = 'flag' | 'env' | 'file';

/** One value as given: raw text (flag, variable) or JSON (file), and where it was. */
export interface Given {
  readonly raw: unknown;
  readonly source: Source;
  /** `--idle-timeout`, `NAT_ALG_IDLE_TIMEOUT`, `listeners[1].idleTimeout`. */
  readonly where: string;
}

export type Layer = ReadonlyMap<SettingKey, Given>;

export interface ConfigSources {
  /** `nat-alg ftp` / `nat-alg irc`, or null for `nat-alg --config FILE` (every listener names its ALG). */
  readonly command: Alg | null;
  readonly flags: Layer;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The config file's path and where it was named (`--config`, `NAT_ALG_CONFIG`). */
  readonly config?: { readonly path: string; readonly where: string };
  readonly readFile?: (path: string) => string;
}

export type Resolved =
  | { readonly kind: 'ok'; readonly listeners: readonly ListenerPlan[]; readonly warnings: readonly string[] }
  | { readonly kind: 'error'; readonly message: string };

/** A mistake in the sources: its message is shown as it is. */
class ConfigError extends Error {}

/** The keys of a listener entry that are not settings. */
const LISTENER_ONLY_KEYS = ['alg', 'name'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function resolveConfig(sources: ConfigSources): Resolved {
  try {
    return resolve(sources);
  } catch (e) {
    if (e instanceof ConfigError) return { kind: 'error', message: e.message };
    throw e;
  }
}

interface FileListener {
  readonly index: number;
  readonly alg: Alg;
  readonly name?: string;
  readonly layer: Layer;
}

interface FileConfig {
  readonly top: Layer;
  readonly defaults: Layer;
  /** null: the file has no `listeners`; the command line gives the one listener. */
  readonly listeners: readonly FileListener[] | null;
}

function resolve(sources: ConfigSources): Resolved {
  const warnings: string[] = [];
  const env = envLayer(sources.env, warnings);
  const file = sources.config ? readConfig(sources.config.path, sources.config.where, sources.command, sources.readFile) : null;
  const prefix = sources.config ? `${sources.config.path}: ` : '';

  if (file?.listeners == null && sources.command === null) {
    throw new ConfigError(sources.config ? `${prefix}no "listeners": name the command (nat-alg ftp --config FILE) or list the listeners in the file` : 'missing command (try "nat-alg --help")');
  }
  const listeners: FileListener[] = file?.listeners ? [...file.listeners] : [{ index: -1, alg: sources.command!, layer: new Map() }];
  const defaults = file?.defaults ?? new Map<SettingKey, Given>();
  const top = file?.top ?? new Map<SettingKey, Given>();

  // A shared setting must be taken by some listener: a value nobody reads is a mistake.
  const algs = new Set(listeners.map((l) => l.alg));
  for (const [layer, what] of [[sources.flags, ''], [env, ''], [defaults, prefix]] as const) {
    for (const [key, given] of layer) {
      const spec = SETTINGS[key];
      if (spec.scope === 'listener' && !spec.algs.some((a) => algs.has(a))) {
        throw new ConfigError(`${what}${given.where}: an option of ${spec.algs.join(' and ')} listeners only, and there is none`);
      }
    }
  }

  // The process: flags > environment > top level of the file.
  const processKeys = SETTING_KEYS.filter((k) => SETTINGS[k].scope === 'process');
  const processSettings = pick(processKeys, [sources.flags, env, prefixed(top, prefix)], listeners[0]!.alg);

  const plans: ListenerPlan[] = [];
  const seen: Array<{ listen: string; where: string }> = [];
  const tables: Array<{ table: string; where: string }> = [];
  const names = new Map<string, number>();
  for (const l of listeners) {
    const entry = prefixed(l.layer, prefix);
    const layers = [sources.flags, env, entry, prefixed(defaults, prefix)];
    const keys = SETTING_KEYS.filter((k) => SETTINGS[k].scope === 'listener' && SETTINGS[k].algs.includes(l.alg));
    const values = pickWithWhere(keys, layers, l.alg);
    const here = l.index >= 0 ? `${prefix}listeners[${l.index}]` : '';

    for (const key of ['listen', 'upstream'] as const) {
      if (values.has(key)) continue;
      throw new ConfigError(l.index >= 0 ? `${here}: ${key} HOST:PORT is required` : `${flagOf(key)} HOST:PORT is required`);
    }
    const plane = values.get('dataPlane')?.value ?? 'relay';
    for (const key of ['nftTable', 'nftForwardGuard'] as const) {
      const v = values.get(key);
      if (v && plane !== 'nftables') throw new ConfigError(`${v.given.where} needs ${nameIn(v.given.source, 'dataPlane')} nftables`);
    }
    const listen = values.get('listen')!;
    const listenText = formatEndpoint(listen.value as Settings['listen']);
    if ((listen.value as Settings['listen']).port !== 0) {
      const other = seen.find((s) => s.listen === listenText);
      if (other) throw new ConfigError(`${listen.given.where}: ${listenText} is also the listen address of ${other.where}`);
    }
    seen.push({ listen: listenText, where: here || listen.given.where });
    if (plane === 'nftables') {
      // Without nftTable, every nftables listener would take the plane's default table.
      const table = (values.get('nftTable')?.value as string | undefined) ?? DEFAULT_NFT_TABLE;
      const other = tables.find((t) => t.table === table);
      if (other) throw new ConfigError(`${here || 'listener'}: nftables table ${table} is also the table of ${other.where}; give each nftables listener its own nftTable`);
      tables.push({ table, where: here });
    }
    if (l.name !== undefined) {
      const before = names.get(l.name);
      if (before !== undefined) throw new ConfigError(`${here}.name: "${l.name}" is also the name of listeners[${before}]`);
      names.set(l.name, l.index);
    }
    plans.push(plan(l, new Map([...values].map(([k, v]) => [k, v.value])), processSettings));
  }
  return { kind: 'ok', listeners: plans, warnings };
}

/** The command options of one listener from its settings. */
function plan(l: FileListener, v: ReadonlyMap<SettingKey, unknown>, proc: ReadonlyMap<SettingKey, unknown>): ListenerPlan {
  const get = <K extends SettingKey>(key: K): Settings[K] | undefined => v.get(key) as Settings[K] | undefined;
  const opt = <K extends SettingKey, O extends string>(key: K, as: O) => {
    const x = get(key);
    return (x !== undefined ? { [as]: x } : {}) as { [P in O]?: Settings[K] };
  };
  const metrics = proc.get('metrics') as Settings['metrics'] | undefined;
  const common: RelayCommandOptions = {
    ...(l.name !== undefined ? { name: l.name } : {}),
    listen: get('listen')!,
    upstream: get('upstream')!,
    ...opt('publicAddress', 'publicAddress'),
    ...opt('upstreamPublicAddress', 'upstreamPublicAddress'),
    ...opt('dataPorts', 'dataPorts'),
    allowForeignAddress: get('allowForeignAddress') ?? false,
    allowLowPorts: get('allowLowPorts') ?? false,
    log: (proc.get('log') as Settings['log'] | undefined) ?? 'text',
    verbose: (proc.get('verbose') as boolean | undefined) ?? false,
    graceMs: (proc.get('grace') as number | undefined) ?? DEFAULT_GRACE_MS,
    ...(metrics !== undefined ? { metrics } : {}),
    ...(proc.get('drainDelay') !== undefined ? { drainDelayMs: proc.get('drainDelay') as number } : {}),
    ...opt('maxSessions', 'maxSessions'),
    ...opt('maxSessionsPerClient', 'maxSessionsPerClient'),
    ...opt('maxUnauthenticatedPerClient', 'maxUnauthenticatedPerClient'),
    ...opt('maxPendingDataChannelsPerClient', 'maxPendingDataChannelsPerClient'),
    ...opt('clientPrefixLength6', 'clientPrefixLength6'),
    ...opt('idleTimeout', 'idleTimeoutMs'),
    ...opt('loginTimeout', 'loginTimeoutMs'),
    ...opt('lineTimeout', 'lineTimeoutMs'),
    ...opt('upstreamConnectTimeout', 'upstreamConnectTimeoutMs'),
    ...opt('maxLineLength', 'maxLineLength'),
    ...opt('overlongLine', 'overlongLine'),
    ...opt('maxDiscardedBytes', 'maxDiscardedBytes'),
  };
  if (l.alg === 'irc') {
    const options: IrcCommandOptions = { ...common, ...opt('offerTimeout', 'offerTimeoutMs'), ...opt('maxWaitingOffers', 'maxWaitingOffers'), ...opt('noticeSender', 'noticeSender') };
    return { alg: 'irc', options };
  }
  const options: FtpCommandOptions = {
    ...common,
    ...opt('dataListenTimeout', 'dataListenTimeoutMs'),
    ...opt('tls', 'tls'),
    ...opt('ftp64', 'ftp64'),
    ...opt('maxPendingDataChannels', 'maxPendingDataChannels'),
    dataPlane: get('dataPlane') ?? 'relay',
    ...opt('nftTable', 'nftTable'),
    ...opt('nftForwardGuard', 'nftForwardGuard'),
  };
  return { alg: 'ftp', options };
}

export const DEFAULT_GRACE_MS = 10_000;
/** The nftables plane's table when none is named (src/node/nftables/data-plane.ts). */
const DEFAULT_NFT_TABLE = 'nat_alg';

/** The file's layers with its path in front of every place (a message then says which file). */
function prefixed(layer: Layer, prefix: string): Layer {
  if (prefix === '') return layer;
  return new Map([...layer].map(([k, g]) => [k, { ...g, where: `${prefix}${g.where}` }]));
}

/** For each key, the value of the first layer that has it; every layer's value is checked. */
function pickWithWhere(keys: readonly SettingKey[], layers: readonly Layer[], alg: Alg): Map<SettingKey, { value: unknown; given: Given }> {
  const out = new Map<SettingKey, { value: unknown; given: Given }>();
  for (const key of keys) {
    for (const layer of layers) {
      const given = layer.get(key);
      if (given === undefined) continue;
      const value = parseGiven(key, given, alg);
      if (!out.has(key)) out.set(key, { value, given });
    }
  }
  return out;
}

function pick(keys: readonly SettingKey[], layers: readonly Layer[], alg: Alg): Map<SettingKey, unknown> {
  return new Map([...pickWithWhere(keys, layers, alg)].map(([k, v]) => [k, v.value]));
}

/** A given value checked against its setting: its JSON type (from the file), then its text. */
function parseGiven(key: SettingKey, given: Given, alg: Alg): unknown {
  const spec = SETTINGS[key];
  const raw = given.raw;
  let text: string;
  if (given.source === 'file') {
    const wrong = (expected: string) => new ConfigError(`${given.where}: expected ${expected}, got ${show(raw)}`);
    switch (spec.json) {
      case 'boolean':
        if (typeof raw !== 'boolean') throw wrong('true or false');
        text = String(raw);
        break;
      case 'number':
        if (typeof raw !== 'number' || !Number.isFinite(raw)) throw wrong('a number');
        text = String(raw);
        break;
      case 'text':
        if (typeof raw !== 'string') throw wrong('a string');
        text = raw;
        break;
      case 'list':
        if (typeof raw === 'string') text = raw;
        else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'string' && !x.includes(','))) text = raw.join(',');
        else throw wrong('a string or an array of strings');
        break;
    }
  } else text = raw as string;
  const value = spec.parse(text, alg);
  if (value instanceof Invalid) {
    throw new ConfigError(value.complete ? `${given.where}: ${value.message}` : `${given.where}: ${value.message}, got ${show(raw)}`);
  }
  return value;
}

function show(raw: unknown): string {
  // A number too large for a double (1e400) parses as Infinity, which JSON.stringify would call null.
  const s = typeof raw === 'number' && !Number.isFinite(raw) ? `${String(raw)} (too large)` : (JSON.stringify(raw) ?? String(raw));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** How `key` is named in the vocabulary of a source (a message about one names the other alike). */
function nameIn(source: Source, key: SettingKey): string {
  return source === 'flag' ? flagOf(key) : source === 'env' ? envOf(key) : key;
}

/** `NAT_ALG_*` variables. An empty one counts as unset; an unknown one is a warning (the environment is shared). */
function envLayer(env: Readonly<Record<string, string | undefined>>, warnings: string[]): Layer {
  const layer = new Map<SettingKey, Given>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('NAT_ALG_') || name === CONFIG_ENV) continue;
    const key = ENV_KEYS.get(name);
    if (key === undefined) {
      warnings.push(`ignoring unknown environment variable ${name}`);
      continue;
    }
    if (value === undefined || value === '') continue;
    layer.set(key, { raw: value, source: 'env', where: name });
  }
  return layer;
}

// ---- the file ---------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readConfig(path: string, named: string, command: Alg | null, readFile: ((path: string) => string) | undefined): FileConfig {
  if (readFile === undefined) throw new ConfigError(`${named}: no file reader`);
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${named}: cannot read ${path}${code ? ` (${code})` : ''}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const fail = (message: string): never => {
    throw new ConfigError(`${path}: ${message}`);
  };
  if (!isObject(json)) return fail('expected a JSON object ({ "listeners": [...] })');

  const top = new Map<SettingKey, Given>();
  let defaults = new Map<SettingKey, Given>();
  let listeners: FileListener[] | null = null;
  for (const [key, value] of Object.entries(json)) {
    if (key === 'defaults') {
      if (!isObject(value)) fail('defaults: expected an object of listener settings');
      defaults = settingsOf(value as Record<string, unknown>, 'defaults', null, fail);
    } else if (key === 'listeners') {
      if (!Array.isArray(value) || value.length === 0) return fail('listeners: expected a non-empty array of listeners');
      listeners = value.map((entry, index) => listenerOf(entry, index, command, fail));
    } else {
      const setting = settingKey(key);
      if ((LISTENER_ONLY_KEYS as readonly string[]).includes(key)) return fail(`${key}: belongs in each listener (listeners[i].${key})`);
      if (setting === undefined) return fail(`${key}: unknown key${hint(key)}`);
      if (SETTINGS[setting].scope !== 'process') return fail(`${key}: a listener setting; put it in "defaults" or in a listener`);
      top.set(setting, { raw: value, source: 'file', where: key });
    }
  }
  return { top, defaults, listeners };
}

function listenerOf(entry: unknown, index: number, command: Alg | null, fail: (m: string) => never): FileListener {
  const here = `listeners[${index}]`;
  if (!isObject(entry)) return fail(`${here}: expected an object`);
  const algRaw = entry.alg;
  let alg: Alg;
  if (algRaw === undefined) {
    if (command === null) return fail(`${here}.alg is required (ftp or irc)`);
    alg = command;
  } else if (typeof algRaw !== 'string' || !(ALGS as readonly string[]).includes(algRaw)) {
    return fail(`${here}.alg: expected ${ALGS.join(' or ')}, got ${show(algRaw)}`);
  } else {
    alg = algRaw as Alg;
    if (command !== null && alg !== command) return fail(`${here}.alg is ${alg}, but this is nat-alg ${command} (nat-alg --config FILE runs listeners of every ALG)`);
  }
  let name: string | undefined;
  if (entry.name !== undefined) {
    if (typeof entry.name !== 'string' || !NAME.test(entry.name)) return fail(`${here}.name: expected letters, digits, ".", "_" and "-" (at most 63), got ${show(entry.name)}`);
    name = entry.name;
  }
  return { index, alg, ...(name !== undefined ? { name } : {}), layer: settingsOf(entry, here, alg, fail) };
}

/** The settings of `defaults` (alg null) or of a listener: listener settings only, and for a listener those of its ALG. */
function settingsOf(object: Record<string, unknown>, here: string, alg: Alg | null, fail: (m: string) => never): Map<SettingKey, Given> {
  const layer = new Map<SettingKey, Given>();
  for (const [key, value] of Object.entries(object)) {
    const where = `${here}.${key}`;
    if ((LISTENER_ONLY_KEYS as readonly string[]).includes(key)) {
      if (alg !== null) continue;
      return fail(`${where}: belongs in each listener (listeners[i].${key})`);
    }
    const setting = settingKey(key);
    if (setting === undefined) return fail(`${where}: unknown key${hint(key)}`);
    const spec = SETTINGS[setting];
    if (spec.scope === 'process') return fail(`${where}: a process setting (one for all listeners); put it at the top level of the file`);
    if (alg !== null && !spec.algs.includes(alg)) return fail(`${where}: not a setting of ${alg} listeners`);
    layer.set(setting, { raw: value, source: 'file', where });
  }
  return layer;
}

function settingKey(key: string): SettingKey | undefined {
  return Object.prototype.hasOwnProperty.call(SETTINGS, key) ? (key as SettingKey) : undefined;
}

/** ` (did you mean idleTimeout?)` for a key that differs from a setting only in case or in a few letters. */
function hint(key: string): string {
  let best: { key: string; distance: number } | null = null;
  for (const k of [...SETTING_KEYS, 'defaults', 'listeners', ...LISTENER_ONLY_KEYS]) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(k.toLowerCase(), key.toLowerCase());
    if (d <= 2 && (best === null || d < best.distance)) best = { key: k, distance: d };
  }
  return best ? ` (did you mean ${best.key}?)` : '';
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}
