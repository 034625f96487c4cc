/**
 * The nft text the plane writes, built from validated values only (nothing a peer sent reaches
 * here unparsed: addresses are re-printed from their parsed bytes, ports and ids are integers).
 *
 * One key names a channel everywhere: K = peer . announced address . announced port. The packet
 * path sees it as `ip saddr . ip daddr . tcp dport` on a connection's first packet, and as
 * `ct original ip saddr . ct original ip daddr . ct original proto-dst` on every packet of the
 * flow in either direction (the original tuple never changes), so the forward chain can tell
 * the plane's flows from others without a conntrack mark another program may own. One flow of
 * a channel is F = K . the peer's source port (`ct original proto-src`).
 *
 *   gate4/6   set  K, timeout        the channel is unclaimed: the peer's SYNs are redirected
 *   dnat4/6   map  K -> target . port
 *   snat4/6   map  K -> the relay's source address towards the target
 *   up4/6     map  K -> counter      bytes peer -> target    (also: which keys are open channels)
 *   down4/6   map  K -> counter      bytes target -> peer
 *   won4/6    set  F                 the flow that claimed its channel (filled from the packet path)
 *   cut4/6    set  F, timeout        flows of closed channels: whatever they still send is reset
 *
 * Admission (the claim): while K is in the gate, every bare SYN from the peer is redirected; the
 * first of those flows whose handshake completes (conntrack marks it ASSURED when the peer's ACK
 * answers the target's SYN-ACK) claims the channel in the forward chain: the same rule deletes
 * the gate and puts F into won. From then on only F is forwarded; other flows of K are reset.
 * A SYN forged with the peer's address cannot complete a handshake (the SYN-ACK goes to the
 * real peer, which resets it), so it cannot use the channel up. Cuts name flows, not keys, so a
 * later channel of the same key can never lift the cut of a flow closed before it.
 *
 * nft 1.0.6 refuses `ct original proto-dst` in a concatenation unless the rule first says
 * `meta l4proto tcp` (it needs the protocol to know the field's type); the kernel reads the
 * port from the tuple either way.
 */

import { parseAddress, formatIPv4, formatIPv6 } from '../../core/net/ip.js';
import { AddressError, NatAlgError } from '../../core/errors.js';
import type { ForwardGuard, KernelChannel } from './types.js';

/** A channel whose values were checked and re-printed canonically, with its set key. */
export interface CheckedChannel extends KernelChannel {
  /** K in nft syntax. */
  readonly key: string;
}

/** Longest timeout nft takes without complaint is far larger; a day keeps typos from lasting weeks. */
const MAX_TIMEOUT_MS = 86_400_000;

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
/** Linux interface names: up to 15 bytes; this subset cannot break out of an nft string. */
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

export function checkTableName(name: string): string {
  if (!TABLE_NAME.test(name)) {
    throw new NatAlgError('invalid-argument', `tableName ${JSON.stringify(name.slice(0, 40))}: letters, digits and _, starting with a letter, at most 32`);
  }
  return name;
}

function canonical(what: string, text: unknown, family: 4 | 6): string {
  if (typeof text !== 'string') throw new NatAlgError('invalid-argument', `${what} must be an address string`);
  const p = parseAddress(text);
  if (!p) throw new AddressError(text, `${what} is not an IPv4 or IPv6 address`);
  if (p.family !== family) {
    // An IPv4-mapped IPv6 address is refused too: the kernel sees a v4 flow, not a v6 one.
    throw new NatAlgError('invalid-argument', `${what} ${text} is not an IPv${family} address (channel family ${family})`);
  }
  const text2 = family === 4 ? formatIPv4(p.bytes) : formatIPv6(p.bytes);
  if (/^(0\.0\.0\.0|::)$/.test(text2)) throw new NatAlgError('invalid-argument', `${what} is the unspecified address`);
  return text2;
}

