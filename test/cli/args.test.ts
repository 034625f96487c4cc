import { describe, it, expect } from 'vitest';
import { parseArgs, type FtpCommandOptions, type ParsedArgs } from '../../src/cli/args.js';
import { formatLogEntry } from '../../src/cli/log.js';

function options(argv: string[]): FtpCommandOptions {
  const r = parseArgs(argv);
  if (r.kind !== 'run' || r.listeners[0]?.alg !== 'ftp') throw new Error(`expected ftp, got ${JSON.stringify(r)}`);
  return r.listeners[0].options;
}

function usageError(argv: string[]): string {
  const r: ParsedArgs = parseArgs(argv);
  if (r.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(r)}`);
  return r.message;
}

const base = ['ftp', '--listen', '127.0.0.1:2121', '--upstream', '127.0.0.1:21'];

describe('parseArgs', () => {
  it('reads the minimal ftp command with defaults', () => {
    expect(options(base)).toEqual({
      listen: { family: 4, address: '127.0.0.1', port: 2121 },
      upstream: { host: '127.0.0.1', port: 21 },
      allowForeignAddress: false,
      allowLowPorts: false,
      log: 'text',
      verbose: false,
      graceMs: 10_000,
      dataPlane: 'relay',
    });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const o = options([
      'ftp',
      '--listen=[::1]:2121',
      '--upstream',
      '[2001:DB8::0:1]:21',
      '--public-address',
      '203.0.113.5',
      '--data-ports=50000-50100',
      '--allow-foreign-address',
      '--allow-low-ports',
      '--log',
      'json',
      '--verbose',
      '--grace',
      '2.5',
      '--max-sessions',
      '200',
      '--max-sessions-per-client=4',
      '--idle-timeout',
      '90',
    ]);
    expect(o).toEqual({
      listen: { family: 6, address: '::1', port: 2121 },
      upstream: { host: '2001:db8::1', port: 21 },
      publicAddress: '203.0.113.5',
      dataPorts: { min: 50000, max: 50100 },
      allowForeignAddress: true,
      allowLowPorts: true,
      log: 'json',
      verbose: true,
      graceMs: 2500,
      maxSessions: 200,
      maxSessionsPerClient: 4,
      idleTimeoutMs: 90_000,
      dataPlane: 'relay',
    });
  });

  it('reads the data plane and its nftables settings, refusing what cannot work', () => {
    expect(options([...base, '--data-plane', 'nftables'])).toMatchObject({ dataPlane: 'nftables' });
    expect(options([...base, '--data-plane=nftables', '--nft-table', 'relay_7', '--nft-forward-guard', 'eth0,veth-a.1'])).toMatchObject({
      dataPlane: 'nftables',
      nftTable: 'relay_7',
      nftForwardGuard: { kind: 'interfaces', interfaces: ['eth0', 'veth-a.1'] },
    });
    expect(options([...base, '--data-plane', 'nftables', '--nft-forward-guard', 'none'])).toMatchObject({ nftForwardGuard: { kind: 'none' } });
    expect(usageError([...base, '--data-plane', 'kernel'])).toMatch(/^--data-plane: expected relay or nftables/);
    expect(usageError([...base, '--nft-table', 'x'])).toMatch(/^--nft-table needs --data-plane nftables/);
    expect(usageError([...base, '--data-plane', 'nftables', '--nft-table', '1x'])).toMatch(/^--nft-table: expected letters, digits and _.*, got "1x"$/);
    expect(usageError([...base, '--data-plane', 'nftables', '--nft-forward-guard', 'eth0;drop'])).toMatch(/^--nft-forward-guard: /);
  });

  it('reads the hardening flags and refuses bad values naming the flag', () => {
    const o = options([
      ...base, '--max-unauthenticated-per-client', '3', '--login-timeout', '20', '--line-timeout=0.5', '--data-listen-timeout', '45',
      '--upstream-connect-timeout', '2.5', '--max-line-length', '8192', '--overlong-line', 'close', '--tls', 'refuse',
      '--max-pending-data-channels-per-client', '6',
    ]);
    expect(o).toMatchObject({
      maxUnauthenticatedPerClient: 3, loginTimeoutMs: 20_000, lineTimeoutMs: 500, dataListenTimeoutMs: 45_000,
      upstreamConnectTimeoutMs: 2500, maxLineLength: 8192, overlongLine: 'close', tls: 'refuse', maxPendingDataChannelsPerClient: 6,
    });
    expect(usageError([...base, '--max-pending-data-channels-per-client', '0'])).toMatch(/^--max-pending-data-channels-per-client: expected a whole number/);
    expect(usageError([...base, '--max-line-length', '100'])).toMatch(/^--max-line-length: expected a whole number from 128 to 1048576/);
    expect(usageError([...base, '--max-line-length', '2000000'])).toMatch(/^--max-line-length: /);
    expect(usageError([...base, '--overlong-line', 'drop'])).toMatch(/^--overlong-line: expected refuse or close/);
    expect(usageError([...base, '--tls', 'terminate'])).toMatch(/^--tls: expected pass or refuse/);
    expect(usageError([...base, '--line-timeout', '0'])).toMatch(/^--line-timeout: expected seconds/);
    expect(usageError([...base, '--login-timeout', 'soon'])).toMatch(/^--login-timeout: expected seconds/);
    expect(usageError([...base, '--max-unauthenticated-per-client', '0'])).toMatch(/^--max-unauthenticated-per-client: /);
  });

  it('accepts a host name upstream (resolved per session), but not a bad address', () => {
    expect(options(['ftp', '--listen', '0.0.0.0:21', '--upstream', 'ftp-server:2121']).upstream).toEqual({ host: 'ftp-server', port: 2121 });
    expect(options(['ftp', '--listen', '[::]:21', '--upstream', 'ftp.example.com.:21']).upstream).toEqual({ host: 'ftp.example.com.', port: 21 });
    expect(usageError(['ftp', '--listen', '0.0.0.0:21', '--upstream', '300.1.1.1:21'])).toMatch(/^--upstream: /);
    expect(usageError(['ftp', '--listen', '0.0.0.0:21', '--upstream', 'host_name:21'])).toMatch(/^--upstream: /);
    expect(usageError(['ftp', '--listen', '0.0.0.0:21', '--upstream', 'ftp.example.com:0'])).toMatch(/1-65535/);
    expect(usageError(['ftp', '--listen', '0.0.0.0:21', '--upstream', '127.0.0.1:0'])).toMatch(/1-65535/);
  });

  it('gives help and version', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help', topic: 'main' });
    expect(parseArgs(['-h'])).toEqual({ kind: 'help', topic: 'main' });
    expect(parseArgs(['ftp', '--help'])).toEqual({ kind: 'help', topic: 'ftp' });
    expect(parseArgs([...base, '-h'])).toEqual({ kind: 'help', topic: 'ftp' });
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['http'], /unknown command "http"/],
    [['--frobnicate'], /unknown option --frobnicate/],
    [['ftp'], /--listen HOST:PORT is required/],
    [['ftp', '--listen', '127.0.0.1:2121'], /--upstream HOST:PORT is required/],
    [['ftp', '--listen'], /--listen needs a value/],
    [['ftp', '--listen', '--upstream', '127.0.0.1:21'], /--listen needs a value/],
    [[...base, '--listen', '127.0.0.1:1'], /--listen given twice/],
    [[...base, '--bogus'], /unknown option --bogus/],
    [[...base, 'extra'], /unexpected argument "extra"/],
    [[...base, '--verbose=yes'], /--verbose takes no value/],
    [['ftp', '--listen', '::1:2121', '--upstream', '127.0.0.1:21'], /^--listen: .*brackets/],
    [['ftp', '--listen', '127.0.0.1', '--upstream', '127.0.0.1:21'], /^--listen: .*HOST:PORT/],
    [['ftp', '--listen', '127.0.0.1:70000', '--upstream', '127.0.0.1:21'], /^--listen: .*port/],
    [['ftp', '--listen', 'localhost:21', '--upstream', '127.0.0.1:21'], /^--listen: /],
    [[...base, '--public-address', 'example.com'], /^--public-address: expected an IPv4 or IPv6 address, or one of each separated by a comma, got "example.com"$/],
    [[...base, '--data-ports', '5000'], /--data-ports: expected LO-HI/],
    [[...base, '--data-ports', '6000-5000'], /--data-ports/],
    [[...base, '--data-ports', '0-10'], /--data-ports/],
    [[...base, '--data-ports', '1-65536'], /--data-ports/],
    [[...base, '--log', 'xml'], /--log: expected text or json, got "xml"/],
    [[...base, '--grace', '-1'], /--grace/],
    [[...base, '--grace', 'soon'], /--grace/],
    [[...base, '--max-sessions', '0'], /--max-sessions: expected a whole number from 1 to 9999999, got "0"/],
    [[...base, '--max-sessions-per-client', '2.5'], /--max-sessions-per-client: expected a whole number/],
    [[...base, '--idle-timeout', '0'], /--idle-timeout: expected seconds/],
  ];
  for (const [argv, message] of bad) {
    it(`refuses: nat-alg ${argv.join(" ")}`, () => {
      expect(usageError(argv)).toMatch(message);
    });
  }

  it('names the topic of the help to point at', () => {
    expect(parseArgs(['nope'])).toMatchObject({ topic: 'main' });
    expect(parseArgs(['ftp', '--nope'])).toMatchObject({ topic: 'ftp' });
  });
});

describe('formatLogEntry', () => {
  const time = new Date('2026-01-02T03:04:05.678Z');
  const entry = {
    level: 'info' as const,
    event: 'session-close',
    sessionId: 7,
    client: { family: 6 as const, address: '::1', port: 40000 },
    reason: 'client closed',
    bytes: { controlFromClient: 10, dataToClient: 2048 },
  };

  it('writes text as key=value with endpoints, nested objects flattened and spaces quoted', () => {
    expect(formatLogEntry(entry, 'text', time)).toBe(
      '2026-01-02T03:04:05.678Z info  session-close session=7 client=[::1]:40000 reason="client closed" bytes.controlFromClient=10 bytes.dataToClient=2048',
    );
  });

  it('writes one JSON object per line with endpoints as text', () => {
    const line = formatLogEntry(entry, 'json', time);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'info',
      event: 'session-close',
      session: 7,
      client: '[::1]:40000',
      reason: 'client closed',
      bytes: { controlFromClient: 10, dataToClient: 2048 },
    });
  });

  it('never lets peer text break the line', () => {
    const line = formatLogEntry({ level: 'warn', event: 'command-refused', command: 'PORT 1,2\r\nX', reply: 'a=b' }, 'text', time);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line).toContain('command="PORT 1,2\\r\\nX"');
    expect(line).toContain('reply="a=b"');
  });
});
