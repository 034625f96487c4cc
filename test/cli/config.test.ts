/**
 * Settings from flags, NAT_ALG_* variables and the JSON config file: the one table behind all
 * three, the precedence (flags > environment > file > defaults), several listeners from one file,
 * and a message naming the flag, the variable or the key path for every mistake.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FTP_USAGE, IRC_USAGE, MAIN_USAGE, parseArgs, type ListenerPlan, type ParsedArgs } from '../../src/cli/args.js';
import { ENV_KEYS, envOf, FLAG_KEYS, flagOf, SETTING_KEYS, SETTINGS } from '../../src/cli/options.js';

type Files = Record<string, unknown>;

function reader(files: Files): (path: string) => string {
  return (path) => {
    if (!(path in files)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    const v = files[path];
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
}

function parse(argv: string[], env: Record<string, string> = {}, files: Files = {}): ParsedArgs {
  return parseArgs(argv, { env, readFile: reader(files) });
}

function listeners(argv: string[], env: Record<string, string> = {}, files: Files = {}): readonly ListenerPlan[] {
  const r = parse(argv, env, files);
  if (r.kind !== 'run') throw new Error(`expected a run, got ${JSON.stringify(r)}`);
  return r.listeners;
}

function error(argv: string[], env: Record<string, string> = {}, files: Files = {}): string {
  const r = parse(argv, env, files);
  if (r.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(r)}`);
  return r.message;
}

const FTP = ['ftp', '--listen', '127.0.0.1:2121', '--upstream', '127.0.0.1:21'];

describe('the settings table', () => {
  it('derives each flag, variable and key from the key, one to one', () => {
    expect(flagOf('maxPendingDataChannelsPerClient')).toBe('--max-pending-data-channels-per-client');
    expect(envOf('maxPendingDataChannelsPerClient')).toBe('NAT_ALG_MAX_PENDING_DATA_CHANNELS_PER_CLIENT');
    expect(flagOf('clientPrefixLength6')).toBe('--client-prefix-length6');
    expect(envOf('ftp64')).toBe('NAT_ALG_FTP64');
    expect(FLAG_KEYS.size).toBe(SETTING_KEYS.length);
    expect(ENV_KEYS.size).toBe(SETTING_KEYS.length);
  });

  it('documents every flag in the help of each command that takes it, and no other', () => {
    for (const [alg, usage] of [['ftp', FTP_USAGE], ['irc', IRC_USAGE]] as const) {
      const documented = new Set([...usage.matchAll(/^ {2}(--[a-z0-9-]+)/gm)].map((m) => m[1]!));
      const taken = new Set([...SETTING_KEYS.filter((k) => SETTINGS[k].algs.includes(alg)).map(flagOf), '--config']);
      expect([...documented].sort(), alg).toEqual([...taken].sort());
    }
    expect(MAIN_USAGE).toContain('--config FILE');
    // And in the documentation: docs/cli.md for every flag of ftp, docs/irc.md for those of irc.
    for (const [doc, alg] of [['docs/cli.md', 'ftp'], ['docs/irc.md', 'irc']] as const) {
      const text = readFileSync(resolve(__dirname, '../..', doc), 'utf8');
      for (const k of SETTING_KEYS.filter((key) => SETTINGS[key].algs.includes(alg))) expect(text, doc).toContain(`\`${flagOf(k)}`);
    }
    expect(MAIN_USAGE).toContain('NAT_ALG_IDLE_TIMEOUT');
  });
});

describe('one rule for all three sources', () => {
  // A valid value of every setting, as text and as written in the file (a test fails when a
  // setting is added to the table without one).
  const SAMPLES: Record<string, { text: string; json: unknown }> = {
    log: { text: 'json', json: 'json' },
    verbose: { text: 'true', json: true },
    grace: { text: '2.5', json: 2.5 },
    drainDelay: { text: '1', json: 1 },
    metrics: { text: '[::1]:9464', json: '[::1]:9464' },
    listen: { text: '127.0.0.1:2121', json: '127.0.0.1:2121' },
    upstream: { text: 'ftp.example.com:21', json: 'ftp.example.com:21' },
    publicAddress: { text: '203.0.113.1,2001:db8::1', json: ['203.0.113.1', '2001:db8::1'] },
    upstreamPublicAddress: { text: '198.51.100.1', json: '198.51.100.1' },
    dataPorts: { text: '50000-50099', json: '50000-50099' },
    allowForeignAddress: { text: 'true', json: true },
    allowLowPorts: { text: 'true', json: true },
    maxSessions: { text: '7', json: 7 },
    maxSessionsPerClient: { text: '6', json: 6 },
    maxUnauthenticatedPerClient: { text: '5', json: 5 },
    maxPendingDataChannelsPerClient: { text: '4', json: 4 },
    clientPrefixLength6: { text: '48', json: 48 },
    idleTimeout: { text: '90', json: 90 },
    loginTimeout: { text: '0.5', json: 0.5 },
    lineTimeout: { text: '3', json: 3 },
    upstreamConnectTimeout: { text: '2', json: 2 },
    maxLineLength: { text: '4096', json: 4096 },
    overlongLine: { text: 'close', json: 'close' },
    maxDiscardedBytes: { text: '100', json: 100 },
    tls: { text: 'refuse', json: 'refuse' },
    ftp64: { text: 'off', json: 'off' },
    maxPendingDataChannels: { text: '3', json: 3 },
    dataListenTimeout: { text: '4', json: 4 },
    dataPlane: { text: 'nftables', json: 'nftables' },
    nftTable: { text: 't1', json: 't1' },
    nftForwardGuard: { text: 'eth0,eth1', json: ['eth0', 'eth1'] },
    offerTimeout: { text: '9', json: 9 },
    maxWaitingOffers: { text: '4', json: 4 },
    noticeSender: { text: 'gw.example', json: 'gw.example' },
  };

  for (const alg of ['ftp', 'irc'] as const) {
    it(`gives the same ${alg} listener from flags, from the environment and from the file`, () => {
      const keys = SETTING_KEYS.filter((k) => SETTINGS[k].algs.includes(alg));
      expect(SETTING_KEYS.filter((k) => !(k in SAMPLES))).toEqual([]);
      const argv: string[] = [alg];
      const env: Record<string, string> = {};
      const top: Record<string, unknown> = {};
      const entry: Record<string, unknown> = {};
      for (const k of keys) {
        const { text, json } = SAMPLES[k]!;
        if (SETTINGS[k].json === 'boolean') argv.push(flagOf(k));
        else argv.push(flagOf(k), text);
        env[envOf(k)] = text;
        (SETTINGS[k].scope === 'process' ? top : entry)[k] = json;
      }
      const fromFlags = listeners(argv);
      const fromEnv = listeners([alg], env);
      const fromFile = listeners([alg, '--config', '/f'], {}, { '/f': { ...top, listeners: [entry] } });
      expect(fromEnv).toEqual(fromFlags);
      expect(fromFile).toEqual(fromFlags);
      // And every setting arrived (none left at its default).
      expect(Object.keys(fromFlags[0]!.options).length).toBe(keys.length);
    });
  }
});

describe('precedence: flags > environment > file > defaults', () => {
  const file = {
    '/c.json': {
      log: 'json',
      grace: 3,
      defaults: { idleTimeout: 100, maxSessions: 50, loginTimeout: 20 },
      listeners: [{ listen: '127.0.0.1:2121', upstream: '127.0.0.1:21', idleTimeout: 200, maxSessions: 60, lineTimeout: 5 }],
    },
  };

  it('a listener entry over the file defaults, the environment over both, a flag over all', () => {
    const [l] = listeners(['ftp', '--config', '/c.json', '--max-sessions', '80'], { NAT_ALG_IDLE_TIMEOUT: '300', NAT_ALG_MAX_SESSIONS: '70', NAT_ALG_LOG: 'text' }, file);
    expect(l!.options).toMatchObject({
      idleTimeoutMs: 300_000, // environment over the entry (200) and the defaults (100)
      maxSessions: 80, // flag over the environment (70), the entry (60) and the defaults (50)
      loginTimeoutMs: 20_000, // file defaults
      lineTimeoutMs: 5000, // the entry
      log: 'text', // environment over the file's top level
      graceMs: 3000, // file
      verbose: false, // built-in default
    });
    expect(l!.options.upstreamConnectTimeoutMs).toBeUndefined(); // the relay's own default
  });

  it('the same for process settings, and booleans from each source', () => {
    const files = { '/p.json': { verbose: false, defaults: { allowLowPorts: true }, listeners: [{ listen: '127.0.0.1:1', upstream: '127.0.0.1:2' }] } };
    expect(listeners(['ftp', '--config', '/p.json'], {}, files)[0]!.options).toMatchObject({ verbose: false, allowLowPorts: true });
    expect(listeners(['ftp', '--config', '/p.json'], { NAT_ALG_VERBOSE: 'yes', NAT_ALG_ALLOW_LOW_PORTS: 'false' }, files)[0]!.options).toMatchObject({ verbose: true, allowLowPorts: false });
    expect(listeners(['ftp', '--config', '/p.json', '--verbose'], { NAT_ALG_VERBOSE: '0' }, files)[0]!.options).toMatchObject({ verbose: true });
  });

  it('takes the one listener from the environment alone, and an empty variable is unset', () => {
    const [l] = listeners(['ftp'], { NAT_ALG_LISTEN: '[::1]:2121', NAT_ALG_UPSTREAM: 'ftp.example.com:21', NAT_ALG_TLS: '', NAT_ALG_FTP64: 'off' });
    expect(l).toEqual({
      alg: 'ftp',
      options: expect.objectContaining({ listen: { family: 6, address: '::1', port: 2121 }, upstream: { host: 'ftp.example.com', port: 21 }, ftp64: false }),
    });
    expect(l!.options).not.toHaveProperty('tls');
  });

  it('finds the file through NAT_ALG_CONFIG, with no argument at all', () => {
    const files = { '/etc/nat-alg/config.json': { listeners: [{ alg: 'irc', listen: '127.0.0.1:6667', upstream: '127.0.0.1:6668' }] } };
    expect(listeners([], { NAT_ALG_CONFIG: '/etc/nat-alg/config.json' }, files).map((l) => l.alg)).toEqual(['irc']);
    // --config wins over the variable.
    expect(error(['--config', '/nope.json'], { NAT_ALG_CONFIG: '/etc/nat-alg/config.json' }, files)).toMatch(/^--config: cannot read \/nope\.json \(ENOENT\)/);
  });

  it('warns about an unknown NAT_ALG_ variable instead of failing (the environment is shared)', () => {
    const r = parse(FTP, { NAT_ALG_IDLE_TIMOUT: '5', NAT_ALG_CONFIG: '' });
    expect(r).toMatchObject({ kind: 'run', warnings: ['ignoring unknown environment variable NAT_ALG_IDLE_TIMOUT'.replace('TIMEOUT', 'TIMOUT')] });
  });
});

describe('every option of the relays', () => {
  it('reaches createFtpProxy settings that had no flag before', () => {
    const [l] = listeners([
      ...FTP, '--public-address', '203.0.113.10,2001:DB8::10', '--upstream-public-address', '198.51.100.9', '--client-prefix-length6', '56',
      '--max-discarded-bytes', '0', '--ftp64', 'on', '--max-pending-data-channels', '3', '--metrics', '127.0.0.1:9464',
    ]);
    expect(l!.options).toMatchObject({
      publicAddress: ['203.0.113.10', '2001:db8::10'], upstreamPublicAddress: '198.51.100.9', clientPrefixLength6: 56, maxDiscardedBytes: 0,
      ftp64: true, maxPendingDataChannels: 3, metrics: { family: 4, address: '127.0.0.1', port: 9464 },
    });
    expect(error([...FTP, '--public-address', '203.0.113.10,203.0.113.11'])).toMatch(/^--public-address: .*two IPv4 addresses given/);
    expect(error([...FTP, '--ftp64', 'yes'])).toBe('--ftp64: expected auto, on or off, got "yes"');
    expect(error([...FTP, '--client-prefix-length6', '129'])).toMatch(/^--client-prefix-length6: expected a whole number from 1 to 128/);
    expect(error([...FTP, '--metrics', 'localhost'])).toMatch(/^--metrics: /);
  });

  it('and the IRC ones', () => {
    const [l] = listeners(['irc', '--listen', '127.0.0.1:6667', '--upstream', '127.0.0.1:6668', '--notice-sender', 'gw.example', '--max-discarded-bytes', '4096']);
    expect(l!.options).toMatchObject({ noticeSender: 'gw.example', maxDiscardedBytes: 4096 });
    expect(error(['irc', '--listen', '127.0.0.1:6667', '--upstream', '127.0.0.1:6668', '--notice-sender', ':x'])).toMatch(/^--notice-sender: /);
    expect(error(['irc', '--listen', '127.0.0.1:6667', '--upstream', '127.0.0.1:6668', '--ftp64', 'on'])).toBe('unknown option --ftp64');
  });
});

describe('several listeners from one file', () => {
  it('runs FTP and IRC listeners with nat-alg --config, each with its own settings over shared defaults', () => {
    const files = {
      '/multi.json': {
        defaults: { maxSessions: 10, overlongLine: 'close', tls: 'refuse', offerTimeout: 60 },
        listeners: [
          { alg: 'ftp', name: 'out', listen: '127.0.0.1:2121', upstream: '127.0.0.1:21' },
          { alg: 'ftp', listen: '127.0.0.1:2122', upstream: '127.0.0.1:2021', maxSessions: 20, tls: 'pass' },
          { alg: 'irc', listen: '127.0.0.1:6667', upstream: '127.0.0.1:6668', maxLineLength: 1024 },
        ],
      },
    };
    const ls = listeners(['--config', '/multi.json', '--max-line-length', '600'], {}, files);
    expect(ls.map((l) => [l.alg, l.options.name, l.options.maxSessions, l.options.overlongLine, l.options.maxLineLength])).toEqual([
      ['ftp', 'out', 10, 'close', 600],
      ['ftp', undefined, 20, 'close', 600],
      ['irc', undefined, 10, 'close', 600],
    ]);
    expect(ls[0]!.alg === 'ftp' && ls[0]!.options.tls).toBe('refuse');
    expect(ls[1]!.alg === 'ftp' && ls[1]!.options.tls).toBe('pass');
    expect(ls[2]!.alg === 'irc' && ls[2]!.options.offerTimeoutMs).toBe(60_000);
    // A flag of one ALG reaches only the listeners of that ALG.
    const tls = listeners(['--config', '/multi.json', '--tls', 'refuse'], {}, files);
    expect(tls.map((l) => (l.alg === 'ftp' ? l.options.tls : 'n/a'))).toEqual(['refuse', 'refuse', 'n/a']);
    // A line length valid for FTP but not for IRC is an error of the flag, for the IRC listener.
    expect(error(['--config', '/multi.json', '--max-line-length', '200'], {}, files)).toBe('--max-line-length: expected a whole number from 512 to 65536, got "200"');
  });

  it('loads examples/nat-alg.json, the documented example', () => {
    const path = resolve(__dirname, '../../examples/nat-alg.json');
    const ls = listeners(['--config', path], {}, { [path]: readFileSync(path, 'utf8') });
    expect(ls.map((l) => `${l.alg} ${l.options.name}`)).toEqual(['ftp ftp-out', 'ftp ftp-in', 'irc irc']);
    expect(ls[0]!.options).toMatchObject({ log: 'json', graceMs: 30_000, maxSessions: 500, idleTimeoutMs: 300_000, metrics: { port: 9464 }, tls: 'refuse' });
    expect(ls[1]!.options).toMatchObject({ publicAddress: ['203.0.113.10', '2001:db8::10'], dataPorts: { min: 50000, max: 50099 }, ftp64: 'auto', overlongLine: 'close' });
    expect(ls[2]!.options).toMatchObject({ upstream: { host: 'irc.example.net', port: 6667 }, offerTimeoutMs: 120_000, maxWaitingOffers: 8 });
    // docs/cli.md shows the same file.
    expect(readFileSync(resolve(__dirname, '../../docs/cli.md'), 'utf8')).toContain('```json\n' + readFileSync(path, 'utf8').trimEnd() + '\n```');
  });
});

describe('every mistake names its key', () => {
  const L = { listen: '127.0.0.1:2121', upstream: '127.0.0.1:21' };
  const cases: Array<[string, string[], Record<string, string>, unknown, RegExp | string]> = [
    ['a wrong JSON type', ['ftp', '--config', '/f'], {}, { listeners: [L, { ...L, listen: '127.0.0.1:2122', idleTimeout: '60' }] }, '/f: listeners[1].idleTimeout: expected a number, got "60"'],
    ['a number too large for a double, shown as given rather than as null', ['ftp', '--config', '/f'], {}, '{ "listeners": [{ "listen": "127.0.0.1:2121", "upstream": "127.0.0.1:21", "maxSessions": 1e400 }] }', '/f: listeners[0].maxSessions: expected a number, got Infinity (too large)'],
    ['a bad value', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, idleTimeout: -1 }] }, '/f: listeners[0].idleTimeout: expected seconds (at least 0.001, at most a week), got -1'],
    ['a bad default', ['ftp', '--config', '/f'], {}, { defaults: { maxSessions: 0 }, listeners: [L] }, '/f: defaults.maxSessions: expected a whole number from 1 to 9999999, got 0'],
    ['a bad top-level value', ['ftp', '--config', '/f'], {}, { log: 'xml', listeners: [L] }, '/f: log: expected text or json, got "xml"'],
    ['an unknown key, with a hint', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, idleTimout: 5 }] }, '/f: listeners[0].idleTimout: unknown key (did you mean idleTimeout?)'],
    ['an unknown top-level key', ['ftp', '--config', '/f'], {}, { listener: [L] }, '/f: listener: unknown key (did you mean listeners?)'],
    ['an alg in defaults', ['--config', '/f'], {}, { defaults: { alg: 'ftp' }, listeners: [{ ...L, alg: 'ftp' }] }, '/f: defaults.alg: belongs in each listener (listeners[i].alg)'],
    ['a name at the top', ['--config', '/f'], {}, { name: 'x', listeners: [{ ...L, alg: 'ftp' }] }, '/f: name: belongs in each listener (listeners[i].name)'],
    ['a process setting in a listener', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, grace: 5 }] }, /^\/f: listeners\[0\]\.grace: a process setting .* top level/],
    ['a listener setting at the top', ['ftp', '--config', '/f'], {}, { maxSessions: 5, listeners: [L] }, /^\/f: maxSessions: a listener setting; put it in "defaults"/],
    ['a setting of another ALG', ['--config', '/f'], {}, { listeners: [{ ...L, alg: 'irc', tls: 'refuse' }] }, '/f: listeners[0].tls: not a setting of irc listeners'],
    ['a default no listener takes', ['--config', '/f'], {}, { defaults: { tls: 'refuse' }, listeners: [{ ...L, alg: 'irc' }] }, '/f: defaults.tls: an option of ftp listeners only, and there is none'],
    ['a variable no listener takes', ['irc', '--config', '/f'], { NAT_ALG_TLS: 'refuse' }, { listeners: [L] }, 'NAT_ALG_TLS: an option of ftp listeners only, and there is none'],
    ['a bad variable', FTP, { NAT_ALG_MAX_SESSIONS: 'many' }, null, 'NAT_ALG_MAX_SESSIONS: expected a whole number from 1 to 9999999, got "many"'],
    ['a bad boolean variable', FTP, { NAT_ALG_VERBOSE: 'sure' }, null, 'NAT_ALG_VERBOSE: expected true or false, got "sure"'],
    ['a bad value overridden by a flag', [...FTP, '--idle-timeout', '5'], { NAT_ALG_IDLE_TIMEOUT: 'x' }, null, /^NAT_ALG_IDLE_TIMEOUT: expected seconds/],
    ['a missing alg', ['--config', '/f'], {}, { listeners: [L] }, '/f: listeners[0].alg is required (ftp or irc)'],
    ['an unknown alg', ['--config', '/f'], {}, { listeners: [{ ...L, alg: 'http' }] }, '/f: listeners[0].alg: expected ftp or irc, got "http"'],
    ['an alg other than the command', ['ftp', '--config', '/f'], {}, { listeners: [L, { ...L, alg: 'irc' }] }, /^\/f: listeners\[1\]\.alg is irc, but this is nat-alg ftp/],
    ['a missing listen', ['ftp', '--config', '/f'], {}, { listeners: [L, { upstream: '127.0.0.1:21' }] }, '/f: listeners[1]: listen HOST:PORT is required'],
    ['a missing upstream from flags', ['ftp', '--listen', '127.0.0.1:1'], {}, null, '--upstream HOST:PORT is required'],
    ['the same listen address twice', ['ftp', '--config', '/f'], {}, { listeners: [L, L] }, '/f: listeners[1].listen: 127.0.0.1:2121 is also the listen address of /f: listeners[0]'],
    ['the same name twice', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, name: 'a' }, { ...L, listen: '127.0.0.1:0', name: 'a' }] }, '/f: listeners[1].name: "a" is also the name of listeners[0]'],
    ['a bad name', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, name: 'a b' }] }, /^\/f: listeners\[0\]\.name: expected letters/],
    ['an nftables setting without the plane', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, nftTable: 't1' }] }, '/f: listeners[0].nftTable needs dataPlane nftables'],
    ['an nftables flag without the plane', [...FTP, '--nft-forward-guard', 'none'], {}, null, '--nft-forward-guard needs --data-plane nftables'],
    ['two nftables listeners on one table', ['ftp', '--config', '/f'], {}, { defaults: { dataPlane: 'nftables' }, listeners: [L, { ...L, listen: '127.0.0.1:2122' }] }, /^\/f: listeners\[1\]: nftables table nat_alg is also the table of \/f: listeners\[0\]/],
    ['a list of the wrong type', ['ftp', '--config', '/f'], {}, { listeners: [{ ...L, publicAddress: [1] }] }, '/f: listeners[0].publicAddress: expected a string or an array of strings, got [1]'],
    ['an empty listeners list', ['ftp', '--config', '/f'], {}, { listeners: [] }, '/f: listeners: expected a non-empty array of listeners'],
    ['not an object', ['ftp', '--config', '/f'], {}, [L], /^\/f: expected a JSON object/],
    ['not JSON', ['ftp', '--config', '/f'], {}, '{ "listeners": [', /^\/f: not valid JSON: /],
    ['no file', ['ftp', '--config', '/missing'], {}, null, /^--config: cannot read \/missing \(ENOENT\)/],
    ['--config twice', ['ftp', '--config', '/f', '--config', '/g'], {}, { listeners: [L] }, '--config given twice'],
    ['no listeners and no command', ['--config', '/f'], {}, { defaults: {} }, /^\/f: no "listeners": name the command/],
    ['no command, no file', ['--listen', '127.0.0.1:1'], {}, null, 'missing command (try "nat-alg --help")'],
  ];
  for (const [what, argv, env, content, message] of cases) {
    it(what, () => {
      const files: Files = content === null ? {} : { '/f': content };
      const got = error(argv, env, files);
      if (typeof message === 'string') expect(got).toBe(message);
      else expect(got).toMatch(message);
    });
  }

  it('points a config-mode mistake at the main help', () => {
    expect(parse(['--config', '/f'], {}, { '/f': { listeners: [{ listen: '127.0.0.1:1', upstream: '127.0.0.1:2' }] } })).toMatchObject({ kind: 'usage-error', topic: 'main' });
  });
});
