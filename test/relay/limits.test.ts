/**
 * The relay session's budgets against slow and hostile peers, on virtual time: a login must
 * happen within loginTimeoutMs, only completed lines are activity for the idle timer, a session
 * whose client has gone ends whatever the server does, and byte counts stay exact when the
 * session closes under a running transfer.
 */
import { describe, it, expect } from 'vitest';
import { endpoint, type FtpRelaySessionOptions } from '../../src/core/index.js';
import { CLIENT_GONE_GRACE_MS } from '../../src/core/relay/session.js';
import { FakeTransport } from './fake-transport.js';

const CLIENT = endpoint('203.0.113.5', 50123);
const CLIENT_LOCAL = endpoint('192.0.2.1', 21);
const SERVER = endpoint('198.51.100.7', 21);
const SERVER_LOCAL = endpoint('198.51.100.1', 40000);

function greeted(extra: Partial<FtpRelaySessionOptions> = {}): FakeTransport {
  const t = new FakeTransport({ client: CLIENT, clientLocal: CLIENT_LOCAL, upstream: { host: SERVER.address, port: SERVER.port }, ...extra });
  t.connectUpstream(SERVER_LOCAL, SERVER);
  t.send('server', '220 ready\r\n');
  return t;
}

function loggedIn(extra: Partial<FtpRelaySessionOptions> = {}): FakeTransport {
  const t = greeted(extra);
  t.send('client', 'USER a\r\n');
  t.send('server', '230 in\r\n');
  return t;
}

describe('login budget', () => {
  it('a client that does not log in within loginTimeoutMs gets 421 and is closed', () => {
    const t = greeted({ loginTimeoutMs: 20_000 });
    t.send('client', 'USER a\r\n');
    t.send('server', '331 password please\r\n');
    t.advance(19_999);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(t.closed).toEqual({ reason: 'Login timeout, closing control connection', graceful: true });
    expect(t.lines('client')).toContain('421 Login timeout, closing control connection');
  });

  it('the default is 60 s; logging in ends the budget and reports logged-in once', () => {
    const t = loggedIn();
    expect(t.eventsOf('logged-in')).toHaveLength(1);
    t.send('client', 'NOOP\r\n');
    t.send('server', '200 ok\r\n');
    t.advance(120_000);
    expect(t.closed).toBeNull();
  });
});

/** A TLS record: content type, version 3.3, length, body. */
function record(type: number, body: number[]): Uint8Array {
  return Uint8Array.from([type, 3, 3, body.length >> 8, body.length & 0xff, ...body]);
}
const HELLO = record(22, [1, 0, 0, 4, 3, 3, 0, 0]); // a (truncated) ClientHello
const SERVER_HELLO = record(22, [2, 0, 0, 4, 3, 3, 0, 0]);
const APP_DATA = record(23, [0xde, 0xad, 0xbe, 0xef]);

function tlsStarted(extra: Partial<FtpRelaySessionOptions> = {}): FakeTransport {
  const t = greeted(extra);
  t.send('client', 'AUTH TLS\r\n');
  t.send('server', '234 go\r\n');
  expect(t.session.loginState).toBe('handshaking');
  return t;
}

describe('login budget under TLS (AUTH TLS is no login)', () => {
  it('AUTH TLS then nothing: not logged in, closed at the login deadline (no 421 into TLS)', () => {
    const t = tlsStarted({ loginTimeoutMs: 20_000 });
    expect(t.eventsOf('logged-in')).toHaveLength(0);
    const before = t.received.client;
    t.advance(19_999);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(t.closed).toEqual({ reason: 'Login timeout (TLS handshake not complete), closing control connection', graceful: true });
    expect(t.received.client).toBe(before); // nothing written into the TLS stream
    expect(t.eventsOf('logged-in')).toHaveLength(0);
  });

  it('a ClientHello trickled as many small complete records (each one activity) still ends at the deadline', () => {
    const t = tlsStarted({ loginTimeoutMs: 20_000 });
    // One-byte handshake records every second: each completes (no line timeout), none is application data.
    for (let k = 0; k < 30 && t.closed === null; k++) {
      t.sendBytes('client', record(22, [k & 0xff]));
      t.advance(1000);
    }
    expect(t.closed?.reason).toMatch(/^Login timeout \(TLS handshake not complete\)/);
    expect(t.now).toBe(20_000);
  });

  it('application data from one side only is no finished handshake', () => {
    const t = tlsStarted({ loginTimeoutMs: 20_000 });
    t.sendBytes('client', HELLO);
    t.sendBytes('client', APP_DATA); // a forged record: the server has not even answered
    t.advance(20_000);
    expect(t.closed?.reason).toMatch(/^Login timeout \(TLS handshake not complete\)/);
  });

  it('a finished handshake ends the deadline, but the session is never counted as logged in', () => {
    const t = tlsStarted({ loginTimeoutMs: 20_000 });
    t.sendBytes('client', HELLO);
    t.sendBytes('server', SERVER_HELLO);
    t.sendBytes('server', APP_DATA);
    expect(t.session.loginState).toBe('handshaking');
    t.sendBytes('client', APP_DATA, 1); // split anywhere: the header is what counts
    expect(t.session.loginState).toBe('encrypted');
    t.advance(25_000);
    expect(t.closed).toBeNull();
    expect(t.eventsOf('logged-in')).toHaveLength(0);
    // Still bounded by the idle timeout like any session (records are activity).
    t.advance(600_000);
    expect(t.closed?.reason).toBe('Idle timeout, closing control connection');
  });

  it('a login seen in plain text before AUTH TLS stays a login', () => {
    const t = loggedIn({ loginTimeoutMs: 20_000 });
    t.send('client', 'AUTH TLS\r\n');
    t.send('server', '234 go\r\n');
    expect(t.session.loginState).toBe('logged-in');
    expect(t.eventsOf('logged-in')).toHaveLength(1);
    t.advance(25_000);
    expect(t.closed).toBeNull();
  });

  it('after CCC a login seen in plain text counts', () => {
    const t = tlsStarted({ loginTimeoutMs: 20_000 });
    t.sendBytes('client', HELLO);
    t.sendBytes('server', SERVER_HELLO);
    t.sendBytes('server', APP_DATA);
    t.sendBytes('client', APP_DATA);
    // Both sides leave TLS at a record boundary (CCC answered inside TLS), then log in in plain text.
    t.send('client', 'USER a\r\n');
    t.send('server', '230 in\r\n');
    expect(t.session.loginState).toBe('logged-in');
    expect(t.eventsOf('logged-in')).toHaveLength(1);
  });
});

