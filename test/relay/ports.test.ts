import { describe, it, expect } from 'vitest';
import { MappedPortSource, PortRangeSource } from '../../src/core/index.js';

function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('data port sources', () => {
  for (const [name, make] of [
    ['PortRangeSource', () => new PortRangeSource(40000, 40009)],
    ['MappedPortSource', () => new MappedPortSource({ range: { min: 40000, max: 40009 }, random: lcg(7) })],
  ] as const) {
    it(`${name}: hands out each port of the range once, then null, and takes ports back`, () => {
      const src = make();
      const got = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const p = src.acquire('127.0.0.1', 0);
        expect(p).not.toBeNull();
        expect(p!).toBeGreaterThanOrEqual(40000);
        expect(p!).toBeLessThanOrEqual(40009);
        got.add(p!);
      }
      expect(got.size).toBe(10);
      expect(src.acquire('127.0.0.1', 0)).toBeNull();
      src.release('127.0.0.1', 40003, 0);
      expect(src.acquire('127.0.0.1', 0)).toBe(40003);
    });
  }

  it('PortRangeSource rejects a bad range with a typed error', () => {
    expect(() => new PortRangeSource(0, 10)).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
    expect(() => new PortRangeSource(20, 10)).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
});
