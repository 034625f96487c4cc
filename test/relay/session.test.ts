import { describe, it, expect } from 'vitest';
import { endpoint, PortRangeSource, type Endpoint, type FtpRelaySessionOptions } from '../../src/core/index.js';
import { FakeTransport } from './fake-transport.js';
import { MAX_HELD_BYTES } from '../../src/core/relay/session.js';

// Documentation addresses only: nothing here touches a network.
const CLIENT = endpoint('203.0.113.5', 50123);
const CLIENT_LOCAL = endpoint('192.0.2.1', 21);
const SERVER = endpoint('198.51.100.7', 21);
const SERVER_LOCAL = endpoint('198.51.100.1', 40000);
const CLIENT6 = endpoint('2001:db8::5', 50123);
const CLIENT6_LOCAL = endpoint('2001:db8::1', 21);

function start(extra: Partial<FtpRelaySessionOptions> = {}, client = CLIENT, clientLocal = CLIENT_LOCAL): FakeTransport {
  const t = new FakeTransport({
    client,
    clientLocal,
    upstream: { host: SERVER.address, port: SERVER.port },
    ...extra,
  });
  return t;
}

/** A session through greeting and login, ready for data commands. */
function ready(extra: Partial<FtpRelaySessionOptions> = {}, client = CLIENT, clientLocal = CLIENT_LOCAL): FakeTransport {
  const t = start(extra, client, clientLocal);
  t.connectUpstream(SERVER_LOCAL, SERVER);
  t.send('server', '220 test server ready\r\n');
  t.send('client', 'USER anonymous\r\n');
  t.send('server', '230 logged in\r\n');
  return t;
}

/** The endpoint in the six comma-separated numbers of a PORT line or 227 reply. */
function sixNumbers(line: string): Endpoint {
  const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(line);
  if (!m) throw new Error(`no h,h,h,h,p,p in ${line}`);
  const n = m.slice(1).map(Number);
  return endpoint(`${n[0]}.${n[1]}.${n[2]}.${n[3]}`, n[4]! * 256 + n[5]!);
}

function epsvPort(line: string): number {
  const m = /\(\|\|\|(\d+)\|\)/.exec(line);
  if (!m) throw new Error(`no (|||port|) in ${line}`);
  return Number(m[1]);
}

function last<T>(xs: T[]): T {
  const x = xs[xs.length - 1];
  if (x === undefined) throw new Error('empty');
  return x;
}

