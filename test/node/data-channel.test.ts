/**
 * openDataChannel: the relay's data path for one channel, for users of the translator on its
 * own. Real sockets on loopback: 127.0.0.1 stands for both peers, 127.0.0.2 for a stranger.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endpoint, NatAlgError, type DataChannelRequest, type Endpoint } from '../../src/core/index.js';
import { openDataChannel, type DataChannel, type DataChannelCloseEvent, type DataChannelRejectedEvent } from '../../src/node/index.js';
import { deadPort, eventually, pattern } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function request(over: Partial<DataChannelRequest> & Pick<DataChannelRequest, 'connector' | 'target'>): DataChannelRequest {
  return {
    id: 1,
    acceptFrom: '127.0.0.1',
    original: over.target,
    family: 4,
    oneShot: true,
    timeoutMs: null,
    label: over.connector === 'client' ? 'PASV' : 'PORT',
    ...over,
  };
}

/** A peer's listening socket (the server's passive port, the client's active one): sends `body`, keeps what it reads. */
async function peerListener(body: Uint8Array): Promise<{ at: Endpoint; got: () => Buffer; connections: () => number }> {
  const chunks: Buffer[] = [];
  let connections = 0;
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    connections++;
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end());
    s.on('error', () => {});
    s.write(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as net.AddressInfo).port;
  return { at: endpoint('127.0.0.1', port), got: () => Buffer.concat(chunks), connections: () => connections };
}

/** The connecting peer: sends `body`, half-closes, reads until the end. */
function connectAndExchange(to: Endpoint, body: Uint8Array, from = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: to.address, port: to.port, localAddress: from, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('connect', () => s.end(body));
    s.on('end', () => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    });
  });
}

async function open(req: DataChannelRequest, extra: Partial<Parameters<typeof openDataChannel>[1]> = {}): Promise<DataChannel> {
  const ch = await openDataChannel(req, { clientLocal: '127.0.0.1', serverLocal: '127.0.0.1', ...extra });
  cleanups.push(async () => {
    ch.close();
    await ch.closed;
  });
  return ch;
}

