/**
 * The IRC DCC translator line by line: offers from the client and from outside translated with
 * the right data-channel requests, RESUME/ACCEPT ports mapped, passive (reverse) DCC, several
 * CTCPs in a line, every refusal (line dropped, other bytes unchanged, NOTICE, event), local lines
 * waiting for a server line boundary, registration, STARTTLS, TLS, over-long lines and timeouts.
 */
import { describe, expect, it } from 'vitest';
import { IrcTranslator } from '../../src/core/irc/translator.js';
import type { IrcEvent } from '../../src/core/irc/types.js';
import type { DataChannelRequest } from '../../src/core/alg/contract.js';
import { NatAlgError } from '../../src/core/errors.js';
import { bytes, c, CLIENT, GATEWAY_IN, GATEWAY_OUT, kinds, OPTIONS, REGISTER, run, s, text, C2S, S2C, type Resolver } from './harness.js';

const HEAD_C2S = 'NICK alice\r\nUSER alice 0 * :Alice\r\n';
const HEAD_S2C = ':irc.test 001 alice :Welcome\r\n';

function requests(events: readonly IrcEvent[]): DataChannelRequest[] {
  return events.flatMap((e) => (e.type === 'data-channel-request' ? [e.request] : []));
}

function refusals(events: readonly IrcEvent[]): Extract<IrcEvent, { type: 'command-refused' }>[] {
  return events.flatMap((e) => (e.type === 'command-refused' ? [e] : []));
}

describe('offers from the client', () => {
  it('DCC SEND: the gateway’s outside endpoint replaces the client’s, a channel anyone outside may use towards the client', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n')]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01\r\n`);
    expect(r.s2c).toBe(HEAD_S2C);
    expect(requests(r.events)).toEqual([{
      id: 1, connector: 'server', acceptFrom: null,
      original: { family: 4, address: CLIENT, port: 5000 }, target: { family: 4, address: CLIENT, port: 5000 },
      family: 4, oneShot: true, timeoutMs: 300_000, label: 'DCC SEND',
    }]);
    expect(kinds(r.events)).toEqual(['logged-in', 'data-channel-request', 'line-translated', 'data-channel-committed']);
    const tr = r.events.find((e) => e.type === 'line-translated');
    expect(tr).toMatchObject({ direction: C2S, keyword: 'DCC SEND', before: 'PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01' });
  });

  it('DCC CHAT, a dotted address kept dotted, a final \\x01 missing, lower-case verbs', () => {
    const r = run([...REGISTER,
      c('PRIVMSG bob :\x01DCC CHAT chat 3221225994 5001\x01\r\n'),
      c('PRIVMSG bob :\x01dcc send a.txt 192.0.2.10 5002 7\r\n'),
    ]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC CHAT chat 3325256705 40001\x01\r\nPRIVMSG bob :\x01dcc send a.txt ${GATEWAY_OUT} 40002 7\r\n`);
    expect(requests(r.events).map((q) => q.label)).toEqual(['DCC CHAT', 'DCC SEND']);
  });

  it('an IPv6 client behind an IPv4 server side: offered as IPv6 text, announced as an integer', () => {
    const r = run([c('NICK a\r\n'), s(':x 001 a :hi\r\n'), c('PRIVMSG bob :\x01DCC SEND f 2001:db8:1::2 5000 1\x01\r\n')], {
      ...OPTIONS, clientAddress: '2001:db8:1::2',
    });
    expect(r.c2s).toBe(`NICK a\r\nPRIVMSG bob :\x01DCC SEND f 3325256705 40001 1\x01\r\n`);
    expect(requests(r.events)[0]).toMatchObject({ family: 4, target: { family: 6, address: '2001:db8:1::2', port: 5000 } });
  });

  it('several CTCPs in one line: an ACTION passes, two offers get a channel each', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01ACTION waves\x01 \x01DCC SEND a 3221225994 5000 1\x01 and \x01DCC CHAT chat 3221225994 5001\x01\r\n')]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01ACTION waves\x01 \x01DCC SEND a 3325256705 40001 1\x01 and \x01DCC CHAT chat 3325256705 40002\x01\r\n`);
    expect(kinds(r.events).slice(1)).toEqual(['data-channel-request', 'data-channel-request', 'line-translated', 'data-channel-committed', 'data-channel-committed']);
  });

  it('a line that is no offer passes byte for byte, ACTION and REJECT included', () => {
    const lines = 'PRIVMSG #c :hello \x01ACTION waves\x01\r\nNOTICE bob :\x01DCC REJECT SEND a.txt\x01\r\nPING :x\nMODE alice +i\r\n';
    const r = run([...REGISTER, c(lines)]);
    expect(r.c2s).toBe(HEAD_C2S + lines);
    expect(kinds(r.events)).toEqual(['logged-in']);
  });
});

