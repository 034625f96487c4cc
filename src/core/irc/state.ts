/**
 * Everything the IRC translator knows about its connection, in one record, and the context its
 * readers work in. Only the readers (lines.ts) and the translator's answers change it; the framer
 * (stream/line-framer.ts) keeps the bytes and knows nothing of this.
 */

import type { LineFramer } from '../stream/line-framer.js';
import type { DirectionStream } from '../stream/direction-stream.js';
import type { PendingEvents } from '../stream/pending-events.js';
import { OfferTable } from './offer-table.js';
import type { HeldLine } from './held-lines.js';
import type { ResolvedIrcOptions } from './policy.js';
import type { IrcEvent } from './types.js';

/**
 * What the end of a line must do (DirectionStream.lineEnd, besides the framer's `none`/`drop`):
 * - `local-lines`: the gateway's own lines wait for this server line to end (local-lines.ts).
 * - `dropped`: an over-long server line was dropped: report its removal, then the local lines.
 */
export type IrcLineEnd = 'local-lines' | 'dropped';

export type IrcStream = DirectionStream<IrcLineEnd>;

export interface IrcState {
  /** The server has sent 001: registration is complete. */
  registered: boolean;
  /** The client's nick as far as the gateway knows (the target of its NOTICEs); `*` before. */
  nick: string;
  /** Offers that went out translated (RESUME/ACCEPT, reverse DCC). */
  readonly offers: OfferTable;
  /** The line each direction holds while the embedding answers its data-channel requests. */
  held: { 'client-to-server': HeldLine | null; 'server-to-client': HeldLine | null };
  /** The gateway's own lines for the client, waiting for a line boundary in the server's stream. */
  readonly localLines: Uint8Array[];
  /** The id of the next data-channel request. */
  nextRequestId: number;
}

export function initialIrcState(o: ResolvedIrcOptions): IrcState {
  return {
    registered: false,
    nick: '*',
    offers: new OfferTable(o.policy.maxWaitingOffers),
    held: { 'client-to-server': null, 'server-to-client': null },
    localLines: [],
    nextRequestId: 1,
  };
}

/**
 * What the readers work on: the options, the session record, the framer and the event queue.
 * The translator builds it before its framer (the framer needs the readers, the readers the
 * context) and sets `framer` right after.
 */
export interface IrcContext {
  readonly o: ResolvedIrcOptions;
  readonly state: IrcState;
  framer: LineFramer<IrcLineEnd>;
  readonly events: PendingEvents<IrcEvent>;
}
