/**
 * A relay behind a real NAT, the way a container or a cloud instance sits: outside clients reach
 * a public address on an "edge" router, which forwards the control port and the relay's data-port
 * range to the relay's private address (DNAT, nftables). The relay in turn fronts FTP servers on a
 * private network. Only the edge forwards; what it forwards is exactly the published ports, so a
 * passive reply naming the relay's private address leads the client nowhere.
 *
 *   na-<id>-out (client)       na-<id>-edge                na-<id>-gw (relay)         na-<id>-in (servers)
 *   eth0 203.0.113.2/24 ---- pub0 203.0.113.1/24
 *   default via 203.0.113.1    priv0 198.51.100.1/24 ---- edge0 198.51.100.2/24
 *                              ip_forward=1                 default via 198.51.100.1
 *                              nftables DNAT/masquerade    srv0 192.0.2.1/24 ------- eth0 192.0.2.2/24
 *                                                          ip_forward=0               no default route
 *
 * Side names reuse netns.ts's: `out` is the outside world, `gw` the relay, `in` the private
 * network, plus `edge`. IPv4 only: the NAT under test is the IPv4 NAT of a container host.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTopology, must, run, type Topology } from './netns.js';

export const EDGE = {
  /** The client, somewhere on the Internet. */
  client: '203.0.113.2',
  /** The edge's public address: the only one clients know. */
  public: '203.0.113.1',
  /** The edge's address on the network it shares with the relay. */
  edgePrivate: '198.51.100.1',
  /** The relay's own (private) address, where the edge forwards to. */
  relay: '198.51.100.2',
  /** The relay's address on the servers' network. */
  relayInside: '192.0.2.1',
  /** The FTP servers. */
  server: '192.0.2.2',
} as const;

/** Public control port on the edge, and the relay's control port it is forwarded to. */
export const PUBLIC_CONTROL_PORT = 21;
export const RELAY_CONTROL_PORT = 2100;
/** The data-port range published on the edge (same numbers on both sides, like `-p 40000-40099`). */
export const DATA_PORTS = { min: 40000, max: 40099 } as const;

export type EdgeTopology = Topology<'edge'>;

/**
 * The edge's ruleset. No conntrack helper is attached to anything, so the edge never rewrites FTP
 * itself: whatever address a reply carries reaches the client unchanged. New connections from
 * outside that were not DNATed (say to the relay's private address) are reset, so a client that
 * follows a wrong 227 fails at once instead of after a timeout.
 */
export function edgeRuleset(): string {
  const range = `${DATA_PORTS.min}-${DATA_PORTS.max}`;
  return `
table ip nat_alg_edge {
  chain dnat_in {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "pub0" ip daddr ${EDGE.public} tcp dport ${PUBLIC_CONTROL_PORT} dnat to ${EDGE.relay}:${RELAY_CONTROL_PORT}
    iifname "pub0" ip daddr ${EDGE.public} tcp dport ${range} dnat to ${EDGE.relay}
  }
  chain snat_out {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pub0" ip saddr ${EDGE.relay} masquerade
  }
  chain forward_filter {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "pub0" oifname "priv0" ct status dnat accept
    iifname "priv0" oifname "pub0" ip saddr ${EDGE.relay} accept
    meta l4proto tcp reject with tcp reset
    reject with icmp type admin-prohibited
  }
}
`;
}

/** Builds the four namespaces and loads the edge's ruleset. */
export function createEdgeNatTopology(): Promise<EdgeTopology> {
  return buildTopology(['edge'] as const, async (topo) => {
    const { out: client, edge, gw: relay, in: server } = topo.ns;
    await must('ip', ['link', 'add', 'eth0', 'netns', client, 'type', 'veth', 'peer', 'name', 'pub0', 'netns', edge]);
    await must('ip', ['link', 'add', 'priv0', 'netns', edge, 'type', 'veth', 'peer', 'name', 'edge0', 'netns', relay]);
    await must('ip', ['link', 'add', 'srv0', 'netns', relay, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server]);
    const addrs: [string, string, string][] = [
      [client, 'eth0', `${EDGE.client}/24`],
      [edge, 'pub0', `${EDGE.public}/24`],
      [edge, 'priv0', `${EDGE.edgePrivate}/24`],
      [relay, 'edge0', `${EDGE.relay}/24`],
      [relay, 'srv0', `${EDGE.relayInside}/24`],
      [server, 'eth0', `${EDGE.server}/24`],
    ];
    for (const [ns, dev, cidr] of addrs) await must('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
    for (const [ns, dev] of [[client, 'eth0'], [edge, 'pub0'], [edge, 'priv0'], [relay, 'edge0'], [relay, 'srv0'], [server, 'eth0']] as const) {
      await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    // The client's default route is the "Internet": the edge. A 227 naming a private address sends
    // the client's SYN there, where the forward filter resets it.
    await must('ip', ['-n', client, 'route', 'add', 'default', 'via', EDGE.public]);
    // The relay reaches the outside (active mode) through the edge, which masquerades it.
    await must('ip', ['-n', relay, 'route', 'add', 'default', 'via', EDGE.edgePrivate]);
    for (const ns of [client, relay, server]) {
      await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    }
    await must('ip', ['netns', 'exec', edge, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await loadRuleset(edge);
  });
}

async function loadRuleset(ns: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nat-alg-edge-'));
  try {
    const file = join(dir, 'edge.nft');
    writeFileSync(file, edgeRuleset());
    const r = await run('ip', ['netns', 'exec', ns, 'nft', '-f', file]);
    if (r.code !== 0) throw new Error(`nft cannot load the edge's NAT ruleset (${r.code}): ${r.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether nftables can load a NAT ruleset here (tool present and kernel support), with the reason. */
export async function checkNftables(): Promise<string> {
  const topo = await buildTopology(['edge'] as const, (t) => loadRuleset(t.ns.edge)).catch((err: Error) => err);
  if (topo instanceof Error) return topo.message;
  await topo.destroy();
  return '';
}
