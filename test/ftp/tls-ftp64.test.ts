import { describe, it, expect } from 'vitest';
import { run, c, s, text, opts, concat, bytes } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';

const greet = s('220 hi\r\n');

/** A TLS record: content type, version 3.3, length, body. */
function record(type: number, body: number[] | Uint8Array): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  return concat([Uint8Array.from([type, 3, 3, b.length >> 8, b.length & 0xff]), b]);
}
/** Record bodies full of bytes that look like FTP lines: they must not be parsed. */
const trap = bytes('\r\nPORT 6,6,6,6,0,21\r\n227 (10,0,0,5,0,21)\r\n');
const clientHello = record(22, concat([Uint8Array.from([1, 0, 0, 40]), trap]));
const serverHello = record(22, concat([Uint8Array.from([2, 0, 0, 40]), trap]));
const appData = record(23, trap);
const closeNotify = record(21, [1, 0]);

describe('TLS on the control channel', () => {
  it('goes transparent after AUTH TLS answered 234, in both directions', () => {
    const r = run(opts, [
      greet, c('AUTH TLS\r\n'), s(concat([bytes('234 Proceed with negotiation.\r\n'), serverHello])),
      c(clientHello), c(appData), s(appData),
    ]);
    expect(r.c2s).toEqual(concat([bytes('AUTH TLS\r\n'), clientHello, appData]));
    expect(r.s2c).toEqual(concat([bytes('220 hi\r\n234 Proceed with negotiation.\r\n'), serverHello, appData]));
    // Application data has gone both ways: the handshake is over (a relay's login budget ends there).
    expect(r.events.map((e) => e.type)).toEqual(['tls-started', 'tls-established']);
    expect(r.translator.tlsActive).toBe(true);
  });

  it('reports tls-established only once application data has gone both ways, at the record that completes it', () => {
    const start = [greet, c('AUTH TLS\r\n'), s(concat([bytes('234 go\r\n'), serverHello])), c(clientHello)];
    expect(run(opts, [...start, c(appData), c(appData)]).events.map((e) => e.type)).toEqual(['tls-started']);
    expect(run(opts, [...start, s(appData), s(appData)]).events.map((e) => e.type)).toEqual(['tls-started']);
    const handshakes = Array.from({ length: 20 }, () => c(record(22, [1])));
    expect(run(opts, [...start, ...handshakes, s(appData)]).events.map((e) => e.type)).toEqual(['tls-started']);
    // In a chunk that goes on in plain text (CCC), the event comes where the record is: before tls-ended.
    const r = run(opts, [...start, s(appData), c(concat([appData, closeNotify])), s(closeNotify), c('NOOP\r\n'), s('200 ok\r\n')]);
    expect(r.events.map((e) => e.type)).toEqual(['tls-started', 'tls-established', 'tls-ended']);
  });

  it('holds client bytes after AUTH until the reply, then treats them as TLS', () => {
    const t = new FtpTranslator(opts);
    t.handleData('server-to-client', bytes('220 hi\r\n'), 0);
    const input = concat([bytes('AUTH TLS\r\n'), clientHello]);
    const used = t.handleData('client-to-server', input, 0);
    expect(used).toBe(10);
    expect(t.isBlocked('client-to-server')).toBe(true);
    t.handleData('server-to-client', bytes('234 go\r\n'), 0);
    expect(t.isBlocked('client-to-server')).toBe(false);
    expect(t.handleData('client-to-server', input.subarray(used), 0)).toBe(clientHello.length);
    expect(t.tlsActive).toBe(true);
  });

  it('stays plaintext when AUTH is refused', () => {
    const r = run(opts, [greet, c('AUTH TLS\r\n'), s('534 no TLS here\r\n'), c('PORT 6,6,6,6,0,21\r\n')]);
    expect(text(r.c2s)).toBe('AUTH TLS\r\n');
    expect(text(r.s2c)).toContain('504 Data address refused');
    expect(r.translator.tlsActive).toBe(false);
  });

  it('resumes line parsing after CCC (non-record byte at a record boundary)', () => {
    const r = run(opts, [
      greet, c('AUTH SSL\r\n'), s('234 ok\r\n'), c(clientHello), s(serverHello),
      c(appData), s(concat([appData, closeNotify])), c(closeNotify),
      c('PASV\r\n'), s('227 Entering Passive Mode (10,0,0,5,195,80).\r\n'),
    ]);
    expect(text(r.s2c).endsWith('227 Entering Passive Mode (192,0,2,1,156,65).\r\n')).toBe(true);
    expect(r.events.map((e) => e.type)).toEqual([
      'tls-started', 'tls-established', 'tls-ended', 'data-channel-request', 'line-translated', 'edit', 'data-channel-committed',
    ]);
    expect(r.translator.tlsActive).toBe(false);
  });

  it('stops parsing for good when framing is lost', () => {
    const bad = Uint8Array.from([23, 9, 9, 0, 1, 0]);
    const r = run(opts, [greet, c('AUTH TLS\r\n'), s('234 ok\r\n'), c(concat([bad, bytes('PORT 6,6,6,6,0,21\r\n')]))]);
    expect(r.c2s).toEqual(concat([bytes('AUTH TLS\r\n'), bad, bytes('PORT 6,6,6,6,0,21\r\n')]));
    expect(r.events.map((e) => e.type)).toEqual(['tls-started', 'protocol-error']);
  });
});

