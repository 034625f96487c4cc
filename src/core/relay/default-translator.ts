/**
 * The translator a relay session uses unless told otherwise: the FTP control-channel translator
 * of this package.
 */

import { FtpTranslator } from '../ftp/translator.js';
import type { FtpTranslatorOptions } from '../ftp/types.js';
import type { ControlTranslator } from './types.js';

export function createDefaultTranslator(options: FtpTranslatorOptions): ControlTranslator {
  return new FtpTranslator(options);
}
