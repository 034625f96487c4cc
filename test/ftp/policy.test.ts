import { describe, it, expect } from 'vitest';
import { run, c, s, text, bytes, opts, edits, C2S, S2C, type Resolver } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpEvent } from '../../src/core/ftp/types.js';

const greet = s('220 hi\r\n');
const refusals = (ev: FtpEvent[]) => ev.flatMap((e) => (e.type === 'command-refused' ? [[e.command, e.reason, e.reply]] : []));

describe('policy refusals (exact lines on the wire)', () => {
  it('refuses an FTP bounce PORT, even behind Telnet commands', () => {
    const r = run(opts, [greet, c('\xff\xf4\xff\xf2PORT 6,6,6,6,0,21\r\n')]);
    expect(text(r.c2s)).toBe('');
    expect(text(r.s2c)).toBe('220 hi\r\n504 Data address refused: it must be your own address.\r\n');
    expect(refusals(r.events)).toEqual([['PORT', 'foreign-address', '504 Data address refused: it must be your own address.']]);
  });

  it('refuses a foreign EPRT, a low port, bad syntax and an unknown family', () => {
    const cases: Array<[string, string]> = [
      ['EPRT |1|198.51.100.99|5001|', '504 Data address refused: it must be your own address.'],
      ['PORT 192,0,2,10,0,80', '504 Data port refused: ports below 1024 are not allowed.'],
      ['EPRT |1|192.0.2.10|1023|', '504 Data port refused: ports below 1024 are not allowed.'],
      ['PORT 192,0,2,10,19', '501 Syntax error in data address.'],
      ['PORT 192,0,2,10,19,256', '501 Syntax error in data address.'],
      ['PORT  192,0,2,10,19,137', '501 Syntax error in data address.'],
      ['PORT', '501 Syntax error in data address.'],
      ['EPRT |1|192.0.2.010|5001|', '501 Syntax error in data address.'],
      ['EPRT |3|192.0.2.10|5001|', '522 Network protocol not supported, use (1,2)'],
      ['LPRT 4,4,6,6,6,6,2,19,137', '504 Data address refused: it must be your own address.'],
      ['LPRT 4,4,192,0,2,10,3,0,19,137', '501 Syntax error in data address.'],
    ];
    for (const [cmd, reply] of cases) {
      const r = run(opts, [greet, c(cmd + '\r\n')]);
      expect(text(r.c2s), cmd).toBe('');
      expect(text(r.s2c), cmd).toBe(`220 hi\r\n${reply}\r\n`);
    }
  });

  it('policy switches allow foreign addresses and low ports', () => {
    const r = run({ ...opts, policy: { allowForeignDataAddress: true, allowLowDataPorts: true } }, [greet, c('PORT 6,6,6,6,0,21\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\n');
  });

  it('treats an IPv4-mapped client address as the IPv4 address', () => {
    const r = run({ clientAddress: '::ffff:192.0.2.10', serverAddress: '198.51.100.20' }, [greet, c('EPRT |2|::ffff:192.0.2.10|5001|\r\n')]);
    expect(text(r.c2s)).toBe('EPRT |1|192.0.2.1|40001|\r\n');
  });

  it('caps outstanding data channels', () => {
    const never: Resolver = (q) => ({ family: 4, address: '192.0.2.1', port: 40000 + q.id });
    const lines = 'PORT 192,0,2,10,19,137\r\n'.repeat(3);
    const r = run({ ...opts, policy: { maxPendingDataChannels: 2 } }, [greet, c(lines)], never);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\nPORT 192,0,2,1,156,66\r\n');
    expect(refusals(r.events)).toEqual([['PORT', 'too-many-data-channels', '425 Too many data connections pending, try again later.']]);
    // the local reply waits for the two forwarded PORTs to be answered
    expect(text(r.s2c)).toBe('220 hi\r\n');
    const r2 = run({ ...opts, policy: { maxPendingDataChannels: 2 } }, [greet, c(lines), s('200 a\r\n200 b\r\n')], never);
    expect(text(r2.s2c)).toBe('220 hi\r\n200 a\r\n200 b\r\n425 Too many data connections pending, try again later.\r\n');
  });

  it('replaces a passive reply naming a low port with 425 and reports a protocol error', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (10,0,0,5,0,21).\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (data port below 1024).\r\n');
    expect(r.events.some((e) => e.type === 'protocol-error')).toBe(true);
  });

  it('replaces a 227 with an out-of-range field rather than masking it', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (10,0,0,300,195,80).\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (malformed address in the reply).\r\n');
  });
});

