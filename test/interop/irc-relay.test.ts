// The IRC relay with real peers: ngircd and a client (bob) in 'out', a client (alice) in 'in'
// whose only way out is the relay on the gateway (`nat-alg irc`, the built CLI). Files of 1 MiB
// go by DCC SEND both ways, normal and passive (reverse), over IPv4 and IPv6, with sha256
// checked; a transfer is resumed (DCC RESUME/ACCEPT) both ways; a DCC CHAT carries a line each
// way. Then the hostile cases: an offer naming a foreign address or a low port from inside, one
// naming loopback from outside, an offer written one byte per TCP segment, and an endless line.
// Missing ngircd, root or `ip netns` fails under CI and skips otherwise.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireInteropLock } from './lock.js';
import { createTopology, INSIDE, OUTSIDE, run, which, type Topology } from './netns.js';
import { haveNgircd, startNgircd } from './ircd.js';
import { startIrcClient, type IrcClientEvent, type IrcClientResult } from './irc-client.js';
import { cliAvailable, CLI, hostPort, startRelay, type RunningRelay } from './relay.js';
import { randomPayload, sha256 } from './servers.js';

async function prerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root');
  if (!which('ip')) missing.push('ip');
  if (!haveNgircd()) missing.push('ngircd');
  if (!cliAvailable()) missing.push(`the built CLI (${CLI}; npm run build)`);
  if (missing.length === 0 && (await run('ip', ['netns', 'list'])).code !== 0) missing.push('working `ip netns`');
  return missing;
}

const missing = await prerequisites();
const inCI = Boolean(process.env.CI);

describe('IRC relay interop prerequisites', () => {
  it('has root, ip netns, ngircd and the built CLI', () => {
    if (missing.length === 0) return;
    if (inCI) expect.fail(`the IRC relay interop tests cannot run in CI: missing ${missing.join(', ')}`);
    console.warn(`IRC relay interop skipped: missing ${missing.join(', ')}`);
  });
});

const IRC_PORT = 6667;
const FILE_BYTES = 1024 * 1024;
/** The gateway's outside address as a DCC integer (198.51.100.1). */
const GW_OUT_INT = '3325256705';

function only(events: readonly IrcClientEvent[], event: string): IrcClientEvent {
  const found = events.filter((e) => e.event === event);
  expect(found, `${event} in ${JSON.stringify(events)}`).toHaveLength(1);
  return found[0]!;
}

function succeeded(r: IrcClientResult, who: string): void {
  expect(r.code, `${who}: ${JSON.stringify(r.events)} ${r.stderr}`).toBe(0);
  expect(r.events.some((e) => e.event === 'error'), who).toBe(false);
}

// The cases use their own nicks and run side by side (describe.concurrent): the file holds the
// machine-wide interop lock for as short a time as it can. The lock is taken while the file
// loads, where no hook timeout applies to the wait for another file's run.
const release = missing.length === 0 ? await acquireInteropLock(900_000) : (): void => undefined;