describe('FtpRelaySession: control connection', () => {
  it('connects upstream first and holds the client until then', () => {
    const t = start();
    expect(t.upstreamTarget).toEqual({ host: '198.51.100.7', port: 21 });
    expect(t.paused.client).toBe(true);
    t.connectUpstream(SERVER_LOCAL, SERVER);
    expect(t.paused.client).toBe(false);
    t.send('server', '220 hello\r\n');
    expect(t.received.client).toBe('220 hello\r\n');
    t.send('client', 'NOOP\r\n');
    expect(t.received.server).toBe('NOOP\r\n');
    expect(t.session.sessionState).toBe('open');
  });

  it('answers 421 with the reason when upstream refuses', () => {
    const t = start();
    t.session.handleUpstreamFailed('ECONNREFUSED', t.now);
    t.run();
    expect(t.lines('client')).toEqual(['421 Upstream FTP server unavailable (ECONNREFUSED)']);
    expect(t.closed).toEqual({ reason: expect.stringContaining('ECONNREFUSED'), graceful: true });
    expect(t.session.isClosed).toBe(true);
  });

  it('answers 421 when upstream does not connect in time', () => {
    const t = start({ upstreamConnectTimeoutMs: 5000 });
    t.advance(4999);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(last(t.lines('client'))).toMatch(/^421 .*did not answer within 5 s/);
    expect(t.closed?.graceful).toBe(true);
  });

  it('answers 421 when upstream connects but never greets', () => {
    const t = start({ upstreamConnectTimeoutMs: 3000 });
    t.advance(1000);
    t.connectUpstream(SERVER_LOCAL, SERVER);
    t.advance(1999);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(last(t.lines('client'))).toMatch(/^421 /);
    expect(t.eventsOf('upstream-failed')).toHaveLength(1);
  });

  it('closes an idle session with 421, but not while a transfer runs', () => {
    const t = ready({ idleTimeoutMs: 60_000 });
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137).\r\n');
    const [id] = t.lastChannel();
    expect(t.incoming(id, endpoint(CLIENT.address, 50200))).toBe(true);
    t.advance(120_000);
    expect(t.closed).toBeNull();
    t.session.handleDataClosed(id, { toClient: 10, toServer: 0 }, 'transfer complete', t.now);
    t.run();
    t.advance(59_999);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(last(t.lines('client'))).toMatch(/^421 Idle timeout/);
    expect(t.closed?.graceful).toBe(true);
  });

  it('passes FIN on both ways and ends when both sides are done', () => {
    const t = ready();
    t.send('client', 'QUIT\r\n');
    t.send('server', '221 bye\r\n');
    t.end('server');
    expect(t.gotFin.client).toBe(true);
    expect(t.closed).toBeNull();
    t.end('client');
    expect(t.gotFin.server).toBe(true);
    expect(t.closed).toEqual({ reason: 'both control connections closed', graceful: true });
    const closed = t.eventsOf('session-close');
    expect(closed).toHaveLength(1);
    expect(closed[0]!.bytes.controlFromClient).toBe('USER anonymous\r\nQUIT\r\n'.length);
  });

  it('tears everything down without a reply when a control connection is reset', () => {
    const t = ready();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    t.session.handleControlError('client', 'ECONNRESET', t.now);
    t.run();
    expect(t.closed?.graceful).toBe(false);
    expect(ch.closed).toMatch(/session closed/);
    expect(t.session.pollTimeout()).toBeNull();
    // Late reports about the channel are ignored, not errors.
    expect(t.session.handleDataIncoming(id, endpoint(CLIENT.address, 1), t.now)).toBe(false);
  });

  it('rejects ids it never issued with a typed error', () => {
    const t = ready();
    expect(() => t.session.handleDataConnected(7, t.now)).toThrow(expect.objectContaining({ kind: 'unknown-id' }));
  });
});

