/**
 * `nat-alg irc`: an IRC relay translating DCC offers (createIrcProxy) run by the shared relay
 * command (relay-command.ts).
 */

import { createIrcProxy } from '../node/index.js';
import type { IrcCommandOptions } from './args.js';
import { runRelays, type CliIo, type RelaySpec } from './relay-command.js';

/** The IRC relay of one listener: the shared relay options plus the IRC policy. */
export function ircRelay(options: IrcCommandOptions): RelaySpec {
  return {
    alg: 'irc',
    options,
    dataPlane: 'relay',
    create: (base) =>
      createIrcProxy({
        ...base,
        policy: {
          allowForeignDccAddress: options.allowForeignAddress,
          allowLowDccPorts: options.allowLowPorts,
          ...(options.maxLineLength !== undefined ? { maxLineLength: options.maxLineLength } : {}),
          ...(options.overlongLine !== undefined ? { overlongLine: options.overlongLine } : {}),
          ...(options.maxDiscardedBytes !== undefined ? { maxDiscardedBytes: options.maxDiscardedBytes } : {}),
          ...(options.lineTimeoutMs !== undefined ? { lineTimeoutMs: options.lineTimeoutMs } : {}),
          ...(options.offerTimeoutMs !== undefined ? { offerTimeoutMs: options.offerTimeoutMs } : {}),
          ...(options.maxWaitingOffers !== undefined ? { maxWaitingOffers: options.maxWaitingOffers } : {}),
          ...(options.noticeSender !== undefined ? { noticeSender: options.noticeSender } : {}),
        },
      }),
  };
}

export function runIrcCommand(options: IrcCommandOptions, io: CliIo): Promise<number> {
  return runRelays([ircRelay(options)], io);
}
