/**
 * Bounds on what a hostile peer can make the translator do: an over-long line is answered as soon
 * as it is over-long, the bytes dropped from over-long lines are bounded per connection, a line
 * must complete within the line timeout, and bytes that complete no line are not activity.
 */
import { describe, it, expect } from 'vitest';
import { bytes, text, opts, C2S, S2C } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpEvent, FtpTranslatorOptions } from '../../src/core/ftp/types.js';
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

function greeted(o: FtpTranslatorOptions = opts): FtpTranslator {
  const t = new FtpTranslator(o);
  t.handleData(S2C, bytes('220 hi\r\n'), 0);
  drain(t, S2C);
  return t;
}

const MiB = 1 << 20;

describe('an over-long command', () => {
  it('is answered 500 as soon as it passes maxLineLength, with no line feed yet', () => {
    const t = greeted();
    t.handleData(C2S, bytes('SITE ' + 'x'.repeat(4092)), 0); // 4097 bytes
    expect(drain(t, S2C)).toBe('500 Command line too long.\r\n');
    expect(drain(t, C2S)).toBe('');
  });

  it('an endless one is dropped up to maxDiscardedBytes, then the connection is given up with 421', () => {
    const t = greeted();
    const chunk = bytes('x'.repeat(16 * 1024));
    t.handleData(C2S, bytes('SITE '), 0);
    let fed = 0;
    let closed = false;
    for (let k = 0; k < 1000 && !closed; k++) {
      expect(t.handleData(C2S, chunk, 0)).toBe(chunk.length); // consumed, never blocked
      fed += chunk.length;
      closed = events(t).some((e) => e.type === 'close');
    }
    expect(closed).toBe(true);
    // 64 KiB of dropped input, then the next chunk trips the bound
    expect(fed).toBeLessThanOrEqual(65_536 + 2 * chunk.length);
    expect(drain(t, S2C)).toBe('500 Command line too long.\r\n421 Too many over-long lines, closing control connection.\r\n');
    expect(drain(t, C2S)).toBe('');
    // Input after the close is taken and dropped.
    expect(t.handleData(C2S, bytes('NOOP\r\n'), 0)).toBe(6);
    expect(drain(t, C2S)).toBe('');
  });

  it('several over-long lines add up against the same bound', () => {
    const t = greeted({ ...opts, policy: { maxLineLength: 1024, maxDiscardedBytes: 10_000 } });
    const line = bytes('SITE ' + 'y'.repeat(3000) + '\r\n');
    let lines = 0;
    while (!events(t).some((e) => e.type === 'close') && lines < 20) {
      t.handleData(C2S, line, 0);
      lines++;
    }
    expect(lines).toBe(4); // 3005 bytes each: the fourth passes 10,000
  });
});

describe('an over-long held reply (an endless 227)', () => {
  it('is refused to the client at once with 425, then given up on at the discard bound', () => {
    const t = greeted();
    t.handleData(C2S, bytes('PASV\r\n'), 0);
    expect(drain(t, C2S)).toBe('PASV\r\n');
    t.handleData(S2C, bytes('227 Entering Passive Mode ('), 0);
    expect(drain(t, S2C)).toBe('');
    t.handleData(S2C, bytes('1'.repeat(5000)), 0);
    expect(drain(t, S2C)).toBe('425 Cannot open data connection (reply too long).\r\n');
    const chunk = bytes('2'.repeat(16 * 1024));
    let closed = false;
    for (let k = 0; k < 100 && !closed; k++) {
      t.handleData(S2C, chunk, 0);
      closed = events(t).some((e) => e.type === 'close');
    }
    expect(closed).toBe(true);
    expect(drain(t, S2C)).toBe('421 Too many over-long lines, closing control connection.\r\n');
  });

  it('inside a multi-line reply, the replacement keeps the reply structure', () => {
    const t = greeted();
    t.handleData(C2S, bytes('PASV\r\n'), 0);
    t.handleData(S2C, bytes('227-Entering Passive Mode\r\n' + '9'.repeat(5000)), 0);
    expect(drain(t, S2C)).toBe('227-Entering Passive Mode\r\n Cannot open data connection (reply too long).\r\n');
    const rest = bytes('\r\n227 (198,51,100,20,200,1)\r\n');
    const used = t.handleData(S2C, rest, 0);
    const req = events(t).find((e) => e.type === 'data-channel-request');
    expect(req?.type === 'data-channel-request' && req.request.original).toEqual({ family: 4, address: '198.51.100.20', port: 51201 });
    if (req?.type === 'data-channel-request') t.resolveDataChannel(req.request.id, { family: 4, address: '192.0.2.1', port: 40001 });
    expect(used).toBe(rest.length);
    expect(drain(t, S2C)).toBe('227 (192,0,2,1,156,65)\r\n');
  });
});

