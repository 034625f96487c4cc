/**
 * nat-alg/node: node:net adapters around the pure core.
 * - createFtpProxy: an FTP ALG relay (net.Server style) driving one FtpRelaySession per client.
 * - createFtpTranslatorStreams: the control-channel translator as two Transform streams.
 * The library never prints: observe it through events and the `logger` option.
 */

export { createAlgProxy, createFtpProxy } from './proxy.js';
export { createFtpTranslatorStreams } from './streams.js';
export type { FtpTranslatorStreams, FtpTranslatorStreamsOptions } from './streams.js';
export type * from './types.js';
export { PacketGateway, createPacketGateway } from './packet-gateway.js';
export type { PacketGatewayOptions, PacketGatewayStats, PacketGatewayLogEntry, PacketLinkOptions } from './packet-gateway.js';
