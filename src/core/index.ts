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
 *
 * This file is the public API: what docs/ and README.md document. Every name is listed (no
 * `export *` of a folder's internals), and test/package/exports.test.ts compares the runtime
 * names of every entry point with the expected list, so a new export is a visible decision.
 */

export * from './errors.js';
export {
  addressFamily,
  canonicalAddress,
  endpoint,
  formatAddress,
  formatEndpoint,
  formatIPv4,
  formatIPv6,
  ipv4ToNumber,
  numberToIPv4,
  parseAddress,
  parseEndpoint,
  parseIPv4,
  parseIPv6,
  sameAddress,
  type AddressFamily,
  type Endpoint,
} from './net/ip.js';
export type { Direction, StreamEdit, StreamTranslator } from './stream/translator.js';
export { setLineScanBackend } from './stream/line-scan-backend.js';
export * from './alg/index.js';
export * from './ftp/index.js';
// IRC DCC: the translator, its module and policy, and the DCC offer parser and formatters a user
// needs to write or read offers (the line, CTCP and rule-table internals stay in src/core/irc).
export {
  IrcTranslator, ircAlg, DEFAULT_IRC_POLICY, DEFAULT_IRC_MAX_LINE_LENGTH,
  parseDcc, formatDcc, rewriteDccOffer, ipv4ToDccInteger, ipv4FromDccInteger,
  type IrcAlgOptions, type IrcPolicy, type IrcTranslatorOptions, type IrcRefusalReason, type IrcEvent,
  type DccOffer, type DccSendOffer, type DccChatOffer, type DccResumeOffer, type DccOtherOffer, type DccResult,
  type DccOfferFields, type DccReplacement, type DccAddressForm,
} from './irc/index.js';
export * from './relay/index.js';
export * from './mapping/index.js';
export * from './nat/index.js';
// Packet NAT (docs/packet.md): the NAT itself, the checked views and parser over raw IP packets,
// fragment reassembly, checksums and the header emitters a user needs to build or inspect
// packets. The NAT's inner pieces (its ALG stream layer, sequence shifts, field offset tables,
// the TCP tracker) stay in src/core/packet.
export {
  PacketNat,
  parsePacket, PacketParser, PACKET_DROP_REASONS,
  Ipv4Packet, Ipv6Packet, TcpSegment, TcpOptions, UdpDatagram, Icmpv4Message, Icmpv6Message, IcmpQuote, OtherTransport,
  Reassembler, REASSEMBLY_DEFAULTS,
  IpProtocol, TcpFlag, Icmpv4Type, Icmpv6Type,
  internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, updateChecksum16, updateChecksum32, updateChecksumIpv6Address,
  emitIpv4Header, emitIpv6Header, emitTcpHeader, emitTcpOptions, emitUdpHeader, emitIcmpHeader,
  rewriteIpv4Endpoint, rewriteIpv6Endpoint,
  toSeq,
  type PacketNatOptions, type PacketNatVerdict, type PacketNatEvent, type PacketNatStats, type PacketAlgConfig, type PortForward,
  type Transmit, type NatSide, type NatDropReason, type SessionOrigin, type SessionCloseReason,
  type IpPacket, type TransportView, type PacketVerdict, type PacketDropReason, type PacketParserOptions,
  type ReassemblerOptions, type FragmentVerdict, type FragmentDropReason, type ReassemblyEvent, type ReassemblyStats,
  type Ipv4HeaderFields, type Ipv6HeaderFields, type TcpHeaderFields, type TcpOptionFields, type UdpHeaderFields, type IcmpHeaderFields,
  type IcmpMessageKind, type EndpointSide, type SeqNumber,
} from './packet/index.js';
