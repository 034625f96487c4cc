// The baseline of packet.gateway_throughput: the same two UDP links as `nat-alg nat` (one IP
// packet per datagram, socat's side of each link as its first peer, then whoever last sent),
// forwarding every datagram to the other link unchanged. Node's dgram, like the gateway's driver,
// so that the difference is the NAT. Usage: node packet-forwarder.mjs IN_PORT IN_PEER OUT_PORT OUT_PEER
import { createSocket } from 'node:dgram';

const [inPort, inPeer, outPort, outPeer] = process.argv.slice(2).map(Number);
const link = (port, peer) => ({ socket: createSocket('udp4'), port, peer: { address: '127.0.0.1', port: peer } });
const inside = link(inPort, inPeer);
const outside = link(outPort, outPeer);
for (const [from, to] of [[inside, outside], [outside, inside]]) {
  from.socket.on('message', (msg, rinfo) => {
    if (from.peer.port !== rinfo.port || from.peer.address !== rinfo.address) from.peer = { address: rinfo.address, port: rinfo.port };
    to.socket.send(msg, to.peer.port, to.peer.address);
  });
}
let bound = 0;
for (const l of [inside, outside]) {
  l.socket.bind(l.port, '127.0.0.1', () => {
    if (++bound === 2) console.log('forwarder ready');
  });
}
process.on('SIGTERM', () => process.exit(0));
