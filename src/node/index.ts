/**
 * nat-alg/node: node:net adapters around the pure core.
 * - createFtpProxy: an FTP ALG relay (net.Server style) driving one FtpRelaySession per client.
 * - createFtpTranslatorStreams: the control-channel translator as two Transform streams.
 * - Data planes for the relay: its own sockets (default) or the Linux kernel's NAT (nftables).
 * The library never prints: observe it through events and the `logger` option.
 */

export { createAlgProxy, createFtpProxy } from './proxy.js';
export { createFtpTranslatorStreams } from './streams.js';
export type { FtpTranslatorStreams, FtpTranslatorStreamsOptions } from './streams.js';
export type * from './types.js';
export { createRelayDataPlane } from './data-plane.js';
export type { ChannelSpec, DataPlane, DataPlaneContext, DataPlaneHost, PlaneLogEntry, SessionDataPlane } from './data-plane.js';
export { createNftablesDataPlane } from './nftables/kernel-plane.js';
export type { NftablesRelayPlaneOptions } from './nftables/kernel-plane.js';
export { NftablesDataPlane, DataPlaneUnavailableError, PlaneFault } from './nftables/index.js';
export type { DataPlaneUnavailableCause, ForwardGuard, NftablesDataPlaneOptions, PlaneFaultKind } from './nftables/index.js';
