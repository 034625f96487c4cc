/**
 * Reading one held line for DCC: what the translator must do with it, as a plan, decided from
 * the line's bytes and the session record alone (no output, no events: lines.ts carries the plan
 * out). Every place a lenient client could take for a DCC (lenient.ts) must be an offer the strict
 * reader read in a PRIVMSG or NOTICE text (scan.ts, dcc.ts), and each offer gets its rule
 * (rules.ts): a data channel, a hidden address, a mapped port, or a refusal of the whole line.
 */

import { endpoint, type Endpoint } from '../net/ip.js';
import { ctcpTagIs } from './ctcp.js';
import type { DccChatOffer, DccOffer, DccResumeOffer, DccSendOffer } from './dcc.js';
import { scanDcc, type DccScan } from './dcc-scan.js';
import { countDccMarkers, isAmbiguous } from './lenient.js';
import { checkOfferEndpoint, passiveOfferAddress, type OfferSender, type ResolvedIrcOptions } from './policy.js';
import { DCC_RULES, OFFER_RULES, PASSING_OTHER_VERBS } from './rules.js';
import type { OfferTable } from './offer-table.js';
import type { IrcMessage } from './message.js';
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

export type OfferStep = ChannelStep | PassiveStep | PortStep;

export type LinePlan =
  /** Nothing to change: the line goes out as it came. */
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
}

function refuse(reason: IrcRefusalReason, what: string, message: IrcMessage | null): LinePlan {
  return { kind: 'refuse', reason, what, message };
}

/** The plan for a complete line (line end included). */
export function planLine(line: Uint8Array, ctx: PlanContext): LinePlan {
  const markers = countDccMarkers(line, 0, line.length);
  const scan: DccScan = scanDcc(line);
  if (!scan.ok) {
    // Not a message the strict reader understands: harmless unless it could hold a DCC.
    return markers > 0 ? refuse('unreadable-offer', 'DCC', null) : { kind: 'pass', message: null };
  }
  const message = scan.message;
  if (markers === 0) return { kind: 'pass', message };
  // Every place a lenient client could see a DCC must be an offer read in the text.
  if (scan.offers.length !== markers) return refuse('unreadable-offer', 'DCC', message);
  const steps: OfferStep[] = [];
  let channels = 0;
  for (const found of scan.offers) {
    if (!ctcpTagIs(line, found.segment, 'DCC')) return refuse('unreadable-offer', 'DCC', message);
    if (!found.result.ok) return refuse('unreadable-offer', 'DCC', message);
    const offer = found.result.offer;
    const what = `DCC ${offer.verb}`;
    const step = planOffer(line, offer, found.segment.body.end, ctx);
    if (typeof step === 'string') return refuse(step, what, message);
    if (step === null) continue;
    if (step.kind === 'channel' && ++channels > ctx.o.policy.maxWaitingOffers) return refuse('too-many-offers', what, message);
    steps.push(step);
  }
  return steps.length === 0 ? { kind: 'pass', message } : { kind: 'translate', steps, message };
}

/** One offer's step, null when it passes unchanged, or why the line is refused. */
function planOffer(line: Uint8Array, offer: DccOffer, bodyEnd: number, ctx: PlanContext): OfferStep | null | IrcRefusalReason {
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
      return planEndpointOffer(line, offer as DccSendOffer | DccChatOffer, bodyEnd, ctx);
  }
}

function planEndpointOffer(line: Uint8Array, offer: DccSendOffer | DccChatOffer, bodyEnd: number, ctx: PlanContext): OfferStep | null | IrcRefusalReason {
  const { o, sender } = ctx;
  const rule = OFFER_RULES[sender];
  if (isAmbiguous(line, offer, bodyEnd)) return 'ambiguous-offer';
  const named = endpoint(offer.address, offer.port);
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
