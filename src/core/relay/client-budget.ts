/**
 * Data listeners waiting for their peer, counted per client across all of its sessions. The
 * per-session cap (the ALG's maxWaitingChannels) does not stop one address from opening many
 * sessions and draining a port range that every client shares: 13 sessions x 8 waiting PASV take
 * all of a 100-port range. The embedding keys clients (an IPv4 address, an IPv6 block) and hands
 * each session a handle; a session takes a slot before it opens a listener and gives it back as
 * soon as the listener stops waiting (its peer came in, or it closed).
 */

import { NatAlgError } from '../errors.js';

/** One session's handle on its client's budget. */
export interface WaitingChannelBudget {
  /** The most listeners this client may have waiting at once, over all its sessions. */
  readonly limit: number;
  /** Take a slot for one more waiting listener; false when the client has `limit` already. */
  take(): boolean;
  /** One listener of this session stopped waiting. */
  release(): void;
  /** The session is gone: give back whatever it still holds (a guard against leaks). */
  releaseAll(): void;
}

export class ClientWaitingBudgets {
  readonly limit: number;
  private readonly waiting = new Map<string, number>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new NatAlgError('invalid-argument', `the per-client limit of waiting data channels must be a positive integer, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Listeners `client` has waiting now. */
  waitingFor(client: string): number {
    return this.waiting.get(client) ?? 0;
  }

  /** Clients with at least one listener waiting (entries are dropped at zero: the map stays bounded). */
  get clients(): number {
    return this.waiting.size;
  }

  /** A handle for one session of `client`. */
  forSession(client: string): WaitingChannelBudget {
    let held = 0;
    const change = (by: number) => {
      const n = (this.waiting.get(client) ?? 0) + by;
      if (n <= 0) this.waiting.delete(client);
      else this.waiting.set(client, n);
    };
    return {
      limit: this.limit,
      take: () => {
        if ((this.waiting.get(client) ?? 0) >= this.limit) return false;
        held++;
        change(+1);
        return true;
      },
      release: () => {
        if (held === 0) return;
        held--;
        change(-1);
      },
      releaseAll: () => {
        if (held === 0) return;
        change(-held);
        held = 0;
      },
    };
  }
}
