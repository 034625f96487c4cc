/**
 * `nat-alg irc`: an IRC relay translating DCC offers (createIrcProxy) run by the shared relay
 * command (relay-command.ts).
 */

import { createIrcProxy } from '../node/index.js';
import type { IrcCommandOptions } from './args.js';
import { relayProxyOptions, runRelayCommand, type CliIo } from './relay-command.js';

export function runIrcCommand(options: IrcCommandOptions, io: CliIo): Promise<number> {
  return runRelayCommand(
    'irc',
    () =>
      createIrcProxy({
        ...relayProxyOptions(options, io),
        policy: {
          allowForeignDccAddress: options.allowForeignAddress,
          allowLowDccPorts: options.allowLowPorts,
          ...(options.maxLineLength !== undefined ? { maxLineLength: options.maxLineLength } : {}),
          ...(options.overlongLine !== undefined ? { overlongLine: options.overlongLine } : {}),
          ...(options.lineTimeoutMs !== undefined ? { lineTimeoutMs: options.lineTimeoutMs } : {}),
          ...(options.offerTimeoutMs !== undefined ? { offerTimeoutMs: options.offerTimeoutMs } : {}),
          ...(options.maxWaitingOffers !== undefined ? { maxWaitingOffers: options.maxWaitingOffers } : {}),
        },
      }),
    options,
    io,
  );
}
