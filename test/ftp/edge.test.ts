import { describe, it, expect } from 'vitest';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import { NatAlgError } from '../../src/core/errors.js';
import { run, c, s, text, bytes, opts, C2S, S2C, edits, type Resolver } from './harness.js';

const greet = s('220 hi\r\n');

describe('pairing details', () => {
  it('commits a PORT only on the final reply, after preliminary ones', () => {
    const r = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n'), s('120 wait\r\n')]);
    expect(r.events.map((e) => e.type)).toEqual(['data-channel-request', 'line-translated', 'edit']);
    const r2 = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n'), s('120 wait\r\n200-multi\r\n200 ok\r\n')]);
    expect(r2.events.at(-1)).toEqual({ type: 'data-channel-committed', id: 1 });
  });

  it('an unsolicited reply on an empty queue changes nothing', () => {
    const r = run(opts, [greet, s('421 Timeout.\r\n'), c('PASV\r\n'), s('227 (10,0,0,5,195,80)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n421 Timeout.\r\n227 (192,0,2,1,156,65)\r\n');
  });

  it('a 227 line inside another reply is translated (a client may end the reply there and read it)', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('150-x\r\n227 (10,0,0,5,195,80)\r\n150 y\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n150-x\r\n227 (192,0,2,1,156,65)\r\n150 y\r\n');
    expect(r.events.map((e) => e.type)).toContain('data-channel-request');
  });

  it('a passive reply after a refused PASV is translated all the same (it answers nothing, but a client may use it)', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('500 no\r\n227 (10,0,0,5,195,80)\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n500 no\r\n227 (192,0,2,1,156,65)\r\n');
  });
});

describe('passive reply refusals inside multi-line replies keep the structure', () => {
  it('prefix kept, no address left', () => {
    const refuse: Resolver = () => ({ refuse: 'no (ports) left\r\n' });
    const r = run(opts, [greet, c('PASV\r\n'), s('227-Entering Passive Mode\r\n227 (10,0,0,5,195,80)\n')], refuse);
    expect(text(r.s2c)).toBe('220 hi\r\n227-Entering Passive Mode\r\n227 Cannot open data connection (no  ports  left).\n');
  });

  it('a single-line passive reply without an address becomes 425', () => {
    const r = run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n425 Cannot open data connection (no address in the reply).\r\n');
  });
});

describe('end of stream', () => {
  it('flushes an undecided line start and drops a partial candidate line', () => {
    const r = run(opts, [greet, c('NOOP\r\nPO')], undefined, undefined, true);
    expect(text(r.c2s)).toBe('NOOP\r\nPO');
    const r2 = run(opts, [greet, c('NOOP\r\nPORT 192,0,2')], undefined, undefined, true);
    expect(text(r2.c2s)).toBe('NOOP\r\n');
    expect(r2.events.map((e) => e.type)).toEqual(['edit', 'protocol-error']);
    expect(edits(r2.events)[0]).toMatchObject({ inputOffset: 6, inputLength: 12, outputLength: 0 });
  });
});

