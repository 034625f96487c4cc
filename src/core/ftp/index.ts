/**
 * The FTP ALG's public face: the translator, its module for the relay and the registry, its
 * contract types, and the address parsers and formatters that docs/ftp-translator.md documents.
 * The rule tables, the refusal texts, the FTP64 replies and the verb and queue vocabularies are
 * the translator's own business and stay inside this folder.
 */
export type {
  DataCommand,
  FtpDataChannelRequest,
  FtpEvent,
  FtpPolicy,
  FtpTranslatorOptions,
  RefusalReason,
} from './types.js';
export { DEFAULT_FTP_POLICY } from './types.js';
export { FtpTranslator } from './translator.js';
export { ftpAlg, type FtpAlgOptions } from './module.js';
export {
  parsePort,
  parseEprt,
  parseLprt,
  formatPort,
  formatEprt,
  formatLprt,
  type AddressParseResult,
  type AddressParseError,
} from './commands.js';
export {
  parse227,
  parse229,
  parse228,
  format227,
  format229,
  format228,
  find227,
  find228,
  find229,
  type FoundAddress,
  type FindResult,
} from './replies.js';
export { namesNoRemoteHost } from './policy.js';