describe('local replies are ordered after replies to earlier commands', () => {
  it('waits for the server reply to a previously forwarded command', () => {
    const r = run(opts, [greet, c('NOOP\r\nPORT 6,6,6,6,0,21\r\nSYST\r\n'), s('200 NOOP ok\r\n215 UNIX Type: L8\r\n')]);
    expect(text(r.c2s)).toBe('NOOP\r\nSYST\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n200 NOOP ok\r\n504 Data address refused: it must be your own address.\r\n215 UNIX Type: L8\r\n');
  });

  it('never inserts into the middle of a server line or a multi-line reply', () => {
    const r = run(opts, [
      greet, c('HELP\r\n'), s('214-The following commands'), c('PORT 6,6,6,6,0,21\r\n'), s(' are recognized.\r\n USER PASS\r\n214 Help OK.\r\n'),
    ]);
    expect(text(r.s2c)).toBe(
      '220 hi\r\n214-The following commands are recognized.\r\n USER PASS\r\n214 Help OK.\r\n504 Data address refused: it must be your own address.\r\n',
    );
  });

  it('waits for the greeting', () => {
    const r = run(opts, [c('PORT 6,6,6,6,0,21\r\n'), s('220 hi\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n504 Data address refused: it must be your own address.\r\n');
  });

  it('reports removal and insertion as edits', () => {
    const r = run(opts, [greet, c('PORT 6,6,6,6,0,21\r\n')]);
    expect(edits(r.events)).toEqual([
      { direction: 'client-to-server', inputOffset: 0, inputLength: 19, outputOffset: 0, outputLength: 0, delta: -19 },
      { direction: 'server-to-client', inputOffset: 8, inputLength: 0, outputOffset: 8, outputLength: 56, delta: 56 },
    ]);
  });
});

describe('over-long lines', () => {
  const small = { ...opts, policy: { maxLineLength: 128 } };
  it('refuses an over-long candidate command with 500 and drops it up to its LF', () => {
    const r = run(small, [greet, c('PORT ' + '1'.repeat(200) + '\r\nNOOP\r\n')]);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n500 Command line too long.\r\n');
    const removal = edits(r.events).find((e) => e.direction === 'client-to-server');
    expect(removal?.inputLength).toBe(207);
  });

  it('refuses an over-long command of any verb: none of it reaches the server', () => {
    const long = 'STOR ' + 'x'.repeat(100_000);
    // (within a raised bound on discarded bytes: the default gives up on the connection sooner)
    const r = run({ ...small, policy: { ...small.policy, maxDiscardedBytes: 1 << 20 } }, [greet, c(long), c(long + '\r\nNOOP\r\n'), s('200 noop\r\n')]);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n500 Command line too long.\r\n200 noop\r\n');
    expect(r.events.filter((e) => e.type === 'command-refused')).toEqual([
      { type: 'command-refused', command: 'UNKNOWN', reason: 'line-too-long', reply: '500 Command line too long.' },
    ]);
    const removal = edits(r.events).find((e) => e.direction === C2S);
    expect(removal).toEqual({ direction: C2S, inputOffset: 0, inputLength: 2 * long.length + 2, outputOffset: 0, outputLength: 0, delta: -(2 * long.length + 2) });
  });

  it('caps client lines at exactly maxLineLength, line end included', () => {
    const fits = 'SITE ' + 'a'.repeat(128 - 7) + '\r\n';
    const over = 'SITE ' + 'b'.repeat(128 - 6) + '\r\n';
    expect(fits.length).toBe(128);
    const r = run(small, [greet, c(fits + over), s('200 site\r\n')]);
    expect(text(r.c2s)).toBe(fits);
    // the local 500 waits for the reply to the SITE forwarded before it
    expect(text(r.s2c)).toBe('220 hi\r\n200 site\r\n500 Command line too long.\r\n');
  });

  it('forwards nothing of a command line before its LF, and passes IAC and CR NUL unchanged', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.pollOutput(S2C);
    expect(t.handleData(C2S, bytes('STOR a\r\0b\xff\xff'), 0)).toBe(11);
    expect(t.pollOutput(C2S)).toBeNull();
    expect(t.handleData(C2S, bytes('c\xff\xf4\r\nNOOP\r\nLI'), 0)).toBe(13);
    const out: string[] = [];
    for (let b = t.pollOutput(C2S); b; b = t.pollOutput(C2S)) out.push(text(b));
    expect(out.join('')).toBe('STOR a\r\0b\xff\xffc\xff\xf4\r\nNOOP\r\n');
    expect(t.pollEvent()).toBeNull();
  });

  it("closes on an over-long command of any verb when policy overlongLine is 'close'", () => {
    const r = run({ ...opts, policy: { maxLineLength: 128, overlongLine: 'close' } }, [greet, c('NOOP\r\nSITE ' + 'x'.repeat(200))]);
    // The client is told why (the 421 insertion is reported as an edit) before the close.
    expect(r.events.map((e) => e.type)).toEqual(['edit', 'close']);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe('220 hi\r\n421 Command line too long, closing control connection.\r\n');
  });

  it('streams an endless reply line of no interest without holding it', () => {
    const long = '211-' + 'x'.repeat(100_000);
    const t = new FtpTranslator(small);
    t.handleData(S2C, bytes(long), 0);
    expect(t.pollOutput(S2C)?.length).toBe(long.length);
    const r = run(small, [greet, c('STAT\r\n'), s(long), s(long + '\r\n211 end\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n' + long + long + '\r\n211 end\r\n');
  });

  it("closes when policy overlongLine is 'close'", () => {
    const r = run({ ...opts, policy: { maxLineLength: 128, overlongLine: 'close' } }, [greet, c('EPRT ' + '1'.repeat(200) + '\r\n')]);
    expect(r.events.map((e) => e.type)).toEqual(['edit', 'close']);
    expect(text(r.c2s)).toBe('');
    expect(text(r.s2c)).toBe('220 hi\r\n421 Command line too long, closing control connection.\r\n');
    // An over-long reply: the client gets the 421 in place of it.
    const v = run({ ...opts, policy: { maxLineLength: 128, overlongLine: 'close' } }, [greet, c('PASV\r\n'), s('227 ' + 'x'.repeat(200))]);
    expect(text(v.s2c)).toBe('220 hi\r\n421 Reply line too long, closing control connection.\r\n');
  });

  it('replaces an over-long passive reply', () => {
    const r = run(small, [greet, c('PASV\r\n'), s('227 ' + 'x'.repeat(200) + '\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (reply too long).\r\n');
  });

  it('counts undecidable Telnet prefixes against the limit', () => {
    const r = run(small, [greet, c('\xff\xf4'.repeat(100) + 'PORT 6,6,6,6,0,21\r\n')]);
    expect(text(r.c2s)).toBe('');
    expect(text(r.s2c)).toBe('220 hi\r\n500 Command line too long.\r\n');
  });
});

describe('EPSV ALL and REIN', () => {
  it('refuses PORT/PASV/EPRT/LPRT/LPSV after EPSV ALL is accepted, until REIN', () => {
    const r = run(opts, [
      greet, c('EPSV ALL\r\n'), s('200 EPSV ALL ok\r\n'),
      c('PASV\r\nPORT 192,0,2,10,19,137\r\nLPSV\r\n'),
      c('REIN\r\n'), s('220 again\r\n'), c('PASV\r\n'),
    ]);
    expect(text(r.c2s)).toBe('EPSV ALL\r\nREIN\r\nPASV\r\n');
    expect(text(r.s2c)).toBe(
      '220 hi\r\n200 EPSV ALL ok\r\n' + '503 Only EPSV is allowed after EPSV ALL.\r\n'.repeat(3) + '220 again\r\n',
    );
  });

  it('EPSV ALL refused by the server changes nothing', () => {
    const r = run(opts, [greet, c('EPSV ALL\r\n'), s('500 no\r\n'), c('PASV\r\n')]);
    expect(text(r.c2s)).toBe('EPSV ALL\r\nPASV\r\n');
  });
});

describe('LPRT and 228', () => {
  it('rewrites LPRT for IPv4 and IPv6 clients', () => {
    const r = run(opts, [greet, c('LPRT 4,4,192,0,2,10,2,19,137\r\n')]);
    expect(text(r.c2s)).toBe('LPRT 4,4,192,0,2,1,2,156,65\r\n');
    const o6 = { clientAddress: '2001:db8::10', serverAddress: '2001:db8::20' };
    const r6 = run(o6, [greet, c('LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,16,2,19,137\r\n')]);
    expect(text(r6.c2s)).toBe('LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,156,65\r\n');
  });

  it('rewrites a 228 answering LPSV', () => {
    const r = run(opts, [greet, c('LPSV\r\n'), s('228 Entering Long Passive Mode (4,4,10,0,0,5,2,195,80)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n228 Entering Long Passive Mode (4,4,192,0,2,1,2,156,65)\r\n');
  });
});
