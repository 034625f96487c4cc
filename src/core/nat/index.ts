/**
 * Address translation: realm rules (static 1:1, pool NAPT, NAT64), RFC 6052 IPv4-embedded IPv6
 * addresses, and the FTP data-channel helper for pure-NAT deployments. See docs/mapping.md.
 */
export {
  WELL_KNOWN_PREFIX,
  embedIPv4,
  extractIPv4,
  extractIPv4Text,
  isGlobalIPv4,
  parseNat64Prefix,
  synthesizeIPv6,
  type Nat64Prefix,
  type Nat64PrefixLength,
  type SynthesizeResult,
} from './rfc6052.js';
export * from './realm.js';
export * from './ftp-data.js';