describe('offers from outside', () => {
  it('DCC SEND to the client: the gateway’s inside endpoint, a channel only the client may use towards the sender', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC SEND b.txt 3325256706 6000 10\x01\r\n')]);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :\x01DCC SEND b.txt 3221225985 40001 10\x01\r\n`);
    expect(requests(r.events)).toEqual([{
      id: 1, connector: 'client', acceptFrom: CLIENT,
      original: { family: 4, address: '198.51.100.2', port: 6000 }, target: { family: 4, address: '198.51.100.2', port: 6000 },
      family: 4, oneShot: true, timeoutMs: 300_000, label: 'DCC SEND',
    }]);
  });

  it.each([
    ['loopback', '2130706433', 6000],
    ['unspecified', '0', 6000],
    ['the gateway itself (outside)', '3325256705', 6000],
    ['the gateway itself (inside)', GATEWAY_IN, 6000],
    ['link-local', '169.254.169.254', 8080],
    ['multicast', '3758096385', 6000],
    ['IPv6 loopback', '::1', 6000],
  ])('refuses an offer naming %s', (_what, address, port) => {
    const r = run([...REGISTER, s(`:bob!b@h PRIVMSG alice :\x01DCC SEND b.txt ${address} ${port} 10\x01\r\n:bob!b@h PRIVMSG alice :next\r\n`)]);
    expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :DCC SEND from bob refused by the gateway: it names an address the gateway does not connect to.\r\n:bob!b@h PRIVMSG alice :next\r\n`);
    expect(refusals(r.events)).toEqual([expect.objectContaining({ command: 'DCC SEND', reason: 'forbidden-address' })]);
    expect(requests(r.events)).toEqual([]);
  });

  it('refuses a port below 1024 from outside', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC CHAT chat 3325256706 22\x01\r\n')]);
    expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :DCC CHAT from bob refused by the gateway: ports below 1024 are not allowed.\r\n`);
  });
});

