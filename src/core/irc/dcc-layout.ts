/**
 * The DCC verbs this folder understands and the fields each one carries after its filename (or
 * CHAT's protocol word), in order: the one table dcc.ts parses by and dcc-format.ts writes by.
 *
 *   SEND   <filename> <address> <port> [<size> [<token>]]   also SSEND TSEND TSSEND STSEND
 *   CHAT   <protocol> <address> <port> [<token>]             also SCHAT
 *   RESUME <filename> <port> <position> [<token>]
 *   ACCEPT <filename> <port> <position> [<token>]
 *
 * The S and T variants (TLS, no acknowledgements; KVIrc) carry SEND's and CHAT's fields. Any
 * other verb has no layout and is reported as kind 'other'.
 */

export type DccKind = 'send' | 'chat' | 'resume' | 'accept' | 'other';

/** Longest verb: the longest known one is 7 letters (TSRSEND, KVIrc). */
export const MAX_DCC_VERB_LENGTH = 16;
export const MAX_DCC_TOKEN_LENGTH = 64;
/** Sizes and positions: files beyond 4 GiB exist, so up to 2^53-1, not 2^32-1. */
export const MAX_DCC_NUMBER = Number.MAX_SAFE_INTEGER;

export type DccField = 'address' | 'port' | 'size' | 'position' | 'token';

export interface DccLayout {
  readonly kind: Exclude<DccKind, 'other'>;
  /** Fields after the filename or protocol: the first `required` always, the rest optional. */
  readonly fields: readonly DccField[];
  readonly required: number;
}

export const SEND_LAYOUT: DccLayout = { kind: 'send', fields: ['address', 'port', 'size', 'token'], required: 2 };
export const CHAT_LAYOUT: DccLayout = { kind: 'chat', fields: ['address', 'port', 'token'], required: 2 };
export const RESUME_LAYOUT: DccLayout = { kind: 'resume', fields: ['port', 'position', 'token'], required: 2 };
export const ACCEPT_LAYOUT: DccLayout = { kind: 'accept', fields: ['port', 'position', 'token'], required: 2 };

const LAYOUTS: Readonly<Record<string, DccLayout>> = {
  SEND: SEND_LAYOUT, SSEND: SEND_LAYOUT, TSEND: SEND_LAYOUT, TSSEND: SEND_LAYOUT, STSEND: SEND_LAYOUT,
  CHAT: CHAT_LAYOUT, SCHAT: CHAT_LAYOUT,
  RESUME: RESUME_LAYOUT,
  ACCEPT: ACCEPT_LAYOUT,
};

/** The layout of an upper-case verb, or undefined for a verb this folder does not parse. */
export function dccLayoutOf(verb: string): DccLayout | undefined {
  return Object.prototype.hasOwnProperty.call(LAYOUTS, verb) ? LAYOUTS[verb] : undefined;
}
