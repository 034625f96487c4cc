/**
 * Rewriting the address and port of a DCC offer inside its line. Only the bytes of the address
 * and port tokens change; everything else (tags, prefix, filename, size, token, other CTCP
 * segments, the line end) is kept byte for byte. The address keeps the spelling the peer used
 * when it can carry the replacement (see dccAddressFormFor).
 *
 * The rewritten line may be longer than the original (an integer address grows from 1 to 10
 * digits, an IPv6 address to 39 characters) and so longer than the 512-byte bound: callers that
 * care parse the result again with parseMessage, which reports 'too-long'.
 */

import { NatAlgError } from '../errors.js';
import { canonicalAddress, familyOf } from '../net/ip.js';
import { asciiBytes } from './bytes.js';
import { formForFamily, spellCanonical, type DccAddressForm } from './dcc-address.js';
import type { DccChatOffer, DccResumeOffer, DccSendOffer } from './dcc.js';
import { applyEdits, type Edit } from './span.js';

/** The offers that carry a port (and, for send and chat, an address). */
export type DccRewritable = DccSendOffer | DccChatOffer | DccResumeOffer;

export interface DccReplacement {
  /** New address (send and chat only); absent: the address is kept. */
  readonly address?: string;
  readonly port: number;
  /** Spelling of the new address; default: dccAddressFormFor(address, the offer's form). */
  readonly addressForm?: DccAddressForm;
}

/**
 * The edits that put `replacement` into `offer` (parsed from the same line). Throws NatAlgError
 * on a bad port, an address for a RESUME or ACCEPT, or a form that cannot carry the address.
 */
export function dccEdits(offer: DccRewritable, replacement: DccReplacement): Edit[] {
  const { port } = replacement;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NatAlgError('invalid-argument', `port must be an integer 0-65535, got ${port}`);
  }
  const edits: Edit[] = [{ span: offer.portSpan, bytes: asciiBytes(String(port)) }];
  switch (offer.kind) {
    case 'send':
    case 'chat':
      if (replacement.address !== undefined) {
        // Canonicalized once: its family and its spelling are read from this text.
        const address = canonicalAddress(replacement.address);
        const form = replacement.addressForm ?? formForFamily(familyOf(address), offer.addressForm);
        edits.push({ span: offer.addressSpan, bytes: asciiBytes(spellCanonical(address, form)) });
      } else if (replacement.addressForm !== undefined) {
        throw new NatAlgError('invalid-argument', 'addressForm without an address');
      }
      return edits;
    case 'resume':
    case 'accept':
      if (replacement.address !== undefined || replacement.addressForm !== undefined) {
        throw new NatAlgError('invalid-argument', `DCC ${offer.verb} carries no address`);
      }
      return edits;
  }
}

/** The line with the offer's address and port replaced (see dccEdits); the input is not changed. */
export function rewriteDccOffer(line: Uint8Array, offer: DccRewritable, replacement: DccReplacement): Uint8Array {
  return applyEdits(line, dccEdits(offer, replacement));
}
