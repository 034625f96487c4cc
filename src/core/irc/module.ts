/**
 * IRC DCC as an ALG module (alg/contract.ts): how the relay (or any embedding) makes an IRC
 * translator for a connection, and what it says to the client on IRC's behalf (an ERROR line,
 * as a server says goodbye).
 */

import type { AlgModule } from '../alg/contract.js';
import { encodeUtf8 } from './bytes.js';
import { resolveIrcOptions } from './policy.js';
import { IrcTranslator } from './translator.js';
import { DEFAULT_IRC_POLICY, type IrcPolicy } from './types.js';

export interface IrcAlgOptions {
  readonly policy?: Partial<IrcPolicy>;
}

export const ircAlg: AlgModule<IrcAlgOptions> = {
  name: 'irc',
  displayName: 'IRC',
  defaultPort: 6667,
  // The server says nothing until the client has sent NICK and USER.
  serverSpeaksFirst: false,
  validate(options) {
    // The policy is checked the way a translator will check it (documentation addresses only).
    resolveIrcOptions({ clientAddress: '192.0.2.1', serverAddress: '198.51.100.1', ...(options?.policy ? { policy: options.policy } : {}) });
  },
  create(context, options) {
    return new IrcTranslator({
      clientAddress: context.client.address,
      serverAddress: context.server.address,
      ...(context.gateway !== undefined ? { gateway: context.gateway } : {}),
      ...(options?.policy ? { policy: options.policy } : {}),
    });
  },
  farewell(text) {
    // eslint-disable-next-line no-control-regex
    return encodeUtf8(`ERROR :${text.replace(/[\x00-\x1f\x7f]+/g, ' ')}\r\n`);
  },
  features() {
    return [];
  },
  maxWaitingChannels(options) {
    return options?.policy?.maxWaitingOffers ?? DEFAULT_IRC_POLICY.maxWaitingOffers;
  },
};
