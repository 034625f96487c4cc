/**
 * Where a data channel goes, decided in one pure function: which side the relay listens on, the
 * address it binds and the one it announces in the line, which peer address may connect, and
 * where the relay then connects from. Every ALG's requests come down to the same few facts (the
 * request's `connector`, `acceptFrom`, `target`): the listener faces the peer that will connect.
 */

import { endpoint, type AddressFamily, type Endpoint } from '../net/ip.js';
import type { DataChannelRequest } from '../alg/contract.js';
import { NatAlgError } from '../errors.js';
import type { AnnouncedAddress, Side } from './types.js';

export interface PlanContext {
  /** The relay's own address on the client's control connection, and on the upstream one. */
  readonly clientLocal: string;
  readonly serverLocal: string;
  /** Announced towards the client instead of `clientLocal`: the one whose family fits, if any. */
  readonly publicAddress?: AnnouncedAddress;
  /** Announced towards the server's side instead of `serverLocal`: the one whose family fits. */
  readonly upstreamPublicAddress?: AnnouncedAddress;
}

export interface ChannelPlan {
  /** The side whose peer connects to the relay's listener. */
  readonly listenSide: Side;
  readonly bindAddress: string;
  /** Written into the translated line (with the listener's port). */
  readonly advertiseAddress: string;
  /** The only peer address accepted on the listener, or null: any peer on that side. */
  readonly expectedPeer: string | null;
  /** The relay connects to `connectTarget` on `connectSide`, from `connectFrom`. */
  readonly connectSide: Side;
  readonly connectTarget: Endpoint;
  readonly connectFrom: string;
}

function family(address: string): AddressFamily {
  return endpoint(address, 0).family;
}

/**
 * The addresses of an announced-address option as a list, checked: each an address, at most one
 * per family (which one would a line of that family get?). Throws NatAlgError naming `name`.
 */
export function announcedAddresses(value: AnnouncedAddress | undefined, name: string): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? [...(value as readonly unknown[])] : null;
  if (list === null || list.length > 2 || list.some((a) => typeof a !== 'string')) {
    throw new NatAlgError('invalid-argument', `${name} must be an address or a list of at most one address per family`);
  }
  const addresses = (list as string[]).map((a) => endpoint(a, 0)); // throws AddressError
  if (addresses.length === 2 && addresses[0]!.family === addresses[1]!.family) {
    throw new NatAlgError('invalid-argument', `${name} names two IPv${addresses[0]!.family} addresses; give at most one per family`);
  }
  return addresses.map((a) => a.address);
}

/** The announced address of `wanted`'s family, if the option has one. */
function announcedFor(value: AnnouncedAddress | undefined, wanted: AddressFamily): string | undefined {
  if (value === undefined) return undefined;
  for (const a of typeof value === 'string' ? [value] : value) {
    const e = endpoint(a, 0);
    if (e.family === wanted) return e.address;
  }
  return undefined;
}

/** The plan, or a reason why none exists (no address of the family the line needs). */
export function planDataChannel(request: DataChannelRequest, ctx: PlanContext): ChannelPlan | string {
  const listenSide: Side = request.connector;
  const towardsClient = listenSide === 'client';
  const bindAddress = towardsClient ? ctx.clientLocal : ctx.serverLocal;
  const announced = announcedFor(towardsClient ? ctx.publicAddress : ctx.upstreamPublicAddress, request.family);
  const advertiseAddress = announced ?? bindAddress;
  if (family(advertiseAddress) !== request.family) {
    return `no IPv${request.family} address on the ${listenSide} side`;
  }
  return {
    listenSide,
    bindAddress,
    advertiseAddress,
    expectedPeer: request.acceptFrom,
    connectSide: towardsClient ? 'server' : 'client',
    connectTarget: request.target,
    connectFrom: towardsClient ? ctx.serverLocal : ctx.clientLocal,
  };
}
