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
 *
 * Login (what the gateway has seen of the client's login; the login budget runs while `awaiting`
 * or `handshaking`, and only `logged-in` is a login):
 *   awaiting --the ALG saw the login (FTP's 230)--> logged-in
 *   awaiting --TLS started before it--> handshaking --application data both ways--> encrypted
 *   handshaking | encrypted --a login seen after TLS ended (FTP's CCC)--> logged-in
 * An encrypted session never shows its login: it stays "not logged in" for its whole life (a
 * client that sends AUTH TLS and then nothing, or slow TLS bytes, is held to the same budgets as
 * one that never logs in), but once its handshake is over the login deadline no longer applies.
 */

import { NatAlgError } from '../errors.js';

export type SessionState = 'connecting' | 'greeting' | 'open' | 'closed';
export type LoginState = 'awaiting' | 'handshaking' | 'encrypted' | 'logged-in';
export type ChannelState = 'binding' | 'listening' | 'connecting' | 'open' | 'closed';

export const SESSION_TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  connecting: ['greeting', 'closed'],
  greeting: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

export const LOGIN_TRANSITIONS: Readonly<Record<LoginState, readonly LoginState[]>> = {
  awaiting: ['logged-in', 'handshaking'],
  handshaking: ['encrypted', 'logged-in'],
  encrypted: ['logged-in'],
  'logged-in': [],
};

/** Login states in which the login deadline runs: nothing has shown the client is past its login. */
export const LOGIN_DEADLINE_RUNS: ReadonlySet<LoginState> = new Set(['awaiting', 'handshaking']);

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
