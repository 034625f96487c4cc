import { describe, it, expect } from 'vitest';
import * as packet from '../../src/core/packet/index.js';
import * as core from '../../src/core/index.js';

describe('src/core/packet/index.ts', () => {
  it('exports the public API of the folder', () => {
    for (const name of [
      'parsePacket',
      'PacketParser',
      'Ipv4Packet',
      'Ipv6Packet',
      'TcpSegment',
      'TcpOptions',
      'UdpDatagram',
      'Icmpv4Message',
      'Icmpv6Message',
      'IcmpQuote',
      'Reassembler',
      'internetChecksum',
      'updateChecksum16',
      'updateChecksum32',
      'updateChecksumIpv6Address',
      'toSeq',
      'seqLt',
      'emitIpv4Header',
      'emitIpv6Header',
      'emitTcpHeader',
      'emitTcpOptions',
      'emitUdpHeader',
      'IpProtocol',
      'TcpFlag',
      'PACKET_DROP_REASONS',
      'rewriteIpv4Endpoint',
      'rewriteIpv6Endpoint',
    ]) {
      expect(packet, name).toHaveProperty(name);
    }
  });

  it('what the core index takes from the folder is the folder\'s own (no name shadowed by another folder)', () => {
    const c = core as Record<string, unknown>;
    const p = packet as Record<string, unknown>;
    const taken = Object.keys(p).filter((k) => k in c);
    expect(taken.length).toBeGreaterThan(20);
    expect(taken.filter((k) => c[k] !== p[k])).toEqual([]);
  });
});