describe('activity', () => {
  it('a byte every 2 s is not activity: the idle timer fires (the line timer first, at its 30 s)', () => {
    const t = loggedIn({ idleTimeoutMs: 5000 });
    for (let k = 0; k < 10 && t.closed === null; k++) {
      t.send('client', 'X');
      t.advance(2000);
    }
    expect(t.closed?.reason).toBe('Idle timeout, closing control connection');
    expect(t.now).toBeLessThanOrEqual(6000);
  });

  it('with a long idle timeout, the trickled line itself times out after 30 s', () => {
    const t = loggedIn();
    for (let k = 0; k < 40 && t.closed === null; k++) {
      t.send('client', 'X');
      t.advance(2000);
    }
    expect(t.closed?.reason).toMatch(/client-to-server line not complete within 30 s/);
    expect(t.lines('client')).toContain('421 Command line not complete within 30 s, closing control connection.');
  });

  it('complete lines keep a session alive', () => {
    const t = loggedIn({ idleTimeoutMs: 5000 });
    for (let k = 0; k < 10; k++) {
      t.advance(4000);
      t.send('client', 'NOOP\r\n');
      t.send('server', '200 ok\r\n');
    }
    expect(t.closed).toBeNull();
  });
});

describe('a client that has gone', () => {
  it('ends the session within the grace period even when the server stays', () => {
    const t = loggedIn();
    t.end('client');
    expect(t.gotFin.server).toBe(true);
    t.send('server', '200 still talking\r\n');
    t.advance(CLIENT_GONE_GRACE_MS - 1);
    expect(t.closed).toBeNull();
    t.advance(1);
    expect(t.closed?.reason).toMatch(/client closed/);
  });

  it('a server that closes too ends the session at once', () => {
    const t = loggedIn();
    t.end('client');
    t.end('server');
    expect(t.closed).not.toBeNull();
  });
});

describe('byte counts when the session closes under a transfer', () => {
  it('wait for the embedding to report the channel, and count what it reports', () => {
    const t = loggedIn();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    const [id] = t.lastChannel();
    expect(t.incoming(id, endpoint(CLIENT.address, 40002))).toBe(true);
    expect(t.channel(id).spliced).toBe(true);
    // The server's control connection fails mid-transfer.
    t.session.handleControlError('server', 'ECONNRESET', t.now);
    t.run();
    expect(t.channel(id).closed).not.toBeNull();
    expect(t.eventsOf('session-close')).toHaveLength(0); // waits for the counts
    t.session.handleDataClosed(id, { toClient: 13_700_000, toServer: 0 }, 'closed by the relay', t.now);
    t.run();
    expect(t.eventsOf('data-close')).toEqual([{ type: 'data-close', channel: id, reason: expect.stringMatching(/server control connection failed/), bytes: { toClient: 13_700_000, toServer: 0 } }]);
    const closed = t.eventsOf('session-close');
    expect(closed).toHaveLength(1);
    expect(closed[0]!.bytes.dataToClient).toBe(13_700_000);
  });

  it('a channel that never carried a transfer is reported at once with zero bytes', () => {
    const t = loggedIn();
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    t.session.close('bye', t.now);
    t.run();
    expect(t.eventsOf('data-close')).toHaveLength(1);
    expect(t.eventsOf('session-close')).toHaveLength(1);
  });
});
