/**
 * The FTP session's rules, in one place and as data: what each command does when the gateway
 * reads it, what the final reply to each pending command does, and which replies are read for an
 * address. The translator's readers (command-lines.ts, reply-lines.ts, session.ts) look things up
 * here rather than restating them; docs/ftp-translator.md shows these tables.
 *
 * RFC 959 (PORT, PASV, REIN), RFC 2428 (EPRT, EPSV, EPSV ALL), RFC 1639 (LPRT, LPSV), RFC 4217
 * (AUTH, CCC), RFC 6384 (FTP64: EPSV sent as PASV, ALGS).
 */

import type { Verb } from './verb.js';
import type { PendingKind } from './pending.js';

/** How the gateway reads a command line, and what the command waits for once forwarded. */
export interface CommandRule {
  /**
   * `whole`: forwarded unchanged once its line is complete (and within maxLineLength).
   * `hold`: read whole by the gateway, then rewritten, refused or answered by it.
   * `hold-under-ftp64`: `hold` when the translator was built with FTP64, `whole` otherwise.
   */
  readonly read: 'whole' | 'hold' | 'hold-under-ftp64';
  /** What its pending-queue entry waits for when it goes out (`hold` lines decide for themselves). */
  readonly awaits: 'other' | 'active' | 'pasv' | 'epsv' | 'lpsv' | 'auth' | 'rein';
  /**
   * Once the server has accepted EPSV ALL: `refuse-at-verb` (answered as soon as the verb is read,
   * the line dropped), `refuse-when-read` (read whole, then refused), or `allow`.
   */
  readonly afterEpsvAll: 'refuse-at-verb' | 'refuse-when-read' | 'allow';
  /** Under policy `tls: 'refuse'`: answered 534 as soon as the verb is read, or allowed. */
  readonly underTlsRefuse: 'refuse-at-verb' | 'allow';
  /** The client's next command is not read until this one's reply has come (AUTH: it may be TLS). */
  readonly waitsForReply: boolean;
}

const plain: CommandRule = { read: 'whole', awaits: 'other', afterEpsvAll: 'allow', underTlsRefuse: 'allow', waitsForReply: false };

/** Every verb the translator reacts to; `OTHER` is every other command. */
export const COMMANDS: Readonly<Record<Verb, CommandRule>> = Object.freeze({
  PORT: { ...plain, read: 'hold', awaits: 'active', afterEpsvAll: 'refuse-when-read' },
  EPRT: { ...plain, read: 'hold', awaits: 'active', afterEpsvAll: 'refuse-when-read' },
  LPRT: { ...plain, read: 'hold', awaits: 'active', afterEpsvAll: 'refuse-when-read' },
  // EPSV is held to tell EPSV ALL from EPSV, and for FTP64 (sent on as PASV).
  EPSV: { ...plain, read: 'hold', awaits: 'epsv' },
  PASV: { ...plain, awaits: 'pasv', afterEpsvAll: 'refuse-at-verb' },
  LPSV: { ...plain, awaits: 'lpsv', afterEpsvAll: 'refuse-at-verb' },
  AUTH: { ...plain, awaits: 'auth', underTlsRefuse: 'refuse-at-verb', waitsForReply: true },
  REIN: { ...plain, awaits: 'rein' },
  // FTP64: the client asks the gateway (not the server) about translation; answered locally.
  ALGS: { ...plain, read: 'hold-under-ftp64' },
  CCC: plain,
  QUIT: plain,
  OTHER: plain,
});

/**
 * COMMANDS[verb], looked up with a switch: the translator does this once per line, and a keyed
 * load costs it several times more than these comparisons.
 */
export function commandRule(verb: Verb): CommandRule {
  switch (verb) {
    case 'OTHER': return COMMANDS.OTHER; // most lines: tested first
    case 'PORT': return COMMANDS.PORT;
    case 'EPRT': return COMMANDS.EPRT;
    case 'LPRT': return COMMANDS.LPRT;
    case 'EPSV': return COMMANDS.EPSV;
    case 'PASV': return COMMANDS.PASV;
    case 'LPSV': return COMMANDS.LPSV;
    case 'AUTH': return COMMANDS.AUTH;
    case 'REIN': return COMMANDS.REIN;
    case 'ALGS': return COMMANDS.ALGS;
    case 'CCC': return COMMANDS.CCC;
    case 'QUIT': return COMMANDS.QUIT;
  }
}

