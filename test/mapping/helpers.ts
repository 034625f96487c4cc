import { endpoint, type Endpoint } from '../../src/core/net/ip.js';
import { PortTable, type PortTableOptions } from '../../src/core/mapping/index.js';

/** Deterministic uniform [0, 1) numbers (mulberry32), so every run picks the same ports. */
export function seeded(seed = 1): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ep = (address: string, port: number): Endpoint => endpoint(address, port);

export const EXT = '203.0.113.1';
export const EXT2 = '203.0.113.2';

export function table(over: Partial<PortTableOptions> = {}): PortTable {
  return new PortTable({ externalAddresses: [EXT], random: seeded(7), ...over });
}