describe('openDataChannel', () => {
  for (const connector of ['client', 'server'] as const) {
    it(`${connector === 'client' ? 'passive' : 'active'}: the ${connector}'s peer connects, bytes flow both ways, counted`, async () => {
      const fromListener = pattern(700_000, 1);
      const fromConnector = pattern(300_001, 2);
      const peer = await peerListener(fromListener);
      const ch = await open(request({ connector, target: peer.at }));
      const opened: unknown[] = [];
      ch.on('open', (e) => opened.push(e));
      expect(ch.endpoint).toEqual(endpoint('127.0.0.1', ch.local.port));
      expect(ch.plan.listenSide).toBe(connector);
      const got = await connectAndExchange(ch.endpoint, fromConnector);
      expect(Buffer.compare(got, Buffer.from(fromListener))).toBe(0);
      const closed = await ch.closed;
      expect(Buffer.compare(peer.got(), Buffer.from(fromConnector))).toBe(0);
      expect(opened).toEqual([{ peer: expect.objectContaining({ address: '127.0.0.1' }), target: peer.at }]);
      // The connector's side is the listener's: what it received went "to" it.
      const toConnector = connector === 'client' ? closed.bytes.toClient : closed.bytes.toServer;
      const toListener = connector === 'client' ? closed.bytes.toServer : closed.bytes.toClient;
      expect({ toConnector, toListener, reason: closed.reason }).toEqual({ toConnector: 700_000, toListener: 300_001, reason: 'transfer complete' });
    });
  }

  it('a stranger is reset and reported; the expected peer still gets through', async () => {
    const peer = await peerListener(pattern(1000, 3));
    const ch = await open(request({ connector: 'client', target: peer.at }));
    const rejected: DataChannelRejectedEvent[] = [];
    ch.on('rejected', (e) => rejected.push(e));
    await expect(connectAndExchange(ch.endpoint, pattern(10, 4), '127.0.0.2')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(rejected).toEqual([{ peer: expect.objectContaining({ address: '127.0.0.2' }), local: ch.local, expected: '127.0.0.1' }]);
    expect((await connectAndExchange(ch.endpoint, pattern(10, 4))).length).toBe(1000);
    expect((await ch.closed).reason).toBe('transfer complete');
  });

  it('acceptFrom null: any peer on that side', async () => {
    const peer = await peerListener(pattern(10, 5));
    const ch = await open(request({ connector: 'client', target: peer.at, acceptFrom: null }));
    expect((await connectAndExchange(ch.endpoint, pattern(1, 1), '127.0.0.2')).length).toBe(10);
  });

  it('nobody comes: closed after the listen timeout, nothing left open', async () => {
    const peer = await peerListener(pattern(1, 1));
    const ch = await open(request({ connector: 'client', target: peer.at, timeoutMs: 5000 }), { listenTimeoutMs: 100 });
    const closes: DataChannelCloseEvent[] = [];
    ch.on('close', (e) => closes.push(e));
    const closed = await ch.closed;
    expect(closed).toEqual({ reason: 'no connection within 100 ms', bytes: { toClient: 0, toServer: 0 }, peer: null });
    expect(closes).toEqual([closed]);
    await expect(connectAndExchange(ch.endpoint, pattern(1, 1))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(peer.connections()).toBe(0);
  });

  it('the target refuses: the peer\'s connection is closed, the reason says why', async () => {
    const ch = await open(request({ connector: 'client', target: endpoint('127.0.0.1', await deadPort()) }));
    const peerSide = connectAndExchange(ch.endpoint, pattern(1, 1)).catch((e: NodeJS.ErrnoException) => e.code);
    const closed = await ch.closed;
    expect(closed.reason).toBe('connect failed: ECONNREFUSED');
    expect(closed.peer?.address).toBe('127.0.0.1');
    await peerSide;
  });

  it('close() while waiting, and close() during a transfer with what it moved', async () => {
    const peer = await peerListener(pattern(1, 1));
    const waiting = await open(request({ connector: 'client', target: peer.at }));
    waiting.close();
    expect(await waiting.closed).toEqual({ reason: 'closed', bytes: { toClient: 0, toServer: 0 }, peer: null });

    // A target that sends 64 KiB and then holds the connection open.
    const held: net.Socket[] = [];
    const srv = net.createServer((s) => {
      held.push(s);
      s.on('error', () => {});
      s.write(pattern(65536, 6));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
    cleanups.push(() => held.forEach((s) => s.destroy()));
    const running = await open(request({ connector: 'client', target: endpoint('127.0.0.1', (srv.address() as net.AddressInfo).port) }));
    const c = net.connect({ host: '127.0.0.1', port: running.endpoint.port });
    c.on('error', () => {});
    let received = 0;
    c.on('data', (d: Buffer) => (received += d.length));
    await eventually(() => received === 65536, 3000, 'first bytes through');
    running.close();
    const closed = await running.closed;
    expect(closed.reason).toBe('closed');
    expect(closed.bytes.toClient).toBe(65536);
    c.destroy();
  });

  it('rejects what cannot be served: an IPv6 line with only IPv4 addresses, a bad port', async () => {
    const target = endpoint('127.0.0.1', 2121);
    await expect(openDataChannel(request({ connector: 'client', target, family: 6 }), { clientLocal: '127.0.0.1', serverLocal: '127.0.0.1' })).rejects.toBeInstanceOf(NatAlgError);
    await expect(openDataChannel(request({ connector: 'client', target }), { clientLocal: '127.0.0.1', serverLocal: '127.0.0.1', port: 70000 })).rejects.toMatchObject({ code: 'ERR_NAT_ALG_INVALID_ARGUMENT' });
    await expect(openDataChannel(request({ connector: 'client', target }), { clientLocal: 'not an address', serverLocal: '127.0.0.1' })).rejects.toBeInstanceOf(NatAlgError);
  });

  it('a port in use rejects with its code', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => busy.close(() => r())));
    const port = (busy.address() as net.AddressInfo).port;
    await expect(openDataChannel(request({ connector: 'client', target: endpoint('127.0.0.1', 1) }), { clientLocal: '127.0.0.1', serverLocal: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
