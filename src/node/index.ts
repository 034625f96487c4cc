/**
 * nat-alg/node: node:net adapters around the pure core.
 * - createFtpProxy: an FTP ALG relay (net.Server style) driving one FtpRelaySession per client.
 * - createIrcProxy: an IRC relay translating DCC offers; createAlgProxy for any ALG by module or name.
 * - createFtpTranslatorStreams: the control-channel translator as two Transform streams.
 * - Data planes for the relay: its own sockets (default) or the Linux kernel's NAT (nftables).
 * The library never prints: observe it through events and the `logger` option.
 * NatAlgError is re-exported so that `err instanceof NatAlgError` needs no second import; it is
 * the very class `nat-alg` exports (the entry points share one core, see tsup.config.ts).
 */

export { NatAlgError, type NatAlgErrorCode, type NatAlgErrorKind } from '../core/errors.js';

export { createAlgProxy, createFtpProxy, createIrcProxy, defaultMaxPendingDataChannelsPerClient } from './proxy.js';
export { createFtpTranslatorStreams, TranslatorClosedError } from './streams.js';
export type { FtpTranslatorStreams, FtpTranslatorStreamsOptions } from './streams.js';
export type * from './types.js';
export { createRelayDataPlane } from './data-plane.js';
export type { ChannelSpec, DataPlane, DataPlaneContext, DataPlaneHost, PlaneLogEntry, SessionDataPlane } from './data-plane.js';
export { createNftablesDataPlane } from './nftables/kernel-plane.js';
export type { NftablesRelayPlaneOptions } from './nftables/kernel-plane.js';
export { NftablesDataPlane, DataPlaneUnavailableError, PlaneFault } from './nftables/index.js';
export type { DataPlaneUnavailableCause, ForwardGuard, NftablesDataPlaneOptions, PlaneFaultKind } from './nftables/index.js';
export { openDataChannel } from './data-channel.js';
export type { DataChannel, DataChannelCloseEvent, DataChannelEvents, DataChannelOpenEvent, DataChannelOptions, DataChannelRejectedEvent, DataChannelState } from './data-channel.js';
