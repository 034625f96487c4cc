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

  it('the core index exports the folder as it is (no name shadowed by another folder)', () => {
    const differ = Object.keys(packet).filter((k) => (core as Record<string, unknown>)[k] !== (packet as Record<string, unknown>)[k]);
    expect(differ).toEqual([]);
  });
});
