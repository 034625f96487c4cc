/**
 * IP protocol numbers (the IPv4 Protocol field and the IPv6 Next Header field share one IANA
 * registry). The wire can carry any 0-255; `IpProtocol` names the values this folder acts on, so
 * a switch over them can be exhaustive, while fields read from packets stay plain numbers.
 */

export const IpProtocol = {
  HopByHop: 0,
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Dccp: 33,
  Ipv6Routing: 43,
  Ipv6Fragment: 44,
  Esp: 50,
  Ah: 51,
  Icmpv6: 58,
  NoNextHeader: 59,
  Ipv6DestinationOptions: 60,
  Sctp: 132,
  Mobility: 135,
  UdpLite: 136,
  Hip: 139,
  Shim6: 140,
} as const;

export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

/**
 * The IPv6 extension headers walked to find the upper layer: the RFC 8200 headers, AH (RFC 4302,
 * whose length is counted in 4-byte units) and the RFC 6564-format headers (Mobility, HIP,
 * Shim6). ESP is not walked: what follows it is encrypted, so ESP is the upper layer.
 */
export type Ipv6ExtensionHeader = 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140;

export function isIpv6ExtensionHeader(nextHeader: number): nextHeader is Ipv6ExtensionHeader {
  switch (nextHeader) {
    case IpProtocol.HopByHop:
    case IpProtocol.Ipv6Routing:
    case IpProtocol.Ipv6Fragment:
    case IpProtocol.Ah:
    case IpProtocol.Ipv6DestinationOptions:
    case IpProtocol.Mobility:
    case IpProtocol.Hip:
    case IpProtocol.Shim6:
      return true;
    default:
      return false;
  }
}

/** Transports whose header starts with 16-bit source and destination ports. */
export function hasPortsAtStart(protocol: number): boolean {
  return (
    protocol === IpProtocol.Tcp ||
    protocol === IpProtocol.Udp ||
    protocol === IpProtocol.Dccp ||
    protocol === IpProtocol.Sctp ||
    protocol === IpProtocol.UdpLite
  );
}
