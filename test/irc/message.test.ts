/**
 * parseMessage: the parts of real lines (client and server shapes, tags, numerics), the faults,
 * the bounds, and properties: formatted messages parse back, random bytes never throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  parseMessage, messageText, formatMessage, MAX_MESSAGE_BYTES, MAX_TAGS_BYTES, type IrcMessage, type MessageResult,
} from '../../src/core/irc/index.js';
import { NatAlgError } from '../../src/core/errors.js';
import { at, b } from './helpers.js';

function parts(line: string): Record<string, unknown> {
  const bytes = b(line);
  const m = parseMessage(bytes);
  if (!m.ok) return { fault: m.reason };
  return {
    tags: at(bytes, m.tags),
    prefix: at(bytes, m.prefix),
    command: at(bytes, m.command),
    verb: m.verb,
    numeric: m.numeric,
    params: m.params.map((p) => at(bytes, p)),
    trailing: m.trailing,
    lineEnd: m.lineEnd,
  };
}

function ok(r: MessageResult): IrcMessage {
  if (!r.ok) throw new Error(`parse failed: ${r.reason}`);
  return r;
}

describe('parseMessage: shapes', () => {
  const rows: [string, string, Record<string, unknown>][] = [
    ['client PRIVMSG', 'PRIVMSG bob :hello there\r\n', { prefix: null, command: 'PRIVMSG', verb: 'PRIVMSG', params: ['bob', 'hello there'], trailing: true, lineEnd: 'crlf' }],
    ['relayed by a server', ':alice!~alice@192.0.2.2 PRIVMSG bob :\x01DCC SEND f 1 2 3\x01\r\n', { prefix: 'alice!~alice@192.0.2.2', verb: 'PRIVMSG', params: ['bob', '\x01DCC SEND f 1 2 3\x01'] }],
    ['IRCv3 tags', '@time=2024-01-01T00:00:00.000Z;msgid=abc :alice!a@h NOTICE bob :hi\r\n', { tags: 'time=2024-01-01T00:00:00.000Z;msgid=abc', prefix: 'alice!a@h', verb: 'NOTICE', params: ['bob', 'hi'] }],
    ['numeric 001', ':irc.lab.test 001 alice :Welcome to the Internet Relay Network alice\r\n', { command: '001', verb: 'numeric', numeric: 1, params: ['alice', 'Welcome to the Internet Relay Network alice'] }],
    ['numeric 433', ':srv 433 * alice :Nickname already in use', { verb: 'numeric', numeric: 433, params: ['*', 'alice', 'Nickname already in use'], lineEnd: 'none' }],
    ['lower-case command', 'privmsg bob :hi\n', { command: 'privmsg', verb: 'PRIVMSG', lineEnd: 'lf' }],
    ['mixed-case command', 'NoTiCe bob hi\r', { verb: 'NOTICE', params: ['bob', 'hi'], trailing: false, lineEnd: 'cr' }],
    ['PING without colon', 'PING irc.lab.test\r\n', { verb: 'PING', params: ['irc.lab.test'], trailing: false }],
    ['PING with colon', 'PING :irc.lab.test\r\n', { verb: 'PING', params: ['irc.lab.test'], trailing: true }],
    ['unknown command', 'WHOIS bob\r\n', { verb: 'other', command: 'WHOIS', params: ['bob'] }],
    ['no params', 'QUIT\r\n', { verb: 'QUIT', params: [], trailing: false }],
    ['empty trailing', 'PRIVMSG bob :\r\n', { params: ['bob', ''], trailing: true }],
    ['trailing with colons and spaces', 'PRIVMSG bob :: a  b :c \r\n', { params: ['bob', ': a  b :c '] }],
    ['runs of spaces', '  :p   PRIVMSG   bob    :x\r\n', { prefix: 'p', params: ['bob', 'x'] }],
    ['spaces before line end', 'JOIN #a   \r\n', { params: ['#a'] }],
    ['USER', 'USER alice 0 * :Alice A\r\n', { verb: 'USER', params: ['alice', '0', '*', 'Alice A'] }],
  ];
  it.each(rows)('%s', (_name, line, want) => {
    expect(parts(line)).toMatchObject(want);
  });

  it('the fifteenth parameter is the rest of the line, with or without a colon (RFC 2812)', () => {
    const middles = Array.from({ length: 14 }, (_, i) => `p${i}`).join(' ');
    expect(parts(`CMD ${middles} rest of it\r\n`)).toMatchObject({ params: [...middles.split(' '), 'rest of it'], trailing: false });
    expect(parts(`CMD ${middles} :rest of it\r\n`)).toMatchObject({ params: [...middles.split(' '), 'rest of it'], trailing: true });
  });
});

describe('parseMessage: faults', () => {
  const rows: [string, string, string][] = [
    ['empty line', '\r\n', 'empty'],
    ['only spaces', '    \r\n', 'empty'],
    ['NUL inside', 'PRIVMSG bob :a\x00b\r\n', 'nul'],
    ['bare CR inside', 'PRIVMSG bob :a\rPRIVMSG carol :b\r\n', 'cr-inside'],
    ['LF inside', 'PRIVMSG bob :a\nPRIVMSG carol :b\r\n', 'lf-inside'],
    ['@ alone', '@ PRIVMSG bob :x', 'bad-tags'],
    ['tags and nothing else', '@a=b', 'no-command'],
    ['tags then spaces', '@a=b    ', 'no-command'],
    [': alone', ': PRIVMSG bob :x', 'bad-prefix'],
    ['prefix and nothing else', ':alice', 'no-command'],
    ['command with a digit', 'PRIV2MSG bob :x', 'bad-command'],
    ['four digits', '0001 bob', 'bad-command'],
    ['two digits', '01 bob', 'bad-command'],
    ['command with a control byte', 'PRIVMSG\x01 bob :x', 'bad-command'],
  ];
  it.each(rows)('%s', (_name, line, reason) => {
    expect(parseMessage(b(line))).toEqual({ ok: false, reason });
  });
});

describe('parseMessage: bounds', () => {
  const body = (n: number): string => 'PRIVMSG bob :' + 'x'.repeat(n - 'PRIVMSG bob :'.length);

  it('takes 510 bytes of message and a CR LF, not 511', () => {
    expect(ok(parseMessage(b(body(510) + '\r\n'))).end).toBe(510);
    expect(parseMessage(b(body(511) + '\r\n'))).toEqual({ ok: false, reason: 'too-long' });
    expect(parseMessage(b(body(511) + '\n'))).toEqual({ ok: false, reason: 'too-long' });
    expect(MAX_MESSAGE_BYTES).toBe(512);
  });

  it('takes a tags section of 8191 bytes with its @ and space, not 8192', () => {
    const tags = (n: number): string => '@' + 'a'.repeat(n - 2) + ' ';
    const okLine = tags(MAX_TAGS_BYTES) + body(510) + '\r\n';
    expect(ok(parseMessage(b(okLine))).tags).toEqual({ start: 1, end: MAX_TAGS_BYTES - 1 });
    expect(parseMessage(b(tags(MAX_TAGS_BYTES + 1) + body(20)))).toEqual({ ok: false, reason: 'tags-too-long' });
    expect(parseMessage(b(tags(MAX_TAGS_BYTES) + body(511)))).toEqual({ ok: false, reason: 'too-long' });
  });

  it('takes other bounds from its options and refuses silly ones', () => {
    expect(ok(parseMessage(b(body(1000)), { maxMessageBytes: 1002 })).params.length).toBe(2);
    expect(parseMessage(b(body(1000)), { maxMessageBytes: 1001 })).toEqual({ ok: false, reason: 'too-long' });
    expect(parseMessage(b('@abc PING x'), { maxTagsBytes: 4 })).toEqual({ ok: false, reason: 'tags-too-long' });
    expect(ok(parseMessage(b('@abc PING x'), { maxTagsBytes: 5 })).verb).toBe('PING');
    for (const bad of [0, 2, 1.5, 70000, Number.NaN]) {
      expect(() => parseMessage(b('PING x'), { maxMessageBytes: bad })).toThrow(NatAlgError);
    }
  });

  it('answers an endless line from its length, without reading it', () => {
    const huge = new Uint8Array(64 << 20).fill(0x41);
    const started = performance.now();
    expect(parseMessage(huge)).toEqual({ ok: false, reason: 'too-long' });
    huge[0] = 0x40; // '@' and no space: the tag scan stops at its bound
    expect(parseMessage(huge)).toEqual({ ok: false, reason: 'tags-too-long' });
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('messageText', () => {
  it('gives target and text of PRIVMSG and NOTICE, and says why not otherwise', () => {
    const line = b(':a PRIVMSG #chan :\x01ACTION waves\x01');
    const m = ok(parseMessage(line));
    const r = messageText(m);
    expect(r.ok && [at(line, r.target), at(line, r.text)]).toEqual(['#chan', '\x01ACTION waves\x01']);
    expect(messageText(ok(parseMessage(b('JOIN #a'))))).toEqual({ ok: false, reason: 'not-text' });
    expect(messageText(ok(parseMessage(b('PRIVMSG bob'))))).toEqual({ ok: false, reason: 'no-text' });
    expect(messageText(ok(parseMessage(b('PRIVMSG bob x :\x01DCC SEND a 1 2\x01'))))).toEqual({ ok: false, reason: 'extra-params' });
  });
});

describe('formatMessage', () => {
  it('writes the shapes servers send', () => {
    expect(formatMessage({ command: 'PRIVMSG', params: ['bob', 'hello there'] })).toBe('PRIVMSG bob :hello there\r\n');
    expect(formatMessage({ command: 'PONG', params: ['irc.lab.test'] })).toBe('PONG irc.lab.test\r\n');
    expect(formatMessage({ command: 'PONG', params: ['irc.lab.test'], colonLast: true })).toBe('PONG :irc.lab.test\r\n');
    expect(formatMessage({ tags: 'a=b', prefix: 'srv', command: '001', params: ['alice', 'Welcome'] })).toBe('@a=b :srv 001 alice Welcome\r\n');
    expect(formatMessage({ command: 'PRIVMSG', params: ['bob', ''] })).toBe('PRIVMSG bob :\r\n');
  });

  it('refuses what it cannot write', () => {
    for (const f of [
      { command: 'PRIV MSG' },
      { command: '12' },
      { command: 'PRIVMSG', params: ['bo b', 'x'] },
      { command: 'PRIVMSG', params: [':bob', 'x'] },
      { command: 'PRIVMSG', params: ['', 'x'] },
      { command: 'PRIVMSG', params: ['bob', 'a\r\nQUIT'] },
      { command: 'PRIVMSG', prefix: '', params: ['bob', 'x'] },
      { command: 'X', params: Array.from({ length: 16 }, () => 'p') },
    ]) {
      expect(() => formatMessage(f)).toThrow(NatAlgError);
    }
  });

  const word = fc.stringMatching(/^[!-9;-~][!-~]{0,11}$/);
  const text = fc.string({ maxLength: 40 }).filter((s) => !/[\x00\r\n]/.test(s) && [...s].every((c) => c.charCodeAt(0) < 256));
  it('round-trips through parseMessage (property)', () => {
    fc.assert(
      fc.property(
        fc.option(word, { nil: undefined }),
        fc.option(word, { nil: undefined }),
        fc.oneof(fc.stringMatching(/^[A-Za-z]{1,10}$/), fc.stringMatching(/^[0-9]{3}$/)),
        fc.array(word, { maxLength: 13 }),
        fc.option(text, { nil: undefined }),
        (tags, prefix, command, middles, last) => {
          const params = last === undefined ? middles : [...middles, last];
          const line = b(formatMessage({ ...(tags !== undefined ? { tags } : {}), ...(prefix !== undefined ? { prefix } : {}), command, params }));
          const m = ok(parseMessage(line, { maxMessageBytes: 4096 }));
          expect(at(line, m.tags)).toBe(tags ?? null);
          expect(at(line, m.prefix)).toBe(prefix ?? null);
          expect(at(line, m.command)).toBe(command);
          expect(m.params.map((p) => at(line, p))).toEqual(params);
          expect(m.lineEnd).toBe('crlf');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('parseMessage on random bytes (property)', () => {
  it('never throws, and every span lies inside the line in order', () => {
    const alphabet = fc.constantFrom(0x20, 0x3a, 0x40, 0x01, 0x0d, 0x0a, 0x00, 0x41, 0x50, 0x30, 0x31, 0x78, 0xff);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.array(alphabet, { maxLength: 600 }).map((a) => Uint8Array.from(a))), (line) => {
        const m = parseMessage(line);
        if (!m.ok) return;
        const spans = [m.tags, m.prefix, m.command, ...m.params].filter((s) => s !== null);
        let last = 0;
        for (const s of spans) {
          expect(s.start).toBeGreaterThanOrEqual(last);
          expect(s.end).toBeGreaterThanOrEqual(s.start);
          expect(s.end).toBeLessThanOrEqual(m.end);
          last = s.end;
        }
        expect(m.params.length).toBeLessThanOrEqual(15);
        for (let i = 0; i < m.end; i++) expect([0x00, 0x0d, 0x0a]).not.toContain(line[i]);
      }),
      { numRuns: 2000 },
    );
  });
});
