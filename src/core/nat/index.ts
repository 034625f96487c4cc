/**
 * Address translation: realm rules (static 1:1, pool NAPT, NAT64), RFC 6052 IPv4-embedded IPv6
 * addresses, and the FTP data-channel helper for pure-NAT deployments. See docs/mapping.md.
 */
export * from './rfc6052.js';
export * from './realm.js';
export * from './ftp-data.js';
export { parseCidr, cidrContains, cidrContainsBytes, prefixOf, type Cidr } from '../net/cidr.js';