function port(what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new NatAlgError('invalid-argument', `${what} must be an integer 1-65535`);
  }
  return n;
}

export function checkChannel(ch: KernelChannel): CheckedChannel {
  if (!Number.isSafeInteger(ch.id) || ch.id < 0) throw new NatAlgError('invalid-argument', 'channel id must be a non-negative integer');
  if (ch.family !== 4 && ch.family !== 6) throw new NatAlgError('invalid-argument', 'channel family must be 4 or 6');
  const f = ch.family;
  if (!Number.isInteger(ch.timeoutMs) || ch.timeoutMs < 1 || ch.timeoutMs > MAX_TIMEOUT_MS) {
    throw new NatAlgError('invalid-argument', `timeoutMs must be an integer 1-${MAX_TIMEOUT_MS}`);
  }
  const peer = canonical('peer', ch.peer, f);
  const announced = { address: canonical('announced address', ch.announced?.address, f), port: port('announced port', ch.announced?.port) };
  const target = { address: canonical('target address', ch.target?.address, f), port: port('target port', ch.target?.port) };
  const sourceAddress = canonical('sourceAddress', ch.sourceAddress, f);
  return { id: ch.id, family: f, peer, announced, target, sourceAddress, timeoutMs: ch.timeoutMs, key: `${peer} . ${announced.address} . ${announced.port}` };
}

export function checkGuard(guard: ForwardGuard): ForwardGuard {
  if (guard.kind === 'interfaces') {
    if (guard.interfaces.length === 0) throw new NatAlgError('invalid-argument', 'forwardGuard interfaces: name at least one interface');
    for (const i of guard.interfaces) {
      if (!IFNAME.test(i)) throw new NatAlgError('invalid-argument', `forwardGuard interface ${JSON.stringify(i.slice(0, 20))} is not an interface name`);
    }
  } else if (guard.kind !== 'all' && guard.kind !== 'none') {
    throw new NatAlgError('invalid-argument', 'forwardGuard kind must be all, interfaces or none');
  }
  return guard;
}

const IP = { 4: 'ip', 6: 'ip6' } as const;
const ADDR = { 4: 'ipv4_addr', 6: 'ipv6_addr' } as const;
const SYN_ONLY = 'tcp flags & (fin | syn | rst | ack) == syn';
/** Strict reverse path: the route back to the source leaves through the interface it came in on. */
const RPF = 'fib saddr . iif oif exists';

/**
 * The table, as nft text with one statement per line, each ending in `;` so that the lines can
 * be joined into the single line nft's interactive mode reads (see `oneLine`).
 */
