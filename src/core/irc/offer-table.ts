/**
 * The offers that went out translated, newest last, for what later lines say about them: a DCC
 * RESUME or ACCEPT names an offer by its port (the one its reader saw), which the gateway maps
 * between the port the offerer named and the one it announced; a passive offer's token tells
 * that a later offer from the other side answers it (reverse DCC); an echo of the client's own
 * offer (echo-message, a bouncer) names the endpoint the gateway announced for it.
 *
 * Bounded per side: at most `capacity` offers (policy maxWaitingOffers) from the client and as
 * many from outside, each side's newest kept; a newer offer retires its own side's oldest, whose
 * data channel the embedding may then close if nobody has connected yet. Separate budgets,
 * because anyone on IRC can send the client offers: with one shared list, a stranger's offers
 * (passive ones cost them nothing) would retire the client's pending ones before the receiving
 * user has accepted them.
 */

import type { OfferSender } from './policy.js';

export interface OfferRecord {
  /** The data-channel request, or 0 for a passive offer (no channel). */
  readonly id: number;
  readonly sender: OfferSender;
  /** The port the offerer named, and the one announced to the other side (equal when passive). */
  readonly namedPort: number;
  readonly announcedPort: number;
  /** The address the offerer named and the one announced (canonical text; equal when passive). */
  readonly namedAddress: string;
  readonly announcedAddress: string;
  /** A passive offer's token, or null. */
  readonly token: string | null;
}

export class OfferTable {
  private readonly bySender: Readonly<Record<OfferSender, OfferRecord[]>> = { client: [], server: [] };

  constructor(private readonly capacity: number) {}

  /** Remember `r`; returns the record of the same side it retires, if any. */
  add(r: OfferRecord): OfferRecord | null {
    const records = this.bySender[r.sender];
    records.push(r);
    return records.length > this.capacity ? records.shift()! : null;
  }

  /**
   * The port to write for a RESUME or ACCEPT sent by `sender` naming `port`, or null when no
   * offer it can mean is known (the line then passes unchanged: it opens nothing by itself).
   * RESUME (`theirs`): an offer of the other side, by the port announced to `sender`.
   * ACCEPT (`own`): an offer of `sender`'s, by the port it named.
   */
  mapPort(sender: OfferSender, port: number, whose: 'theirs' | 'own'): number | null {
    const records = this.bySender[whose === 'own' ? sender : otherSide(sender)];
    for (let k = records.length - 1; k >= 0; k--) {
      const r = records[k]!;
      if (r.id === 0) continue;
      if (whose === 'theirs' && r.announcedPort === port) return r.namedPort;
      if (whose === 'own' && r.namedPort === port) return r.announcedPort;
    }
    return null;
  }

  /** Whether an offer from `sender` with `token` answers a passive offer of the other side. */
  answersPassive(sender: OfferSender, token: string | undefined): boolean {
    if (token === undefined) return false;
    return this.bySender[otherSide(sender)].some((r) => r.id === 0 && r.token === token);
  }

  /**
   * The client's own offer (with a data channel) whose announced endpoint is `address`:`port`
   * (canonical address text), newest first, or null.
   */
  clientOfferAnnouncedAs(address: string, port: number): OfferRecord | null {
    const records = this.bySender.client;
    for (let k = records.length - 1; k >= 0; k--) {
      const r = records[k]!;
      if (r.id !== 0 && r.announcedPort === port && r.announcedAddress === address) return r;
    }
    return null;
  }
}

function otherSide(sender: OfferSender): OfferSender {
  return sender === 'client' ? 'server' : 'client';
}
