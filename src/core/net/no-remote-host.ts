/**
 * Addresses a peer may never make a gateway connect to, whatever the ALG: shared by FTP's policy
 * (ftp/policy.ts) and IRC's (irc/policy.ts).
 */

import { isV4Mapped, parseAddress } from './ip.js';

/**
 * Where an IPv6 address carries an IPv4 address in its last 32 bits that a gateway (its stack, a
 * NAT64 or SIIT translator on its path) may reach as that IPv4 address: the IPv4 address then
 * decides. ::ffff:0:0/96 is IPv4-mapped (the socket API's spelling of IPv4). 64:ff9b::/96 is
 * NAT64's well-known prefix (RFC 6052), ::ffff:0:0:0/96 SIIT's IPv4-translated form (RFC 7915),
 * ::/96 the deprecated IPv4-compatible form (RFC 4291; it holds :: and ::1 too, which read as
 * 0.0.0.0 and 0.0.0.1, both in 0/8). The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) puts
 * the IPv4 address where the operator's prefix length says, so no fixed place can be read: the
 * whole prefix is refused.
 */
function embeddedIPv4(b: Uint8Array): 'at-12' | 'refuse' | null {
  if (isV4Mapped(b)) return 'at-12';
  const zeroTo = (n: number) => b.subarray(0, n).every((x) => x === 0);
  const wellKnown = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b;
  if (wellKnown && b.subarray(4, 12).every((x) => x === 0)) return 'at-12';
  if (wellKnown && b[4] === 0x00 && b[5] === 0x01) return 'refuse';
  if (zeroTo(8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return 'at-12';
  if (zeroTo(12)) return 'at-12';
  return null;
}

/**
 * An address that cannot be another host on the network: unspecified, "this network" (0/8),
 * loopback, multicast, broadcast and the reserved 240/4. Connecting to one means connecting to
 * the gateway itself (or to a group), so even `allowForeignDataAddress` never lets a peer name
 * one that is not its own address. Link-local addresses (169.254/16, fe80::/10) are refused too:
 * they name the gateway's own link, where cloud metadata services listen, never a host the
 * client could legitimately send data to through a gateway. Any spelling: an IPv6 address that
 * embeds an IPv4 address (embeddedIPv4) is judged by the IPv4 address.
 */
export function namesNoRemoteHost(address: string): boolean {
  const a = parseAddress(address);
  if (a === null) return true;
  const b = a.bytes;
  const embedded = a.family === 6 ? embeddedIPv4(b) : null;
  if (embedded === 'refuse') return true;
  if (a.family === 4 || embedded === 'at-12') {
    const first = b[b.length - 4]!;
    if (first === 169 && b[b.length - 3] === 254) return true; // link-local
    return first === 0 || first === 127 || first >= 224;
  }
  if (b[0] === 0xff) return true; // multicast
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80; // link-local fe80::/10
}
