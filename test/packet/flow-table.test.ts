import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowTable, MAX_FLOW_VALUE } from '../../src/core/packet/flow-table.js';

describe('FlowTable', () => {
  it('answers like a Map under random set/delete churn (growth, probe runs, backward shifts)', () => {
    // Few distinct words, so keys collide in all but one word and probe runs get long.
    const key = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom(0, 1, 0xffffffff), fc.constantFrom(0, 0x0a000002, 0xcb007101), fc.integer({ min: 0, max: 300 }));
    const op = fc.tuple(fc.constantFrom('set', 'delete'), key, fc.integer({ min: 0, max: MAX_FLOW_VALUE }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), fc.integer(), (ops, seed) => {
        const t = new FlowTable(() => ((seed >>> 0) % 1000) / 1000);
        const m = new Map<string, number>();
        for (const [kind, [tag, a, b, ports], value] of ops) {
          const k = `${tag}|${a}|${b}|${ports}`;
          if (kind === 'set') {
            t.set4(tag, a, b, ports, value);
            m.set(k, value);
          } else expect(t.delete4(tag, a, b, ports)).toBe(m.delete(k));
        }
        expect(t.size).toBe(m.size);
        for (const [k, v] of m) {
          const [tag, a, b, ports] = k.split('|').map(Number) as [number, number, number, number];
          expect(t.get4(tag, a, b, ports)).toBe(v);
        }
        for (const [, [tag, a, b, ports]] of ops) if (!m.has(`${tag}|${a}|${b}|${ports}`)) expect(t.get4(tag, a, b, ports)).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses values its entries cannot hold', () => {
    const t = new FlowTable(() => 0.5);
    expect(() => t.set4(0, 1, 2, 3, MAX_FLOW_VALUE + 1)).toThrow();
    expect(() => t.set4(0, 1, 2, 3, -1)).toThrow();
    t.set4(6, 0xffffffff, 0xffffffff, 0xffffffff, MAX_FLOW_VALUE);
    expect(t.get4(6, 0xffffffff, 0xffffffff, 0xffffffff)).toBe(MAX_FLOW_VALUE);
  });
});
