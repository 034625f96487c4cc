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
 */

export * from './errors.js';
export * from './net/ip.js';
export * from './stream/translator.js';
export { setLineScanBackend } from './stream/line-scan-backend.js';
export * from './alg/index.js';
export * from './ftp/index.js';
export * from './relay/index.js';
export * from './mapping/index.js';
export * from './nat/index.js';
export * from './packet/index.js';
