/**
 * Every reply that looks passive is read for an address and translated or refused under the
 * policy, whatever command it answers: a 227 to EPSV, a 229 to PASV, a 228 to EPSV, a 227 to NOOP
 * or before any command, and any other 2xx answer to a passive command. A server must not get an
 * address or port of its own past the gateway by answering in the wrong format.
 */
import { describe, it, expect } from 'vitest';
import { run, c, s, text, opts, type Segment } from './harness.js';
import { same } from './arbitraries.js';
import type { FtpEvent } from '../../src/core/ftp/types.js';

const greet = s('220 hi\r\n');
const bytewise = (d: Uint8Array) => Array.from({ length: d.length }, () => 1);

function check(segs: Segment[], o = opts) {
  const whole = run(o, segs);
  same(whole, run(o, segs, undefined, bytewise));
  return whole;
}

const requests = (ev: FtpEvent[]) => ev.flatMap((e) => (e.type === 'data-channel-request' ? [e.request] : []));

describe('a passive reply of the wrong kind', () => {
  it('EPSV answered by a 227 naming a foreign host and port 22: refused, never passed on', () => {
    const r = check([greet, c('EPSV\r\n'), s('227 Entering Passive Mode (10,9,8,7,0,22)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (data port below 1024).\r\n');
    expect(text(r.s2c)).not.toContain('10,9,8,7');
  });

  it('EPSV answered by a 227 with a high port: translated as a 227 through the gateway', () => {
    const r = check([greet, c('EPSV\r\n'), s('227 Entering Passive Mode (10,9,8,7,200,1)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n227 Entering Passive Mode (192,0,2,1,156,65)\r\n');
    expect(requests(r.events)).toEqual([
      {
        id: 1, mode: 'passive', command: 'EPSV', original: { family: 4, address: '10.9.8.7', port: 51201 }, family: 4, connector: 'client',
        // The foreign address is not trusted by default: the gateway connects to the server's own.
        acceptFrom: '192.0.2.10', target: { family: 4, address: '198.51.100.20', port: 51201 }, oneShot: true, timeoutMs: null, label: 'EPSV',
      },
    ]);
  });

  it('PASV answered by a 229: translated as a 229 naming the gateway port', () => {
    const r = check([greet, c('PASV\r\n'), s('229 Entering Extended Passive Mode (|||2121|)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n229 Entering Extended Passive Mode (|||40001|)\r\n');
    expect(requests(r.events)[0]).toMatchObject({ command: 'PASV', original: { address: '198.51.100.20', port: 2121 } });
  });

  it('PASV answered by a 229 naming port 22: refused', () => {
    const r = check([greet, c('PASV\r\n'), s('229 Entering Extended Passive Mode (|||22|)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (data port below 1024).\r\n');
  });

  it('EPSV answered by a 228: translated', () => {
    const r = check([greet, c('EPSV\r\n'), s('228 Entering Long Passive Mode (4,4,10,9,8,7,2,200,1)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n228 Entering Long Passive Mode (4,4,192,0,2,1,2,156,65)\r\n');
  });

  it('a 227 answering NOOP, and one before any command, are translated too', () => {
    const r = check([
      s('227 (10,9,8,7,200,1)\r\n'),
      c('NOOP\r\n'),
      s('227 Entering Passive Mode (10,9,8,7,200,2)\r\n'),
      c('NOOP\r\n'),
      s('200 ok\r\n'),
    ]);
    expect(text(r.s2c)).toBe('227 (192,0,2,1,156,65)\r\n227 Entering Passive Mode (192,0,2,1,156,66)\r\n200 ok\r\n');
    expect(text(r.c2s)).toBe('NOOP\r\nNOOP\r\n');
    expect(requests(r.events).map((q) => q.command)).toEqual(['PASV', 'PASV']);
  });

  it('a 227 answering NOOP that names port 22 is refused; one without an address passes', () => {
    const r = check([greet, c('NOOP\r\n'), s('227 (10,9,8,7,0,22)\r\n'), c('NOOP\r\n'), s('227 nothing here\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (data port below 1024).\r\n227 nothing here\r\n');
  });

  it('another 2xx answer to PASV that carries numbers is translated', () => {
    const r = check([greet, c('PASV\r\n'), s('200 Entering Passive Mode (198,51,100,20,200,1)\r\n'), c('PASV\r\n'), s('200 PASV ok\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n200 Entering Passive Mode (192,0,2,1,156,65)\r\n200 PASV ok\r\n');
  });

  it('a 227 line inside another multi-line reply is translated: curl ends a reply at any `ddd ` line', () => {
    const r = check([greet, c('STAT\r\n'), s('211-status\r\n227 (10,9,8,7,200,1)\r\n211 end\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n211-status\r\n227 (192,0,2,1,156,65)\r\n211 end\r\n');
    expect(requests(r.events)).toHaveLength(1);
  });

  it('FTP64: a 229 to the PASV that an EPSV became is translated for the IPv6 client', () => {
    const o64 = { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true };
    const r = check([greet, c('EPSV\r\n'), s('229 Entering Extended Passive Mode (|||2121|)\r\n')], o64);
    expect(text(r.c2s)).toBe('PASV\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n229 Entering Extended Passive Mode (|||40001|)\r\n');
    expect(requests(r.events)[0]).toMatchObject({ command: 'EPSV', family: 6 });
  });
});

describe('line-translated names the reply code', () => {
  it('for a multi-line 227 whose address is on a continuation line', () => {
    const r = check([greet, c('PASV\r\n'), s('227-Hello\r\n 198,51,100,7,200,1\r\n227 end\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n227-Hello\r\n 192,0,2,1,156,65\r\n227 end\r\n');
    const t = r.events.find((e) => e.type === 'line-translated');
    expect(t).toMatchObject({ keyword: '227' });
  });
});
