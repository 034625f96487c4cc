/**
 * `nat-alg ftp`: an FTP relay (createFtpProxy) run by the shared relay command (relay-command.ts).
 */

import { createFtpProxy, createNftablesDataPlane } from '../node/index.js';
import type { FtpCommandOptions } from './args.js';
import { runRelays, type CliIo, type RelaySpec } from './relay-command.js';

export type { CliIo } from './relay-command.js';

/** The FTP relay of one listener: the shared relay options plus FTP's policy, FTP64 and data plane. */
export function ftpRelay(options: FtpCommandOptions): RelaySpec {
  return {
    alg: 'ftp',
    options,
    dataPlane: options.dataPlane,
    create: (base) =>
      createFtpProxy({
        ...base,
        policy: {
          allowForeignDataAddress: options.allowForeignAddress,
          allowLowDataPorts: options.allowLowPorts,
          ...(options.maxLineLength !== undefined ? { maxLineLength: options.maxLineLength } : {}),
          ...(options.overlongLine !== undefined ? { overlongLine: options.overlongLine } : {}),
          ...(options.maxDiscardedBytes !== undefined ? { maxDiscardedBytes: options.maxDiscardedBytes } : {}),
          ...(options.lineTimeoutMs !== undefined ? { lineTimeoutMs: options.lineTimeoutMs } : {}),
          ...(options.maxPendingDataChannels !== undefined ? { maxPendingDataChannels: options.maxPendingDataChannels } : {}),
          ...(options.tls !== undefined ? { tls: options.tls } : {}),
        },
        ...(options.ftp64 !== undefined ? { ftp64: options.ftp64 } : {}),
        dataPlane:
          options.dataPlane === 'nftables'
            ? createNftablesDataPlane({
                ...(options.nftTable !== undefined ? { tableName: options.nftTable } : {}),
                ...(options.nftForwardGuard !== undefined ? { forwardGuard: options.nftForwardGuard } : {}),
              })
            : 'relay',
      }),
  };
}

export function runFtpCommand(options: FtpCommandOptions, io: CliIo): Promise<number> {
  return runRelays([ftpRelay(options)], io);
}
