/** findCtcp: segments anywhere in the text, missing final \x01, the segment bound, spans. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findCtcp, ctcpTagIs, formatCtcp, MAX_CTCP_SEGMENTS, type CtcpSegment } from '../../src/core/irc/index.js';
import { NatAlgError } from '../../src/core/errors.js';
import { at, b } from './helpers.js';

function whole(text: string): { line: Uint8Array; segs: CtcpSegment[] } {
  const line = b(text);
  const r = findCtcp(line, { start: 0, end: line.length });
  if (!r.ok) throw new Error(r.reason);
  return { line, segs: [...r.segments] };
}

describe('findCtcp', () => {
  it('finds one closed segment at the start', () => {
    const { line, segs } = whole('\x01DCC SEND f 1 2\x01');
    expect(segs).toHaveLength(1);
    expect(segs[0]).toMatchObject({ start: 0, end: line.length, closed: true, atStart: true });
    expect(at(line, segs[0]!.body)).toBe('DCC SEND f 1 2');
    expect(at(line, segs[0]!.tag)).toBe('DCC');
    expect(ctcpTagIs(line, segs[0]!, 'DCC')).toBe(true);
  });

  it('reads an unclosed segment to the end of the text', () => {
    const { line, segs } = whole('\x01DCC SEND f 1 2');
    expect(segs[0]).toMatchObject({ end: line.length, closed: false });
    expect(at(line, segs[0]!.body)).toBe('DCC SEND f 1 2');
  });

  it('finds segments inside text and several in one message', () => {
    const { line, segs } = whole('hi \x01ACTION waves\x01 and \x01dcc CHAT chat 1 2\x01 bye \x01VERSION');
    expect(segs.map((s) => [at(line, s.tag), s.closed, s.atStart])).toEqual([
      ['ACTION', true, false],
      ['dcc', true, false],
      ['VERSION', false, false],
    ]);
    expect(ctcpTagIs(line, segs[1]!, 'DCC')).toBe(true);
    expect(at(line, { start: segs[0]!.start, end: segs[0]!.end })).toBe('\x01ACTION waves\x01');
  });

  it('reports empty segments and a lone \x01 at the end', () => {
    const { line, segs } = whole('\x01\x01x\x01');
    expect(segs.map((s) => [at(line, s.body), s.closed])).toEqual([['', true], ['', false]]);
  });

  it('looks only inside the span it is given', () => {
    const line = b(':\x01x PRIVMSG bob :\x01PING 1\x01');
    const text = { start: line.indexOf(1, 3), end: line.length };
    const r = findCtcp(line, text);
    expect(r.ok && r.segments.map((s) => at(line, s.body))).toEqual(['PING 1']);
    expect(r.ok && r.segments[0]!.atStart).toBe(true);
  });

  it('refuses more segments than its bound, and takes another bound', () => {
    const text = '\x01A\x01'.repeat(MAX_CTCP_SEGMENTS);
    expect(whole(text).segs).toHaveLength(MAX_CTCP_SEGMENTS);
    const line = b(text + '\x01DCC SEND hidden 1 2\x01');
    expect(findCtcp(line, { start: 0, end: line.length })).toEqual({ ok: false, reason: 'too-many-segments' });
    expect(findCtcp(line, { start: 0, end: line.length }, { maxSegments: 9 }).ok).toBe(true);
    expect(() => findCtcp(line, { start: 0, end: line.length }, { maxSegments: 0 })).toThrow(NatAlgError);
    expect(() => findCtcp(line, { start: 0, end: line.length + 1 })).toThrow(NatAlgError);
  });

  it('leaves quoting alone', () => {
    const { line, segs } = whole('\x01DCC SEND a\x10rb 1 2\x01');
    expect(at(line, segs[0]!.body)).toBe('DCC SEND a\x10rb 1 2');
  });

  it('is linear on a long text of delimiters', () => {
    const line = new Uint8Array(1 << 20).fill(1);
    const started = performance.now();
    const r = findCtcp(line, { start: 0, end: line.length }, { maxSegments: 256 });
    expect(r).toEqual({ ok: false, reason: 'too-many-segments' });
    const plain = new Uint8Array(1 << 20).fill(0x61);
    expect(findCtcp(plain, { start: 0, end: plain.length })).toEqual({ ok: true, segments: [] });
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('segments tile the delimiters: each starts at a \x01 and bodies hold none (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0x01, 0x20, 0x41, 0x44), { maxLength: 80 }), (a) => {
        const line = Uint8Array.from(a);
        const r = findCtcp(line, { start: 0, end: line.length }, { maxSegments: 256 });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        let last = 0;
        for (const s of r.segments) {
          expect(line[s.start]).toBe(1);
          for (let i = last; i < s.start; i++) expect(line[i]).not.toBe(1);
          for (let i = s.body.start; i < s.body.end; i++) expect(line[i]).not.toBe(1);
          expect(s.end).toBe(s.closed ? s.body.end + 1 : line.length);
          last = s.end;
        }
        for (let i = last; i < line.length; i++) expect(line[i]).not.toBe(1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('formatCtcp', () => {
  it('wraps a body and refuses delimiters and line ends', () => {
    expect(formatCtcp('DCC SEND f 1 2')).toBe('\x01DCC SEND f 1 2\x01');
    for (const bad of ['a\x01b', 'a\rb', 'a\nb', 'a\x00b']) expect(() => formatCtcp(bad)).toThrow(NatAlgError);
  });
});
