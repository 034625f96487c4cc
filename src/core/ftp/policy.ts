/**
 * Policy checks and the exact reply lines the translator sends when it refuses something. The
 * texts are part of the documented wire behaviour (docs/ftp-translator.md): change them with care.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, familyOf, type AddressFamily, type Endpoint } from '../net/ip.js';
import { DEFAULT_FTP_POLICY, type FtpPolicy, type FtpTranslatorOptions, type RefusalReason } from './types.js';

/** Smallest allowed maxLineLength: a PORT line for an IPv6 LPRT needs about 80 bytes. */
export const MIN_LINE_LENGTH = 128;
/** Largest allowed maxLineLength: every held line costs this much memory per direction. */
export const MAX_LINE_LENGTH = 1 << 20;

export interface ResolvedOptions {
  readonly clientAddress: string;
  readonly clientFamily: AddressFamily;
  readonly serverAddress: string;
  readonly serverFamily: AddressFamily;
  readonly ftp64: boolean;
  readonly policy: FtpPolicy;
}

/** Validate and canonicalise the options; throws NatAlgError (invalid-argument). */
export function resolveOptions(options: FtpTranslatorOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new NatAlgError('invalid-argument', 'FtpTranslator options must be an object');
  }
  const clientAddress = canonicalAddress(String(options.clientAddress));
  const serverAddress = canonicalAddress(String(options.serverAddress));
  const policy: FtpPolicy = { ...DEFAULT_FTP_POLICY, ...(options.policy ?? {}) };
  const n = policy.maxLineLength;
  if (!Number.isInteger(n) || n < MIN_LINE_LENGTH || n > MAX_LINE_LENGTH) {
    throw new NatAlgError('invalid-argument', `policy.maxLineLength must be an integer ${MIN_LINE_LENGTH}-${MAX_LINE_LENGTH}`);
  }
  const m = policy.maxPendingDataChannels;
  if (!Number.isInteger(m) || m < 1 || m > 65536) {
    throw new NatAlgError('invalid-argument', 'policy.maxPendingDataChannels must be an integer 1-65536');
  }
  const lt = policy.lineTimeoutMs;
  if (typeof lt !== 'number' || !Number.isFinite(lt) || lt <= 0) {
    throw new NatAlgError('invalid-argument', `policy.lineTimeoutMs must be a positive number of milliseconds, got ${String(lt)}`);
  }
  const d = policy.maxDiscardedBytes;
  if (!Number.isInteger(d) || d < 0 || d > 2 ** 40) {
    throw new NatAlgError('invalid-argument', `policy.maxDiscardedBytes must be an integer 0-2^40, got ${String(d)}`);
  }
  if (policy.tls !== 'pass' && policy.tls !== 'refuse') {
    throw new NatAlgError('invalid-argument', "policy.tls must be 'pass' or 'refuse'");
  }
  if (policy.overlongLine !== 'refuse' && policy.overlongLine !== 'close') {
    throw new NatAlgError('invalid-argument', "policy.overlongLine must be 'refuse' or 'close'");
  }
  if (typeof policy.allowForeignDataAddress !== 'boolean' || typeof policy.allowLowDataPorts !== 'boolean') {
    throw new NatAlgError('invalid-argument', 'policy.allowForeignDataAddress and allowLowDataPorts must be booleans');
  }
  const ftp64 = options.ftp64 ?? false;
  if (typeof ftp64 !== 'boolean') throw new NatAlgError('invalid-argument', 'ftp64 must be a boolean');
  return {
    clientAddress,
    clientFamily: familyOf(clientAddress),
    serverAddress,
    serverFamily: familyOf(serverAddress),
    ftp64,
    policy: Object.freeze(policy),
  };
}

/**
 * An unspecified address (0.0.0.0, ::) in PORT/EPRT/LPRT means "the host of the control
 * connection" to servers that accept it (vsftpd does; lftp sends it): that is the client itself.
 */
export function ownAddress(e: Endpoint, o: ResolvedOptions): Endpoint {
  if (e.address !== '0.0.0.0' && e.address !== '::') return e;
  return { family: o.clientFamily, address: o.clientAddress, port: e.port };
}

/** Policy for an address a client names for the server to connect to; null when allowed. */
export function checkDataAddress(e: Endpoint, o: ResolvedOptions, outstanding: number): RefusalReason | null {
  const p = o.policy;
  if (e.address !== o.clientAddress && (!p.allowForeignDataAddress || namesNoRemoteHost(e.address))) return 'foreign-address';
  if (!p.allowLowDataPorts && e.port < 1024) return 'low-port';
  if (outstanding >= p.maxPendingDataChannels) return 'too-many-data-channels';
  return null;
}

// Shared with every ALG that checks an address a peer names (irc/policy.ts).
export { namesNoRemoteHost } from '../net/no-remote-host.js';
import { namesNoRemoteHost } from '../net/no-remote-host.js';

/** Reply lines (without line ending) sent to the client for each refusal. */
export const REFUSAL_REPLIES: Readonly<Record<RefusalReason, string>> = Object.freeze({
  'foreign-address': '504 Data address refused: it must be your own address.',
  'low-port': '504 Data port refused: ports below 1024 are not allowed.',
  'bad-syntax': '501 Syntax error in data address.',
  'unsupported-family': '522 Network protocol not supported, use (1,2)',
  'too-many-data-channels': '425 Too many data connections pending, try again later.',
  'line-too-long': '500 Command line too long.',
  'bare-cr': '500 Command line with a bare CR refused.',
  'mapping-refused': '425 Cannot open data connection.',
  'epsv-all': '503 Only EPSV is allowed after EPSV ALL.',
  'tls-refused': '534 AUTH refused: this gateway must read the control channel to translate data connections.',
  'local-command': '504 Command not supported through this gateway.',
});

/** Replacement for a passive reply the translator will not pass on. */
export function passiveRefusal(reason: string): string {
  return `425 Cannot open data connection (${reason}).`;
}
