/**
 * The passive-address reader (src/core/ftp/passive-address.ts) against its earlier form
 * (reference/passive-address.ts), which searched a 227 twice (strictly, then leniently) where it
 * now reads a plain sextet once: the same finding, `malformed` or null for every line, every
 * format and start, over texts made of the pieces the readers look for.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { findPassiveAddress, mentionsAddress } from '../../src/core/ftp/passive-address.js';
import * as reference from './reference/passive-address.js';
import type { PassiveFormat } from '../../src/core/ftp/rules.js';

const FORMATS: readonly PassiveFormat[] = ['pasv', 'epsv-as-pasv', 'epsv', 'lpsv'];

/** Pieces of reply text: numbers (padded, out of range, long), separators, blanks, signs, parentheses, words. */
const pieceArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.constantFrom('0', '00', '000', '007', '255', '256', '999', '1000', '65535', '65536', '1234567'),
  fc.constantFrom(',', ',', ',', ' ', '\t', '\v', '\f', '\r', '+', '-', '(', ')', '|', '!', '_', '.', '=', 'a', 'Entering Passive Mode '),
  fc.constantFrom('(|||50000|)', '(||| 22 |)', '(1112221)', '(|||', '|)', '10,0,0,5,195,80', ' 10, 9, 8, 7, 0, 22', '4,4,10,0,0,5,2,195,80'),
);

const lineArb = fc.tuple(
  fc.constantFrom('', '227 ', '227-', '229 ', '228 ', '200 ', ' '),
  fc.array(pieceArb, { maxLength: 14 }),
).map(([code, pieces]) => code + pieces.join(''));

function same(text: string): void {
  for (const format of FORMATS) {
    for (const from of [0, 4]) {
      expect(findPassiveAddress(format, text, from, '198.51.100.20', 4), `${format} from ${from}: ${JSON.stringify(text)}`)
        .toEqual(reference.findPassiveAddress(format, text, from, '198.51.100.20', 4));
    }
  }
  expect(mentionsAddress(text, 0)).toBe(reference.mentionsAddress(text, 0));
}

describe('passive-address reader: the same as the reference', () => {
  it('on lines of address pieces', () => {
    fc.assert(fc.property(lineArb, (text) => same(text)), { numRuns: 20000 });
  });

  it('on random Latin-1 text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }).map((s) => s.replace(/[^\x00-\xff]/g, '')), (text) => same(text)), { numRuns: 5000 });
  });

  it('on the usual replies and their near misses', () => {
    for (const text of [
      '227 Entering Passive Mode (10,0,0,5,195,80).', '227 Entering Passive Mode (10,0,0,5,195,80)', '227 =10,0,0,5,0,21', '227 (10,0,0,5,256,80)', '227 (256,0,0,5,1,80)',
      '227 (010,000,000,005,195,080)', '227 (10,0,0,5,195,800)', '227 (10,0,0,5,195,8000)', '227 (10,0,0,5,1,2,3)',
      '227 (10, 0,0,5,195,80)', '227 (+10,0,0,5,195,80)', '227 (-0,0,0,5,195,80)', '227 1,2,3,4,5,6 (|||22|)',
      '227 (|||22|) 1,2,3,4,5,6', '227 x1,2,3,4,5,6', '2271,2,3,4,5,6', '227 1,2,3,4,5,6 7,8,9,10,11,12', '227 12345,1,2,3,4,5,6',
      '229 Entering Extended Passive Mode (|||50000|)', '228 Entering Long Passive Mode (4,4,10,0,0,5,2,195,80)',
    ]) same(text);
  });
});