describe('answers from the embedding', () => {
  it('rejects an IPv6 replacement for a 227 and keeps the request pending', () => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.handleData(C2S, bytes('PASV\r\n'), 0);
    t.handleData(S2C, bytes('227 (10,0,0,5,195,80)\r\n'), 0);
    const e = t.pollEvent();
    if (e?.type !== 'data-channel-request') throw new Error('no request');
    expect(() => t.resolveDataChannel(e.request.id, { family: 6, address: '2001:db8::1', port: 5 })).toThrow(NatAlgError);
    expect(() => t.resolveDataChannel(e.request.id, { family: 4, address: '192.0.2.300', port: 5 })).toThrow(/replacement/);
    expect(() => t.resolveDataChannel(e.request.id, { family: 4, address: '192.0.2.3', port: 0 })).toThrow(NatAlgError);
    expect(t.isBlocked(S2C)).toBe(true);
    t.resolveDataChannel(e.request.id, { family: 4, address: '192.0.2.3', port: 1025 });
    expect(t.isBlocked(S2C)).toBe(false);
  });

  it('REIN releases the current mapping', () => {
    const r = run(opts, [greet, c('PORT 192,0,2,10,19,137\r\nREIN\r\n'), s('200 ok\r\n220 again\r\n')]);
    expect(r.events.slice(-2)).toEqual([
      { type: 'data-channel-committed', id: 1 },
      { type: 'data-channel-released', id: 1, reason: 'REIN' },
    ]);
    const r2 = run(opts, [greet, c('PASV\r\n'), s('227 (10,0,0,5,195,80)\r\n'), c('REIN\r\n'), s('500 no\r\n')]);
    expect(r2.events.some((e) => e.type === 'data-channel-released')).toBe(false);
  });

  it('REIN does not release mappings of commands sent after it', () => {
    const r = run(opts, [greet, c('REIN\r\nPORT 192,0,2,10,19,137\r\n'), s('220 again\r\n200 ok\r\n')]);
    expect(r.events.filter((e) => e.type === 'data-channel-released')).toEqual([]);
    expect(r.events.at(-1)).toEqual({ type: 'data-channel-committed', id: 1 });
  });

  it('a 234 that answers no command closes the connection: the server began TLS on a command the gateway never saw', () => {
    const hello = '\x16\x03\x01\x00\x14PORT 6,6,6,6,0,21\r\n';
    const r = run(opts, [greet, c('AUTH TLS'), s('234 go\r\n'), c('\r\n' + hello)]);
    // The AUTH was not sent yet (no LF): the 234 answers nothing, so pairing cannot be trusted.
    expect(text(r.c2s)).toBe('');
    expect(text(r.s2c)).toBe('220 hi\r\n234 go\r\n421 Unexpected TLS negotiation, closing control connection.\r\n');
    expect(r.events).toContainEqual({ type: 'close', reason: 'the server started TLS on a command the gateway never saw' });
    expect(r.translator.tlsActive).toBe(false);
  });

  it('any other reply to no command is reported and passes', () => {
    const r = run(opts, [greet, c('NOOP\r\n'), s('200 ok\r\n500 extra\r\n'), c('NOOP\r\n'), s('200 ok\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n200 ok\r\n500 extra\r\n200 ok\r\n');
    expect(r.events).toContainEqual({ type: 'protocol-error', direction: 'server-to-client', message: '500 reply to no command' });
    expect(r.events.some((e) => e.type === 'close')).toBe(false);
  });

  it('rejects bad arguments to the API with typed errors', () => {
    const t = new FtpTranslator(opts);
    expect(() => t.handleData('sideways' as never, bytes('x'), 0)).toThrow(NatAlgError);
    expect(() => t.handleData(C2S, 'text' as never, 0)).toThrow(NatAlgError);
    expect(() => t.handleData(C2S, bytes('x'), Number.NaN)).toThrow(NatAlgError);
    for (const policy of [{ maxLineLength: 10 }, { maxPendingDataChannels: 0 }, { overlongLine: 'drop' as never }]) {
      expect(() => new FtpTranslator({ ...opts, policy })).toThrow(NatAlgError);
    }
    expect(t.pollTimeout()).toBeNull();
  });
});

describe('MAX_PENDING_COMMANDS', () => {
  it('tells the client with a 421, then asks to close, when it piles up commands without replies', () => {
    const r = run(opts, [c('NOOP\r\n'.repeat(600))]);
    expect(r.events.map((e) => e.type)).toEqual(['edit', 'close']);
    expect(text(r.c2s)).toBe('NOOP\r\n'.repeat(511));
    expect(text(r.s2c)).toBe('421 Too many commands awaiting replies, closing control connection.\r\n');
  });

  it('the 421 starts a line of its own in the middle of a server line', () => {
    const r = run(opts, [s('220 hi\r\n150-partial'), c('NOOP\r\n'.repeat(600))]);
    expect(text(r.s2c)).toBe('220 hi\r\n150-partial\r\n421 Too many commands awaiting replies, closing control connection.\r\n');
  });
});

describe('replacement endpoints', () => {
  it.each([
    ['192.0.2.1', true], ['0.0.0.0', true], ['255.255.255.255', true], ['192.0.2.01', false], ['192.0.2', false],
    ['192.0.2.1.', false], ['.192.0.2.1', false], ['192.0.2.256', false], ['192.0..1', false], ['1.2.3.4.5', false], ['', false],
  ])('IPv4 replacement %j accepted: %s', (address, ok) => {
    const t = new FtpTranslator(opts);
    t.handleData(S2C, bytes('220 hi\r\n'), 0);
    t.handleData(C2S, bytes('PORT 192,0,2,10,19,137\r\n'), 0);
    const e = t.pollEvent();
    if (e?.type !== 'data-channel-request') throw new Error('no request');
    const call = () => t.resolveDataChannel(e.request.id, { family: 4, address, port: 2000 });
    if (ok) expect(call).not.toThrow();
    else expect(call).toThrow(NatAlgError);
  });
});
