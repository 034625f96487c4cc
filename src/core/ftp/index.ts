export * from './types.js';
export { FtpTranslator, MAX_PENDING_COMMANDS } from './translator.js';
export { ftpAlg, type FtpAlgOptions } from './module.js';
export {
  parsePort, parseEprt, parseLprt, formatPort, formatEprt, formatLprt, formatSextet, formatLongAddress,
  commandArgument, type AddressParseResult, type AddressParseError,
} from './commands.js';
export {
  parse227, parse229, parse228, format227, format229, format228, find227, find228, find229,
  type FoundAddress, type FindResult,
} from './replies.js';
export { REFUSAL_REPLIES, passiveRefusal, namesNoRemoteHost } from './policy.js';
export { algsReply, EPSV_ALL_REPLY, type AlgsAnswer } from './ftp64.js';
export { COMMANDS, FINAL_REPLIES, type CommandRule, type FinalReplyRule, type ReplyEffect } from './rules.js';
export type { Verb } from './verb.js';
export type { PendingKind } from './pending.js';
