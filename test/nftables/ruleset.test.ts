// The nft text the plane writes: validation of every value that reaches it, and the exact
// commands for a channel. No root needed.
import { describe, expect, it } from 'vitest';
import { NatAlgError } from '../../src/core/errors.js';
import {
  checkChannel,
  checkGuard,
  checkTableName,
  closeCommands,
  closeGate,
  counterNames,
  oneLine,
  openCommands,
  createTable,
  tableDefinition,
} from '../../src/node/nftables/ruleset.js';
import type { KernelChannel } from '../../src/node/nftables/types.js';

const passive4: KernelChannel = {
  id: 7,
  family: 4,
  peer: '192.0.2.2',
  announced: { address: '192.0.2.1', port: 40000 },
  target: { address: '198.51.100.2', port: 7000 },
  sourceAddress: '198.51.100.1',
  timeoutMs: 30_000,
};

describe('checkChannel', () => {
  it('re-prints addresses canonically and builds the key', () => {
    const c = checkChannel({ ...passive4, family: 6, peer: '2001:DB8:1:0::2', announced: { address: '2001:db8:1::1', port: 1 }, target: { address: '2001:db8:2:0:0::2', port: 2 }, sourceAddress: '2001:0db8:0002::1' });
    expect(c.peer).toBe('2001:db8:1::2');
    expect(c.target.address).toBe('2001:db8:2::2');
    expect(c.sourceAddress).toBe('2001:db8:2::1');
    expect(c.key).toBe('2001:db8:1::2 . 2001:db8:1::1 . 1');
  });

  it.each<[string, Partial<KernelChannel>]>([
    ['a v6 address in a v4 channel', { peer: '2001:db8::1' }],
    ['an IPv4-mapped IPv6 address in a v6 channel', { family: 6, peer: '::ffff:192.0.2.2' }],
    ['nft syntax smuggled into an address', { target: { address: '198.51.100.2 } ; flush ruleset ; {', port: 1 } }],
    ['a name instead of an address', { peer: 'client.example' }],
    ['the unspecified address', { sourceAddress: '0.0.0.0' }],
    ['port 0', { announced: { address: '192.0.2.1', port: 0 } }],
    ['a fractional port', { target: { address: '198.51.100.2', port: 21.5 } }],
    ['a port above 65535', { target: { address: '198.51.100.2', port: 65536 } }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['a timeout over a day', { timeoutMs: 86_400_001 }],
    ['a negative id', { id: -1 }],
    ['family 5', { family: 5 as 4 }],
  ])('refuses %s', (_what, patch) => {
    expect(() => checkChannel({ ...passive4, ...patch })).toThrow(NatAlgError);
    try {
      checkChannel({ ...passive4, ...patch });
    } catch (e) {
      expect((e as NatAlgError).kind).toBe('invalid-argument');
    }
  });

  it('refuses table names nft would misread', () => {
    expect(checkTableName('nat_alg_2')).toBe('nat_alg_2');
    for (const bad of ['', '2nat', 'nat-alg', 'nat alg', 'a'.repeat(33), 'x;flush ruleset']) {
      expect(() => checkTableName(bad)).toThrow(NatAlgError);
    }
  });

  it('refuses interface names that are not names', () => {
    expect(checkGuard({ kind: 'interfaces', interfaces: ['eth0', 'br-lan.10'] }).kind).toBe('interfaces');
    expect(() => checkGuard({ kind: 'interfaces', interfaces: [] })).toThrow(NatAlgError);
    expect(() => checkGuard({ kind: 'interfaces', interfaces: ['eth0"; flush ruleset'] })).toThrow(NatAlgError);
    expect(() => checkGuard({ kind: 'interfaces', interfaces: ['a'.repeat(16)] })).toThrow(NatAlgError);
  });
});

describe('channel commands', () => {
  const c = checkChannel(passive4);
  const names = counterNames(3);

  it('open: counters, maps, then the gate with the kernel timeout; a cut of the same key is left alone', () => {
    expect(openCommands('t', c, names).split('; ')).toEqual([
      'add counter inet t c3_up',
      'add counter inet t c3_down',
      'add element inet t dnat4 { 192.0.2.2 . 192.0.2.1 . 40000 : 198.51.100.2 . 7000 }',
      'add element inet t snat4 { 192.0.2.2 . 192.0.2.1 . 40000 : 198.51.100.1 }',
      'add element inet t up4 { 192.0.2.2 . 192.0.2.1 . 40000 : "c3_up" }',
      'add element inet t down4 { 192.0.2.2 . 192.0.2.1 . 40000 : "c3_down" }',
      'add element inet t gate4 { 192.0.2.2 . 192.0.2.1 . 40000 timeout 30000ms }',
    ]);
    expect(openCommands('t', c, names)).not.toContain('cut4');
  });

  it('close: the gate whether or not it is still there, everything else, the claimed flow\'s won element, then the cut of each flow', () => {
    expect(closeCommands('t', c, names, [50000], [50000, 50001], 600_000).split('; ')).toEqual([
      'add element inet t gate4 { 192.0.2.2 . 192.0.2.1 . 40000 timeout 1s }',
      'delete element inet t gate4 { 192.0.2.2 . 192.0.2.1 . 40000 }',
      'delete element inet t dnat4 { 192.0.2.2 . 192.0.2.1 . 40000 }',
      'delete element inet t snat4 { 192.0.2.2 . 192.0.2.1 . 40000 }',
      'delete element inet t up4 { 192.0.2.2 . 192.0.2.1 . 40000 }',
      'delete element inet t down4 { 192.0.2.2 . 192.0.2.1 . 40000 }',
      'delete counter inet t c3_up',
      'delete counter inet t c3_down',
      'add element inet t won4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 timeout 1s }',
      'delete element inet t won4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 }',
      'add element inet t cut4 { 192.0.2.2 . 192.0.2.1 . 40000 . 50000 timeout 600000ms, 192.0.2.2 . 192.0.2.1 . 40000 . 50001 timeout 600000ms }',
    ]);
    // The gate already closed (closeGate), nobody claimed, nothing to cut.
    expect(closeGate('t', c)).toBe('add element inet t gate4 { 192.0.2.2 . 192.0.2.1 . 40000 timeout 1s }; delete element inet t gate4 { 192.0.2.2 . 192.0.2.1 . 40000 }');
    expect(closeCommands('t', c, names, [], [], 600_000, false)).not.toMatch(/gate4|won4|cut4/);
  });
});

describe('tableDefinition', () => {
  it('guard all ends the forward chain in a counted drop; none has no drop; interfaces drops by name', () => {
    const all = tableDefinition('t', { kind: 'all' }, 'nat-alg pid=1 start=2');
    expect(all).toContain('counter name guard_drops drop');
    expect(all).toContain('comment "nat-alg pid=1 start=2";');
    const none = tableDefinition('t', { kind: 'none' }, 'o');
    expect(none).not.toMatch(/\bdrop\b/);
    const ifs = tableDefinition('t', { kind: 'interfaces', interfaces: ['eth1', 'eth2'] }, 'o');
    expect(ifs).toContain('set guarded { type ifname; elements = { "eth1", "eth2" }; };');
    expect(ifs).toContain('iifname @guarded counter name guard_drops drop');
    expect(ifs).toContain('oifname @guarded counter name guard_drops drop');
    // Every chain is policy accept: the drops are rules, visible and counted.
    expect(all.match(/policy accept/g)).toHaveLength(3);
  });

  it('the redirect takes only bare SYNs while the gate is there; a completed handshake claims the channel in the forward chain', () => {
    const d = tableDefinition('t', { kind: 'all' }, 'o');
    expect(d).toContain(
      'tcp flags & (fin | syn | rst | ack) == syn fib saddr . iif oif exists ip saddr . ip daddr . tcp dport @gate4 dnat ip to ip saddr . ip daddr . tcp dport map @dnat4',
    );
    // A SYN does not use the gate up: only the claim deletes it.
    expect(d).not.toMatch(/tcp dport @gate4 delete/);
    const K = 'ct original ip saddr . ct original ip daddr . ct original proto-dst';
    const F = `${K} . ct original proto-src`;
    const fwd = d.slice(d.indexOf('chain forward_guard')).split('\n').map((l) => l.trim()).filter((l) => l.includes(' ip saddr'));
    // In this order: a cut flow is reset before anything could forward it or let it claim.
    expect(fwd).toEqual([
      `meta l4proto tcp ct status dnat ${F} @cut4 reject with tcp reset comment "closed channel";`,
      `meta l4proto tcp ct status dnat ct direction original ct status assured ${K} @gate4 delete @gate4 { ${K} } add @won4 { ${F} } comment "a completed handshake claims the channel";`,
      `meta l4proto tcp ct status dnat ct direction original ${F} @won4 counter name ${K} map @up4 accept;`,
      `meta l4proto tcp ct status dnat ct direction reply ${F} @won4 counter name ${K} map @down4 accept;`,
      `meta l4proto tcp ct status dnat ct status ! assured ${K} @gate4 accept comment "a handshake while the channel is unclaimed";`,
      `meta l4proto tcp ct status dnat ${K} @up4 reject with tcp reset comment "not the flow that claimed the channel";`,
    ]);
    expect(tableDefinition('t', { kind: 'all' }, 'o', false)).not.toContain('fib');
    expect(d).toContain('meta l4proto tcp ct status dnat snat ip6 to ct original ip6 saddr . ct original ip6 daddr . ct original proto-dst map @snat6;');
  });

  it('is one line for nft -i, replacing a stale table in the same transaction', () => {
    const line = createTable('t', 'o', tableDefinition('t', { kind: 'all' }, 'o'), true);
    expect(line).not.toContain('\n');
    expect(line.startsWith('add table inet t; delete table inet t; create table inet t { comment "o"; }; table inet t {')).toBe(true);
    // No table there: `create`, which fails (touching nothing) if one appeared meanwhile.
    expect(createTable('t', 'o', tableDefinition('t', { kind: 'all' }, 'o'), false).startsWith('create table inet t { comment "o"; }; table inet t {')).toBe(true);
    expect(oneLine('a {\n  b;\n}\n')).toBe('a { b; }');
  });
});