describe('the line timeout', () => {
  it('a command trickled a byte every 2 s is given up on 30 s after its first byte', () => {
    const t = greeted();
    const line = 'SITE slowly';
    for (let k = 0; k < line.length; k++) {
      t.handleData(C2S, bytes(line[k]!), 1000 + k * 2000);
      expect(t.pollTimeout()).toBe(31_000);
    }
    t.handleTimeout(30_999);
    expect(events(t).some((e) => e.type === 'close')).toBe(false);
    t.handleTimeout(31_000);
    expect(events(t).map((e) => e.type)).toEqual(['edit', 'close']);
    expect(drain(t, S2C)).toBe('421 Command line not complete within 30 s, closing control connection.\r\n');
    expect(drain(t, C2S)).toBe('');
    expect(t.pollTimeout()).toBeNull();
  });

  it('completed lines are activity and leave no deadline; partial bytes are not activity', () => {
    const t = new FtpTranslator(opts);
    expect(t.lastActivityMs).toBeNull();
    t.handleData(S2C, bytes('220 hi\r\n'), 5);
    expect(t.lastActivityMs).toBe(5);
    t.handleData(C2S, bytes('NO'), 10);
    expect(t.lastActivityMs).toBe(5);
    expect(t.pollTimeout()).toBe(30_010);
    t.handleData(C2S, bytes('OP\r\nST'), 20);
    expect(t.lastActivityMs).toBe(20);
    expect(t.pollTimeout()).toBe(30_020); // the new line started at 20
    t.handleData(C2S, bytes('AT\r\n'), 40);
    expect(t.pollTimeout()).toBeNull();
  });

  it('applies to a reply line the server never finishes', () => {
    const t = greeted();
    t.handleData(C2S, bytes('PASV\r\n'), 0);
    t.handleData(S2C, bytes('227 Entering Passive Mode ('), 100);
    expect(t.pollTimeout()).toBe(30_100);
    t.handleTimeout(30_100);
    expect(drain(t, S2C)).toBe('421 Reply line not complete within 30 s, closing control connection.\r\n');
  });

  it('inside TLS, applies to records: a record trickled forever times out, whole records are activity', () => {
    const t = greeted();
    t.handleData(C2S, bytes('AUTH TLS\r\n'), 0);
    t.handleData(S2C, bytes('234 go\r\n'), 0);
    const record = bytes('\x16\x03\x01\x00\x04abcd');
    t.handleData(C2S, record, 1000);
    expect(t.lastActivityMs).toBe(1000);
    expect(t.pollTimeout()).toBeNull();
    t.handleData(C2S, record.subarray(0, 3), 2000);
    expect(t.pollTimeout()).toBe(32_000);
    t.handleData(C2S, record.subarray(3, 5), 20_000);
    expect(t.pollTimeout()).toBe(32_000);
    t.handleTimeout(32_000);
    expect(events(t).some((e) => e.type === 'close')).toBe(true);
  });

  it('is a policy knob', () => {
    const t = greeted({ ...opts, policy: { lineTimeoutMs: 5000 } });
    t.handleData(C2S, bytes('X'), 0);
    expect(t.pollTimeout()).toBe(5000);
    expect(() => new FtpTranslator({ ...opts, policy: { lineTimeoutMs: 0 } })).toThrow(/lineTimeoutMs/);
    expect(() => new FtpTranslator({ ...opts, policy: { maxDiscardedBytes: -1 } })).toThrow(/maxDiscardedBytes/);
  });

  it('a direction that ended has no deadline', () => {
    const t = greeted();
    t.handleData(C2S, bytes('NOOP'), 0);
    t.handleEnd(C2S, 1);
    expect(t.pollTimeout()).toBeNull();
  });
});

describe('sizes', () => {
  it('the bound holds with the largest line length too', () => {
    const t = greeted({ ...opts, policy: { maxLineLength: MiB, maxDiscardedBytes: 2 * MiB } });
    const chunk = bytes('z'.repeat(MiB));
    t.handleData(C2S, chunk, 0); // fits exactly: held
    t.handleData(C2S, chunk, 0); // over-long: 500, the held MiB and this one dropped
    expect(events(t).some((e) => e.type === 'close')).toBe(false);
    t.handleData(C2S, chunk, 0);
    expect(events(t).some((e) => e.type === 'close')).toBe(true);
  });
});
