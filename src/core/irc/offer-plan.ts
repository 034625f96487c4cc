/**
 * Reading one held line for DCC: what the translator must do with it, as a plan, decided from
 * the line's bytes and the session record alone (no output, no events: lines.ts carries the plan
 * out). Every place a lenient client could take for a DCC (lenient.ts) must be an offer the strict
 * reader read in a PRIVMSG or NOTICE text (dcc-scan.ts, dcc.ts), or, under a tag the gateway does
 * not rewrite, name no endpoint at all (rules.ts DCC_TAG_RULES); each offer gets its rule
 * (rules.ts): a data channel, a hidden address, a mapped port, the client's own endpoint back
 * (an echo), or a refusal of the whole line.
 */

import { familyOf, type Endpoint } from '../net/ip.js';
import { ctcpTagIs } from './ctcp.js';
import type { DccChatOffer, DccOffer, DccResumeOffer, DccSendOffer } from './dcc.js';
import { scanDcc, type DccScan } from './dcc-scan.js';
import { findDccPlaces, isAmbiguous, namesAnyEndpoint, type EndpointWords } from './lenient.js';
import { checkOfferEndpoint, passiveOfferAddress, type OfferSender, type ResolvedIrcOptions } from './policy.js';
import { DCC_RULES, OFFER_RULES, PASSING_OTHER_VERBS } from './rules.js';
import type { OfferTable } from './offer-table.js';
import { parseMessage, prefixNick, type IrcMessage } from './message.js';
import { equalsIgnoreCase } from './bytes.js';
import type { IrcRefusalReason } from './types.js';

/** An offer that needs a data channel: the request's facts (the id comes when it is made). */
export interface ChannelStep {
  readonly kind: 'channel';
  readonly offer: DccSendOffer | DccChatOffer;
  readonly original: Endpoint;
  readonly connector: 'client' | 'server';
  readonly acceptFrom: string | null;
  readonly family: 4 | 6;
  readonly label: string;
}

/**
 * A passive offer (port 0 and a token: no channel). From the client its address is replaced by
 * the gateway's (`address`; null when the gateway's is unknown or already there); from outside
 * it passes. Remembered either way, so that the answering offer is known as reverse DCC.
 */
export interface PassiveStep {
  readonly kind: 'passive';
  readonly offer: DccSendOffer | DccChatOffer;
  readonly address: string | null;
}

/** A RESUME or ACCEPT whose port is mapped to the other side's view of the offer. */
export interface PortStep {
  readonly kind: 'map-port';
  readonly offer: DccResumeOffer;
  readonly port: number;
}

/**
 * The server's echo of the client's own translated offer (IRCv3 echo-message, a bouncer's replay
 * of the client's messages): it names the endpoint the gateway announced for that offer, and is
 * given back the endpoint the client named, as the client wrote it. No new data channel.
 */
export interface EchoStep {
  readonly kind: 'echo';
  readonly offer: DccSendOffer | DccChatOffer;
  readonly address: string;
  readonly port: number;
}

export type OfferStep = ChannelStep | PassiveStep | PortStep | EchoStep;

export type LinePlan =
  /**
   * Nothing to change: the line goes out as it came. `message`: the line's message for its
   * command's effect, or null when it has none to read (a line without a DCC place gets its
   * message as parsed, its CTCPs unread: planLine).
   */
  | { readonly kind: 'pass'; readonly message: IrcMessage | null }
  | {
      readonly kind: 'refuse';
      readonly reason: IrcRefusalReason;
      /** What was refused, for the NOTICE and the event: `DCC SEND`, `DCC`, `STARTTLS`. */
      readonly what: string;
      readonly message: IrcMessage | null;
    }
  | { readonly kind: 'translate'; readonly steps: readonly OfferStep[]; readonly message: IrcMessage };

export interface PlanContext {
  readonly o: ResolvedIrcOptions;
  readonly offers: OfferTable;
  readonly sender: OfferSender;
  /** The client's nick as far as the gateway knows (state.ts). */
  readonly nick: string;
}

/** Whether the line comes from the client's own nick (its prefix names it). */
function isOwnNick(line: Uint8Array, message: IrcMessage, nick: string): boolean {
  const from = prefixNick(line, message);
  return from !== null && nick !== '*' && equalsIgnoreCase(line, from.start, from.end, nick.toUpperCase());
}

function refuse(reason: IrcRefusalReason, what: string, message: IrcMessage | null): LinePlan {
  return { kind: 'refuse', reason, what, message };
}

/** What every offer of a line is planned with, besides the session context. */
interface LineFacts {
  /** The line comes from the client's own nick (an echo of its own offer is recognised). */
  readonly fromOwnNick: boolean;
  /** The address and port words of every offer the strict reader read (lenient.ts isAmbiguous). */
  readonly endpointWords: readonly EndpointWords[];
}