describe('refusals of client offers', () => {
  const cases: [string, string, string][] = [
    ['another host', 'PRIVMSG bob :\x01DCC SEND a.txt 3221225995 5000 1\x01\r\n', 'foreign-address'],
    ['a port below 1024', 'PRIVMSG bob :\x01DCC SEND a.txt 3221225994 22 1\x01\r\n', 'low-port'],
    ['port 0 without a token', 'PRIVMSG bob :\x01DCC SEND a.txt 3221225994 0 1\x01\r\n', 'low-port'],
    ['an unreadable address (leading zero)', 'PRIVMSG bob :\x01DCC SEND a.txt 03221225994 5000\x01\r\n', 'unreadable-offer'],
    ['an address beyond 32 bits', 'PRIVMSG bob :\x01DCC SEND a.txt 7516193290 5000\x01\r\n', 'unreadable-offer'],
    ['a tab after DCC', 'PRIVMSG bob :\x01DCC\tSEND a.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['blanks before DCC', 'PRIVMSG bob :\x01 DCC SEND a.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['a DCC outside a text (TOPIC)', 'TOPIC #c :\x01DCC SEND a.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['a DCC in CPRIVMSG', 'CPRIVMSG bob #c :\x01DCC SEND a.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['a PRIVMSG with an extra parameter', 'PRIVMSG bob extra :\x01DCC SEND a.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['a DCC right after another CTCP', 'PRIVMSG bob :\x01ACTION x\x01DCC SEND a.txt 3221225994 5000\r\n', 'unreadable-offer'],
    ['a NUL inside', 'PRIVMSG bob :\x01DCC SEND a\x00.txt 3221225994 5000\x01\r\n', 'unreadable-offer'],
    ['an unknown DCC verb', 'PRIVMSG bob :\x01DCC XMIT x 3221225994 5000\x01\r\n', 'unsupported-dcc'],
    ['a quoted filename hiding an endpoint', 'PRIVMSG bob :\x01DCC SEND "x 2130706433 8080" 3221225994 5000\x01\r\n', 'ambiguous-offer'],
    ['a spaced filename hiding an endpoint', 'PRIVMSG bob :\x01DCC SEND x 3221225995 6000 3221225994 5000 1\x01\r\n', 'ambiguous-offer'],
  ];
  // A client line with a bare CR is refused for the CR itself, whatever it holds (rules.ts
  // LINE_READING): an irc2-style server would read two messages in it.
  it.each([
    ['an offer after a bare CR', 'PRIVMSG bob :hi\r\x01DCC SEND a.txt 3221225994 5000\x01\r\n'],
    ['STARTTLS after a bare CR', 'PING x\rSTARTTLS\r\n'],
    ['NICK after a bare CR', 'PRIVMSG bob :hi\rNICK mallory\r\n'],
    ['a CR before CR LF', 'PRIVMSG bob :hi\r\r\n'],
  ])('%s: the line is dropped, the rest unchanged, the client told', (_what, line) => {
    const r = run([...REGISTER, c(`PRIVMSG #c :before\r\n${line}PRIVMSG #c :after\r\n`)]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG #c :before\r\nPRIVMSG #c :after\r\n`);
    const refused = refusals(r.events);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBe('bare-cr');
    expect(r.s2c).toBe(`${HEAD_S2C}${refused[0]!.reply}\r\n`);
    expect(refused[0]!.reply).toBe(':nat-alg NOTICE alice :Your line was dropped by the gateway: the line holds a CR without LF.');
    expect(requests(r.events)).toEqual([]);
  });

  it('a bare CR in a server line passes (the client reads it as its own client does)', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :a\rb\r\n')]);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :a\rb\r\n`);
    expect(refusals(r.events)).toEqual([]);
  });

  it.each(cases)('%s: the line is dropped, the rest unchanged, the client told', (_what, line, reason) => {
    const r = run([...REGISTER, c(`PRIVMSG #c :before\r\n${line}PRIVMSG #c :after\r\n`)]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG #c :before\r\nPRIVMSG #c :after\r\n`);
    const refused = refusals(r.events);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBe(reason);
    expect(r.s2c).toBe(`${HEAD_S2C}${refused[0]!.reply}\r\n`);
    expect(refused[0]!.reply).toMatch(/^:nat-alg NOTICE alice :DCC\b.* refused by the gateway: /);
    expect(requests(r.events)).toEqual([]);
  });

  it('names the target and the reason in the NOTICE', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a.txt 3221225995 5000 1\x01\r\n')]);
    expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :DCC SEND to bob refused by the gateway: the offer must name your own address.\r\n`);
  });

  it('a quoted filename with a plain number in it passes (0.0.0.1 is no endpoint)', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND "Episode 01.mkv" 3221225994 5000 7\x01\r\n')]);
    expect(r.c2s).toContain('PRIVMSG bob :\x01DCC SEND "Episode 01.mkv" 3325256705 40001 7\x01\r\n');
  });

  it('more offers in a line than maxWaitingOffers', () => {
    const offer = '\x01DCC SEND a 3221225994 5000 1\x01';
    const r = run([...REGISTER, c(`PRIVMSG bob :${offer}${offer}${offer}\r\n`)], { ...OPTIONS, policy: { maxWaitingOffers: 2 } });
    expect(refusals(r.events).map((e) => e.reason)).toEqual(['too-many-offers']);
  });

  it('allowForeignDccAddress and allowLowDccPorts open the policy, never to loopback', () => {
    const o = { ...OPTIONS, policy: { allowForeignDccAddress: true, allowLowDccPorts: true } };
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a 3221225995 22 1\x01\r\nPRIVMSG bob :\x01DCC SEND a 2130706433 5000 1\x01\r\n')], o);
    expect(requests(r.events).map((q) => q.target)).toEqual([{ family: 4, address: '192.0.2.11', port: 22 }]);
    expect(refusals(r.events).map((e) => e.reason)).toEqual(['foreign-address']);
  });
});

describe('the embedding refuses a data channel', () => {
  it('the line is dropped and the client told why', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01\r\n')], OPTIONS, () => ({ refuse: 'no free data port' }));
    expect(r.c2s).toBe(HEAD_C2S);
    expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :DCC SEND to bob refused by the gateway: no data channel available (no free data port).\r\n`);
    expect(refusals(r.events)[0]).toMatchObject({ reason: 'mapping-refused', command: 'DCC SEND' });
  });

  it('one of two offers refused: the other channel is released', () => {
    let n = 0;
    const resolver: Resolver = (q) => (++n === 2 ? { refuse: 'no' } : { family: 4, address: GATEWAY_OUT, port: 40000 + q.id });
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01\x01DCC SEND b 3221225994 5001 1\x01\r\n')], OPTIONS, resolver);
    expect(r.c2s).toBe(HEAD_C2S);
    expect(r.events).toContainEqual({ type: 'data-channel-released', id: 1, reason: 'another offer of the line was refused' });
  });

  it('answers for unknown ids and bad endpoints are API misuse', () => {
    const t = new IrcTranslator(OPTIONS);
    expect(() => t.resolveDataChannel(7, { family: 4, address: GATEWAY_OUT, port: 1 })).toThrow(NatAlgError);
    t.handleData(C2S, bytes('PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01\r\n'), 0);
    let id = 0;
    for (let e = t.pollEvent(); e; e = t.pollEvent()) if (e.type === 'data-channel-request') id = e.request.id;
    expect(t.isBlocked(C2S)).toBe(true);
    expect(() => t.resolveDataChannel(id, { family: 4, address: 'nonsense', port: 1 })).toThrow();
    expect(() => t.resolveDataChannel(id, { family: 4, address: GATEWAY_OUT, port: 0 })).toThrow(NatAlgError);
    t.resolveDataChannel(id, { family: 4, address: GATEWAY_OUT, port: 40000 });
    expect(t.isBlocked(C2S)).toBe(false);
    expect(() => t.resolveDataChannel(id, { family: 4, address: GATEWAY_OUT, port: 40000 })).toThrow(NatAlgError);
  });
});

describe('RESUME and ACCEPT', () => {
  it('for an offer from the client: RESUME from outside names the announced port, ACCEPT from the client its own', () => {
    const r = run([...REGISTER,
      c('PRIVMSG bob :\x01DCC SEND a.bin 3221225994 5000 100\x01\r\n'),
      s(':bob!b@h PRIVMSG alice :\x01DCC RESUME a.bin 40001 50\x01\r\n'),
      c('PRIVMSG bob :\x01DCC ACCEPT a.bin 5000 50\x01\r\n'),
    ]);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :\x01DCC RESUME a.bin 5000 50\x01\r\n`);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC SEND a.bin 3325256705 40001 100\x01\r\nPRIVMSG bob :\x01DCC ACCEPT a.bin 40001 50\x01\r\n`);
  });

  it('for an offer from outside: RESUME from the client, ACCEPT from outside (mIRC names the file "file.ext")', () => {
    const r = run([...REGISTER,
      s(':bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3325256706 6000 100\x01\r\n'),
      c('PRIVMSG bob :\x01DCC RESUME file.ext 40001 50\x01\r\n'),
      s(':bob!b@h PRIVMSG alice :\x01DCC ACCEPT file.ext 6000 50\x01\r\n'),
    ]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC RESUME file.ext 6000 50\x01\r\n`);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3221225985 40001 100\x01\r\n:bob!b@h PRIVMSG alice :\x01DCC ACCEPT file.ext 40001 50\x01\r\n`);
    expect(r.events.filter((e) => e.type === 'line-translated').map((e) => (e as { keyword: string }).keyword)).toEqual(['DCC SEND', 'DCC RESUME', 'DCC ACCEPT']);
  });

  it('a port no offer had, and a passive RESUME (port 0), pass unchanged', () => {
    const lines = 'PRIVMSG bob :\x01DCC RESUME a 7000 5\x01\r\nPRIVMSG bob :\x01DCC RESUME a 0 5 12\x01\r\n';
    const r = run([...REGISTER, c(lines)]);
    expect(r.c2s).toBe(HEAD_C2S + lines);
  });
});

