/**
 * Every listener of a run (one from the command line, or those of a config file), each made by its
 * ALG's command and all run together by the shared relay command.
 */

import type { ListenerPlan } from './args.js';
import { ftpRelay } from './ftp-command.js';
import { ircRelay } from './irc-command.js';
import { runRelays, type CliIo, type RelaySpec } from './relay-command.js';

function relayOf(plan: ListenerPlan): RelaySpec {
  switch (plan.alg) {
    case 'ftp':
      return ftpRelay(plan.options);
    case 'irc':
      return ircRelay(plan.options);
  }
}

export function runListeners(plans: readonly ListenerPlan[], io: CliIo): Promise<number> {
  return runRelays(plans.map(relayOf), io);
}
