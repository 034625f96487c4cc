/**
 * IRC, CTCP and DCC: pure parsers and formatters for an IRC DCC ALG. Everything here works on
 * bytes of one line at a time and reports positions as spans, so that a translator can rewrite
 * the address and port of an offer and keep every other byte. Same contract as the rest of the
 * core: no I/O, no clock, no randomness; bad input from a peer is a typed result, never thrown;
 * misuse of the API throws NatAlgError.
 */

export { IrcTranslator } from './translator.js';
export { ircAlg, type IrcAlgOptions } from './module.js';
export {
  DEFAULT_IRC_POLICY, DEFAULT_IRC_MAX_LINE_LENGTH,
  type IrcPolicy, type IrcTranslatorOptions, type IrcRefusalReason, type IrcEvent,
} from './types.js';
export { REFUSAL_TEXTS as IRC_REFUSAL_TEXTS } from './policy.js';
export { COMMAND_RULES as IRC_COMMAND_RULES, DCC_RULES, OFFER_RULES, LINE_READING as IRC_LINE_READING } from './rules.js';
export { applyEdits, type Edit, type Span } from './span.js';
export {
  parseMessage, messageText, formatMessage, MAX_MESSAGE_BYTES, MAX_TAGS_BYTES, MAX_PARAMS,
  type IrcMessage, type IrcVerb, type LineEnd, type MessageFault, type MessageResult, type MessageOptions,
  type MessageFields, type TextFault,
} from './message.js';
export {
  findCtcp, ctcpTagIs, formatCtcp, CTCP_DELIMITER, MAX_CTCP_SEGMENTS,
  type CtcpSegment, type CtcpFault, type CtcpResult, type CtcpOptions,
} from './ctcp.js';
export {
  readDccAddress, ipv4FromDccInteger, ipv4ToDccInteger, formatDccAddress, dccAddressFormFor, MAX_DCC_INTEGER,
  type DccAddress, type DccAddressForm,
} from './dcc-address.js';
export {
  dccLayoutOf, MAX_DCC_VERB_LENGTH, MAX_DCC_TOKEN_LENGTH, MAX_DCC_NUMBER,
  type DccKind, type DccField, type DccLayout,
} from './dcc-layout.js';
export {
  parseDcc, MAX_DCC_BODY_BYTES,
  type DccFault, type DccOffer, type DccSendOffer, type DccChatOffer, type DccResumeOffer,
  type DccOtherOffer, type DccResult, type FilenameForm, type DccFilename, type DccEndpointFields, type DccTokenField,
} from './dcc.js';
export { formatDcc, type DccOfferFields } from './dcc-format.js';
export { dccEdits, rewriteDccOffer, type DccRewritable, type DccReplacement } from './dcc-rewrite.js';
export { scanDcc, type DccScan, type DccScanFault, type DccScanOptions, type FoundDcc } from './dcc-scan.js';