describe('passive (reverse) DCC', () => {
  it('a passive offer from the client: the gateway’s address replaces the client’s, the answer from outside gets a channel', () => {
    const r = run([...REGISTER,
      c('PRIVMSG bob :\x01DCC SEND a.bin 3221225994 0 100 77\x01\r\n'),
      s(':bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3325256706 6000 100 77\x01\r\n'),
    ]);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC SEND a.bin 3325256705 0 100 77\x01\r\n`);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3221225985 40001 100 77\x01\r\n`);
    expect(requests(r.events)).toEqual([expect.objectContaining({ connector: 'client', acceptFrom: CLIENT, label: 'DCC SEND (reverse)', target: { family: 4, address: '198.51.100.2', port: 6000 } })]);
  });

  it('a passive offer from outside passes; the client’s answer gets a channel', () => {
    const r = run([...REGISTER,
      s(':bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3325256706 0 100 78\x01\r\n'),
      c('PRIVMSG bob :\x01DCC SEND a.bin 3221225994 5000 100 78\x01\r\n'),
    ]);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :\x01DCC SEND a.bin 3325256706 0 100 78\x01\r\n`);
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :\x01DCC SEND a.bin 3325256705 40001 100 78\x01\r\n`);
    expect(requests(r.events)).toEqual([expect.objectContaining({ connector: 'server', acceptFrom: null, label: 'DCC SEND (reverse)' })]);
  });

  it('a passive offer naming another host is refused; one without gateway addresses keeps the client’s', () => {
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a 3221225995 0 1 9\x01\r\n')]);
    expect(refusals(r.events).map((e) => e.reason)).toEqual(['foreign-address']);
    const { gateway: _g, ...bare } = OPTIONS;
    const line = 'PRIVMSG bob :\x01DCC SEND a 3221225994 0 1 9\x01\r\n';
    expect(run([...REGISTER, c(line)], bare).c2s).toBe(HEAD_C2S + line);
  });
});

