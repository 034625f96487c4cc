/**
 * A line held while the embedding answers its data-channel requests (one per offer that needs a
 * channel; a line may carry several), and the line that replaces it once every answer is in. The
 * line's bytes are kept (at most maxLineLength); the direction takes no input meanwhile.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, type Endpoint } from '../net/ip.js';
import { utf8 } from './bytes.js';
import { dccEdits } from './dcc-rewrite.js';
import type { IrcMessage } from './message.js';
import type { OfferStep } from './offer-plan.js';
import type { OfferRecord, OfferTable } from './offer-table.js';
import type { OfferSender } from './policy.js';
import { applyEdits, type Edit, type LineAllocator } from './span.js';
import type { Direction } from '../stream/translator.js';

/** An answer from the embedding: the endpoint to announce, or why not. */
export type ChannelAnswer = { readonly announced: Endpoint } | { readonly refused: string };

export interface HeldLine {
  readonly direction: Direction;
  /** The line, line end included (a copy). */
  readonly line: Uint8Array;
  /** Its input offset. */
  readonly lineStart: number;
  readonly message: IrcMessage;
  readonly steps: readonly OfferStep[];
  /** The request id of each step (0 for steps without a channel). */
  readonly ids: readonly number[];
  readonly answers: Map<number, ChannelAnswer>;
}

/** Every request of `h` is answered. */
export function complete(h: HeldLine): boolean {
  let channels = 0;
  for (const id of h.ids) if (id !== 0) channels++;
  return h.answers.size === channels;
}

/** The first refusal among the answers, or null. */
export function refusalOf(h: HeldLine): string | null {
  for (const a of h.answers.values()) if ('refused' in a) return a.refused;
  return null;
}

/** A usable announced endpoint, or NatAlgError before anything changes. */
export function checkAnnounced(e: Endpoint): Endpoint {
  if (typeof e !== 'object' || e === null || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
    throw new NatAlgError('invalid-argument', 'the announced endpoint needs a port 1-65535');
  }
  const address = canonicalAddress(String(e.address));
  return { family: address.includes(':') ? 6 : 4, address, port: e.port };
}

/**
 * The bytes replacing `line` once every step has what it needs: each offer's address and port
 * (or only its port) replaced, every other byte as it came.
 */
export function rewriteLine(line: Uint8Array, steps: readonly OfferStep[], ids: readonly number[], answers: ReadonlyMap<number, ChannelAnswer>, alloc?: LineAllocator): Uint8Array {
  const edits: Edit[] = [];
  steps.forEach((step, k) => {
    switch (step.kind) {
      case 'channel': {
        const a = answers.get(ids[k]!);
        if (a === undefined || 'refused' in a) throw new NatAlgError('invalid-state', 'an offer of the line has no endpoint');
        edits.push(...dccEdits(step.offer, { address: a.announced.address, port: a.announced.port }));
        return;
      }
      case 'passive':
        if (step.address !== null) edits.push(...dccEdits(step.offer, { address: step.address, port: step.offer.port }));
        return;
      case 'map-port':
        edits.push(...dccEdits(step.offer, { port: step.port }));
        return;
      case 'echo':
        edits.push(...dccEdits(step.offer, { address: step.address, port: step.port }));
        return;
    }
  });
  return edits.length === 0 ? line : applyEdits(line, edits, alloc);
}

/**
 * Remember the offers of a line that went out (offer-table.ts); returns the ids of data channels
 * retired to make room. Addresses are canonical text already: an offer's as parsed (dcc.ts), a
 * channel's named endpoint as planned (offer-plan.ts), an answer's as checked (checkAnnounced).
 */
export function recordOffers(offers: OfferTable, sender: OfferSender, steps: readonly OfferStep[], ids: readonly number[], answers: ReadonlyMap<number, ChannelAnswer>): number[] {
  const retired: number[] = [];
  steps.forEach((st, k) => {
    let r: OfferRecord | null = null;
    if (st.kind === 'passive') {
      const named = st.offer.address;
      r = offers.add({ id: 0, sender, namedPort: 0, announcedPort: 0, namedAddress: named, announcedAddress: st.address ?? named, token: st.offer.token ?? null });
    } else if (st.kind === 'channel') {
      const a = answers.get(ids[k]!);
      const announced = a !== undefined && 'announced' in a ? a.announced : null;
      r = offers.add({
        id: ids[k]!, sender,
        namedPort: st.original.port, announcedPort: announced?.port ?? 0,
        namedAddress: st.original.address, announcedAddress: announced?.address ?? '',
        token: st.offer.token ?? null,
      });
    }
    if (r !== null && r.id !== 0) retired.push(r.id);
  });
  return retired;
}

/** A line's text without its line end, for events. */
export function lineText(line: Uint8Array): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === 10 || line[end - 1] === 13)) end--;
  return utf8(line, 0, end);
}
