/**
 * Fuzzing against a model of the most lenient client's reading of DCC (lenient-client.ts):
 * sessions of hostile offer spellings both ways (case, blanks and tabs, quotes, numbers in
 * filenames, hex, octal, leading zeros, out-of-range values, trailing junk, a missing or extra
 * \x01, DCC outside a text, bare CR and NUL, several CTCPs in a line), each fed in three
 * chunkings. Whatever the translator lets through is read by the model, which must never find a
 * connection to anything but an endpoint the gateway announced: towards the server's side the
 * gateway's outside address, towards the client its inside address. Every data channel asked for
 * points where the policy allows, and the chunking never changes a byte.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DataChannelRequest } from '../../src/core/alg/contract.js';
import { namesNoRemoteHost } from '../../src/core/net/no-remote-host.js';
import { C2S, CLIENT, every, GATEWAY_IN, GATEWAY_OUT, OPTIONS, run, S2C, type Segment, bytes } from './harness.js';
import { lenientReadings, modelAddress, type ModelAddress } from './lenient-client.js';

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);

const addressWord = fc.oneof(
  pick('3221225994', '192.0.2.10', '2001:db8:1::2', '::ffff:192.0.2.10', '3325256706', '198.51.100.2', '2001:db8:2::2'),
  pick('2130706433', '0', '3325256705', '3221225985', '0x7f000001', '017700000001', '127.1', '03221225994', '7516193290'),
  pick('3221225994"', '3221225994x', '0xC000020A', '3221225994.0', '::1', 'fe80::1', '3758096385', '4294967295'),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(String),
);
const portWord = fc.oneof(pick('5000', '6000', '22', '0', '65536', '70536', '0x1388', '5000"', '05000', '1023', '1024'), fc.integer({ min: 0, max: 70000 }).map(String));
// Sizes below 2^24: a right-shifted reading of (size, token) is then no endpoint (see the model).
const sizeWord = fc.oneof(pick('100', '0', '16777215'), fc.integer({ min: 0, max: 2 ** 24 - 1 }).map(String));
const tokenWord = pick('77', 'abc', '1', 'T0k3n');
const filename = pick('a.txt', '"my file.txt"', 'my file 2130706433 8080', '"x 2130706433 8080"', 'track 01', '"Episode 01.mkv"', '"unterminated', '""', 'x"y', 'file.ext', '"a"b',
  'a\\ x', 'x\\ 2130706433', 'a b 2130706433 8080 1', 'a\\ x 2130706433 8080', 'track 01 02 03.mp3', 'C:\\dir\\f.txt');
const blank = pick(' ', ' ', ' ', '  ', '\t', ' \t');
const tag = pick('DCC', 'DCC', 'DCC', 'dcc', 'DcC', ' DCC', '\tDCC', 'DCCX', 'XDCC', 'tdcc', 'DCC1', 'XDCCX');
const verb = pick('SEND', 'SEND', 'SEND', 'send', 'CHAT', 'TSEND', 'SSEND', 'RESUME', 'ACCEPT', 'XMIT', 'REJECT', 'VOICE');

const dccSegment = fc
  .record({
    tag, verb, b1: blank, b2: blank, b3: blank, b4: blank, filename, address: addressWord, port: portWord,
    tail: fc.oneof(fc.constant(''), sizeWord.map((x) => ` ${x}`), fc.tuple(sizeWord, tokenWord).map(([x, y]) => ` ${x} ${y}`)),
    close: pick('\x01', '\x01', '', '\x01 junk', ' x\x01', ' \x01', '\x01 \x01ACTION 2130706433 8080 1\x01', '\x01 2130706433 8080 1\x01'),
  })
  .map((r) => {
    const v = r.verb.toUpperCase();
    const head = v === 'CHAT' ? 'chat' : r.filename;
    const rest = v === 'RESUME' || v === 'ACCEPT' ? `${r.port} 50` : `${r.address}${r.b4}${r.port}${r.tail}`;
    return `\x01${r.tag}${r.b1}${r.verb}${r.b2}${head}${r.b3}${rest}${r.close}`;
  });

/** Offers a real client sends (valid from one side or the other), so that many lines get through. */
const goodSegment = (fromClient: boolean) => fc
  .record({
    verb: pick('SEND', 'SEND', 'CHAT', 'send', 'TSEND'),
    name: pick('a.txt', '"my file.txt"', '"Episode 01.mkv"', 'report.pdf'),
    address: fromClient ? pick('3221225994', '192.0.2.10') : pick('3325256706', '198.51.100.2', '2001:db8:2::2'),
    port: fc.integer({ min: 1024, max: 65535 }),
    tail: pick('', ' 100', ' 1048576', ' 100 77'),
    close: pick('\x01', ''),
  })
  .map((r) => `\x01DCC ${r.verb} ${r.verb.toUpperCase() === 'CHAT' ? 'chat' : r.name} ${r.address} ${r.port}${r.verb.toUpperCase() === 'CHAT' ? '' : r.tail}${r.close}`);

