/**
 * Drop verdicts: the typed answer a parser gives instead of throwing when bytes from a stranger
 * do not make a packet. Each reason has one shared, frozen verdict object, so rejecting a flood
 * of bad packets allocates nothing.
 */

export interface Drop<R extends string> {
  readonly ok: false;
  readonly reason: R;
}

export type DropTable<R extends string> = { readonly [K in R]: Drop<K> };

/** One frozen verdict per reason. */
export function dropTable<const R extends string>(reasons: readonly R[]): DropTable<R> {
  const table: Partial<Record<R, Drop<R>>> = {};
  for (const reason of reasons) table[reason] = Object.freeze({ ok: false as const, reason });
  return table as DropTable<R>;
}