describe('FtpRelaySession: data channels in every mode', () => {
  it('PASV: listens towards the client, accepts only the client, connects to the server', () => {
    const t = ready();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137).\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('client');
    expect(ch.local.address).toBe(CLIENT_LOCAL.address);
    const told = sixNumbers(last(t.lines('client')));
    expect(told).toEqual(ch.local);
    expect(t.incoming(id, endpoint(CLIENT.address, 50300))).toBe(true);
    expect(ch.listening).toBe(false);
    expect(ch.connect).toEqual({ side: 'server', target: endpoint(SERVER.address, 19 * 256 + 137), localAddress: SERVER_LOCAL.address });
    expect(ch.spliced).toBe(true);
    expect(t.eventsOf('data-open')[0]).toMatchObject({ mode: 'passive', command: 'PASV' });
  });

  it('EPSV: answers the client with the listener port', () => {
    const t = ready();
    t.send('client', 'EPSV\r\n');
    t.send('server', '229 Entering Extended Passive Mode (|||5001|)\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('client');
    expect(epsvPort(last(t.lines('client')))).toBe(ch.local.port);
    expect(t.incoming(id, endpoint(CLIENT.address, 50301))).toBe(true);
    expect(ch.connect?.target).toEqual(endpoint(SERVER.address, 5001));
  });

  it('PORT: listens towards the server, tells it that endpoint, accepts only the server', () => {
    const t = ready();
    t.send('client', 'PORT 203,0,113,5,200,10\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('server');
    expect(ch.local.address).toBe(SERVER_LOCAL.address);
    const told = sixNumbers(last(t.lines('server')));
    expect(told).toEqual(ch.local);
    t.send('server', '200 PORT ok\r\n');
    expect(last(t.lines('client'))).toBe('200 PORT ok');
    expect(t.incoming(id, endpoint(SERVER.address, 20))).toBe(true);
    expect(ch.connect).toEqual({ side: 'client', target: endpoint(CLIENT.address, 200 * 256 + 10), localAddress: CLIENT_LOCAL.address });
    expect(ch.spliced).toBe(true);
  });

  it('EPRT: rewrites the endpoint to the relay upstream-facing address', () => {
    const t = ready();
    t.send('client', 'EPRT |1|203.0.113.5|51000|\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('server');
    expect(last(t.lines('server'))).toBe(`EPRT |1|${SERVER_LOCAL.address}|${ch.local.port}|`);
    t.send('server', '200 EPRT ok\r\n');
    expect(t.incoming(id, endpoint(SERVER.address, 20))).toBe(true);
    expect(ch.connect?.target).toEqual(endpoint(CLIENT.address, 51000));
  });

  it('FTP64: EPSV from an IPv6 client goes upstream as PASV and comes back as 229', () => {
    const t = ready({}, CLIENT6, CLIENT6_LOCAL);
    expect(t.eventsOf('upstream-connected')[0]?.features).toEqual(['ftp64']);
    t.send('client', 'EPSV\r\n');
    expect(last(t.lines('server'))).toBe('PASV');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('client');
    expect(ch.local.address).toBe(CLIENT6_LOCAL.address);
    expect(epsvPort(last(t.lines('client')))).toBe(ch.local.port);
    expect(t.incoming(id, endpoint(CLIENT6.address, 50400))).toBe(true);
    expect(ch.connect).toEqual({ side: 'server', target: endpoint(SERVER.address, 5001), localAddress: SERVER_LOCAL.address });
  });

  it('FTP64: EPRT from an IPv6 client goes upstream as PORT on the IPv4 side', () => {
    const t = ready({}, CLIENT6, CLIENT6_LOCAL);
    t.send('client', 'EPRT |2|2001:db8::5|51000|\r\n');
    const [id, ch] = t.lastChannel();
    expect(ch.side).toBe('server');
    expect(last(t.lines('server'))).toMatch(/^PORT /);
    expect(sixNumbers(last(t.lines('server')))).toEqual(ch.local);
    t.send('server', '200 ok\r\n');
    expect(t.incoming(id, endpoint(SERVER.address, 20))).toBe(true);
    expect(ch.connect).toEqual({ side: 'client', target: endpoint(CLIENT6.address, 51000), localAddress: CLIENT6_LOCAL.address });
  });

  it('advertises publicAddress in passive replies but binds the local address', () => {
    const t = ready({ publicAddress: '203.0.113.200' });
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [, ch] = t.lastChannel();
    expect(ch.local.address).toBe(CLIENT_LOCAL.address);
    expect(sixNumbers(last(t.lines('client')))).toEqual(endpoint('203.0.113.200', ch.local.port));
    expect(t.eventsOf('data-listening')[0]?.advertised).toEqual(endpoint('203.0.113.200', ch.local.port));
  });

  it('connects to the server, not to another host a 227 names (unless the policy allows it)', () => {
    const t = ready();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,99,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    t.incoming(id, endpoint(CLIENT.address, 40002));
    expect(ch.connect?.target).toEqual(endpoint(SERVER.address, 19 * 256 + 137));
    const trusting = ready({ policy: { allowForeignDataAddress: true } });
    trusting.send('client', 'PASV\r\n');
    trusting.send('server', '227 Entering Passive Mode (198,51,100,99,19,137)\r\n');
    const [id2, ch2] = trusting.lastChannel();
    trusting.incoming(id2, endpoint(CLIENT.address, 40002));
    expect(ch2.connect?.target).toEqual(endpoint('198.51.100.99', 19 * 256 + 137));
  });

  it('refuses a foreign host at the listener and still accepts the real peer', () => {
    const t = ready();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    expect(t.incoming(id, endpoint('203.0.113.99', 40000))).toBe(false);
    expect(t.eventsOf('data-rejected')).toEqual([
      { type: 'data-rejected', channel: id, peer: endpoint('203.0.113.99', 40000), local: ch.local, expected: CLIENT.address },
    ]);
    expect(ch.listening).toBe(true);
    // The server is foreign to a passive listener too.
    expect(t.incoming(id, endpoint(SERVER.address, 40001))).toBe(false);
    expect(t.incoming(id, endpoint(CLIENT.address, 40002))).toBe(true);
    // Once accepted, no second connection.
    expect(t.incoming(id, endpoint(CLIENT.address, 40003))).toBe(false);
  });

  it('closes a data listener nobody connects to', () => {
    const t = ready({ dataListenTimeoutMs: 30_000 });
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    t.advance(29_999);
    expect(ch.closed).toBeNull();
    t.advance(1);
    expect(ch.closed).toBe('no data connection in time');
    expect(t.eventsOf('data-close')).toMatchObject([{ channel: id, reason: 'no data connection in time' }]);
    expect(t.session.openChannels).toBe(0);
    expect(t.closed).toBeNull();
  });

  it('closes a channel whose outgoing connection fails or does not complete', () => {
    const t = ready({ upstreamConnectTimeoutMs: 2000 });
    t.autoConnect = false;
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    t.incoming(id, endpoint(CLIENT.address, 40002));
    t.advance(2000);
    expect(ch.closed).toBe('connect timeout');
  });

  it('holds the command line (and reading) until the listener is bound, then sends it', () => {
    const t = ready();
    t.autoListen = false;
    t.send('client', 'PORT 203,0,113,5,200,10\r\nNOOP\r\n');
    const [id, ch] = t.lastChannel();
    expect(t.lines('server')).toEqual(['USER anonymous']);
    expect(t.paused.client).toBe(true);
    t.session.handleDataListening(id, endpoint(ch.local.address, 55555), t.now);
    t.run();
    expect(t.lines('server')).toEqual(['USER anonymous', 'PORT 198,51,100,1,217,3', 'NOOP']);
    expect(t.paused.client).toBe(false);
  });

  it('takes another port when the chosen one is in use, and refuses when the range is spent', () => {
    const ports = new PortRangeSource(50000, 50001);
    const t = ready({ dataPorts: ports });
    t.autoListen = false;
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id] = t.lastChannel();
    const listens = () => t.actions.filter((a) => a.type === 'listen').map((a) => (a.type === 'listen' ? a.local.port : 0));
    expect(listens()).toEqual([50000]);
    t.session.handleDataListenFailed(id, 'EADDRINUSE', true, t.now);
    t.run();
    expect(listens()).toEqual([50000, 50001]);
    // The port that failed stays taken until the channel closes, so it is not tried again.
    expect(ports.inUse).toBe(2);
    t.session.handleDataListenFailed(id, 'EADDRINUSE', true, t.now);
    t.run();
    // Both ports tried: the client gets an error reply instead of a 227, and the port is free.
    expect(last(t.lines('client'))).toMatch(/^4\d\d /);
    expect(ports.inUse).toBe(0);
  });

  it('gives ports back to the source when listeners close', () => {
    const ports = new PortRangeSource(50000, 50009);
    const t = ready({ dataPorts: ports });
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    expect(ports.inUse).toBe(1);
    const [id] = t.lastChannel();
    t.incoming(id, endpoint(CLIENT.address, 40002));
    expect(ports.inUse).toBe(0);
  });

  it('produces the same output for every chunking of the input', () => {
    const script: Array<['client' | 'server', string]> = [
      ['client', 'PORT 203,0,113,5,200,10\r\n'],
      ['server', '200 ok\r\n'],
      ['client', 'EPSV\r\n'],
      ['server', '229 Entering Extended Passive Mode (|||5001|)\r\n'],
      ['client', 'QUIT\r\n'],
      ['server', '221 bye\r\n'],
    ];
    const runWith = (chunk: number) => {
      const t = ready();
      for (const [side, text] of script) t.send(side, text, chunk);
      return { client: t.received.client, server: t.received.server, listens: t.channels.size };
    };
    const whole = runWith(Infinity);
    expect(whole.listens).toBe(2);
    for (const chunk of [1, 2, 3, 7]) expect(runWith(chunk)).toEqual(whole);
  });

  it('drains on shutdown: closes when the running transfer is done', () => {
    const t = ready();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id] = t.lastChannel();
    t.incoming(id, endpoint(CLIENT.address, 40002));
    t.session.handleShutdown(t.now);
    t.run();
    expect(t.closed).toBeNull();
    t.session.handleDataClosed(id, { toClient: 100, toServer: 0 }, 'transfer complete', t.now);
    t.run();
    // The server's 226 comes a moment after the data connection: wait for a quiet control channel.
    t.advance(100);
    t.send('server', '226 done\r\n');
    t.advance(199);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(t.lines('client').slice(-2)).toEqual(['226 done', '421 Service shutting down']);
    expect(t.closed?.graceful).toBe(true);
    expect(t.eventsOf('session-close')[0]?.bytes).toMatchObject({ dataToClient: 100, dataChannels: 1 });
  });
});

