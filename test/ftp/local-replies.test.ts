/**
 * Replies the gateway makes itself (refusals, limits) always start a line of their own and are
 * sent before the gateway gives up on a connection.
 */
import { describe, it, expect } from 'vitest';
import { bytes, text, opts, C2S, S2C } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpEvent } from '../../src/core/ftp/types.js';
import type { Direction } from '../../src/core/stream/translator.js';

function drain(t: FtpTranslator, d: Direction): string {
  let out = '';
  for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) out += text(b);
  return out;
}

function events(t: FtpTranslator): FtpEvent[] {
  const all: FtpEvent[] = [];
  for (let e = t.pollEvent(); e; e = t.pollEvent()) all.push(e);
  return all;
}

const BOUNCE = '504 Data address refused: it must be your own address.\r\n';

describe('a local reply after a server line cut short', () => {
  it('starts on a line of its own: the cut line is ended first', () => {
    for (const cut of ['2', '22', '220', '220 ', '220 partial', '150-x\r\n more']) {
      const t = new FtpTranslator(opts);
      t.handleData(S2C, bytes('220 hi\r\n' + cut), 0);
      t.handleEnd(S2C, 0);
      t.handleData(C2S, bytes('PORT 6,6,6,6,0,21\r\n'), 0);
      const toClient = drain(t, S2C);
      expect(toClient, cut).toBe(`220 hi\r\n${cut}\r\n${BOUNCE}`);
      // The CRLF is part of the inserted bytes, reported as one insertion edit.
      const ins = events(t).flatMap((e) => (e.type === 'edit' && e.edit.direction === S2C ? [e.edit] : []));
      expect(ins).toEqual([expect.objectContaining({ inputLength: 0, outputLength: 2 + BOUNCE.length, outputOffset: 8 + cut.length })]);
    }
  });

  it('after a complete line nothing is added', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.handleEnd(S2C, 0);
    t.handleData(C2S, bytes('PORT 6,6,6,6,0,21\r\n'), 0);
    expect(drain(t, S2C)).toBe('220 hi\r\n504 Data address refused: it must be your own address.\r\n');
  });
});

describe('after the server has gone', () => {
  it('refusals of later commands reach the client at once, even behind commands it never answered', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n150-listing\r\n part'), 0);
    t.handleData(C2S, bytes('NOOP\r\nPORT 192,0,2,10,4,1\r\n'), 0);
    const req = events(t).find((e) => e.type === 'data-channel-request');
    expect(req).toBeDefined();
    if (req?.type === 'data-channel-request') t.resolveDataChannel(req.request.id, { family: 4, address: '192.0.2.1', port: 40001 });
    t.handleEnd(S2C, 0);
    expect(events(t)).toContainEqual(expect.objectContaining({ type: 'data-channel-released', reason: 'server closed the connection' }));
    t.handleData(C2S, bytes('PORT 6,6,6,6,0,21\r\n'), 0);
    expect(drain(t, S2C)).toBe(`220 hi\r\n150-listing\r\n part\r\n${BOUNCE}`);
  });

  it('a client waiting for the answer to AUTH reads plain commands again', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.handleData(C2S, bytes('AUTH TLS\r\n'), 0);
    expect(t.isBlocked(C2S)).toBe(true);
    t.handleEnd(S2C, 0);
    expect(t.isBlocked(C2S)).toBe(false);
    t.handleData(C2S, bytes('PORT 6,6,6,6,0,21\r\n'), 0);
    expect(drain(t, S2C)).toBe(`220 hi\r\n${BOUNCE}`);
  });
});
