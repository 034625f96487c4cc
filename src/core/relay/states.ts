/**
 * Every state rule of the relay session, in one place. The session and its data channels move
 * only along these edges; `transition` enforces that, so a bug shows up as a typed error at the
 * faulty step rather than as a leaked socket later.
 *
 * Session:
 *   connecting --upstream connected--> greeting --first server byte--> open
 *   greeting --at once, when the ALG's server does not speak first (IRC)--> open
 *   connecting | greeting | open --failure, timeout, both sides ended, close()--> closed
 *
 * Data channel (one per data-channel request of the translator):
 *   binding --listener bound--> listening --expected peer connected--> connecting
 *   binding --bind failed, port in use--> binding (another port)
 *   connecting --relay's own connection established--> open (spliced)
 *   any --timeout, failure, release, transfer done, session closed--> closed
 */

import { NatAlgError } from '../errors.js';

export type SessionState = 'connecting' | 'greeting' | 'open' | 'closed';
export type ChannelState = 'binding' | 'listening' | 'connecting' | 'open' | 'closed';

export const SESSION_TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  connecting: ['greeting', 'closed'],
  greeting: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

export const CHANNEL_TRANSITIONS: Readonly<Record<ChannelState, readonly ChannelState[]>> = {
  binding: ['binding', 'listening', 'closed'],
  listening: ['connecting', 'closed'],
  connecting: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

/** Channel states in which a transfer may be running: the session is not idle. */
export const CHANNEL_BUSY: ReadonlySet<ChannelState> = new Set(['connecting', 'open']);

export function transition<S extends string>(
  table: Readonly<Record<S, readonly S[]>>,
  what: string,
  from: S,
  to: S,
): S {
  if (!table[from].includes(to)) {
    throw new NatAlgError('invalid-state', `${what}: no transition from ${from} to ${to}`);
  }
  return to;
}