export function tableDefinition(table: string, guard: ForwardGuard, owner: string, strictReversePath = true): string {
  const sets: string[] = [];
  const pre: string[] = [];
  const post: string[] = [];
  const fwd: string[] = [];
  for (const f of [4, 6] as const) {
    const ip = IP[f];
    const k = `${ADDR[f]} . ${ADDR[f]} . inet_service`;
    const ctK = `ct original ${ip} saddr . ct original ${ip} daddr . ct original proto-dst`;
    sets.push(
      `  set gate${f} { type ${k}; flags timeout; };`,
      `  map dnat${f} { type ${k} : ${ADDR[f]} . inet_service; };`,
      `  map snat${f} { type ${k} : ${ADDR[f]}; };`,
      `  map up${f} { type ${k} : counter; };`,
      `  map down${f} { type ${k} : counter; };`,
      `  set won${f} { type ${k} . inet_service; flags dynamic,timeout; };`,
      `  set cut${f} { type ${k} . inet_service; flags timeout; };`,
    );
    // Only a bare SYN is redirected: a stray ACK (a late segment of an older flow, which
    // conntrack would pick up as new) starts nothing. With strictReversePath only one that came
    // in through the interface the peer's address is routed through: fewer forged SYNs reach
    // the target (they could not claim the channel anyway, see the forward chain).
    pre.push(
      `    ${SYN_ONLY}${strictReversePath ? ` ${RPF}` : ''} ${ip} saddr . ${ip} daddr . tcp dport @gate${f} dnat ${ip} to ${ip} saddr . ${ip} daddr . tcp dport map @dnat${f} comment "the peer's SYNs while the channel is unclaimed";`,
    );
    post.push(`    meta l4proto tcp ct status dnat snat ${ip} to ${ctK} map @snat${f};`);
    const ctF = `${ctK} . ct original proto-src`;
    fwd.push(
      // A cut flow first: nothing below may forward it (or let it claim a later channel of its key).
      `    meta l4proto tcp ct status dnat ${ctF} @cut${f} reject with tcp reset comment "closed channel";`,
      // The claim: the first flow of an unclaimed channel seen with a completed handshake.
      `    meta l4proto tcp ct status dnat ct direction original ct status assured ${ctK} @gate${f} delete @gate${f} { ${ctK} } add @won${f} { ${ctF} } comment "a completed handshake claims the channel";`,
      `    meta l4proto tcp ct status dnat ct direction original ${ctF} @won${f} counter name ${ctK} map @up${f} accept;`,
      `    meta l4proto tcp ct status dnat ct direction reply ${ctF} @won${f} counter name ${ctK} map @down${f} accept;`,
      `    meta l4proto tcp ct status dnat ct status ! assured ${ctK} @gate${f} accept comment "a handshake while the channel is unclaimed";`,
      `    meta l4proto tcp ct status dnat ${ctK} @up${f} reject with tcp reset comment "not the flow that claimed the channel";`,
    );
  }
  if (guard.kind !== 'none') {
    // ICMP errors about a NATed flow (path MTU, unreachable) carry no port to look up; conntrack
    // has already matched their inner header to the flow.
    fwd.push(`    meta l4proto { icmp, ipv6-icmp } ct state related ct status dnat accept;`);
  }
  if (guard.kind === 'all') fwd.push(`    counter name guard_drops drop comment "not a relay flow";`);
  if (guard.kind === 'interfaces') {
    sets.push(`  set guarded { type ifname; elements = { ${guard.interfaces.map((i) => `"${i}"`).join(', ')} }; };`);
    fwd.push(`    iifname @guarded counter name guard_drops drop comment "not a relay flow";`);
    fwd.push(`    oifname @guarded counter name guard_drops drop comment "not a relay flow";`);
  }
  return [
    `table inet ${table} {`,
    `  comment "${owner}";`,
    `  counter guard_drops { };`,
    ...sets,
    // Just before the usual nat priorities: our rules match exact keys only, and the first nat
    // chain that sets up a mapping for a connection wins.
    `  chain dnat_in {`,
    `    type nat hook prerouting priority dstnat - 5; policy accept;`,
    ...pre,
    `  };`,
    `  chain snat_out {`,
    `    type nat hook postrouting priority srcnat - 5; policy accept;`,
    ...post,
    `  };`,
    `  chain forward_guard {`,
    `    type filter hook forward priority filter; policy accept;`,
    ...fwd,
    `  };`,
    `}`,
  ].join('\n');
}

/**
 * Creates our table, in one transaction that fails if a table of that name exists by then
 * (`create`, not `add`: a table someone else made in the meantime is never merged into or
 * deleted). With `stale`, a table a dead nat-alg instance left (its owner comment checked by the
 * caller) is deleted first, in the same transaction. nft 1.0.6 keeps only the comment of a
 * `create table` body, so the body follows in a `table` block.
 */
export function createTable(table: string, owner: string, definition: string, stale: boolean): string {
  const replace = stale ? `add table inet ${table};\ndelete table inet ${table};\n` : '';
  return oneLine(`${replace}create table inet ${table} { comment "${owner}"; };\n${definition}`);
}

export function deleteTable(table: string): string {
  return `delete table inet ${table}`;
}