/** The plan for a complete line (line end included). */
export function planLine(line: Uint8Array, ctx: PlanContext): LinePlan {
  const places = findDccPlaces(line, 0, line.length);
  if (places.length === 0) {
    // Nothing any client could take for a DCC (a /me ACTION, a VERSION): the line passes, and
    // its message is read only for its command's effect (lines.ts commandEffect). The commands
    // with one (rules.ts COMMAND_RULES: NICK, 001, STARTTLS) carry no PRIVMSG or NOTICE text, so
    // reading the CTCPs of a text (scanDcc) could make no message null that has an effect.
    const message = parseMessage(line);
    return { kind: 'pass', message: message.ok ? message : null };
  }
  let offerPlaces = 0;
  let hidden = false;
  for (const place of places) {
    if (place.action === 'offer') offerPlaces++;
    else if (namesAnyEndpoint(line, place)) hidden = true;
  }
  const scan: DccScan = scanDcc(line);
  if (!scan.ok) {
    // Not a message the strict reader understands: harmless unless it could hold a DCC.
    return offerPlaces > 0 || hidden ? refuse('unreadable-offer', 'DCC', null) : { kind: 'pass', message: null };
  }
  const message = scan.message;
  // A tag some client reads as DCC, naming an endpoint the gateway does not rewrite.
  if (hidden) return refuse('unreadable-offer', 'DCC', message);
  if (offerPlaces === 0) return { kind: 'pass', message };
  // Every place a lenient client could see a DCC must be an offer read in the text.
  if (scan.offers.length !== offerPlaces) return refuse('unreadable-offer', 'DCC', message);
  const endpointWords: EndpointWords[] = [];
  for (const found of scan.offers) {
    const r = found.result;
    if (r.ok && (r.offer.kind === 'send' || r.offer.kind === 'chat')) endpointWords.push({ address: r.offer.addressSpan, port: r.offer.portSpan });
  }
  const facts: LineFacts = { fromOwnNick: ctx.sender === 'server' && isOwnNick(line, message, ctx.nick), endpointWords };
  const steps: OfferStep[] = [];
  let channels = 0;
  for (const found of scan.offers) {
    if (!ctcpTagIs(line, found.segment, 'DCC')) return refuse('unreadable-offer', 'DCC', message);
    if (!found.result.ok) return refuse('unreadable-offer', 'DCC', message);
    const offer = found.result.offer;
    const what = `DCC ${offer.verb}`;
    const step = planOffer(line, offer, found.segment.body.end, ctx, facts);
    if (typeof step === 'string') return refuse(step, what, message);
    if (step === null) continue;
    if (step.kind === 'channel' && ++channels > ctx.o.policy.maxWaitingOffers) return refuse('too-many-offers', what, message);
    steps.push(step);
  }
  return steps.length === 0 ? { kind: 'pass', message } : { kind: 'translate', steps, message };
}

/** One offer's step, null when it passes unchanged, or why the line is refused. */
function planOffer(line: Uint8Array, offer: DccOffer, bodyEnd: number, ctx: PlanContext, facts: LineFacts): OfferStep | null | IrcRefusalReason {
  switch (DCC_RULES[offer.kind]) {
    case 'refuse':
      return PASSING_OTHER_VERBS.has(offer.verb) ? null : 'unsupported-dcc';
    case 'port-of-their-offer':
    case 'port-of-own-offer': {
      const o = offer as DccResumeOffer;
      if (o.port === 0) return null; // passive: named by its token, nothing to map
      const port = ctx.offers.mapPort(ctx.sender, o.port, DCC_RULES[offer.kind] === 'port-of-own-offer' ? 'own' : 'theirs');
      return port === null || port === o.port ? null : { kind: 'map-port', offer: o, port };
    }
    case 'offer':
      return planEndpointOffer(line, offer as DccSendOffer | DccChatOffer, bodyEnd, ctx, facts);
  }
}

function planEndpointOffer(line: Uint8Array, offer: DccSendOffer | DccChatOffer, bodyEnd: number, ctx: PlanContext, facts: LineFacts): OfferStep | null | IrcRefusalReason {
  const { o, sender } = ctx;
  const rule = OFFER_RULES[sender];
  if (isAmbiguous(line, offer, bodyEnd, facts.endpointWords)) return 'ambiguous-offer';
  // As parsed (dcc.ts): canonical address text and a port 0-65535, canonicalized nowhere again.
  const named: Endpoint = { family: familyOf(offer.address), address: offer.address, port: offer.port };
  if (facts.fromOwnNick && !offer.passive) {
    // The client's own offer coming back (echo-message, a bouncer): as the client wrote it. Only
    // from the client's own nick: from anyone else the gateway's endpoint is refused as usual.
    const own = ctx.offers.clientOfferAnnouncedAs(named.address, named.port);
    if (own !== null) return { kind: 'echo', offer, address: own.namedAddress, port: own.namedPort };
  }
  if (offer.passive) {
    // The other side is asked to listen: no connection comes here.
    if (rule.passive === 'pass') return { kind: 'passive', offer, address: null };
    const unspecified = named.address === '0.0.0.0' || named.address === '::';
    if (!unspecified) {
      const refusal = checkOfferEndpoint({ ...named, port: 1024 }, sender, o);
      if (refusal !== null) return refusal;
    }
    const address = passiveOfferAddress(named.family, o);
    return { kind: 'passive', offer, address: address === named.address ? null : address };
  }
  if (offer.port === 0) return 'low-port'; // port 0 without a token: no offer a client can use
  const refusal = checkOfferEndpoint(named, sender, o);
  if (refusal !== null) return refusal;
  return {
    kind: 'channel',
    offer,
    original: named,
    connector: rule.connector,
    acceptFrom: rule.acceptFrom === 'client' ? o.clientAddress : null,
    family: rule.announceTo === 'client' ? o.clientFamily : o.serverFamily,
    label: ctx.offers.answersPassive(sender, offer.token) ? `DCC ${offer.verb} (reverse)` : `DCC ${offer.verb}`,
  };
}
