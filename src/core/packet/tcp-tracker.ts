/**
 * TCP connection tracking, as much as a NAT needs for the RFC 5382 timeouts: whether a
 * connection is opening, established or closing, from the control bits of the segments it sees.
 * No sequence-number windows are checked here (the endpoints do that); the ALG's stream layer
 * (alg-connection.ts) keeps its own numbers.
 *
 * All the rules are in one table, `TRANSITIONS`: state, then the event, then whether the
 * segment came from the side that opened the connection (its first SYN). Simultaneous open
 * (RFC 5382 REQ-2, RFC 9293 section 3.5): both sides send a SYN without ACK before either
 * answers; the connection is established once either side acknowledges without SYN.
 */

import { TcpFlag } from './tcp.js';

export type TcpState =
  | 'syn-sent' // the opener's SYN seen
  | 'syn-received' // the responder answered with SYN-ACK
  | 'simultaneous-open' // the responder sent a SYN of its own
  | 'established'
  | 'fin-wait-opener' // the opener sent FIN
  | 'fin-wait-responder' // the responder sent FIN
  | 'closing' // both sent FIN
  | 'reset'; // a RST went through

/** What a segment means to the tracker; RST first, then SYN, then FIN. */
export type TcpEvent = 'syn' | 'syn-ack' | 'fin' | 'ack' | 'rst';

export function tcpEventOf(flags: number): TcpEvent {
  if (flags & TcpFlag.Rst) return 'rst';
  if (flags & TcpFlag.Syn) return flags & TcpFlag.Ack ? 'syn-ack' : 'syn';
  if (flags & TcpFlag.Fin) return 'fin';
  return 'ack';
}

/** [from the opener, from the responder]: the next state. */
type Row = Readonly<Record<TcpEvent, readonly [TcpState, TcpState]>>;

/** Every state rule of the tracker. */
const TRANSITIONS: Readonly<Record<TcpState, Row>> = {
  'syn-sent': {
    syn: ['syn-sent', 'simultaneous-open'],
    'syn-ack': ['syn-sent', 'syn-received'],
    fin: ['syn-sent', 'syn-sent'],
    ack: ['syn-sent', 'syn-sent'],
    rst: ['reset', 'reset'],
  },
  'syn-received': {
    syn: ['syn-received', 'syn-received'],
    'syn-ack': ['syn-received', 'syn-received'],
    fin: ['fin-wait-opener', 'syn-received'],
    ack: ['established', 'syn-received'],
    rst: ['reset', 'reset'],
  },
  'simultaneous-open': {
    syn: ['simultaneous-open', 'simultaneous-open'],
    'syn-ack': ['simultaneous-open', 'simultaneous-open'],
    fin: ['fin-wait-opener', 'fin-wait-responder'],
    ack: ['established', 'established'],
    rst: ['reset', 'reset'],
  },
  established: {
    syn: ['established', 'established'],
    'syn-ack': ['established', 'established'],
    fin: ['fin-wait-opener', 'fin-wait-responder'],
    ack: ['established', 'established'],
    rst: ['reset', 'reset'],
  },
  'fin-wait-opener': {
    syn: ['fin-wait-opener', 'fin-wait-opener'],
    'syn-ack': ['fin-wait-opener', 'fin-wait-opener'],
    fin: ['fin-wait-opener', 'closing'],
    ack: ['fin-wait-opener', 'fin-wait-opener'],
    rst: ['reset', 'reset'],
  },
  'fin-wait-responder': {
    syn: ['fin-wait-responder', 'fin-wait-responder'],
    'syn-ack': ['fin-wait-responder', 'fin-wait-responder'],
    fin: ['closing', 'fin-wait-responder'],
    ack: ['fin-wait-responder', 'fin-wait-responder'],
    rst: ['reset', 'reset'],
  },
  // A new SYN from the opener after the end reuses the 4-tuple for a new connection.
  closing: {
    syn: ['syn-sent', 'closing'],
    'syn-ack': ['closing', 'closing'],
    fin: ['closing', 'closing'],
    ack: ['closing', 'closing'],
    rst: ['reset', 'reset'],
  },
  reset: {
    syn: ['syn-sent', 'reset'],
    'syn-ack': ['reset', 'reset'],
    fin: ['reset', 'reset'],
    ack: ['reset', 'reset'],
    rst: ['reset', 'reset'],
  },
};

export function nextTcpState(state: TcpState, event: TcpEvent, fromOpener: boolean): TcpState {
  return TRANSITIONS[state][event][fromOpener ? 0 : 1];
}

/** RFC 5382: established connections get the long idle timeout, all others the transitory one. */
export function tcpPhase(state: TcpState): 'established' | 'transitory' {
  return state === 'established' ? 'established' : 'transitory';
}

/** A state change that starts a new connection on the same 4-tuple (its stream state starts over). */
export function isRestart(before: TcpState, after: TcpState): boolean {
  return after === 'syn-sent' && (before === 'closing' || before === 'reset');
}
