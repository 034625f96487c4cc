/**
 * Drop verdicts: the typed answer a parser gives instead of throwing when bytes from a stranger
 * do not make a packet. Each reason has one shared, frozen verdict object, so rejecting a flood
 * of bad packets allocates nothing. Also the blank state a view is in when it holds no packet.
 */

import { NatAlgError } from '../errors.js';

export interface Drop<R extends string> {
  readonly ok: false;
  readonly reason: R;
}

export type DropTable<R extends string> = { readonly [K in R]: Drop<K> };

/** One frozen verdict per reason. */
export function dropTable<const R extends string>(reasons: readonly R[]): DropTable<R> {
  const table: Partial<Record<R, Drop<R>>> = {};
  for (const reason of reasons) table[reason] = Object.freeze({ ok: false as const, reason });
  // The loop gave every reason its verdict; the type system cannot follow a loop over keys.
  return table as DropTable<R>;
}

/**
 * What a view shows before its first check and after a failed one: a blank header of zeros at
 * the start of this shared buffer, with the minimal lengths of its kind. Reads give 0 (never
 * undefined, never a throw); writes throw, as writing through a view with no packet is a bug.
 */
export const BLANK: Uint8Array = new Uint8Array(64);

export function assertWritable(bytes: Uint8Array): void {
  if (bytes === BLANK) throw new NatAlgError('invalid-state', 'the view holds no packet (it was never checked, or its last check failed)');
}
