import { describe, it, expect } from 'vitest';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import { NatAlgError } from '../../src/core/errors.js';
import { run, c, s, text, bytes, opts, C2S, S2C, edits, applyEdits, type Resolver } from './harness.js';

const greet = s('220 Welcome\r\n');

describe('FtpTranslator: active mode', () => {
  it('rewrites PORT with the replacement endpoint and commits on 200', () => {
    const r = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n'), s('200 PORT command successful.\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\n');
    expect(text(r.s2c)).toBe('220 Welcome\r\n200 PORT command successful.\r\n');
    const types = r.events.map((e) => e.type);
    expect(types).toEqual(['data-channel-request', 'line-translated', 'edit', 'data-channel-committed']);
    const req = r.events[0]!;
    expect(req.type === 'data-channel-request' && req.request).toEqual({
      id: 1, mode: 'active', command: 'PORT', original: { family: 4, address: '192.0.2.10', port: 5001 }, family: 4, connector: 'server',
      // The server (and only it) connects to where the client said it listens, once.
      acceptFrom: '198.51.100.20', target: { family: 4, address: '192.0.2.10', port: 5001 }, oneShot: true, timeoutMs: null, label: 'PORT',
    });
  });

  it('releases the mapping when the server refuses', () => {
    const r = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n'), s('500 Illegal PORT command.\r\n')]);
    expect(r.events.at(-1)).toEqual({ type: 'data-channel-released', id: 1, reason: 'server replied 500' });
  });

  it('accepts lower case verbs, bare LF, zero padding, and keeps the LF ending', () => {
    const r = run(opts, [greet, c('port 192,000,002,010,019,137\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\n');
  });

  it('rewrites EPRT for IPv4 and IPv6', () => {
    const r = run(opts, [greet, c('EPRT |1|192.0.2.10|5001|\r\n')]);
    expect(text(r.c2s)).toBe('EPRT |1|192.0.2.1|40001|\r\n');
    const o6 = { clientAddress: '2001:db8::10', serverAddress: '2001:db8::20' };
    const r6 = run(o6, [greet, c('EPRT !2!2001:DB8:0::10!5001!\r\n')]);
    expect(text(r6.c2s)).toBe('EPRT |2|2001:db8::1|40001|\r\n');
  });

  it('takes an unspecified EPRT address (lftp sends ::) as the client itself', () => {
    const o6 = { clientAddress: '::1', serverAddress: '::1' };
    const r = run(o6, [greet, c('EPRT |2|::|44329|\r\n')]);
    expect(text(r.c2s)).toBe('EPRT |2|2001:db8::1|40001|\r\n');
    const req = r.events[0]!;
    expect(req.type === 'data-channel-request' && req.request.original).toEqual({ family: 6, address: '::1', port: 44329 });
  });

  it('turns PORT into EPRT when the server side is IPv6', () => {
    const r = run({ clientAddress: '192.0.2.10', serverAddress: '2001:db8::20' }, [greet, c('PORT 192,0,2,10,19,137\r\n')]);
    expect(text(r.c2s)).toBe('EPRT |2|2001:db8::1|40001|\r\n');
  });

  it('rewrites PORT behind Telnet IAC IP IAC DM and keeps other commands byte-identical', () => {
    const r = run(opts, [greet, c('\xff\xf4\xff\xf2PORT 192,0,2,10,19,137\r\nSTOR a\xff\xffb\r\0c\r\n')]);
    expect(text(r.c2s)).toBe('PORT 192,0,2,1,156,65\r\nSTOR a\xff\xffb\r\0c\r\n');
  });
});

describe('FtpTranslator: passive mode', () => {
  it('rewrites a 227 answering PASV and keeps its text', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (10,0,0,5,195,80).\r\n')]);
    expect(text(r.c2s)).toBe('PASV\r\n');
    expect(text(r.s2c)).toBe('220 Welcome\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n');
    const req = r.events.find((e) => e.type === 'data-channel-request');
    expect(req?.type === 'data-channel-request' && req.request).toMatchObject({
      mode: 'passive', command: 'PASV', original: { address: '10.0.0.5', port: 50000 }, family: 4, connector: 'client',
    });
    expect(r.events.map((e) => e.type)).toEqual(['data-channel-request', 'line-translated', 'edit', 'data-channel-committed']);
  });

  it('handles 227 shapes: no parentheses, =, zero padding, multi-line', () => {
    const shapes: Array<[string, string]> = [
      ['227 Entering Passive Mode 10,0,0,5,195,80\r\n', '227 Entering Passive Mode 192,0,2,1,156,65\r\n'],
      ['227 =010,000,000,005,195,080\r\n', '227 =192,0,2,1,156,65\r\n'],
      ['227-Entering Passive Mode\r\n227 (10,0,0,5,195,80)\r\n', '227-Entering Passive Mode\r\n227 (192,0,2,1,156,65)\r\n'],
      // One reply names one data address: a second reading (ftplib or curl might take it) is removed.
      ['227-Here (10,0,0,5,195,80)\r\n 1,2,3,4,5,6\r\n227 ok\r\n', '227-Here (192,0,2,1,156,65)\r\n (a second data address, removed by the gateway)\r\n227 ok\r\n'],
    ];
    for (const [reply, want] of shapes) {
      const r = run(opts, [greet, c('pasv\r\n'), s(reply)]);
      expect(text(r.s2c)).toBe('220 Welcome\r\n' + want);
    }
  });

  it('rewrites the usual shapes in place: words kept byte for byte as they change, before/after texts exact', () => {
    const replies = [
      '227 Entering Passive Mode (10,0,0,5,195,80).\r\n',
      '227 Entering Passive Mode (10,0,0,5,195,81).\r\n',
      '227 Entering passive mode (010,000,000,005,195,082)\n',
      '227 Entering Passive Mode (10,0,0,5,195,83).\r\n',
    ];
    const segs = [greet];
    for (const reply of replies) segs.push(c('PORT 192,0,2,10,4,1\r\nPASV\r\n'), s('200 PORT ok\r\n' + reply));
    const r = run(opts, segs);
    const translated = r.events.flatMap((e) => (e.type === 'line-translated' ? [[e.keyword, e.before, e.after]] : []));
    const ports = [40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008];
    const sextet = (p: number) => `192,0,2,1,${p >> 8},${p & 255}`;
    expect(translated).toEqual([
      ['PORT', 'PORT 192,0,2,10,4,1', `PORT ${sextet(ports[0]!)}`],
      ['227', replies[0]!.trimEnd(), `227 Entering Passive Mode (${sextet(ports[1]!)}).`],
      ['PORT', 'PORT 192,0,2,10,4,1', `PORT ${sextet(ports[2]!)}`],
      ['227', replies[1]!.trimEnd(), `227 Entering Passive Mode (${sextet(ports[3]!)}).`],
      ['PORT', 'PORT 192,0,2,10,4,1', `PORT ${sextet(ports[4]!)}`],
      ['227', replies[2]!.trimEnd(), `227 Entering passive mode (${sextet(ports[5]!)})`],
      ['PORT', 'PORT 192,0,2,10,4,1', `PORT ${sextet(ports[6]!)}`],
      ['227', replies[3]!.trimEnd(), `227 Entering Passive Mode (${sextet(ports[7]!)}).`],
    ]);
    expect(text(r.s2c)).toBe(
      '220 Welcome\r\n' +
        translated
          .filter(([k]) => k === '227')
          .map(([, , after], i) => `200 PORT ok\r\n${after}${i === 2 ? '\n' : '\r\n'}`)
          .join(''),
    );
    expect(text(r.c2s)).toBe(translated.filter(([k]) => k === 'PORT').map(([, , after]) => `${after}\r\nPASV\r\n`).join(''));
  });

  it('translates a 227 nobody asked for too: the server\'s own address never reaches the client', () => {
    const r = run(opts, [greet, c('NOOP\r\n'), s('227 Entering Passive Mode (10,0,0,5,195,80).\r\n')]);
    expect(text(r.s2c)).toBe('220 Welcome\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n');
    expect(r.events[0]).toMatchObject({ type: 'data-channel-request', request: { command: 'PASV', original: { address: '10.0.0.5', port: 50000 } } });
  });

  it('rewrites the port of a 229 answering EPSV', () => {
    const r = run(opts, [greet, c('EPSV\r\n'), s('229 Entering Extended Passive Mode (|||50000|)\r\n')]);
    expect(text(r.s2c)).toBe('220 Welcome\r\n229 Entering Extended Passive Mode (|||40001|)\r\n');
    const req = r.events[0]!;
    expect(req.type === 'data-channel-request' && req.request.original).toEqual({ family: 4, address: '198.51.100.20', port: 50000 });
  });

  it('pairs replies in order with pipelined commands in one chunk', () => {
    const r = run(opts, [greet, c('TYPE I\r\nPASV\r\n'), s('200 Switching to Binary mode.\r\n227 Entering Passive Mode (10,0,0,5,195,80).\r\n')]);
    expect(text(r.s2c)).toBe('220 Welcome\r\n200 Switching to Binary mode.\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n');
  });
});

describe('FtpTranslator: blocking and asynchronous answers', () => {
  it('stops consuming at the held line and resumes after resolve', () => {
    const t = new FtpTranslator(opts);
    expect(t.handleData(S2C, bytes('220 hi\r\n'), 0)).toBe(8);
    const input = bytes('PORT 192,0,2,10,19,137\r\nNOOP\r\n');
    const used = t.handleData(C2S, input, 0);
    expect(used).toBe(24);
    expect(t.isBlocked(C2S)).toBe(true);
    expect(t.isBlocked(S2C)).toBe(false);
    expect(t.handleData(C2S, input.subarray(used), 0)).toBe(0);
    const ev = t.pollEvent();
    expect(ev?.type).toBe('data-channel-request');
    expect(t.pollOutput(C2S)).toBeNull();
    // the other direction keeps flowing
    expect(t.handleData(S2C, bytes('200 still here\r\n'), 0)).toBe(16);
    if (ev?.type !== 'data-channel-request') throw new Error('no request');
    t.resolveDataChannel(ev.request.id, { family: 4, address: '203.0.113.7', port: 2000 });
    expect(t.isBlocked(C2S)).toBe(false);
    expect(t.handleData(C2S, input.subarray(used), 0)).toBe(6);
    const out: string[] = [];
    for (let b = t.pollOutput(C2S); b; b = t.pollOutput(C2S)) out.push(text(b));
    expect(out.join('')).toBe('PORT 203,0,113,7,7,208\r\nNOOP\r\n');
    expect(() => t.resolveDataChannel(ev.request.id, { family: 4, address: '203.0.113.7', port: 2000 })).toThrow(NatAlgError);
  });

  it('refusing a PORT answers the client locally and drops the line', () => {
    const refuse: Resolver = () => ({ refuse: 'no ports left' });
    const r = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\nNOOP\r\n'), s('200 NOOP ok\r\n')], refuse);
    expect(text(r.c2s)).toBe('NOOP\r\n');
    expect(text(r.s2c)).toBe('220 Welcome\r\n425 Cannot open data connection (no ports left).\r\n200 NOOP ok\r\n');
  });

  it('refusing a passive mapping replaces the reply with 425', () => {
    const refuse: Resolver = () => ({ refuse: 'busy' });
    const r = run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (10,0,0,5,195,80).\r\n')], refuse);
    expect(text(r.s2c)).toBe('220 Welcome\r\n425 Cannot open data connection (busy).\r\n');
  });

  it('throws typed errors on misuse', () => {
    expect(() => new FtpTranslator({ clientAddress: 'nope', serverAddress: '1.2.3.4' })).toThrow(NatAlgError);
    const t = new FtpTranslator(opts);
    expect(() => t.resolveDataChannel(99, { family: 4, address: '192.0.2.1', port: 1 })).toThrow(/no pending/);
    t.handleEnd(C2S, 0);
    expect(() => t.handleData(C2S, bytes('x'), 0)).toThrow(NatAlgError);
  });
});

describe('FtpTranslator: edits', () => {
  it('edits applied to the input give the output', () => {
    const segs = [greet, c('PORT 192,0,2,10,19,137\r\nPORT 6,6,6,6,0,21\r\nPASV\r\n'), s('200 ok\r\n227 (10,0,0,5,195,80)\r\n')];
    const r = run(opts, segs);
    for (const [dir, input, output] of [[C2S, segs[1]!.data, r.c2s], [S2C, new Uint8Array([...greet.data, ...segs[2]!.data]), r.s2c]] as const) {
      const e = edits(r.events).filter((x) => x.direction === dir);
      let out = 0;
      const rebuilt = applyEdits(input, e, (x) => {
        const piece = output.subarray(x.outputOffset, x.outputOffset + x.outputLength);
        out += x.outputLength;
        return piece;
      });
      expect(text(rebuilt)).toBe(text(output));
      expect(out).toBeGreaterThan(0);
    }
  });
});

describe('FtpTranslator: zero-copy pass-through', () => {
  it('passes a run of uninteresting lines as one view of the input buffer', () => {
    const t = new FtpTranslator(opts);
    const greeting = bytes('220 hi\r\n');
    t.handleData(S2C, greeting, 0);
    expect(t.pollOutput(S2C)?.buffer).toBe(greeting.buffer);
    const input = bytes('USER a\r\nPASS b\r\nCWD /x\r\nTYPE I\r\nSTOR f\r\0g\r\n');
    expect(t.handleData(C2S, input, 0)).toBe(input.length);
    const out = t.pollOutput(C2S);
    expect(out?.buffer).toBe(input.buffer);
    expect(out?.length).toBe(input.length);
    expect(t.pollOutput(C2S)).toBeNull();
    const replies = bytes('331 pw\r\n230 ok\r\n250 cwd\r\n200 type\r\n150 go\r\n');
    t.handleData(S2C, replies, 0);
    const r = t.pollOutput(S2C);
    expect(r?.buffer).toBe(replies.buffer);
    expect(r?.length).toBe(replies.length);
  });

  it('splits the run only around a rewritten line', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.pollOutput(S2C);
    const input = bytes('TYPE I\r\nPORT 192,0,2,10,19,137\r\nLIST\r\nNOOP\r\n');
    const used = t.handleData(C2S, input, 0);
    const ev = t.pollEvent();
    if (ev?.type !== 'data-channel-request') throw new Error('no request');
    t.resolveDataChannel(ev.request.id, { family: 4, address: '192.0.2.1', port: 2000 });
    t.handleData(C2S, input.subarray(used), 0);
    const chunks: string[] = [];
    for (let b = t.pollOutput(C2S); b; b = t.pollOutput(C2S)) chunks.push(text(b));
    expect(chunks).toEqual(['TYPE I\r\n', 'PORT 192,0,2,1,7,208\r\n', 'LIST\r\nNOOP\r\n']);
  });
});