/** nft's interactive mode runs one line as one transaction; our statements all end in `;` or a brace. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

export interface CounterNames {
  readonly up: string;
  readonly down: string;
}

export function counterNames(seq: number): CounterNames {
  return { up: `c${seq}_up`, down: `c${seq}_down` };
}

/**
 * `add` of an element that is there is no error, `delete` of one that is not is; together they
 * remove an element whether or not it is there (a gate used up or lapsed, a cut never set). nft
 * 1.0.6 has no `destroy`.
 */
export function removeIfPresent(table: string, set: string, key: string): string[] {
  return [`add element inet ${table} ${set} { ${key} timeout 1s }`, `delete element inet ${table} ${set} { ${key} }`];
}

/** Installs a channel; the gate goes last (the transaction is atomic anyway). */
export function openCommands(table: string, ch: CheckedChannel, counters: CounterNames): string {
  const f = ch.family;
  const k = ch.key;
  return [
    `add counter inet ${table} ${counters.up}`,
    `add counter inet ${table} ${counters.down}`,
    `add element inet ${table} dnat${f} { ${k} : ${ch.target.address} . ${ch.target.port} }`,
    `add element inet ${table} snat${f} { ${k} : ${ch.sourceAddress} }`,
    `add element inet ${table} up${f} { ${k} : "${counters.up}" }`,
    `add element inet ${table} down${f} { ${k} : "${counters.down}" }`,
    `add element inet ${table} gate${f} { ${k} timeout ${ch.timeoutMs}ms }`,
  ].join('; ');
}

/** F in nft syntax: one flow of the channel, by the peer's source port. */
export function flowKey(ch: CheckedChannel, peerPort: number): string {
  return `${ch.key} . ${peerPort}`;
}

/** Ends the channel's admission: no SYN is redirected, no flow can claim it, after this. */
export function closeGate(table: string, ch: CheckedChannel): string {
  return removeIfPresent(table, `gate${ch.family}`, ch.key).join('; ');
}

/**
 * Removes everything of a channel, in one transaction: the gate (unless `gate` is false: closeGate
 * ran before), the maps, the counters, the won
 * elements of `won` (peer ports of flows that claimed it); and cuts the flows of `cut` (peer
 * ports) for `cutMs`: what they still send is answered by a reset. A flow that ended by itself,
 * or a channel nobody used, needs no cut: nothing of it is left in the table.
 */
export function closeCommands(
  table: string,
  ch: CheckedChannel,
  counters: CounterNames,
  won: readonly number[],
  cut: readonly number[],
  cutMs: number,
  gate = true,
): string {
  const f = ch.family;
  const k = ch.key;
  return [
    ...(gate ? removeIfPresent(table, `gate${f}`, k) : []),
    `delete element inet ${table} dnat${f} { ${k} }`,
    `delete element inet ${table} snat${f} { ${k} }`,
    `delete element inet ${table} up${f} { ${k} }`,
    `delete element inet ${table} down${f} { ${k} }`,
    `delete counter inet ${table} ${counters.up}`,
    `delete counter inet ${table} ${counters.down}`,
    ...won.flatMap((p) => removeIfPresent(table, `won${f}`, flowKey(ch, p))),
    ...(cut.length === 0 ? [] : [cutCommand(table, ch, cut, cutMs)]),
  ].join('; ');
}

/** Cuts flows of a channel (by the peer's port) for `cutMs`: what they still send is answered by a reset. */
export function cutCommand(table: string, ch: CheckedChannel, peerPorts: readonly number[], cutMs: number): string {
  return `add element inet ${table} cut${ch.family} { ${peerPorts.map((p) => `${flowKey(ch, p)} timeout ${cutMs}ms`).join(', ')} }`;
}

export function listCounter(table: string, name: string): string {
  return `list counter inet ${table} ${name}`;
}

/** Every counter of the table, in one listing. */
export function listCounters(table: string): string {
  return `list counters table inet ${table}`;
}