describe.skipIf(missing.length > 0).concurrent(`IRC relay with ngircd in network namespaces${missing.length > 0 ? ` (skipped: missing ${missing.join(', ')})` : ''}`, () => {
  let topo: Topology;
  let base: string;
  let relay4: RunningRelay;
  let relay6: RunningRelay;
  let file: string;
  let payload: Buffer;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'nat-alg-ircrelay-'));
    chmodSync(base, 0o755); // ngircd runs as nobody and writes its PID file below
    topo = await createTopology();
    payload = randomPayload(FILE_BYTES);
    file = join(base, 'data.bin');
    writeFileSync(file, payload);
    await startNgircd(topo, 'out', { listen: [OUTSIDE.host4, OUTSIDE.host6], port: IRC_PORT, dir: join(base, 'ngircd') });
    relay4 = await startRelay(topo, 'gw', { command: 'irc', listen: hostPort(INSIDE.gw4, IRC_PORT), upstream: hostPort(OUTSIDE.host4, IRC_PORT), extra: ['--verbose'] });
    relay6 = await startRelay(topo, 'gw', { command: 'irc', listen: hostPort(INSIDE.gw6, IRC_PORT), upstream: hostPort(OUTSIDE.host6, IRC_PORT) });
  }, 90_000);

  afterAll(async () => {
    try {
      await relay4?.stop();
      await relay6?.stop();
      await topo?.destroy();
    } finally {
      if (base) rmSync(base, { recursive: true, force: true });
      release();
    }
  });

  /** Alice is inside and reaches ngircd through the relay; bob is outside, next to ngircd. */
  function hosts(family: 4 | 6): { inside: string; outside: string } {
    return family === 4 ? { inside: INSIDE.gw4, outside: OUTSIDE.host4 } : { inside: INSIDE.gw6, outside: OUTSIDE.host6 };
  }

  type Case = { name: string; family: 4 | 6; passive: boolean; from: 'alice' | 'bob'; bytewise?: boolean };
  const cases: Case[] = [
    { name: 'alice (inside) sends to bob', family: 4, passive: false, from: 'alice' },
    { name: 'bob sends to alice (inside)', family: 4, passive: false, from: 'bob' },
    { name: 'passive (reverse): alice (inside) sends to bob', family: 4, passive: true, from: 'alice' },
    { name: 'passive (reverse): bob sends to alice (inside)', family: 4, passive: true, from: 'bob' },
    { name: 'IPv6: alice (inside) sends to bob', family: 6, passive: false, from: 'alice' },
    { name: 'IPv6: bob sends to alice (inside)', family: 6, passive: false, from: 'bob' },
    { name: 'an offer written one byte per segment: alice (inside) sends to bob', family: 4, passive: false, from: 'alice', bytewise: true },
  ];

  it.each(cases.map((c, i) => [c.name, c, i] as const))('DCC SEND of 1 MiB through the relay: %s', async (_name, c, i) => {
    const h = hosts(c.family);
    const alice = `alice${i}`;
    const bob = `bob${i}`;
    const out = join(base, `received-${i}.bin`);
    const aliceSends = c.from === 'alice';
    const receiverOpts = { port: IRC_PORT, role: 'receive' as const, out };
    const receiver = aliceSends
      ? startIrcClient(topo, 'out', { ...receiverOpts, host: h.outside, nick: bob, peer: alice })
      : startIrcClient(topo, 'in', { ...receiverOpts, host: h.inside, nick: alice, peer: bob });
    await receiver.waitFor('registered');
    const senderOpts = { port: IRC_PORT, role: 'send' as const, file, passive: c.passive, ...(c.bytewise ? { bytewise: true } : {}) };
    const sender = aliceSends
      ? startIrcClient(topo, 'in', { ...senderOpts, host: h.inside, nick: alice, peer: bob })
      : startIrcClient(topo, 'out', { ...senderOpts, host: h.outside, nick: bob, peer: alice });
    const [s, r] = await Promise.all([sender.finished, receiver.finished]);
    succeeded(s, 'sender');
    succeeded(r, 'receiver');
    const want = sha256(payload);
    expect(only(s.events, 'transfer-done')).toMatchObject({ role: 'sender', bytes: FILE_BYTES, sha256: want, lastAck: FILE_BYTES });
    expect(only(r.events, 'transfer-done')).toMatchObject({ role: 'receiver', bytes: FILE_BYTES, sha256: want });

    // What each side was told: the gateway's address facing it, never the other side's.
    const offer = only(r.events, 'offer-received');
    const facingReceiver = aliceSends ? (c.family === 4 ? OUTSIDE.gw4 : OUTSIDE.gw6) : c.family === 4 ? INSIDE.gw4 : INSIDE.gw6;
    if (c.passive && aliceSends) {
      // Alice's passive offer carries the gateway's outside address instead of hers; bob's answer
      // reaches alice translated, and alice connects to the relay.
      expect(offer).toMatchObject({ port: 0, address: OUTSIDE.gw4 });
      expect(only(s.events, 'answer-received')).toMatchObject({ address: INSIDE.gw4 });
    } else if (c.passive) {
      // Bob's passive offer passes; alice's answer reaches bob translated.
      expect(offer).toMatchObject({ port: 0, address: OUTSIDE.host4 });
      expect(only(s.events, 'answer-received')).toMatchObject({ address: OUTSIDE.gw4 });
    } else {
      expect(offer.address).toBe(facingReceiver);
      expect(offer.port).not.toBe(only(s.events, 'offer-sent').port);
    }
  }, 60_000);

  it.each([
    ['alice (inside) sends, bob resumes', 'alice'],
    ['bob sends, alice (inside) resumes', 'bob'],
  ] as const)('DCC RESUME/ACCEPT through the relay: %s', async (_name, from) => {
    const h = hosts(4);
    const tag = from === 'alice' ? 'r1' : 'r2';
    const at = 300_000;
    const aliceSends = from === 'alice';
    const receiver = aliceSends
      ? startIrcClient(topo, 'out', { host: h.outside, port: IRC_PORT, nick: `bob${tag}`, peer: `alice${tag}`, role: 'receive', resumeFrom: at })
      : startIrcClient(topo, 'in', { host: h.inside, port: IRC_PORT, nick: `alice${tag}`, peer: `bob${tag}`, role: 'receive', resumeFrom: at });
    await receiver.waitFor('registered');
    const sender = aliceSends
      ? startIrcClient(topo, 'in', { host: h.inside, port: IRC_PORT, nick: `alice${tag}`, peer: `bob${tag}`, role: 'send', file })
      : startIrcClient(topo, 'out', { host: h.outside, port: IRC_PORT, nick: `bob${tag}`, peer: `alice${tag}`, role: 'send', file });
    const [s, r] = await Promise.all([sender.finished, receiver.finished]);
    succeeded(s, 'sender');
    succeeded(r, 'receiver');
    const rest = sha256(payload.subarray(at));
    expect(only(s.events, 'transfer-done')).toMatchObject({ start: at, bytes: FILE_BYTES - at, sha256: rest, lastAck: FILE_BYTES });
    expect(only(r.events, 'transfer-done')).toMatchObject({ start: at, bytes: FILE_BYTES - at, sha256: rest });
    // Each side saw the port of the offer as it knows it: the sender its own, the receiver the announced one.
    const offered = only(s.events, 'offer-sent').port;
    const announced = only(r.events, 'offer-received').port;
    expect(announced).not.toBe(offered);
    expect(only(s.events, 'resume-received')).toMatchObject({ port: offered, position: at });
    expect(only(r.events, 'accept-received')).toMatchObject({ port: announced, position: at });
  }, 60_000);

  it('DCC CHAT through the relay: a line each way', async () => {
    const bob = startIrcClient(topo, 'out', { host: OUTSIDE.host4, port: IRC_PORT, nick: 'chatbob', role: 'chat-accept' });
    await bob.waitFor('registered');
    const alice = startIrcClient(topo, 'in', { host: INSIDE.gw4, port: IRC_PORT, nick: 'chatalice', peer: 'chatbob', role: 'chat-offer' });
    const [a, b] = await Promise.all([alice.finished, bob.finished]);
    succeeded(a, 'alice');
    succeeded(b, 'bob');
    expect(only(a.events, 'chat-line')).toMatchObject({ text: 'hello from chatbob' });
    expect(only(b.events, 'chat-line')).toMatchObject({ text: 'hello from chatalice' });
    expect(only(b.events, 'offer-received')).toMatchObject({ address: OUTSIDE.gw4 });
  }, 30_000);

  const enc = (text: string): Uint8Array => Buffer.from(text, 'latin1');

  it.each([
    ['a foreign address', `PRIVMSG hbob1 :\x01DCC SEND f.bin 3221225999 5000 10\x01\r\n`, 'hbob1', 'the offer must name your own address'],
    ['a low port', `PRIVMSG hbob2 :\x01DCC SEND f.bin 3221225986 22 10\x01\r\n`, 'hbob2', 'ports below 1024 are not allowed'],
  ])('an offer from inside naming %s never reaches the server; the client is told', async (_what, line, peer, why) => {
    const bob = startIrcClient(topo, 'out', { host: OUTSIDE.host4, port: IRC_PORT, nick: peer, role: 'idle', lingerMs: 15_000, quitOn: 'last' });
    await bob.waitFor('registered');
    const alice = startIrcClient(topo, 'in', {
      host: INSIDE.gw4, port: IRC_PORT, nick: `a${peer}`, role: 'idle', peer, lingerMs: 1500,
      sendRaw: [enc(line), enc(`PRIVMSG ${peer} :last\r\n`)],
    });
    const [a, b] = await Promise.all([alice.finished, bob.finished]);
    succeeded(a, 'alice');
    succeeded(b, 'bob');
    const texts = b.events.filter((e) => e.event === 'message' && e.command === 'PRIVMSG').map((e) => (e.params as string[])[1]);
    expect(texts).toEqual(['last']);
    const fromGateway = a.events.filter((e) => e.event === 'notice' && e.from === 'nat-alg');
    expect(fromGateway).toEqual([expect.objectContaining({ text: `DCC SEND to ${peer} refused by the gateway: ${why}.` })]);
  }, 30_000);

  it('an offer from outside naming loopback never reaches the inside client; it is told', async () => {
    const alice = startIrcClient(topo, 'in', { host: INSIDE.gw4, port: IRC_PORT, nick: 'lalice', role: 'idle', lingerMs: 15_000, quitOn: 'last' });
    await alice.waitFor('registered');
    const bob = startIrcClient(topo, 'out', {
      host: OUTSIDE.host4, port: IRC_PORT, nick: 'lbob', role: 'idle', peer: 'lalice', lingerMs: 1500,
      sendRaw: [enc('PRIVMSG lalice :\x01DCC SEND f.bin 2130706433 8080 10\x01\r\n'), enc('PRIVMSG lalice :last\r\n')],
    });
    const [a, b] = await Promise.all([alice.finished, bob.finished]);
    succeeded(a, 'alice');
    succeeded(b, 'bob');
    // (ngircd's own NOTICEs, such as its connection statistics at QUIT, are left out.)
    const messages = a.events.filter((e) => e.event === 'message' && !String(e.from).startsWith('irc.lab.test'));
    expect(messages.map((e) => String(e.line))).toEqual([
      ':nat-alg NOTICE lalice :DCC SEND from lbob refused by the gateway: it names an address the gateway does not connect to.',
      expect.stringMatching(/^:lbob!\S+ PRIVMSG lalice :last$/),
    ]);
  }, 30_000);

  it('a valid offer written one byte per segment is translated; an idle receiver sees the gateway’s endpoint', async () => {
    const bob = startIrcClient(topo, 'out', { host: OUTSIDE.host4, port: IRC_PORT, nick: 'bbob', role: 'idle', lingerMs: 20_000, quitOn: 'last' });
    await bob.waitFor('registered');
    const alice = startIrcClient(topo, 'in', {
      host: INSIDE.gw4, port: IRC_PORT, nick: 'balice', role: 'idle', peer: 'bbob', lingerMs: 1500, bytewise: true,
      sendRaw: [enc('PRIVMSG bbob :\x01DCC SEND "a b.bin" 3221225986 5000 10\x01\r\n'), enc('PRIVMSG bbob :last\r\n')],
    });
    const [a, b] = await Promise.all([alice.finished, bob.finished]);
    succeeded(a, 'alice');
    succeeded(b, 'bob');
    const texts = b.events.filter((e) => e.event === 'message' && e.command === 'PRIVMSG').map((e) => (e.params as string[])[1]);
    expect(texts).toEqual([expect.stringMatching(new RegExp(`^\\x01DCC SEND "a b\\.bin" ${GW_OUT_INT} \\d+ 10\\x01$`)), 'last']);
  }, 30_000);

  it('an endless line from inside: dropped with a NOTICE, then the link closed with an ERROR; the server never sees it', async () => {
    const bob = startIrcClient(topo, 'out', { host: OUTSIDE.host4, port: IRC_PORT, nick: 'ebob', role: 'idle', lingerMs: 8000 });
    await bob.waitFor('registered');
    const alice = startIrcClient(topo, 'in', {
      host: INSIDE.gw4, port: IRC_PORT, nick: 'ealice', role: 'idle', peer: 'ebob', lingerMs: 5000,
      sendEndless: 100_000,
    });
    const [a, b] = await Promise.all([alice.finished, bob.finished]);
    succeeded(b, 'bob');
    expect(b.events.filter((e) => e.event === 'message' && e.command === 'PRIVMSG')).toEqual([]);
    const fromGateway = a.events.filter((e) => e.event === 'notice' && e.from === 'nat-alg');
    expect(fromGateway).toEqual([expect.objectContaining({ text: 'Your line of more than 8703 bytes was dropped by the gateway.' })]);
    expect(a.code).toBe(1);
    expect(only(a.events, 'error')).toMatchObject({ stage: 'irc', message: 'server said ERROR :Closing link: too many over-long lines' });
  }, 30_000);
});
