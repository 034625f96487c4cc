/**
 * nat-alg core: protocol-aware NAT translation as pure state machines.
 *
 * Contract of everything exported here:
 * - No I/O: nothing opens a socket or a file. A translator says what it needs (for example a
 *   data-channel mapping) and the embedding answers.
 * - No clock: time is a parameter (`nowMs`, milliseconds on any monotonic clock of the caller's).
 * - No randomness of its own: random sources are injected, so every run is reproducible.
 * - Platform-neutral: `Uint8Array` only, no `node:` modules or Node byte types; runs in any JS runtime.
 * - Bad input from a peer never throws; misuse of the API throws a typed `NatAlgError`.
 *
 * This file is the public API: what docs/ and README.md document. Every name is listed (no
 * `export *` of a folder's internals), and test/package/exports.test.ts compares the runtime
 * names of every entry point with the expected list, so a new export is a visible decision.
 */

export * from './errors.js';
export {
  addressFamily,
  canonicalAddress,
  endpoint,
  formatAddress,
  formatEndpoint,
  formatIPv4,
  formatIPv6,
  ipv4ToNumber,
  numberToIPv4,
  parseAddress,
  parseEndpoint,
  parseIPv4,
  parseIPv6,
  sameAddress,
  type AddressFamily,
  type Endpoint,
} from './net/ip.js';
export type { Direction, StreamEdit, StreamTranslator } from './stream/translator.js';
export { setLineScanBackend } from './stream/line-scan-backend.js';
export * from './alg/index.js';
export * from './ftp/index.js';
export * from './relay/index.js';
export * from './mapping/index.js';
export * from './nat/index.js';
