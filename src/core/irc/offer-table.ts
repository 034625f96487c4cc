/**
 * The offers that went out translated, newest last, for what later lines say about them: a DCC
 * RESUME or ACCEPT names an offer by its port (the one its reader saw), which the gateway maps
 * between the port the offerer named and the one it announced; a passive offer's token tells
 * that a later offer from the other side answers it (reverse DCC). Bounded: at most
 * `capacity` offers (policy maxWaitingOffers); a newer one retires the oldest, whose data channel
 * the embedding may then close if nobody has connected yet.
 */

import type { OfferSender } from './policy.js';

export interface OfferRecord {
  /** The data-channel request, or 0 for a passive offer (no channel). */
  readonly id: number;
  readonly sender: OfferSender;
  /** The port the offerer named, and the one announced to the other side (equal when passive). */
  readonly namedPort: number;
  readonly announcedPort: number;
  /** A passive offer's token, or null. */
  readonly token: string | null;
}

export class OfferTable {
  private readonly records: OfferRecord[] = [];

  constructor(private readonly capacity: number) {}

  /** Remember `r`; returns the record it retires, if any. */
  add(r: OfferRecord): OfferRecord | null {
    this.records.push(r);
    return this.records.length > this.capacity ? this.records.shift()! : null;
  }

  /**
   * The port to write for a RESUME or ACCEPT sent by `sender` naming `port`, or null when no
   * offer it can mean is known (the line then passes unchanged: it opens nothing by itself).
   * RESUME (`theirs`): an offer of the other side, by the port announced to `sender`.
   * ACCEPT (`own`): an offer of `sender`'s, by the port it named.
   */
  mapPort(sender: OfferSender, port: number, whose: 'theirs' | 'own'): number | null {
    for (let k = this.records.length - 1; k >= 0; k--) {
      const r = this.records[k]!;
      if (r.id === 0) continue;
      if (whose === 'theirs' && r.sender !== sender && r.announcedPort === port) return r.namedPort;
      if (whose === 'own' && r.sender === sender && r.namedPort === port) return r.announcedPort;
    }
    return null;
  }

  /** Whether an offer from `sender` with `token` answers a passive offer of the other side. */
  answersPassive(sender: OfferSender, token: string | undefined): boolean {
    if (token === undefined) return false;
    return this.records.some((r) => r.id === 0 && r.sender !== sender && r.token === token);
  }
}
