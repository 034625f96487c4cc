/**
 * Review: lines longer than one line-end window (16 KiB) inside a chunk, with the fast lanes on.
 * Found while reviewing: a working-tree change to LineEnds.next (`this.fill(i)` from the line
 * start on every refill) loops for ever once a line runs on past the window that starts at it.
 * The loop is synchronous, so a plain test would hang the suite: the guard below counts window
 * fills per call and throws past a bound, which turns the hang into a failure.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { run, c, s, text } from './harness.js';
import { LineEnds, LINE_ENDS } from '../../src/core/stream/line-ends.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const o: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 1 << 20 } };
const off = (t: { fastLanes: boolean }) => {
  t.fastLanes = false;
};

type Fill = (this: LineEnds, from: number) => void;
const proto = LineEnds.prototype as unknown as { fill?: Fill; begin: (...a: unknown[]) => void };
let fills = 0;
const origFill = proto.fill;
const origBegin = proto.begin;

beforeAll(() => {
  if (origFill) {
    proto.fill = function (this: LineEnds, from: number) {
      // a 200 KiB chunk needs at most 13 windows; thousands mean next() is not advancing
      if (++fills > 5000) throw new Error('LineEnds refills without advancing (endless loop)');
      origFill.call(this, from);
    };
  }
  proto.begin = function (this: LineEnds, ...a: unknown[]) {
    fills = 0;
    origBegin.apply(this, a);
  };
});
afterAll(() => {
  if (origFill) proto.fill = origFill;
  proto.begin = origBegin;
  LINE_ENDS.setBackend('simd');
});

describe('review: lines longer than a line-end window, fast lanes = general path', () => {
  for (const backend of ['simd', 'js'] as const) {
    for (const len of [16_380, 16_384, 16_400, 40_000, 100_000]) {
      it(`${backend}: a ${len}-byte command and reply among short lines in one chunk`, () => {
        LINE_ENDS.setBackend(backend);
        const segs = [
          s('220 hi\r\n'),
          c('NOOP\r\n'.repeat(5) + 'SITE ' + 'h'.repeat(len) + '\r\n' + 'NOOP\r\n'.repeat(5)),
          s('200 a\r\n'.repeat(5) + '200 ' + 'r'.repeat(len) + '\r\n' + '211-x\r\n' + ' y'.repeat(len) + '\r\n211 z\r\n' + '200 b\r\n'.repeat(5)),
        ];
        const fast = run(o, segs);
        const general = run(o, segs, undefined, undefined, false, off);
        expect(text(fast.c2s)).toBe(text(general.c2s));
        expect(text(fast.s2c)).toBe(text(general.s2c));
        expect(fast.events).toEqual(general.events);
        expect(fast.c2s.length).toBe(segs[1]!.data.length); // everything passed
      });
    }
  }
});
