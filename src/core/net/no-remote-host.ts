/**
 * Addresses a peer may never make a gateway connect to, whatever the ALG: shared by FTP's policy
 * (ftp/policy.ts) and IRC's (irc/policy.ts).
 */

import { isV4Mapped, parseAddress } from './ip.js';

/**
 * An address that cannot be another host on the network: unspecified, "this network" (0/8),
 * loopback, multicast, broadcast and the reserved 240/4. Connecting to one means connecting to
 * the gateway itself (or to a group), so even `allowForeignDataAddress` never lets a peer name
 * one that is not its own address. Link-local addresses (169.254/16, fe80::/10) are refused too:
 * they name the gateway's own link, where cloud metadata services listen, never a host the
 * client could legitimately send data to through a gateway. Any spelling (IPv4-mapped IPv6 is
 * read as its IPv4 address).
 */
export function namesNoRemoteHost(address: string): boolean {
  const a = parseAddress(address);
  if (a === null) return true;
  const b = a.bytes;
  if (a.family === 4 || isV4Mapped(b)) {
    const first = b[b.length - 4]!;
    if (first === 169 && b[b.length - 3] === 254) return true; // link-local
    return first === 0 || first === 127 || first >= 224;
  }
  if (b[0] === 0xff) return true; // multicast
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true; // link-local fe80::/10
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false;
  return b[15] === 0 || b[15] === 1; // :: and ::1
}