describe('FTP64 (RFC 6384)', () => {
  const o64 = { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true };

  it('turns EPSV into PASV and answers the 227 as a 229', () => {
    const r = run(o64, [greet, c('EPSV\r\n'), s('227 Entering Passive Mode (198,51,100,20,195,80).\r\n')]);
    expect(text(r.c2s)).toBe('PASV\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n229 Entering Extended Passive Mode (|||40001|)\r\n');
    const req = r.events.find((e) => e.type === 'data-channel-request');
    expect(req?.type === 'data-channel-request' && req.request).toMatchObject({ command: 'EPSV', family: 6, original: { address: '198.51.100.20', port: 50000 } });
  });

  it('answers a multi-line 227 as a multi-line 229', () => {
    const r = run(o64, [greet, c('EPSV\r\n'), s('227-Entering Passive Mode\r\n (198,51,100,20,195,80)\r\n more\r\n227 Done\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n229-Entering Passive Mode\r\n (|||40001|)\r\n more\r\n229 Done\r\n');
    const r2 = run(o64, [greet, c('EPSV\r\n'), s('227-Here (198,51,100,20,195,80)\r\n227 Done\r\n')]);
    expect(text(r2.s2c)).toBe('220 hi\r\n229-Here (|||40001|)\r\n229 Done\r\n');
  });

  it('turns EPRT with the client address into PORT', () => {
    const r = run(o64, [greet, c('EPRT |2|2001:db8::10|5001|\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\n');
    const req = r.events[0];
    expect(req?.type === 'data-channel-request' && req.request.family).toBe(4);
  });

  it('answers EPSV ALL with 504 and ALGS locally', () => {
    const r = run(o64, [
      greet, c('EPSV ALL\r\nALGS STATUS64\r\nALGS DISABLE64\r\nEPSV\r\nALGS ENABLE64\r\nALGS FOO\r\n'),
      s('229 Entering Extended Passive Mode (|||50000|)\r\n'),
    ]);
    expect(text(r.c2s)).toBe('EPSV\r\n');
    expect(text(r.s2c)).toBe(
      '220 hi\r\n504 EPSV ALL is not supported through this gateway.\r\n216 EPSVEPRT\r\n216 NONE\r\n' +
        '229 Entering Extended Passive Mode (|||40001|)\r\n216 EPSVEPRT\r\n501 ALGS takes STATUS64, ENABLE64 or DISABLE64.\r\n',
    );
  });

  it('passes ALGS to the server when FTP64 is off', () => {
    const r = run(opts, [greet, c('ALGS STATUS64\r\n')]);
    expect(text(r.c2s)).toBe('ALGS STATUS64\r\n');
  });
});

describe("policy tls: 'refuse'", () => {
  const refusing = { ...opts, policy: { tls: 'refuse' as const } };
  it('answers AUTH with 534 and does not forward it; the session stays in plain text', () => {
    for (const line of ['AUTH TLS', 'auth ssl', ' AUTH TLS', 'AUTH\tTLS-C']) {
      const r = run(refusing, [s('220 hi\r\n'), c(line + '\r\n'), c('PORT 192,0,2,10,4,1\r\n'), s('200 ok\r\n')]);
      expect(text(r.c2s), line).toBe('PORT 192,0,2,1,156,65\r\n');
      expect(text(r.s2c), line).toBe('220 hi\r\n534 AUTH refused: this gateway must read the control channel to translate data connections.\r\n200 ok\r\n');
      expect(r.events).toContainEqual({
        type: 'command-refused', command: 'AUTH', reason: 'tls-refused',
        reply: '534 AUTH refused: this gateway must read the control channel to translate data connections.',
      });
      expect(r.events.some((e) => e.type === 'tls-started')).toBe(false);
    }
  });

  it("'pass' (the default) forwards AUTH as before", () => {
    const r = run(opts, [s('220 hi\r\n'), c('AUTH TLS\r\n'), s('234 go\r\n')]);
    expect(text(r.c2s)).toBe('AUTH TLS\r\n');
    expect(r.events.some((e) => e.type === 'tls-started')).toBe(true);
  });
});

describe('logged-in', () => {
  it('is reported once, at the first final 230 or 232', () => {
    const r = run(opts, [s('220 hi\r\n'), c('USER a\r\n'), s('331 pass\r\n'), c('PASS b\r\n'), s('230-welcome\r\n230 in\r\n'), c('USER c\r\n'), s('230 again\r\n')]);
    expect(r.events.filter((e) => e.type === 'logged-in')).toHaveLength(1);
    const q = run(opts, [s('220 hi\r\n'), c('USER a\r\n'), s('232 ok\r\n')]);
    expect(q.events).toContainEqual({ type: 'logged-in' });
    const n = run(opts, [s('220 hi\r\n'), c('USER a\r\n'), s('530 no\r\n')]);
    expect(n.events.some((e) => e.type === 'logged-in')).toBe(false);
  });
});