describe('the gateway\'s own lines', () => {
  it('a NOTICE waits for the server line in progress and goes out after it', () => {
    const t = new IrcTranslator(OPTIONS);
    const feed = (d: typeof C2S, x: string) => t.handleData(d, bytes(x), 0);
    const drain = (d: typeof C2S) => {
      let o = '';
      for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) o += text(b);
      return o;
    };
    // The second server line is not complete: it is held until it is known to carry no \x01.
    feed(S2C, ':irc.test 001 alice :Welcome\r\n:bob!b@h PRIVMSG alice :a long line in two ');
    expect(drain(S2C)).toBe(':irc.test 001 alice :Welcome\r\n');
    feed(C2S, 'PRIVMSG bob :\x01DCC SEND a 3221225994 22 1\x01\r\n');
    expect(drain(S2C)).toBe('');
    feed(S2C, 'pieces\r\n');
    expect(drain(S2C)).toBe(':bob!b@h PRIVMSG alice :a long line in two pieces\r\n:nat-alg NOTICE alice :DCC SEND to bob refused by the gateway: ports below 1024 are not allowed.\r\n');
  });

  it('after a server line cut short by the end of its stream, the NOTICE starts a line of its own', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :cut'), c('PRIVMSG bob :\x01DCC SEND a 3221225994 22 1\x01\r\n')], OPTIONS, undefined, undefined, true);
    expect(r.s2c).toBe(`${HEAD_S2C}:bob!b@h PRIVMSG alice :cut\r\n:nat-alg NOTICE alice :DCC SEND to bob refused by the gateway: ports below 1024 are not allowed.\r\n`);
  });

  it('STARTTLS is answered 691 and not forwarded', () => {
    const r = run([c('CAP LS 302\r\nSTARTTLS\r\nNICK alice\r\n')]);
    expect(r.c2s).toBe('CAP LS 302\r\nNICK alice\r\n');
    expect(r.s2c).toBe(':nat-alg 691 * :STARTTLS is not available through this gateway\r\n');
    expect(refusals(r.events)).toEqual([expect.objectContaining({ command: 'STARTTLS', reason: 'starttls' })]);
  });

  it('the NOTICE follows the nick: from NICK, confirmed by 001, changed by the client', () => {
    const refuse = c('PRIVMSG b :\x01DCC SEND a 1 5000\x01\r\n');
    expect(run([c('NICK a1\r\n'), refuse]).s2c).toContain(':nat-alg NOTICE a1 :');
    expect(run([c('NICK a1\r\n'), s(':irc 001 a2 :hi\r\n'), refuse]).s2c).toContain(':nat-alg NOTICE a2 :');
    expect(run([c('NICK a1\r\n'), s(':irc 001 a2 :hi\r\n'), c('NICK a3\r\n'), refuse]).s2c).toContain(':nat-alg NOTICE a3 :');
    // The server's NICK for the client is seen when the line is read (here: it carries a \x01).
    expect(run([c('NICK a1\r\n'), s(':irc 001 a2 :hi\r\n:a2!u@h NICK a4 :\x01\r\n'), refuse]).s2c).toContain(':nat-alg NOTICE a4 :');
  });
});

