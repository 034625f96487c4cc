/**
 * Hostile peers against the relay session: resources a client or server could pile up, peers
 * that try to steer the relay, input after the end. Driven through the fake transport.
 */
import { describe, it, expect } from 'vitest';
import { endpoint, PortRangeSource, type FtpRelaySessionOptions } from '../../src/core/index.js';
import { FakeTransport } from './fake-transport.js';

const CLIENT = endpoint('203.0.113.5', 50123);
const CLIENT_LOCAL = endpoint('192.0.2.1', 21);
const SERVER = endpoint('198.51.100.7', 21);
const SERVER_LOCAL = endpoint('198.51.100.1', 40000);

function ready(extra: Partial<FtpRelaySessionOptions> = {}): FakeTransport {
  const t = new FakeTransport({ client: CLIENT, clientLocal: CLIENT_LOCAL, upstream: { host: SERVER.address, port: SERVER.port }, ...extra });
  t.connectUpstream(SERVER_LOCAL, SERVER);
  t.send('server', '220 ready\r\n');
  return t;
}

const waiting = (t: FakeTransport) => [...t.channels.values()].filter((c) => c.listening && !c.closed).length;

describe('relay session: data listeners a peer cannot pile up', () => {
  it('PASV after PASV without connecting: the waiting listeners stay bounded', () => {
    const t = ready({ dataPorts: new PortRangeSource(50000, 50015) });
    for (let k = 0; k < 100; k++) {
      t.send('client', 'PASV\r\n');
      t.send('server', `227 Entering Passive Mode (198,51,100,7,200,${k})\r\n`);
    }
    // 16 data ports for 100 PASVs: each answer still gets a listener
    expect(t.lines('client').filter((l) => l.startsWith('227 '))).toHaveLength(100);
    expect(waiting(t)).toBeLessThanOrEqual(8);
    expect(t.session.openChannels).toBeLessThanOrEqual(8);
  });

  it('PORT after PORT without the server connecting: bounded too', () => {
    const t = ready();
    for (let k = 0; k < 100; k++) {
      t.send('client', `PORT 203,0,113,5,100,${k}\r\n`);
      t.send('server', '200 PORT ok\r\n');
    }
    expect(t.lines('server').filter((l) => l.startsWith('PORT '))).toHaveLength(100);
    expect(t.session.openChannels).toBeLessThanOrEqual(8);
  });

  it('the newest listener still works after older ones were dropped', () => {
    const t = ready();
    for (let k = 0; k < 20; k++) {
      t.send('client', 'EPSV\r\n');
      t.send('server', `229 Entering Extended Passive Mode (|||${30000 + k}|)\r\n`);
    }
    const [id, ch] = t.lastChannel();
    expect(ch.listening).toBe(true);
    expect(t.incoming(id, endpoint(CLIENT.address, 40000))).toBe(true);
    expect(t.channel(id).connect?.target).toEqual(endpoint(SERVER.address, 30019));
    expect(t.channel(id).spliced).toBe(true);
  });
});

describe('relay session: a passive reply cannot steer the relay at itself', () => {
  for (const [name, quad] of [['unspecified', '0,0,0,0'], ['loopback', '127,0,0,1'], ['broadcast', '255,255,255,255']] as const) {
    it(`a trusted 227 naming the ${name} address connects to the server instead`, () => {
      const t = ready({ policy: { allowForeignDataAddress: true } });
      t.send('client', 'PASV\r\n');
      t.send('server', `227 Entering Passive Mode (${quad},19,137)\r\n`);
      const [id, ch] = t.lastChannel();
      expect(t.incoming(id, endpoint(CLIENT.address, 40000))).toBe(true);
      expect(ch.connect?.target).toEqual(endpoint(SERVER.address, 19 * 256 + 137));
    });
  }
  it('a trusted 228 naming ::1 connects to the server instead', () => {
    const t = ready({ policy: { allowForeignDataAddress: true } });
    t.send('client', 'LPSV\r\n');
    t.send('server', '228 Entering Long Passive Mode (6,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,19,137)\r\n');
    const [id, ch] = t.lastChannel();
    expect(t.incoming(id, endpoint(CLIENT.address, 40000))).toBe(true);
    expect(ch.connect?.target).toEqual(endpoint(SERVER.address, 19 * 256 + 137));
  });
});

