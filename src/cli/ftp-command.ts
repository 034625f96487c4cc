/**
 * `nat-alg ftp`: an FTP relay (createFtpProxy) run by the shared relay command (relay-command.ts).
 */

import { createFtpProxy, createNftablesDataPlane } from '../node/index.js';
import type { FtpCommandOptions } from './args.js';
import { relayProxyOptions, runRelayCommand, type CliIo } from './relay-command.js';

export type { CliIo } from './relay-command.js';

export function runFtpCommand(options: FtpCommandOptions, io: CliIo): Promise<number> {
  return runRelayCommand(
    'ftp',
    () =>
      createFtpProxy({
        ...relayProxyOptions(options, io),
        policy: {
          allowForeignDataAddress: options.allowForeignAddress,
          allowLowDataPorts: options.allowLowPorts,
          ...(options.maxLineLength !== undefined ? { maxLineLength: options.maxLineLength } : {}),
          ...(options.overlongLine !== undefined ? { overlongLine: options.overlongLine } : {}),
          ...(options.lineTimeoutMs !== undefined ? { lineTimeoutMs: options.lineTimeoutMs } : {}),
          ...(options.tls !== undefined ? { tls: options.tls } : {}),
        },
        dataPlane:
          options.dataPlane === 'nftables'
            ? createNftablesDataPlane({
                ...(options.nftTable !== undefined ? { tableName: options.nftTable } : {}),
                ...(options.nftForwardGuard !== undefined ? { forwardGuard: options.nftForwardGuard } : {}),
              })
            : 'relay',
      }),
    options,
    io,
    options.dataPlane,
  );
}
