/**
 * A verb is read the way the most lenient real server reads it (src/core/ftp/verb.ts): blanks and
 * Telnet commands before it are skipped, and any whitespace (or NUL) ends it. So a line that
 * ProFTPD would execute as a PORT, a PASV or an AUTH is one for the gateway too: its address is
 * checked, its reply translated, its TLS followed.
 */
import { describe, it, expect } from 'vitest';
import { run, c, s, text, opts, bytes, type Segment } from './harness.js';
import { same } from './arbitraries.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';

const greet = s('220 hi\r\n');
const BOUNCE = '504 Data address refused: it must be your own address.';
const LOW = '504 Data port refused: ports below 1024 are not allowed.';
const bytewise = (d: Uint8Array) => Array.from({ length: d.length }, () => 1);

function check(segs: Segment[]) {
  const whole = run(opts, segs);
  same(whole, run(opts, segs, undefined, bytewise));
  return whole;
}

describe('leading blanks and tabs before a verb', () => {
  it.each([
    [' PORT 6,6,6,6,0,21', BOUNCE],
    ['\tPORT 6,6,6,6,0,21', BOUNCE],
    ['  \x0b\x0c PORT 6,6,6,6,0,21', BOUNCE],
    [' \xff\xf4 PORT 6,6,6,6,0,21', BOUNCE],
    [' PORT 192,0,2,10,0,22', LOW],
    ['\tEPRT |1|6.6.6.6|2121|', BOUNCE],
    [' LPRT 4,4,6,6,6,6,2,19,137', BOUNCE],
  ])('%j is checked like a PORT and refused; nothing reaches the server', (line, reply) => {
    const r = check([greet, c(line + '\r\n'), c('NOOP\r\n'), s('200 ok\r\n')]);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe(`220 hi\r\n${reply}\r\n200 ok\r\n`);
  });

  it('a PORT with a leading blank naming the client itself is translated like any other', () => {
    const r = check([greet, c(' PORT 192,0,2,10,4,1\r\n'), s('200 ok\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\n');
    expect(r.events.find((e) => e.type === 'data-channel-request')).toMatchObject({ request: { command: 'PORT', original: { address: '192.0.2.10', port: 1025 } } });
  });

  it('a PASV with a leading blank is forwarded as it is, and its 227 is translated', () => {
    const r = check([greet, c(' PASV\r\n'), s('227 Entering Passive Mode (198,51,100,20,200,1).\r\n')]);
    expect(text(r.c2s)).toBe(' PASV\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n');
  });

  it('an AUTH with a leading tab waits for its reply like AUTH: 234 starts TLS', () => {
    const r = check([greet, c('\tAUTH TLS\r\n'), s('234 go ahead\r\n')]);
    expect(r.events.some((e) => e.type === 'tls-started')).toBe(true);
  });
});

describe('a tab, VT, FF or NUL after the verb', () => {
  it.each([
    ['PORT\t6,6,6,6,0,21', BOUNCE],
    ['PORT\x0b6,6,6,6,0,21', BOUNCE],
    ['port\x0c6,6,6,6,0,21', BOUNCE],
    ['EPRT\t|1|6.6.6.6|21|', BOUNCE],
    ['PORT\x006,6,6,6,0,21', '501 Syntax error in data address.'],
    ['PORT\t 192,0,2,10,4,1', '501 Syntax error in data address.'],
  ])('%j is refused; nothing reaches the server', (line, reply) => {
    const r = check([greet, c(line + '\r\n')]);
    expect(text(r.c2s)).toBe('');
    expect(text(r.s2c)).toBe(`220 hi\r\n${reply}\r\n`);
  });

  it('PORT with a tab naming the client is translated', () => {
    const r = check([greet, c('PORT\t192,0,2,10,4,1\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\n');
  });

  it('EPSV\\tALL is EPSV ALL', () => {
    const r = check([greet, c('EPSV\tALL\r\n'), s('200 ok\r\n'), c('PASV\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n200 ok\r\n503 Only EPSV is allowed after EPSV ALL.\r\n');
  });
});

describe('undecided line starts cost linear work', () => {
  it('a million blanks and then a PORT, a byte per read, are read as that PORT', () => {
    const big = { ...opts, policy: { maxLineLength: 1 << 20 } };
    const t = new FtpTranslator(big);
    t.handleData('server-to-client', bytes('220 hi\r\n'), 0);
    const blank = Uint8Array.of(32);
    for (let k = 0; k < 1_000_000; k++) t.handleData('client-to-server', blank, 0);
    t.handleData('client-to-server', bytes('PORT 6,6,6,6,0,21\r\n'), 0);
    expect(t.pollOutput('client-to-server')).toBeNull();
    let out = '';
    for (let b = t.pollOutput('server-to-client'); b; b = t.pollOutput('server-to-client')) out += text(b);
    expect(out).toBe(`220 hi\r\n${BOUNCE}\r\n`);
  });

  it('Telnet commands before a verb, a byte per read, within the line limit', () => {
    const big = { ...opts, policy: { maxLineLength: 1 << 20 } };
    const t = new FtpTranslator(big);
    t.handleData('server-to-client', bytes('220 hi\r\n'), 0);
    const nop = bytes('\xff\xf1');
    for (let k = 0; k < 200_000; k++) {
      t.handleData('client-to-server', nop.subarray(0, 1), 0);
      t.handleData('client-to-server', nop.subarray(1, 2), 0);
    }
    t.handleData('client-to-server', bytes('PORT 6,6,6,6,0,21\r\n'), 0);
    expect(t.pollOutput('client-to-server')).toBeNull();
  });
});
