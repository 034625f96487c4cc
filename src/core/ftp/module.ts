/**
 * FTP as an ALG module (alg/contract.ts): how the relay (or any embedding) makes an FTP
 * translator for a control connection, and what it says to the client on FTP's behalf.
 */

import type { AlgContext, AlgModule, AlgTranslator } from '../alg/contract.js';
import { NatAlgError } from '../errors.js';
import { resolveOptions } from './policy.js';
import { FtpTranslator } from './translator.js';
import { ascii } from './text.js';
import { DEFAULT_FTP_POLICY, type FtpPolicy, type FtpTranslatorOptions } from './types.js';

export interface FtpAlgOptions {
  readonly policy?: Partial<FtpPolicy>;
  /** FTP64 (an IPv6 client, an IPv4 server, RFC 6384). `'auto'` (default): on exactly in that case. */
  readonly ftp64?: 'auto' | boolean;
  /** Builds the control-channel translator; defaults to `new FtpTranslator(options)`. */
  readonly createTranslator?: (options: FtpTranslatorOptions) => AlgTranslator;
}

function ftp64For(context: AlgContext, options: FtpAlgOptions | undefined): boolean {
  const wanted = options?.ftp64 ?? 'auto';
  return wanted === 'auto' ? context.client.family === 6 && context.server.family === 4 : wanted;
}

export const ftpAlg: AlgModule<FtpAlgOptions> = {
  name: 'ftp',
  displayName: 'FTP',
  defaultPort: 21,
  validate(options) {
    const ftp64 = options?.ftp64;
    if (ftp64 !== undefined && ftp64 !== 'auto' && typeof ftp64 !== 'boolean') {
      throw new NatAlgError('invalid-argument', "ftp64 must be 'auto', true or false");
    }
    // The policy is checked the way a translator will check it (documentation addresses only).
    resolveOptions({ clientAddress: '192.0.2.1', serverAddress: '198.51.100.1', ...(options?.policy ? { policy: options.policy } : {}) });
  },
  create(context, options) {
    const translatorOptions: FtpTranslatorOptions = {
      clientAddress: context.client.address,
      serverAddress: context.server.address,
      ftp64: ftp64For(context, options),
      ...(options?.policy ? { policy: options.policy } : {}),
    };
    return options?.createTranslator ? options.createTranslator(translatorOptions) : new FtpTranslator(translatorOptions);
  },
  farewell(text) {
    return ascii(`421 ${text}\r\n`);
  },
  features(context, options) {
    return ftp64For(context, options) ? ['ftp64'] : [];
  },
  maxWaitingChannels(options) {
    return options?.policy?.maxPendingDataChannels ?? DEFAULT_FTP_POLICY.maxPendingDataChannels;
  },
};