describe('relay session: a FIN never overtakes a held line', () => {
  it('client sends PORT and closes before the listener is bound: PORT goes out before the FIN', () => {
    const t = ready();
    t.autoListen = false;
    t.send('client', 'PORT 203,0,113,5,100,1\r\n');
    t.end('client');
    expect(t.gotFin.server).toBe(false);
    const [id, ch] = t.lastChannel();
    t.session.handleDataListening(id, endpoint(ch.local.address, 50001), t.now);
    t.run();
    const kinds = t.actions.map((a) => (a.type === 'write' ? `write-${a.side}` : a.type === 'end' ? `end-${a.side}` : a.type));
    expect(kinds.lastIndexOf('write-server')).toBeLessThan(kinds.indexOf('end-server'));
    expect(t.received.server).toBe('PORT 198,51,100,1,195,81\r\n');
    expect(t.gotFin.server).toBe(true);
  });

  it('server sends 227 and closes before the listener is bound: the 227 goes out before the FIN', () => {
    const t = ready();
    t.autoListen = false;
    t.send('client', 'PASV\r\n');
    t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
    t.end('server');
    expect(t.gotFin.client).toBe(false);
    const [id, ch] = t.lastChannel();
    t.session.handleDataListening(id, endpoint(ch.local.address, 50002), t.now);
    t.run();
    expect(t.lines('client').at(-1)).toBe('227 Entering Passive Mode (192,0,2,1,195,82)');
    expect(t.gotFin.client).toBe(true);
    const kinds = t.actions.map((a) => (a.type === 'write' ? `write-${a.side}` : a.type === 'end' ? `end-${a.side}` : a.type));
    expect(kinds.lastIndexOf('write-client')).toBeLessThan(kinds.indexOf('end-client'));
  });
});

describe('relay session: nothing is written after a FIN', () => {
  it('a refused command after the server closed gets no local reply written after the end', () => {
    const t = ready();
    t.send('client', 'USER a\r\n');
    t.send('server', '331 pw\r\n');
    t.end('server');
    expect(t.gotFin.client).toBe(true);
    t.send('client', 'PORT 6,6,6,6,100,1\r\n');
    t.send('client', 'x'.repeat(5000) + '\r\n');
    const kinds = t.actions.map((a) => (a.type === 'write' ? `write-${a.side}` : a.type === 'end' ? `end-${a.side}` : a.type));
    expect(kinds.slice(kinds.indexOf('end-client'))).not.toContain('write-client');
  });
});

describe('relay session: the last bytes before a FIN', () => {
  it('a last command without its line end still reaches the server before the FIN', () => {
    const t = ready();
    t.send('client', 'QUIT');
    t.end('client');
    expect(t.received.server).toBe('QUIT');
    expect(t.gotFin.server).toBe(true);
  });
});

describe('relay session: data after an end is refused without harm', () => {
  it('handleControlData after handleControlEnd throws invalid-state and the session goes on', () => {
    const t = ready();
    t.end('client');
    expect(() => t.session.handleControlData('client', new TextEncoder().encode('NOOP\r\n'), t.now)).toThrow(
      expect.objectContaining({ kind: 'invalid-state' }),
    );
    expect(() => t.send('server', '200 still here\r\n')).not.toThrow();
    expect(t.lines('client').at(-1)).toBe('200 still here');
  });
});

describe('relay session: its own 421 starts a line', () => {
  it('after a server line cut short, the 421 still goes on a line of its own', () => {
    const t = ready();
    t.send('client', 'NOOP\r\n');
    t.send('server', '200 partial');
    t.session.close('Service shutting down', t.now);
    t.run();
    expect(t.received.client).toBe('220 ready\r\n200 partial\r\n421 Service shutting down\r\n');
  });
  it('after a complete line nothing is added', () => {
    const t = ready();
    t.session.close('Service shutting down', t.now);
    t.run();
    expect(t.received.client).toBe('220 ready\r\n421 Service shutting down\r\n');
  });
});
