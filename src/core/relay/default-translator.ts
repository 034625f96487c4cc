/**
 * The translator a relay session uses unless told otherwise: the FTP control-channel translator
 * of this package.
 */

import { NatAlgError } from '../errors.js';
import type { FtpTranslatorOptions } from '../ftp/types.js';
import type { ControlTranslator } from './types.js';

export function createDefaultTranslator(_options: FtpTranslatorOptions): ControlTranslator {
  throw new NatAlgError('invalid-state', 'FtpTranslator is not available yet: pass createTranslator');
}
