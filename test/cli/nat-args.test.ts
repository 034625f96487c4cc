import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { parseNatArgs } from '../../src/cli/nat-args.js';

const LINKS = ['--inside', 'udp:127.0.0.1:7001', '--outside', 'udp:127.0.0.1:7002'];

function options(argv: readonly string[]) {
  const r = parseNatArgs(argv);
  if (r.kind !== 'nat') throw new Error(`expected options, got ${JSON.stringify(r)}`);
  return r.options;
}

function usageError(argv: readonly string[]): string {
  const r = parseNatArgs(argv);
  if (r.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(r)}`);
  return r.message;
}

describe('nat-alg nat arguments', () => {
  it('takes every flag of the issue, repeatable ones collected', () => {
    const o = options([
      ...LINKS,
      '--inside-peer', 'udp:127.0.0.1:7101',
      '--outside-peer=udp:127.0.0.1:7102',
      '--inside-network', '192.0.2.0/24', '--inside-network', '198.51.100.128/25',
      '--nat-address', '203.0.113.1', '--nat-address', '203.0.113.2',
      '--forward', 'tcp:203.0.113.1:21=192.0.2.20:21', '--forward', 'udp:203.0.113.1:53=192.0.2.53:53',
      '--one-to-one', '192.0.2.30=203.0.113.30',
      '--nat64', '64:ff9b::/96', '--nat64-pool', '203.0.113.3',
      '--alg', 'ftp', '--alg', 'irc:6668',
      '--mtu', '1400', '--log', 'json', '--verbose',
    ]);
    expect(o.inside).toEqual({ family: 4, address: '127.0.0.1', port: 7001 });
    expect(o.outsidePeer).toEqual({ family: 4, address: '127.0.0.1', port: 7102 });
    expect(o.insideNetworks).toEqual(['192.0.2.0/24', '198.51.100.128/25']);
    expect(o.natAddresses).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(o.forwards).toEqual([
      { protocol: 'tcp', external: { family: 4, address: '203.0.113.1', port: 21 }, internal: { family: 4, address: '192.0.2.20', port: 21 } },
      { protocol: 'udp', external: { family: 4, address: '203.0.113.1', port: 53 }, internal: { family: 4, address: '192.0.2.53', port: 53 } },
    ]);
    expect(o.oneToOne).toEqual([{ inside: '192.0.2.30', outside: '203.0.113.30' }]);
    expect(o.nat64).toEqual({ prefix: '64:ff9b::/96', pool: ['203.0.113.3'] });
    expect(o.algs).toEqual([{ name: 'ftp' }, { name: 'irc', port: 6668 }]);
    expect([o.mtu, o.log, o.verbose]).toEqual([1400, 'json', true]);
  });

  it('defaults: FTP on its port, text log, every address of the family inside', () => {
    const o = options([...LINKS, '--nat-address', '203.0.113.1']);
    expect(o.algs).toEqual([{ name: 'ftp' }]);
    expect([o.log, o.verbose, o.insideNetworks, o.mtu]).toEqual(['text', false, [], undefined]);
    expect(options([...LINKS, '--nat-address', '203.0.113.1', '--alg', 'none']).algs).toEqual([]);
    // NAT64 alone: the pool is the NAT64 pool.
    expect(options([...LINKS, '--nat64', '64:ff9b::/96', '--nat64-pool', '203.0.113.9']).natAddresses).toEqual([]);
  });

  it('names the flag and what it expected', () => {
    expect(usageError(['--outside', 'udp:127.0.0.1:1', '--nat-address', '203.0.113.1'])).toBe('--inside udp:HOST:PORT is required');
    expect(usageError([...LINKS])).toMatch(/--nat-address IP is required/);
    expect(usageError(['--inside', '127.0.0.1:7001', '--outside', 'udp:127.0.0.1:1', '--nat-address', '203.0.113.1'])).toMatch(/^--inside: expected udp:HOST:PORT/);
    expect(usageError([...LINKS, '--nat-address', 'nat.example'])).toMatch(/^--nat-address: "nat.example" is not an IPv4 or IPv6 address/);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--nat-address', '2001:db8::1'])).toMatch(/one family/);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--forward', '203.0.113.1:21=192.0.2.20:21'])).toMatch(/^--forward: expected tcp:PUBLIC_IP:PORT=INSIDE_IP:PORT/);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--nat64-pool', '203.0.113.2'])).toBe('--nat64-pool needs --nat64 PREFIX');
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--nat64', '2001:db8::/33'])).toMatch(/^--nat64: /);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--mtu', '576'])).toMatch(/^--mtu: expected 1280-65535/);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--log', 'xml'])).toMatch(/^--log: expected text or json/);
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--listen', '127.0.0.1:21'])).toBe('unknown option --listen');
    expect(usageError([...LINKS, '--nat-address', '203.0.113.1', '--inside', 'udp:127.0.0.1:9'])).toBe('--inside given twice');
  });

  it('is the nat command of the CLI, with its own help topic', () => {
    expect(parseArgs(['nat', '--help'])).toEqual({ kind: 'help', topic: 'nat' });
    expect(parseArgs(['nat', ...LINKS, '--nat-address', '203.0.113.1']).kind).toBe('nat');
    expect(parseArgs(['nat', ...LINKS])).toMatchObject({ kind: 'usage-error', topic: 'nat' });
  });
});