/**
 * What a final reply (2xx-5xx) does to the command at the head of the pending queue.
 * - `commit-mapping` / `release-mapping`: the PORT/EPRT/LPRT mapping is in use / not wanted.
 * - `tls-if-234`: a 234 turns both directions to TLS; any other reply lets the client go on.
 * - `resume-client`: the client's commands are read again.
 * - `epsv-only`: from now on PORT, PASV, EPRT, LPRT and LPSV are refused (RFC 2428 EPSV ALL).
 * - `reinitialize`: the session starts over (EPSV ALL and FTP64 as at the start, the current
 *   mapping released).
 */
export type ReplyEffect = 'none' | 'commit-mapping' | 'release-mapping' | 'tls-if-234' | 'resume-client' | 'epsv-only' | 'reinitialize';

export interface FinalReplyRule {
  /** Whether a final reply answers this entry at all (not a command forwarded to the server). */
  readonly answered: boolean;
  readonly positive: ReplyEffect; // 2xx
  readonly negative: ReplyEffect; // 4xx, 5xx
}

const nothing: FinalReplyRule = { answered: true, positive: 'none', negative: 'none' };
const notForwarded: FinalReplyRule = { answered: false, positive: 'none', negative: 'none' };

export const FINAL_REPLIES: Readonly<Record<PendingKind, FinalReplyRule>> = Object.freeze({
  greeting: nothing,
  other: nothing,
  // Passive replies are read for an address as they arrive (PASSIVE_REPLIES); pairing only removes them.
  pasv: nothing,
  epsv: nothing,
  lpsv: nothing,
  'epsv-as-pasv': nothing,
  active: { answered: true, positive: 'commit-mapping', negative: 'release-mapping' },
  auth: { answered: true, positive: 'tls-if-234', negative: 'resume-client' },
  'epsv-all': { answered: true, positive: 'epsv-only', negative: 'none' },
  rein: { answered: true, positive: 'reinitialize', negative: 'none' },
  held: notForwarded,
  local: notForwarded,
});

/** FINAL_REPLIES[kind], looked up with a switch (once per reply; see commandRule). */
export function finalReplyRule(kind: PendingKind): FinalReplyRule {
  switch (kind) {
    case 'other': return FINAL_REPLIES.other; // most replies: tested first
    case 'greeting': return FINAL_REPLIES.greeting;
    case 'pasv': return FINAL_REPLIES.pasv;
    case 'epsv': return FINAL_REPLIES.epsv;
    case 'lpsv': return FINAL_REPLIES.lpsv;
    case 'epsv-as-pasv': return FINAL_REPLIES['epsv-as-pasv'];
    case 'active': return FINAL_REPLIES.active;
    case 'auth': return FINAL_REPLIES.auth;
    case 'epsv-all': return FINAL_REPLIES['epsv-all'];
    case 'rein': return FINAL_REPLIES.rein;
    case 'held': return FINAL_REPLIES.held;
    case 'local': return FINAL_REPLIES.local;
  }
}

/** The pending kinds whose reply carries a data address, each read in its own format. */
export type PassiveFormat = 'pasv' | 'epsv' | 'lpsv' | 'epsv-as-pasv';

/** The reply code each passive command expects: 227 for PASV, 229 for EPSV, 228 for LPSV. */
export const PASSIVE_REPLY_CODE: Readonly<Record<PassiveFormat, 227 | 228 | 229>> = Object.freeze({
  pasv: 227,
  'epsv-as-pasv': 227,
  epsv: 229,
  lpsv: 228,
});

/** Whether a pending kind is a passive command, whose reply is read in its format. */
export function isPassive(kind: PendingKind | null): kind is PassiveFormat {
  return kind === 'pasv' || kind === 'epsv' || kind === 'lpsv' || kind === 'epsv-as-pasv';
}

/** The code the command at the head (`head`) expects for its answer, or null when it is no passive command. */
export function expectedPassiveCode(head: PendingKind | null): number | null {
  return isPassive(head) ? PASSIVE_REPLY_CODE[head] : null;
}

/**
 * The format in which a reply with `code` is read for a data address, or null when it is not
 * read. `head` is the command it answers. Every 227, 228 and 229 is read, whatever it answers: a
 * server that answers EPSV with a 227, PASV with a 229 or NOOP with a 227 must not get an address
 * of its own past the gateway (the client may well use it). Any other positive reply to a passive
 * command is read too, in the format the command expects, for clients that take the numbers from
 * any 2xx answer to PASV.
 */
export function passiveFormat(code: number, head: PendingKind | null): PassiveFormat | null {
  if (code === 227) return head === 'epsv-as-pasv' ? 'epsv-as-pasv' : 'pasv';
  if (code === 229) return 'epsv';
  if (code === 228) return 'lpsv';
  if (code >= 200 && code < 300 && isPassive(head)) return head;
  return null;
}