describe('FtpRelaySession: chunking (property)', () => {
  it('any split of the input gives the same bytes to both peers and the same listeners', async () => {
    const fc = await import('fast-check');
    const script: Array<['client' | 'server', string]> = [
      ['client', 'PORT 203,0,113,5,200,10\r\nNOOP\r\n'],
      ['server', '200 ok\r\n200 noop\r\n'],
      ['client', 'EPRT |1|203.0.113.5|51000|\r\n'],
      ['server', '200 ok\r\n'],
      ['client', 'PASV\r\n'],
      ['server', '227-Entering\r\n227 Passive Mode (198,51,100,7,19,137).\r\n'],
      ['client', 'EPSV\r\n'],
      ['server', '229 Entering Extended Passive Mode (|||5001|)\r\n'],
    ];
    const outcome = (chunks: number[]) => {
      const t = ready();
      script.forEach(([side, text], i) => t.send(side, text, chunks[i]!));
      return { client: t.received.client, server: t.received.server, listens: [...t.channels.values()].map((c) => c.side) };
    };
    const whole = outcome(script.map(() => Infinity));
    expect(whole.listens).toEqual(['server', 'server', 'client', 'client']);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: script.length, maxLength: script.length }), (chunks) => {
        expect(outcome(chunks)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });
});

