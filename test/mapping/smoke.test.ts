import { describe, it, expect } from 'vitest';
import { table, ep, EXT } from './helpers.js';

describe('smoke', () => {
  it('creates and finds', () => {
    const t = table();
    const r = t.outbound('udp', ep('192.0.2.10', 5000), ep('198.51.100.1', 53), 0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.mapping.external.address).toBe(EXT);
    const back = t.inbound('udp', ep('198.51.100.1', 53), r.mapping.external, 1);
    expect(back.ok).toBe(true);
    expect(t.pollTimeout()).toBe(300000);
    t.handleTimeout(300000);
    expect(t.pollEvent()?.type).toBe('mapping-expired');
    expect(t.size).toBe(0);
  });
});
