/**
 * The IRC translator's options checked once, the policy checks on the endpoint an offer names,
 * and the exact NOTICE texts the gateway sends when it refuses a line. The texts are documented
 * wire behaviour (docs/irc.md): change them with care.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, familyOf, type AddressFamily, type Endpoint } from '../net/ip.js';
import { namesNoRemoteHost } from '../net/no-remote-host.js';
import type { GatewaySide } from '../alg/contract.js';
import { DEFAULT_IRC_POLICY, type IrcPolicy, type IrcRefusalReason, type IrcTranslatorOptions } from './types.js';

/** Shortest maxLineLength: a 512-byte IRC message must fit. */
export const MIN_IRC_LINE_LENGTH = 512;
/** Longest maxLineLength: a held line costs this much memory per direction. */
export const MAX_IRC_LINE_LENGTH = 65536;

export interface ResolvedIrcOptions {
  readonly clientAddress: string;
  readonly clientFamily: AddressFamily;
  readonly serverAddress: string;
  readonly serverFamily: AddressFamily;
  /** Every address of the gateway the embedding named (its own and the announced ones). */
  readonly gatewayAddresses: readonly string[];
  /** The gateway's side facing the server, when known (a passive offer names its address). */
  readonly serverSide: GatewaySide | null;
  readonly policy: IrcPolicy;
}

function integerIn(value: unknown, min: number, max: number, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new NatAlgError('invalid-argument', `policy.${name} must be an integer ${min}-${max}, got ${String(value)}`);
  }
}

/** Validate and canonicalise the options; throws NatAlgError (invalid-argument) naming the option. */
export function resolveIrcOptions(options: IrcTranslatorOptions): ResolvedIrcOptions {
  if (typeof options !== 'object' || options === null) {
    throw new NatAlgError('invalid-argument', 'IrcTranslator options must be an object');
  }
  const clientAddress = canonicalAddress(String(options.clientAddress));
  const serverAddress = canonicalAddress(String(options.serverAddress));
  const policy: IrcPolicy = { ...DEFAULT_IRC_POLICY, ...(options.policy ?? {}) };
  integerIn(policy.maxLineLength, MIN_IRC_LINE_LENGTH, MAX_IRC_LINE_LENGTH, 'maxLineLength');
  integerIn(policy.maxDiscardedBytes, 0, 2 ** 40, 'maxDiscardedBytes');
  integerIn(policy.maxWaitingOffers, 1, 256, 'maxWaitingOffers');
  for (const key of ['lineTimeoutMs', 'offerTimeoutMs'] as const) {
    const v = policy[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new NatAlgError('invalid-argument', `policy.${key} must be a positive number of milliseconds, got ${String(v)}`);
    }
  }
  if (policy.overlongLine !== 'refuse' && policy.overlongLine !== 'close') {
    throw new NatAlgError('invalid-argument', "policy.overlongLine must be 'refuse' or 'close'");
  }
  if (typeof policy.allowForeignDccAddress !== 'boolean' || typeof policy.allowLowDccPorts !== 'boolean') {
    throw new NatAlgError('invalid-argument', 'policy.allowForeignDccAddress and allowLowDccPorts must be booleans');
  }
  if (typeof policy.noticeSender !== 'string' || !/^[\x21-\x7e]{1,63}$/.test(policy.noticeSender) || policy.noticeSender.startsWith(':')) {
    throw new NatAlgError('invalid-argument', 'policy.noticeSender must be 1-63 printable ASCII characters without spaces or a leading colon');
  }
  const gatewayAddresses: string[] = [];
  const g = options.gateway;
  if (g !== undefined) {
    for (const side of [g.client, g.server]) {
      for (const a of [side.local, ...side.announced]) gatewayAddresses.push(canonicalAddress(String(a)));
    }
  }
  return {
    clientAddress,
    clientFamily: familyOf(clientAddress),
    serverAddress,
    serverFamily: familyOf(serverAddress),
    gatewayAddresses,
    serverSide: g?.server ?? null,
    policy: Object.freeze(policy),
  };
}

/** Where an offer comes from: the client behind the gateway, or a user on the server's side. */
export type OfferSender = 'client' | 'server';

/**
 * Whether an offer from `sender` may name `e` (its address canonical text, as offers are parsed)
 * for a data connection; null when it may.
 * From the client: its own address (or, with allowForeignDccAddress, another host that is no
 * loopback, group, link-local or gateway address). From outside: any host but those, since the
 * gateway will connect there on the client's behalf. Never a port below 1024 (allowLowDccPorts).
 */
export function checkOfferEndpoint(e: Endpoint, sender: OfferSender, o: ResolvedIrcOptions): IrcRefusalReason | null {
  const p = o.policy;
  if (sender === 'client') {
    if (e.address !== o.clientAddress && (!p.allowForeignDccAddress || forbidden(e.address, o))) return 'foreign-address';
  } else if (forbidden(e.address, o)) {
    return 'forbidden-address';
  }
  if (e.port < 1024 && !p.allowLowDccPorts) return 'low-port';
  return null;
}

/**
 * An address the gateway never connects to on a peer's word. `address` and the gateway's are
 * canonical text, so one address is one string (no need to canonicalize each pair again).
 */
function forbidden(address: string, o: ResolvedIrcOptions): boolean {
  if (namesNoRemoteHost(address)) return true;
  for (const g of o.gatewayAddresses) if (g === address) return true;
  return false;
}

/**
 * The address to write into a passive offer from the client (port 0: it asks the other side to
 * listen, no connection comes to the gateway): the gateway's address facing the server in the
 * family the offer used, or null when the embedding did not say (the client's own address then
 * stays, as it is the only one the policy lets through).
 */
export function passiveOfferAddress(family: AddressFamily, o: ResolvedIrcOptions): string | null {
  const side = o.serverSide;
  if (side === null) return null;
  for (const a of side.announced) if (familyOf(canonicalAddress(a)) === family) return canonicalAddress(a);
  const local = canonicalAddress(side.local);
  return familyOf(local) === family ? local : null;
}

/** The end of a NOTICE saying why (after "refused by the gateway: "). */
export const REFUSAL_TEXTS: Readonly<Record<IrcRefusalReason, string>> = Object.freeze({
  'foreign-address': 'the offer must name your own address',
  'forbidden-address': 'it names an address the gateway does not connect to',
  'low-port': 'ports below 1024 are not allowed',
  'unreadable-offer': 'the gateway cannot read it as a DCC offer',
  'ambiguous-offer': 'its filename could be read as another address',
  'unsupported-dcc': 'the gateway does not translate this DCC type',
  'too-many-offers': 'too many DCC offers in one message',
  'mapping-refused': 'no data channel available',
  'line-too-long': 'the line is too long',
  'bare-cr': 'the line holds a CR without LF',
  'starttls': 'STARTTLS is not available through this gateway',
});