describe('FtpRelaySession: bounds', () => {
  it('closes the session when an embedding ignores pause and floods a blocked side', () => {
    const t = ready();
    t.autoListen = false;
    t.send('client', 'PORT 203,0,113,5,200,10\r\n');
    expect(t.paused.client).toBe(true);
    const chunk = 'NOOP\r\n'.repeat(20_000); // 120 kB per read
    for (let i = 0; i < 9 && !t.closed; i++) t.send('client', chunk);
    expect(t.closed).toEqual({ reason: expect.stringContaining('while paused'), graceful: false });
  });

  it('keeps what it holds as its own copy: an embedding may read into the same buffer again', () => {
    const t = ready();
    t.autoListen = false;
    const buf = new Uint8Array(64);
    const feed = (text: string) => {
      buf.fill(0x58); // scribble first: only the bytes passed may be read
      const n = buf.length - text.length;
      for (let k = 0; k < text.length; k++) buf[n + k] = text.charCodeAt(k);
      t.session.handleControlData('client', buf.subarray(n), t.now);
      t.run();
    };
    feed('PORT 203,0,113,5,200,10\r\nNOOP\r\n'); // blocked at PORT: the NOOP is held
    expect(t.paused.client).toBe(true);
    feed('TYPE I\r\n'); // arrives while paused, into the same buffer
    feed('SYST\r\n');
    buf.fill(0x21);
    const [id, ch] = t.lastChannel();
    t.session.handleDataListening(id, endpoint(ch.local.address, 55555), t.now);
    t.run();
    expect(t.lines('server')).toEqual(['USER anonymous', 'PORT 198,51,100,1,217,3', 'NOOP', 'TYPE I', 'SYST']);
  });

  it('many small reads while paused are held in order up to the bound, then the session closes', () => {
    const t = ready();
    t.autoListen = false;
    t.send('client', 'PORT 203,0,113,5,200,10\r\n');
    const line = 'NOOP\r\n';
    let sent = 0;
    while (!t.closed && sent < 300_000) {
      t.send('client', line);
      sent++;
    }
    expect(t.closed).toEqual({ reason: expect.stringContaining('while paused'), graceful: false });
    expect(sent * line.length).toBeGreaterThan(MAX_HELD_BYTES - line.length); // the full allowance, no less
    expect(sent * line.length).toBeLessThanOrEqual(MAX_HELD_BYTES + line.length);
  });
});
