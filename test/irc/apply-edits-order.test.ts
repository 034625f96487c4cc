/**
 * applyEdits orders its edits itself (an insertion sort, span.ts byStart): the output, and which
 * edit lists are refused, are those of the edits sorted by Array.prototype.sort (stable) and
 * applied in that order, for any order the caller passes them in.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyEdits, type Edit } from '../../src/core/irc/index.js';
import { NatAlgError } from '../../src/core/errors.js';

/** The reference: a stable sort by start, the same checks, the pieces concatenated. */
function reference(line: Uint8Array, edits: readonly Edit[]): number[] | 'refused' {
  const sorted = [...edits].sort((a, b) => a.span.start - b.span.start);
  const out: number[] = [];
  let from = 0;
  for (const e of sorted) {
    const { start, end } = e.span;
    if (start < from || end < start || end > line.length) return 'refused';
    out.push(...line.subarray(from, start), ...e.bytes);
    from = end;
  }
  out.push(...line.subarray(from));
  return out;
}

describe('applyEdits in any order (property)', () => {
  it('gives the reference output or refuses as the reference does', () => {
    const line = fc.uint8Array({ minLength: 0, maxLength: 40 });
    const edit = fc.record({
      span: fc.tuple(fc.nat(42), fc.nat(6)).map(([start, len]) => ({ start, end: start + len })),
      bytes: fc.uint8Array({ maxLength: 5 }),
    });
    fc.assert(
      fc.property(line, fc.array(edit, { maxLength: 6 }), (l, edits) => {
        const expected = reference(l, edits);
        if (expected === 'refused') {
          expect(() => applyEdits(l, edits)).toThrow(NatAlgError);
        } else {
          expect([...applyEdits(l, edits)]).toEqual(expected);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
