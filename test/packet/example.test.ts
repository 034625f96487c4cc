/** examples/packet-port.ts, run as a unit test: one PORT packet rewritten, checked independently. */
import { describe, expect, it } from 'vitest';
import { rewriteOnePortPacket } from '../../examples/packet-port.js';
import { checked } from './nat-helpers.js';

describe('examples/packet-port.ts', () => {
  it('rewrites the PORT packet: the NAT address and a mapped port, lengths and checksums right', () => {
    const r = rewriteOnePortPacket();
    const before = checked(r.before);
    const after = checked(r.after);
    expect(before.text).toBe('PORT 192,0,2,10,4,1\r\n');
    expect(after.text).toMatch(/^PORT 203,0,113,1,(\d+),(\d+)\r\n$/);
    expect([after.src, after.sport, after.dst, after.dport]).toEqual(['203.0.113.1', r.natPort, '198.51.100.7', 21]);
    expect(after.seq).toBe(before.seq);
    expect(after.length).toBe(40 + after.text.length);
  });
});
