/**
 * One PORT-carrying packet through the packet NAT, the way a firewall author unit-tests what a
 * NAT does to a packet without a kernel:
 *
 *   npx tsup --config tsup.scripts.config.ts && node .build/examples/packet-port.js
 *
 * An FTP client at 192.0.2.10 (inside) talks to a server at 198.51.100.7 (outside) through a NAT
 * whose outside address is 203.0.113.1. The handshake goes through first (the FTP ALG attaches to
 * a connection on its SYN), then the client's `PORT 192,0,2,10,4,1` leaves the NAT naming the
 * NAT's own address and a port of its mapping table, with the IP length, the TCP checksum and the
 * sequence numbers of everything after it corrected. test/packet/example.test.ts runs it.
 */
import { IpProtocol, PacketNat, TcpFlag, emitIpv4Header, emitTcpHeader, internetChecksum, ipv4PseudoHeaderSum, ipv4ToNumber, toSeq, type Transmit } from '../src/core/index.js';

const CLIENT = '192.0.2.10';
const SERVER = '198.51.100.7';
const NAT = '203.0.113.1';

/** An IPv4/TCP packet with correct checksums. */
export function tcpPacket(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, text = ''): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const p = new Uint8Array(40 + payload.length);
  emitIpv4Header(p, 0, { totalLength: p.length, protocol: IpProtocol.Tcp, source: ipv4ToNumber(src), destination: ipv4ToNumber(dst), dontFragment: true });
  emitTcpHeader(p, 20, { sourcePort: sport, destinationPort: dport, seqNumber: toSeq(seq), ackNumber: toSeq(ack), flags, window: 65535 });
  p.set(payload, 40);
  const c = internetChecksum(p, 20, p.length, ipv4PseudoHeaderSum(p, 12, 16, IpProtocol.Tcp, p.length - 20));
  p[36] = c >>> 8;
  p[37] = c & 0xff;
  return p;
}

/** Hand a packet to the NAT; return what leaves it (the packet itself when forwarded in place). */
function send(nat: PacketNat, side: 'inside' | 'outside', packet: Uint8Array, nowMs: number): Transmit[] {
  const v = nat.handle(side, packet, nowMs);
  const out: Transmit[] = [];
  if (!v.ok) throw new Error(`dropped: ${v.reason}`);
  if (v.action === 'forward') out.push({ to: v.to, packet });
  for (let t = nat.pollTransmit(); t; t = nat.pollTransmit()) out.push(t);
  return out;
}

export interface PortExample {
  readonly before: Uint8Array;
  readonly after: Uint8Array;
  readonly natPort: number;
}

export function rewriteOnePortPacket(): PortExample {
  // The port table draws its RFC 6056 secrets from `random`; fixed here so every run is alike.
  let x = 12345;
  const nat = new PacketNat({ externalAddresses: [NAT], random: () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32), insideNetworks: ['192.0.2.0/24'] });
  const [syn] = send(nat, 'inside', tcpPacket(CLIENT, SERVER, 40000, 21, 1000, 0, TcpFlag.Syn), 0);
  const natPort = (syn!.packet[20]! << 8) | syn!.packet[21]!;
  send(nat, 'outside', tcpPacket(SERVER, NAT, 21, natPort, 5000, 1001, TcpFlag.Syn | TcpFlag.Ack), 1);
  send(nat, 'inside', tcpPacket(CLIENT, SERVER, 40000, 21, 1001, 5001, TcpFlag.Ack), 2);
  const before = tcpPacket(CLIENT, SERVER, 40000, 21, 1001, 5001, TcpFlag.Ack | TcpFlag.Psh, 'PORT 192,0,2,10,4,1\r\n');
  const out = send(nat, 'inside', before.slice(), 3);
  return { before, after: out[0]!.packet, natPort };
}

function show(label: string, p: Uint8Array): void {
  const ip = (at: number) => `${p[at]}.${p[at + 1]}.${p[at + 2]}.${p[at + 3]}`;
  const port = (at: number) => (p[at]! << 8) | p[at + 1]!;
  const seq = ((p[24]! << 24) | (p[25]! << 16) | (p[26]! << 8) | p[27]!) >>> 0;
  const text = new TextDecoder().decode(p.subarray(40)).trimEnd();
  process.stdout.write(`${label}: ${ip(12)}:${port(20)} -> ${ip(16)}:${port(22)} seq ${seq} len ${p.length} "${text}"\n`);
}

if (typeof process !== 'undefined' && process.argv[1]?.endsWith('packet-port.js')) {
  const r = rewriteOnePortPacket();
  show('before', r.before);
  show('after ', r.after);
}
