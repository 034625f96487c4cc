/**
 * The packet gateway's lab (for test/interop/packet-nat.test.ts and bench/packet-gateway.ts): a
 * client network, a gateway whose kernel only routes (into two TUN devices: no NAT, no conntrack
 * helper) and a server network. socat carries each TUN's packets as one UDP datagram each to
 * whatever process binds the link ports (nat-alg nat, or the bench's unchanged forwarder).
 *
 *   in    eth0 192.0.2.10 (client), 192.0.2.20 (inside server), 2001:db8:1::10
 *         | in0 192.0.2.1, 2001:db8:1::1
 *   gw    iif in0  -> table 100 -> tun "tin"  -socat- udp 127.0.0.1:7101 <-> 127.0.0.1:7001
 *         iif out0 -> table 101 -> tun "tout" -socat- udp 127.0.0.1:7102 <-> 127.0.0.1:7002
 *         | out0 198.51.100.1
 *   out   eth0 198.51.100.7 (servers; the outside client), 203.0.113.0/24 via the gateway
 *
 * Packets leaving a TUN are routed by the gateway's main table (in0 and out0 are connected).
 */
import type { ChildProcess } from 'node:child_process';
import { buildTopology, must, run, type Topology } from './netns.js';

export const LAB = {
  nat: '203.0.113.1',
  client: '192.0.2.10',
  insideServer: '192.0.2.20',
  server: '198.51.100.7',
  client6: '2001:db8:1::10',
  nat64Prefix: '2001:db8:64::/96',
  /** 198.51.100.7 under the NAT64 prefix. */
  server6: '2001:db8:64::c633:6407',
  /** The UDP ports of the links: the NAT (or forwarder) binds these, socat the +100 ones. */
  insidePort: 7001,
  outsidePort: 7002,
} as const;

/** The link flags for `nat-alg nat` (its side of both links, and socat's side as the first peer). */
export const LINK_FLAGS: readonly string[] = [
  '--inside', `udp:127.0.0.1:${LAB.insidePort}`, '--inside-peer', `udp:127.0.0.1:${LAB.insidePort + 100}`,
  '--outside', `udp:127.0.0.1:${LAB.outsidePort}`, '--outside-peer', `udp:127.0.0.1:${LAB.outsidePort + 100}`,
];

/**
 * The three namespaces, wired; the TUNs come with `startTunLinks` once a process binds the link
 * ports. `serverRoutesInside`: the server network also routes the client network through the
 * gateway (for a forwarder that translates nothing; a NAT never needs it).
 */
export function buildTunLab(o: { serverRoutesInside?: boolean } = {}): Promise<Topology> {
  return buildTopology([], async (t) => {
    const { in: nsIn, gw: nsGw, out } = t.ns;
    await must('ip', ['link', 'add', 'eth0', 'netns', nsIn, 'type', 'veth', 'peer', 'name', 'in0', 'netns', nsGw]);
    await must('ip', ['link', 'add', 'eth0', 'netns', out, 'type', 'veth', 'peer', 'name', 'out0', 'netns', nsGw]);
    for (const [ns, dev, cidr] of [
      [nsIn, 'eth0', `${LAB.client}/24`],
      [nsIn, 'eth0', `${LAB.insideServer}/24`],
      [nsIn, 'eth0', `${LAB.client6}/64`],
      [nsGw, 'in0', '192.0.2.1/24'],
      [nsGw, 'in0', '2001:db8:1::1/64'],
      [nsGw, 'out0', '198.51.100.1/24'],
      [out, 'eth0', `${LAB.server}/24`],
    ] as const) {
      await must('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : [])]);
    }
    for (const [ns, dev] of [[nsIn, 'eth0'], [nsGw, 'in0'], [nsGw, 'out0'], [out, 'eth0']] as const) await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    await must('ip', ['-n', nsIn, 'route', 'add', 'default', 'via', '192.0.2.1']);
    await must('ip', ['-n', nsIn, '-6', 'route', 'add', LAB.nat64Prefix, 'via', '2001:db8:1::1']);
    await must('ip', ['-n', out, 'route', 'add', '203.0.113.0/24', 'via', '198.51.100.1']);
    if (o.serverRoutesInside) await must('ip', ['-n', out, 'route', 'add', '192.0.2.0/24', 'via', '198.51.100.1']);
    // The gateway's kernel routes but translates nothing: no NAT rules, no conntrack helper.
    for (const s of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']) {
      await must('ip', ['netns', 'exec', nsGw, 'sysctl', '-qw', s]);
    }
  });
}

/**
 * The two TUN devices, each joined by socat to its link port, and the policy routes that send
 * whatever arrives from either network into its TUN. Start the process on the link ports first.
 */
export async function startTunLinks(t: Topology): Promise<ChildProcess[]> {
  const gw = (cmd: string, args: readonly string[]): Promise<string> => must('ip', ['netns', 'exec', t.ns.gw, cmd, ...args]);
  const socats: ChildProcess[] = [];
  for (const [tun, port] of [['tin', LAB.insidePort], ['tout', LAB.outsidePort]] as const) {
    socats.push(t.spawn('gw', 'socat', [`TUN,tun-name=${tun},tun-type=tun,iff-no-pi,iff-up`, `UDP-DATAGRAM:127.0.0.1:${port},bind=127.0.0.1:${port + 100}`]));
  }
  for (let i = 0; i < 100; i++) {
    if ((await run('ip', ['-n', t.ns.gw, 'link', 'show', 'tout'])).code === 0 && (await run('ip', ['-n', t.ns.gw, 'link', 'show', 'tin'])).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const tun of ['tin', 'tout']) await gw('sysctl', ['-qw', `net.ipv4.conf.${tun}.rp_filter=0`]);
  await gw('ip', ['rule', 'add', 'iif', 'in0', 'lookup', '100']);
  await gw('ip', ['route', 'add', 'default', 'dev', 'tin', 'table', '100']);
  await gw('ip', ['-6', 'rule', 'add', 'iif', 'in0', 'lookup', '100']);
  await gw('ip', ['-6', 'route', 'add', 'default', 'dev', 'tin', 'table', '100']);
  await gw('ip', ['rule', 'add', 'iif', 'out0', 'lookup', '101']);
  await gw('ip', ['route', 'add', 'default', 'dev', 'tout', 'table', '101']);
  return socats;
}

/** Start a process in a namespace and wait until `ready` appears on its stdout or stderr. */
export async function startReady(t: Topology, side: 'in' | 'gw' | 'out', cmd: string, args: readonly string[], ready: string, log?: (s: string) => void): Promise<ChildProcess> {
  const child = t.spawn(side, cmd, args);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready: ${out}`)), 15_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      log?.(d.toString());
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}): ${out}`));
    });
  });
  return child;
}