describe('registration, TLS, limits', () => {
  it('logged-in at the 001, once', () => {
    const r = run([c('NICK alice\r\n'), s(':irc NOTICE * :hi\r\n:irc 001 alice :Welcome\r\n:irc 001 alice :again\r\n')]);
    expect(kinds(r.events)).toEqual(['logged-in']);
    expect(r.translator.registered).toBe(true);
  });

  it('a client that speaks TLS from its first byte: the connection is given up without a word', () => {
    const r = run([c(Uint8Array.of(0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5))]);
    expect(r.c2s).toBe('');
    expect(r.s2c).toBe('');
    expect(r.events).toEqual([{ type: 'close', reason: expect.stringContaining('TLS') }]);
  });

  it('an over-long client line is dropped to its end and the client told', () => {
    const long = `PRIVMSG bob :${'x'.repeat(600)}\r\n`;
    const r = run([...REGISTER, c(long + 'PRIVMSG bob :ok\r\n')], { ...OPTIONS, policy: { maxLineLength: 512 } });
    expect(r.c2s).toBe(`${HEAD_C2S}PRIVMSG bob :ok\r\n`);
    expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :Your line of more than 512 bytes was dropped by the gateway.\r\n`);
    expect(refusals(r.events)).toEqual([expect.objectContaining({ reason: 'line-too-long' })]);
  });

  it('an over-long server line, with or without \\x01, is dropped; the NOTICE comes in its place', () => {
    for (const body of ['y'.repeat(700), `\x01DCC SEND a 2130706433 5000 ${'1'.repeat(600)}`]) {
      const r = run([...REGISTER, s(`:bob!b@h PRIVMSG alice :${body}\r\n:bob!b@h PRIVMSG alice :ok\r\n`)], { ...OPTIONS, policy: { maxLineLength: 512 } });
      expect(r.s2c).toBe(`${HEAD_S2C}:nat-alg NOTICE alice :A line of more than 512 bytes from the server was dropped by the gateway.\r\n:bob!b@h PRIVMSG alice :ok\r\n`);
    }
  });

  it('overlongLine close: an ERROR line to the client and a close event', () => {
    const r = run([...REGISTER, c(`PRIVMSG bob :${'x'.repeat(600)}\r\n`)], { ...OPTIONS, policy: { maxLineLength: 512, overlongLine: 'close' } });
    expect(r.s2c).toBe(`${HEAD_S2C}ERROR :Closing link: your line was longer than 512 bytes\r\n`);
    expect(r.events.at(-1)).toMatchObject({ type: 'close' });
  });

  it('an endless line: at most maxDiscardedBytes are dropped, then the connection is given up', () => {
    const t = new IrcTranslator({ ...OPTIONS, policy: { maxLineLength: 512, maxDiscardedBytes: 4096 } });
    const chunk = bytes('x'.repeat(1000));
    let closed = false;
    for (let i = 0; i < 20 && !closed; i++) {
      t.handleData(C2S, chunk, 0);
      for (let e = t.pollEvent(); e; e = t.pollEvent()) if (e.type === 'close') closed = true;
    }
    expect(closed).toBe(true);
    expect(t.pollOutput(C2S)).toBeNull();
  });

  it('a line not complete within lineTimeoutMs: ERROR and close', () => {
    const t = new IrcTranslator({ ...OPTIONS, policy: { lineTimeoutMs: 1000 } });
    t.handleData(C2S, bytes('PRIVMSG bob :\x01DCC SEND'), 5000);
    expect(t.pollTimeout()).toBe(6000);
    t.handleTimeout(6000);
    let out = '';
    for (let b = t.pollOutput(S2C); b; b = t.pollOutput(S2C)) out += text(b);
    expect(out).toBe('ERROR :Closing link: your line was not complete within 1 s\r\n');
  });

  it('the policy is checked with typed errors', () => {
    for (const policy of [{ maxLineLength: 100 }, { maxWaitingOffers: 0 }, { offerTimeoutMs: -1 }, { noticeSender: 'a b' }, { overlongLine: 'x' as never }]) {
      expect(() => new IrcTranslator({ ...OPTIONS, policy })).toThrow(NatAlgError);
    }
  });
});
