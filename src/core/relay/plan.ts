/**
 * Where a data channel goes, decided in one pure function: which side the relay listens on, the
 * address it binds and the one it writes into the line, which peer address may connect, and
 * where the relay then connects from. Every mode (PORT, EPRT, PASV, EPSV, FTP64) comes down to
 * the request's `connector`: the listener faces the peer that will connect.
 */

import { endpoint, type AddressFamily, type Endpoint } from '../net/ip.js';
import type { DataChannelRequest } from '../ftp/types.js';
import { namesNoRemoteHost } from '../ftp/policy.js';
import type { Side } from './types.js';

export interface PlanContext {
  /** The client's address, and the relay's own address on the client's control connection. */
  readonly client: string;
  readonly clientLocal: string;
  /** The server's address, and the relay's own address on the upstream control connection. */
  readonly server: string;
  readonly serverLocal: string;
  /** Advertised towards the client instead of `clientLocal` when its family fits. */
  readonly publicAddress?: string;
  /**
   * Connect to the host a passive reply names even when it is not the server (policy
   * `allowForeignDataAddress`). Otherwise the relay connects to the server's own address with
   * the port from the reply, as careful clients do: a server cannot steer the relay at another
   * host, and a server behind NAT that names its unreachable private address still works.
   */
  readonly trustPassiveAddress?: boolean;
}

export interface ChannelPlan {
  /** The side whose peer connects to the relay's listener. */
  readonly listenSide: Side;
  readonly bindAddress: string;
  /** Written into the translated line (with the listener's port). */
  readonly advertiseAddress: string;
  /** The only peer address accepted on the listener. */
  readonly expectedPeer: string;
  /** The relay connects to the endpoint named in the original line, on this side, from this address. */
  readonly connectSide: Side;
  readonly connectTarget: Endpoint;
  readonly connectFrom: string;
}

function family(address: string): AddressFamily {
  return endpoint(address, 0).family;
}

/**
 * A passive reply's own address is used only when the policy trusts it, and never when it names
 * the relay itself (0.0.0.0 reaches the relay's loopback on most systems) or a group: that is a
 * server steering the relay at its own services, or a server bound to the wildcard address.
 */
function trusted(address: string, ctx: PlanContext): boolean {
  return ctx.trustPassiveAddress === true && (address === ctx.server || !namesNoRemoteHost(address));
}

/** The plan, or a reason why none exists (no address of the family the line needs). */
export function planDataChannel(request: DataChannelRequest, ctx: PlanContext): ChannelPlan | string {
  const listenSide: Side = request.connector;
  const towardsClient = listenSide === 'client';
  const bindAddress = towardsClient ? ctx.clientLocal : ctx.serverLocal;
  let advertiseAddress = bindAddress;
  if (towardsClient && ctx.publicAddress !== undefined && family(ctx.publicAddress) === request.family) {
    advertiseAddress = endpoint(ctx.publicAddress, 0).address;
  }
  if (family(advertiseAddress) !== request.family) {
    return `no IPv${request.family} address on the ${listenSide} side`;
  }
  return {
    listenSide,
    bindAddress,
    advertiseAddress,
    expectedPeer: towardsClient ? ctx.client : ctx.server,
    connectSide: towardsClient ? 'server' : 'client',
    connectTarget: towardsClient && !trusted(request.original.address, ctx) ? endpoint(ctx.server, request.original.port) : request.original,
    connectFrom: towardsClient ? ctx.serverLocal : ctx.clientLocal,
  };
}
