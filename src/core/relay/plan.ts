/**
 * Where a data channel goes, decided in one pure function: which side the relay listens on, the
 * address it binds and the one it announces in the line, which peer address may connect, and
 * where the relay then connects from. Every ALG's requests come down to the same few facts (the
 * request's `connector`, `acceptFrom`, `target`): the listener faces the peer that will connect.
 */

import { endpoint, type AddressFamily, type Endpoint } from '../net/ip.js';
import type { DataChannelRequest } from '../alg/contract.js';
import type { Side } from './types.js';

export interface PlanContext {
  /** The relay's own address on the client's control connection, and on the upstream one. */
  readonly clientLocal: string;
  readonly serverLocal: string;
  /** Announced towards the client instead of `clientLocal` when its family fits. */
  readonly publicAddress?: string;
  /** Announced towards the server's side instead of `serverLocal` when its family fits. */
  readonly upstreamPublicAddress?: string;
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

/** The plan, or a reason why none exists (no address of the family the line needs). */
export function planDataChannel(request: DataChannelRequest, ctx: PlanContext): ChannelPlan | string {
  const listenSide: Side = request.connector;
  const towardsClient = listenSide === 'client';
  const bindAddress = towardsClient ? ctx.clientLocal : ctx.serverLocal;
  const announced = towardsClient ? ctx.publicAddress : ctx.upstreamPublicAddress;
  let advertiseAddress = bindAddress;
  if (announced !== undefined && family(announced) === request.family) advertiseAddress = endpoint(announced, 0).address;
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
