import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  formatEpsvReply,
  formatPasvReply,
  formatReply,
  parseEpsvReply,
  parsePasvReply,
  ReplyReader,
  type FtpReply,
  type PasvShape,
} from '../../src/testing/reply.js';
import { LineRecorder, type ControlLine } from '../../src/testing/transcript.js';
import { parseEprt, parsePort } from '../../src/testing/data-commands.js';

/** Runs text through the same path the client uses: bytes -> lines -> replies. */
function readReplies(text: string, cuts: number[] = []): FtpReply[] {
  const out: FtpReply[] = [];
  const reader = new ReplyReader();
  const lines: ControlLine[] = [];
  const rec = new LineRecorder('server', lines, (l) => {
    const r = reader.pushLine(l.text);
    if (r) out.push(r);
  });
  const bytes = new TextEncoder().encode(text);
  let from = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    rec.push(bytes.subarray(from, c));
    from = c;
  }
  rec.push(bytes.subarray(from));
  return out;
}

describe('ReplyReader', () => {
  it('groups a multi-line reply and keeps inner lines that start with digits', () => {
    const [r, next] = readReplies('211-Features:\r\n EPSV\r\n211 not the end\r\n211-x\r\n211 End\r\n200 ok\n');
    expect(r?.code).toBe(211);
    expect(r?.lines).toEqual(['211-Features:', ' EPSV', '211 not the end']);
    expect(next?.code).toBe(211);
  });

  it('ends a multi-line reply only at the same code followed by a space', () => {
    const rs = readReplies('227-Entering Passive Mode\r\n226 not mine\r\n227-still\r\n227 (127,0,0,1,4,1)\r\n');
    expect(rs).toHaveLength(1);
    expect(rs[0]!.lines).toHaveLength(4);
    expect(parsePasvReply(rs[0]!)).toEqual({ address: '127.0.0.1', port: 1025 });
  });

  it('reports a line that is not a reply as code 0', () => {
    expect(readReplies('hello\r\n')[0]).toMatchObject({ code: 0, lines: ['hello'] });
  });

  it('gives the same replies for every split of the input', () => {
    const text = '220-Welcome\r\n220 ready\r\n331 pw\n227 =10,0,0,1,200,3\r\n229 (|||5000|)\r\n';
    const whole = readReplies(text);
    expect(whole).toHaveLength(4);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { minLength: 1, maxLength: 6 }), (cuts) => {
        expect(readReplies(text, cuts)).toEqual(whole);
      }),
    );
  });
});

describe('parsePasvReply', () => {
  const shapes: PasvShape[] = ['standard', 'trailing-period', 'no-parentheses', 'equals', 'zero-padded', 'multi-line-first', 'multi-line-last'];
  for (const shape of shapes) {
    it(`reads the ${shape} shape`, () => {
      const [r] = readReplies(formatPasvReply('192.0.2.7', 51234, shape));
      expect(r?.code).toBe(227);
      expect(parsePasvReply(r!)).toEqual({ address: '192.0.2.7', port: 51234 });
    });
  }

  it('refuses fields above 255 instead of masking them', () => {
    expect(parsePasvReply('Entering Passive Mode (127,0,0,1,256,1)')).toBeNull();
    expect(parsePasvReply('Entering Passive Mode (1270,0,0,1,4,1)')).toBeNull();
    expect(parsePasvReply('Entering Passive Mode (127,0,0,1,4)')).toBeNull();
  });

  it('round-trips every address and port', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (a, p) => {
        const [r] = readReplies(formatPasvReply(a, p, 'zero-padded'));
        expect(parsePasvReply(r!)).toEqual({ address: a, port: p });
      }),
    );
  });
});

describe('parseEpsvReply', () => {
  it('reads any delimiter and refuses bad ports', () => {
    expect(parseEpsvReply(formatEpsvReply(2121))).toBe(2121);
    expect(parseEpsvReply(formatEpsvReply(65535, '!'))).toBe(65535);
    expect(parseEpsvReply('Entering Extended Passive Mode (|||70000|)')).toBeNull();
    expect(parseEpsvReply('Entering Extended Passive Mode (||2121|)')).toBeNull();
    expect(parseEpsvReply('Entering Extended Passive Mode (|!|2121|)')).toBeNull();
  });
});

describe('formatReply', () => {
  it('writes multi-line replies that the reader reads back', () => {
    const text = formatReply(211, ['Features:', 'EPSV', 'End']);
    expect(text).toBe('211-Features:\r\n EPSV\r\n211 End\r\n');
    expect(readReplies(text)[0]?.message).toBe('Features:\n EPSV\nEnd');
  });
});

describe('server argument parsers', () => {
  it('parses PORT strictly', () => {
    expect(parsePort('127,0,0,1,4,1')).toEqual({ family: 4, address: '127.0.0.1', port: 1025 });
    expect(parsePort('127,0,0,1,4,256')).toBeNull();
    expect(parsePort('127,0,0,1,4')).toBeNull();
    expect(parsePort('127,0,0,1,4,1,2')).toBeNull();
  });

  it('parses EPRT in both families and flags other families', () => {
    expect(parseEprt('|1|127.0.0.1|2121|')).toEqual({ family: 4, address: '127.0.0.1', port: 2121 });
    expect(parseEprt('!2!::1!2121!')).toEqual({ family: 6, address: '::1', port: 2121 });
    expect(parseEprt('|3|x|1|')).toBe('family');
    expect(parseEprt('|1|::1|2121|')).toBeNull();
    expect(parseEprt('|2|127.0.0.1|2121|')).toBeNull();
    expect(parseEprt('|1|127.0.0.1|70000|')).toBeNull();
    expect(parseEprt('|1|127.0.0.1|2121')).toBeNull();
  });
});