const textPart = (fromClient: boolean) => fc.oneof({ weight: 4, arbitrary: dccSegment }, { weight: 4, arbitrary: goodSegment(fromClient) }, { weight: 2, arbitrary: pick('hello', 'see \x01ACTION waves\x01', 'x', '') });
const command = pick('PRIVMSG bob :', 'PRIVMSG bob :', 'PRIVMSG bob :', 'PRIVMSG bob :', 'NOTICE bob :', 'NOTICE bob :', 'privmsg bob :', 'PRIVMSG bob extra :', 'TOPIC #c :', 'PRIVMSG bob ', 'CPRIVMSG bob #c :', 'PRIVMSG #chan :');
const lineEnd = pick('\r\n', '\r\n', '\n', '\r\r\n');

const line = (fromClient: boolean) => fc
  .record({ command, parts: fc.array(textPart(fromClient), { minLength: 1, maxLength: 2 }), joiner: pick(' ', ''), end: lineEnd, inject: fc.option(fc.tuple(pick('\r', '\0', '\t'), fc.nat()), { freq: 8 }) })
  .map((r) => {
    let text = r.command + r.parts.join(r.joiner);
    if (r.inject !== null) {
      const [byte, at] = r.inject;
      const k = at % (text.length + 1);
      text = text.slice(0, k) + byte + text.slice(k);
    }
    return text + r.end;
  });

const session = fc.array(fc.boolean().chain((fromClient) => line(fromClient).map((l): [boolean, string] => [fromClient, l])), { minLength: 1, maxLength: 8 });

function sameAddress(a: ModelAddress, b: string): boolean {
  const m = modelAddress(b)!;
  return 'v4' in a ? 'v4' in m && a.v4 === m.v4 : 'v6' in m && a.v6 === m.v6;
}

function check(lines: readonly [boolean, string][]): { translated: number; refused: number } {
  const segments: Segment[] = [
    { dir: C2S, data: bytes('NICK alice\r\nUSER alice 0 * :A\r\n') },
    { dir: S2C, data: bytes(':irc 001 alice :Welcome\r\n') },
    ...lines.map(([fromClient, text]) => ({ dir: fromClient ? C2S : S2C, data: bytes(fromClient ? text : `:bob!b@h ${text}`) })),
  ];
  const results = [run(segments, OPTIONS, undefined, undefined, true), run(segments, OPTIONS, undefined, every(1), true), run(segments, OPTIONS, undefined, every(7), true)];
  const [r] = results;
  for (const other of results.slice(1)) {
    expect(other.c2s).toBe(r!.c2s);
    expect(other.s2c).toBe(r!.s2c);
    expect(other.events).toEqual(r!.events);
  }
  const requests = r!.events.flatMap((e) => (e.type === 'data-channel-request' ? [e.request] : [])) as DataChannelRequest[];
  const announced = { server: new Set<number>(), client: new Set<number>() };
  for (const q of requests) {
    expect(q.target.port).toBeGreaterThanOrEqual(1024);
    if (q.connector === 'server') {
      expect(q.target.address).toBe(CLIENT);
      expect(q.acceptFrom).toBeNull();
      announced.server.add(40000 + q.id);
    } else {
      expect(namesNoRemoteHost(q.target.address)).toBe(false);
      expect([GATEWAY_IN, GATEWAY_OUT]).not.toContain(q.target.address);
      expect(q.acceptFrom).toBe(CLIENT);
      announced.client.add(40000 + q.id);
    }
  }
  // What the server's side reads from the client may only lead to the gateway's outside endpoints,
  // and what the client reads from outside only to its inside ones.
  for (const reading of lenientReadings(r!.c2s)) {
    expect(sameAddress(reading.address, GATEWAY_OUT) && announced.server.has(reading.port), `towards the server: ${reading.words} in ${JSON.stringify(r!.c2s)}`).toBe(true);
  }
  for (const reading of lenientReadings(r!.s2c)) {
    expect(sameAddress(reading.address, GATEWAY_IN) && announced.client.has(reading.port), `towards the client: ${reading.words} in ${JSON.stringify(r!.s2c)}`).toBe(true);
  }
  return {
    translated: r!.events.filter((e) => e.type === 'line-translated').length,
    refused: r!.events.filter((e) => e.type === 'command-refused').length,
  };
}

describe('fuzzing against a lenient client model', () => {
  it('hand-picked hostile lines', () => {
    const hostile: [boolean, string][] = [
      [true, 'PRIVMSG bob :\x01DCC SEND "x 3221225994 5000" 3221225994 5000 1\x01\r\n'],
      [false, 'PRIVMSG alice :\x01DCC SEND x 2130706433 8080 3325256706 6000 1\x01\r\n'],
      [false, 'PRIVMSG alice :\x01DCC SEND a 3325256706 0 100 77\x01\r\n'],
      [true, 'PRIVMSG bob :\x01DCC SEND a 0x7f000001 5000\x01\r\n'],
      [false, 'PRIVMSG alice :\x01DCC SEND a 127.1 6000\x01\r\n'],
      [false, 'PRIVMSG alice :hi\x00\x01DCC SEND a 2130706433 6000\x01\r\n'],
    ];
    const r = check(hostile);
    expect(r.refused).toBeGreaterThanOrEqual(4);
  });

  it('random sessions in three chunkings', () => {
    let translated = 0;
    let refused = 0;
    fc.assert(
      fc.property(session, (lines) => {
        const r = check(lines);
        translated += r.translated;
        refused += r.refused;
      }),
      { numRuns: 500 },
    );
    // The generator reaches both outcomes often (a fuzzer that only ever refuses proves little).
    expect(translated).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(200);
  });
});
