/**
 * Property: for random FTP conversations over TCP with random segmentation, loss, duplication and
 * reordering on both links, the byte streams that leave the packet NAT equal what the FTP
 * translator produces for the streams that entered (fed whole, with the same data-channel
 * answers), every acknowledgement a sender sees covers only bytes it sent, and every packet the
 * NAT emits has correct checksums (recomputed naively here).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NAT_ADDRESS } from './nat-helpers.js';
import { conversation } from './ftp-conversation.js';

describe('packet NAT with the FTP ALG: streams through lossy, reordering links', () => {
  it('a clean link: the streams are the translator output, PORT carries the NAT address', () => {
    const o = conversation(1, 0, 1, 1000, 1000, 12);
    expect(o.finished).toBe(true);
    expect(o.badAcks).toEqual([]);
    expect(o.badPackets).toEqual([]);
    expect(o.serverGot).toBe(o.expectedC2S);
    expect(o.clientGot).toBe(o.expectedS2C);
    expect(o.serverGot).not.toContain('192,0,2,10');
    expect(o.serverGot).not.toContain('192.0.2.10');
    expect(o.serverGot).toContain(`|1|${NAT_ADDRESS}|`);
    expect(o.clientGot.split('\n').length).toBeGreaterThan(12);
  });

  it('tiny segments (every command and reply split), loss, duplicates and reordering', () => {
    const o = conversation(2, 0.1, 40, 3, 4, 10);
    expect(o.finished).toBe(true);
    expect(o.badAcks).toEqual([]);
    expect(o.badPackets).toEqual([]);
    expect(o.serverGot).toBe(o.expectedC2S);
    expect(o.clientGot).toBe(o.expectedS2C);
  });

  it('property: random conversations, segmentations and faults', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.constantFrom(0, 0.05, 0.15),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 14 }),
        (seed, loss, maxDelay, cseg, sseg, n) => {
          const o = conversation(seed, loss, maxDelay, cseg, sseg, n);
          expect(o.finished).toBe(true);
          expect(o.badAcks).toEqual([]);
          expect(o.badPackets).toEqual([]);
          expect(o.serverGot).toBe(o.expectedC2S);
          expect(o.clientGot).toBe(o.expectedS2C);
        },
      ),
      { numRuns: 60 },
    );
  });
});
