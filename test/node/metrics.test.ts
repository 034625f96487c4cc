/**
 * proxy.metrics() and the metrics server: a scripted session with known refusals and byte
 * counts, every number checked in the object and in the scraped exposition text; /healthz from
 * ready to draining; the exposition format; hostile HTTP (bad methods, slow and large heads, too
 * many connections, from one address and from many).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFtpProxy, createMetricsServer, formatPrometheusMetrics, type FtpProxy, type MetricsServer, type RelayMetrics } from '../../src/node/index.js';
import { METRIC_FAMILIES } from '../../src/node/metrics.js';
import { FtpTestClient, type ControlLine } from '../../src/testing/index.js';
import { connectRaw, deadPort, eventually, listenProxy, noLeaks, pattern, readUntilClose, rig, type Rig } from './helpers.js';
import { parseExposition, seriesKey } from './prometheus.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listenMetrics(m: MetricsServer): Promise<number> {
  return new Promise((resolve, reject) => {
    m.once('error', reject);
    m.listen(0, '127.0.0.1', () => resolve((m.address() as net.AddressInfo).port));
  });
}

function closeMetrics(m: MetricsServer): Promise<void> {
  return new Promise((resolve) => m.close(() => resolve()));
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, method = 'GET'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function bytesOf(lines: readonly ControlLine[], source: ControlLine['source']): number {
  return lines.filter((l) => l.source === source).reduce((n, l) => n + l.text.length + l.ending.length, 0);
}

describe('relay metrics after a scripted session', () => {
  it('counts sessions, refusals, channels, bytes, theft, upstream failures and protocol errors; the scrape says the same', async () => {
    const down = pattern(3000, 3);
    const up = pattern(1234, 4);
    const r: Rig = await rig({ maxSessions: 2, files: { '/down.bin': down } });
    cleanups.push(() => r.close());
    // A second relay whose upstream is gone: one upstream failure.
    const dead = createFtpProxy({ upstream: { host: '127.0.0.1', port: await deadPort() }, upstreamConnectTimeoutMs: 2000 });
    const deadEp = await listenProxy(dead, '127.0.0.1');
    cleanups.push(() => dead.shutdown({ graceMs: 0 }));
    const metricsServer = createMetricsServer({ proxies: [{ proxy: r.proxy, name: 'main' }, { proxy: dead, name: 'dead "one"\\' }] });
    const port = await listenMetrics(metricsServer);
    cleanups.push(() => closeMetrics(metricsServer));

    const a = await FtpTestClient.connect(r.relay, { mode: 'pasv' });
    await a.login();
    // 1 passive channel, 3000 bytes down.
    expect(Buffer.from(await a.retrieve('/down.bin')).equals(Buffer.from(down))).toBe(true);
    // 1 active channel, 1234 bytes up.
    a.mode = 'port';
    await a.store('/up.bin', up);
    expect(Buffer.from(r.server.files.get('/up.bin')!).equals(Buffer.from(up))).toBe(true);
    // Two refused commands: a bounce and a low port.
    expect((await a.command('PORT 192,0,2,1,4,1')).code).toBeGreaterThanOrEqual(500);
    expect((await a.command('PORT 127,0,0,1,0,80')).code).toBeGreaterThanOrEqual(500);
    // A protocol error: the server's 227 names no address (the client gets a 425 instead).
    r.server.scriptRaw('PASV', '227 Entering Passive Mode\r\n');
    expect((await a.command('PASV')).code).toBe(425);
    r.server.unscript('PASV');
    // A theft attempt: a stranger (127.0.0.2) reaches the announced port first.
    const pasv = await a.expect('PASV', 2);
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(pasv.lines.join(''))!;
    const thief = net.connect({ host: '127.0.0.1', port: Number(m[5]) * 256 + Number(m[6]), localAddress: '127.0.0.2' });
    await readUntilClose(thief); // refused at once (reset, maybe before the connect completes)
    await eventually(() => r.proxy.stats().dataRejected === 1, 3000, 'data-rejected');
    // One session refused: a second one is open, the third is over maxSessions.
    const b = await FtpTestClient.connect(r.relay);
    const refused = await connectRaw(r.relay);
    expect(await readUntilClose(refused)).toMatch(/^421 Too many connections\r\n$/);
    // The upstream failure.
    const lost = await connectRaw(deadEp);
    expect(await readUntilClose(lost)).toMatch(/^421 /);

    // Live: while a and b are open, their control bytes are counted as they go.
    const live = r.proxy.metrics();
    expect(live.sessions.open).toBe(2);
    expect(live.bytes.control).toEqual({
      fromClient: bytesOf(a.transcript, 'client') + bytesOf(b.transcript, 'client'),
      toClient: bytesOf(a.transcript, 'server') + bytesOf(b.transcript, 'server'),
      toServer: bytesOf(r.server.transcript, 'client'),
      fromServer: bytesOf(r.server.transcript, 'server'),
    });

    await a.quit();
    await b.quit();
    await noLeaks(r.proxy);
    await eventually(() => dead.stats().sessions === 0, 3000, 'dead relay idle');

    const expected: RelayMetrics = {
      alg: 'ftp',
      draining: false,
      sessions: { open: 0, unauthenticated: 0, total: 2, refused: { 'too many sessions': 1 }, failed: 0 },
      sockets: 0,
      listeners: 0,
      commandsRefused: { 'foreign-address': 1, 'low-port': 1 },
      dataChannels: { opened: { passive: { relay: 1 }, active: { relay: 1 } }, rejected: 1, limited: 0 },
      bytes: {
        control: {
          fromClient: bytesOf(a.transcript, 'client') + bytesOf(b.transcript, 'client'),
          toClient: bytesOf(a.transcript, 'server') + bytesOf(b.transcript, 'server'),
          toServer: bytesOf(r.server.transcript, 'client'),
          fromServer: bytesOf(r.server.transcript, 'server'),
        },
        data: { relay: { toClient: 3000, toServer: 1234 } },
      },
      upstreamFailures: 0,
      protocolErrors: { clientToServer: 0, serverToClient: 1 },
    };
    const got = r.proxy.metrics();
    expect(got).toEqual(expected);
    // The translation changed what crossed (the 227 and PORT lines): both ends are counted apart.
    expect(got.bytes.control.toClient).not.toBe(got.bytes.control.fromServer);
    // stats() reads the same counters.
    expect(r.proxy.stats()).toMatchObject({ dataRejected: 1, dataLimited: 0, sessionsRefused: 1 });
    const deadMetrics = dead.metrics();
    expect(deadMetrics.upstreamFailures).toBe(1);
    expect(deadMetrics.sessions.total).toBe(1);

    // The scrape: every number again, with the relay's name as a label (escaped).
    const res = await request(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toContain('relay="dead \\"one\\"\\\\"');
    const { families, samples } = parseExposition(res.body);
    expect([...families.keys()]).toEqual(METRIC_FAMILIES);
    const v = (name: string, labels: Record<string, string> = {}, relay = 'main') => samples.get(seriesKey(name, { relay, alg: 'ftp', ...labels }));
    const c = expected.bytes.control;
    const want: [string, Record<string, string>, number][] = [
      ['nat_alg_sessions_open', {}, 0],
      ['nat_alg_sessions_unauthenticated', {}, 0],
      ['nat_alg_sessions_total', {}, 2],
      ['nat_alg_sessions_refused_total', { reason: 'too many sessions' }, 1],
      ['nat_alg_sessions_failed_total', {}, 0],
      ['nat_alg_sockets_open', {}, 0],
      ['nat_alg_data_listeners_open', {}, 0],
      ['nat_alg_commands_refused_total', { reason: 'foreign-address' }, 1],
      ['nat_alg_commands_refused_total', { reason: 'low-port' }, 1],
      ['nat_alg_data_channels_total', { mode: 'passive', plane: 'relay' }, 1],
      ['nat_alg_data_channels_total', { mode: 'active', plane: 'relay' }, 1],
      ['nat_alg_data_rejected_total', {}, 1],
      ['nat_alg_data_limited_total', {}, 0],
      ['nat_alg_control_received_bytes_total', { from: 'client' }, c.fromClient],
      ['nat_alg_control_received_bytes_total', { from: 'server' }, c.fromServer],
      ['nat_alg_control_sent_bytes_total', { to: 'client' }, c.toClient],
      ['nat_alg_control_sent_bytes_total', { to: 'server' }, c.toServer],
      ['nat_alg_data_bytes_total', { direction: 'to_client', plane: 'relay' }, 3000],
      ['nat_alg_data_bytes_total', { direction: 'to_server', plane: 'relay' }, 1234],
      ['nat_alg_upstream_failures_total', {}, 0],
      ['nat_alg_protocol_errors_total', { direction: 'client_to_server' }, 0],
      ['nat_alg_protocol_errors_total', { direction: 'server_to_client' }, 1],
      ['nat_alg_relay_draining', {}, 0],
    ];
    for (const [name, labels, value] of want) expect({ name, labels, value: v(name, labels) }).toEqual({ name, labels, value });
    const mainSeries = [...samples.keys()].filter((k) => k.includes('relay="main"'));
    expect(mainSeries).toHaveLength(want.length);
    expect(v('nat_alg_upstream_failures_total', {}, 'dead "one"\\')).toBe(1);
    expect(v('nat_alg_sessions_total', {}, 'dead "one"\\')).toBe(1);
    expect(samples.get('nat_alg_draining')).toBe(0);
    expect(samples.get('nat_alg_event_loop_lag_seconds_count')).toBeGreaterThan(0);
    expect(samples.get('nat_alg_event_loop_lag_seconds{quantile="0.99"}')).toBeGreaterThanOrEqual(0);
    expect(samples.get('nat_alg_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(0);
  });
});

describe('relay metrics of failed and handed-over sessions', () => {
  it('counts a session torn down by a throwing listener as failed, its control bytes once; a handed-over connection as a session', async () => {
    const r = await rig();
    cleanups.push(() => r.close());
    r.proxy.on('command-refused', (e) => {
      if (e.sessionId === 1) throw new Error('listener bug');
    });
    const victim = await FtpTestClient.connect(r.relay);
    await victim.login();
    victim.sendRaw('PORT 198,51,100,99,4,1\r\n');
    await eventually(() => r.proxy.metrics().sessions.failed === 1, 3000, 'session failed');
    await expect(victim.readReply().then(() => victim.readReply())).rejects.toThrow(/closed/);
    await eventually(() => r.proxy.stats().sessions === 0, 3000, 'session gone');
    const afterFailure = r.proxy.metrics();
    expect(afterFailure.sessions).toMatchObject({ open: 0, total: 1, failed: 1 });
    expect(afterFailure.commandsRefused).toEqual({ 'foreign-address': 1 });
    // Everything the client sent was received (its bytes were counted once, at the synthesised close).
    expect(afterFailure.bytes.control.fromClient).toBe(bytesOf(victim.transcript, 'client'));

    // A connection accepted by the embedder and handed over: the same counters.
    const server = net.createServer({ pauseOnConnect: true }, (s) => r.proxy.handleConnection(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const handed = await FtpTestClient.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, { mode: 'pasv' });
    await handed.login();
    r.server.files.set('/h.bin', pattern(777, 5));
    expect((await handed.retrieve('/h.bin')).length).toBe(777);
    await handed.quit();
    await eventually(() => r.proxy.stats().sessions === 0, 3000, 'handed-over session gone');
    const m = r.proxy.metrics();
    expect(m.sessions).toMatchObject({ open: 0, total: 2, failed: 1 });
    expect(m.dataChannels.opened).toEqual({ passive: { relay: 1 }, active: {} });
    expect(m.bytes.data).toEqual({ relay: { toClient: 777, toServer: 0 } });
    expect(m.bytes.control.fromClient).toBe(bytesOf(victim.transcript, 'client') + bytesOf(handed.transcript, 'client'));
  });
});

describe('/healthz', () => {
  it('is ready, then draining when marked, ready again when unmarked, and draining once shutdown begins', async () => {
    const r = await rig();
    cleanups.push(() => r.close());
    const ms = createMetricsServer({ proxies: [r.proxy] });
    const port = await listenMetrics(ms);
    cleanups.push(() => closeMetrics(ms));
    expect(await request(port, '/healthz')).toMatchObject({ status: 200, body: 'ready\n' });
    const head = await request(port, '/healthz', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    ms.setDraining();
    expect(await request(port, '/healthz')).toMatchObject({ status: 503, body: 'draining\n' });
    expect(ms.health()).toBe('draining');
    expect(parseExposition((await request(port, '/metrics')).body).samples.get('nat_alg_draining')).toBe(1);
    ms.setDraining(false);
    expect(await request(port, '/healthz')).toMatchObject({ status: 200, body: 'ready\n' });

    // A session with a transfer running keeps the relay in its grace period: draining meanwhile.
    r.server.files.set('/big.bin', pattern(16 << 20, 9));
    const client = await FtpTestClient.connect(r.relay, { mode: 'epsv' });
    await client.login();
    // Shutdown begins as soon as the data connection is up.
    const stopping = new Promise<Promise<void>>((resolve) => r.proxy.once('data-open', () => resolve(r.proxy.shutdown({ graceMs: 20_000 }))));
    const transfer = client.retrieve('/big.bin').then(
      (b) => b.length,
      () => -1,
    );
    const stopped = await stopping;
    expect(await request(port, '/healthz')).toMatchObject({ status: 503, body: 'draining\n' });
    const scrape = parseExposition((await request(port, '/metrics')).body).samples;
    expect(scrape.get('nat_alg_relay_draining{alg="ftp",relay="ftp"}')).toBe(1);
    expect(scrape.get('nat_alg_draining')).toBe(1);
    await stopped;
    expect(await transfer).toBe(16 << 20);
    expect(await request(port, '/healthz')).toMatchObject({ status: 503, body: 'draining\n' });
  });
});

describe('exposition format', () => {
  const metrics = (over: Partial<RelayMetrics> = {}): RelayMetrics => ({
    alg: 'ftp', draining: false,
    sessions: { open: 1, unauthenticated: 0, total: 5, refused: {}, failed: 0 },
    sockets: 2, listeners: 0, commandsRefused: {},
    dataChannels: { opened: { active: {}, passive: {} }, rejected: 0, limited: 0 },
    bytes: { control: { fromClient: 1, toClient: 2, fromServer: 3, toServer: 4 }, data: {} },
    upstreamFailures: 0, protocolErrors: { clientToServer: 0, serverToClient: 0 },
    ...over,
  });

  it('declares every family once (HELP, TYPE, samples), ends counters in _total and the text with a line feed', () => {
    const text = formatPrometheusMetrics({ relays: [{ name: 'a', metrics: metrics() }, { name: 'b', metrics: metrics({ alg: 'irc' }) }] });
    const { families, samples } = parseExposition(text);
    expect([...families.keys()]).toEqual(METRIC_FAMILIES.filter((f) => !f.startsWith('nat_alg_draining') && !f.startsWith('nat_alg_event_loop')));
    for (const f of families.values()) if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
    expect(samples.get('nat_alg_sessions_total{alg="irc",relay="b"}')).toBe(5);
    expect(samples.get('nat_alg_sessions_total{alg="ftp",relay="a"}')).toBe(5);
  });

  it('escapes label values (backslash, quote, line feed) and reads back the same strings', () => {
    const reason = 'a "quoted"\\ reason\nwith a line feed';
    const text = formatPrometheusMetrics({ relays: [{ name: 'x\ny', metrics: metrics({ commandsRefused: { [reason]: 3 } }) }] });
    expect(text).toContain('reason="a \\"quoted\\"\\\\ reason\\nwith a line feed"');
    expect(text.split('\n').every((l) => !l.startsWith('with'))).toBe(true);
    const { samples } = parseExposition(text);
    expect(samples.get(seriesKey('nat_alg_commands_refused_total', { relay: 'x\ny', alg: 'ftp', reason }))).toBe(3);
  });

  it('writes the event-loop summary with quantiles, sum and count', () => {
    const text = formatPrometheusMetrics({
      relays: [],
      draining: true,
      eventLoopLag: { quantiles: [[0.5, 0.001], [0.9, 0.002], [0.99, 0.0125]], maxSeconds: 0.5, count: 10, sumSeconds: 0.02 },
    });
    const { families, samples } = parseExposition(text);
    expect(families.get('nat_alg_event_loop_lag_seconds')?.type).toBe('summary');
    expect(samples.get('nat_alg_event_loop_lag_seconds{quantile="0.99"}')).toBe(0.0125);
    expect(samples.get('nat_alg_event_loop_lag_seconds_sum')).toBe(0.02);
    expect(samples.get('nat_alg_event_loop_lag_seconds_count')).toBe(10);
    expect(samples.get('nat_alg_event_loop_lag_max_seconds')).toBe(0.5);
    expect(samples.get('nat_alg_draining')).toBe(1);
  });

  it('keeps at most 64 distinct reasons per table; the rest count as "other"', async () => {
    // A custom ALG could put details into its reasons: the table must not grow with them.
    const { RelayCounters, MAX_REASONS } = await import('../../src/node/relay-counters.js');
    const c = new RelayCounters('x');
    for (let i = 0; i < 100; i++) c.observe(1, { type: 'command-refused', command: 'X', reason: `r${i}`, reply: '' }, 'relay');
    const refused = c.snapshot({ sessions: 0, unauthenticated: 0, sockets: 0, listeners: 0, draining: false }).commandsRefused;
    expect(Object.keys(refused)).toHaveLength(MAX_REASONS + 1);
    expect(refused.other).toBe(100 - MAX_REASONS);
  });
});

describe('metrics server against hostile HTTP', () => {
  let proxy: FtpProxy;
  async function start(options: Partial<Parameters<typeof createMetricsServer>[0]> = {}): Promise<number> {
    proxy = createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 } });
    const ms = createMetricsServer({ proxies: [proxy], ...options });
    const port = await listenMetrics(ms);
    cleanups.push(() => closeMetrics(ms));
    return port;
  }

  it('answers 405 with Allow to every method but GET and HEAD, 404 elsewhere', async () => {
    const port = await start();
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const res = await request(port, '/metrics', method);
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
    expect((await request(port, '/')).status).toBe(404);
    expect((await request(port, '/metrics/../healthz')).status).toBe(404);
    expect((await request(port, '/metrics?x=1')).status).toBe(200);
  });

  it('closes a connection whose request head is too slow (408) or too large (431)', async () => {
    const port = await start({ headersTimeoutMs: 300, requestTimeoutMs: 300 });
    const slow = await connectRaw({ family: 4, address: '127.0.0.1', port });
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // and never the end of the head
    expect(await readUntilClose(slow)).toMatch(/^HTTP\/1\.1 408 /);
    const big = await connectRaw({ family: 4, address: '127.0.0.1', port });
    big.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    expect(await readUntilClose(big)).toMatch(/^HTTP\/1\.1 431 /);
    const junk = await connectRaw({ family: 4, address: '127.0.0.1', port });
    junk.write('\x16\x03\x01 not http at all\r\n\r\n');
    expect(await readUntilClose(junk)).toMatch(/^HTTP\/1\.1 400 /);
    expect((await request(port, '/healthz')).status).toBe(200);
  });

  it('a connection beyond maxConnections takes the place of the oldest one not being answered', async () => {
    const port = await start({ maxConnections: 2 });
    const held = [await connectRaw({ family: 4, address: '127.0.0.1', port }), await connectRaw({ family: 4, address: '127.0.0.1', port })];
    // Wait until the server has both (accepted connections are counted on accept).
    await new Promise((r) => setTimeout(r, 50));
    const gone = readUntilClose(held[0]!);
    const third = await connectRaw({ family: 4, address: '127.0.0.1', port });
    third.write('GET /healthz HTTP/1.0\r\n\r\n');
    expect(await readUntilClose(third)).toMatch(/^HTTP\/1\.1 200 [^]*ready\n$/);
    expect(await gone).toBe(''); // the oldest, which never sent a request, made room
    expect(held[1]!.destroyed).toBe(false);
    held[1]!.destroy();
  });

  it('when every connection is being answered, a new one is closed at once', async () => {
    // A /metrics answer larger than the socket buffers, to a client that does not read it: its
    // connection stays "being answered", and a full server must not cut that answer off.
    const p = createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 } });
    const ms = createMetricsServer({ proxies: Array.from({ length: 20000 }, (_, i) => ({ proxy: p, name: `r${i}` })), maxConnections: 1, eventLoopLag: false });
    const port = await listenMetrics(ms);
    cleanups.push(() => closeMetrics(ms));
    const reader = await connectRaw({ family: 4, address: '127.0.0.1', port });
    let got = 0;
    let size = 0; // the whole answer: head and body
    const started = new Promise<void>((resolve) =>
      reader.once('data', (b: Buffer) => {
        const text = b.toString('latin1');
        size = text.indexOf('\r\n\r\n') + 4 + Number(/content-length: (\d+)/i.exec(text)?.[1]);
        got += b.length;
        reader.pause(); // and read nothing more until the end: the kernel's buffers fill
        resolve();
      }),
    );
    reader.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await started;
    expect(size).toBeGreaterThan(16 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 100));
    const late = await connectRaw({ family: 4, address: '127.0.0.1', port });
    late.write('GET /healthz HTTP/1.0\r\n\r\n');
    expect(await readUntilClose(late)).toBe('');
    // The reader's answer was not cut: it arrives whole once read.
    reader.on('data', (b: Buffer) => (got += b.length));
    reader.resume();
    await eventually(() => got === size);
    reader.destroy();
  });

  it('one address holding slow connections cannot take the health check down: beyond its share its connections are closed at once', async () => {
    const port = await start();
    // The attacker: 40 connections from 127.0.0.2, each with a request head it never ends.
    const attack: net.Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      attack.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    // Only the address's share (4) is still open; the balancer's check from another address is served.
    expect(attack.filter((s) => !s.destroyed).length).toBe(4);
    expect((await request(port, '/healthz')).status).toBe(200);
    for (const s of attack) s.destroy();
  });

  it('slow connections from many addresses cannot keep a fresh health check out: they push each other out', async () => {
    const port = await start();
    // 40 connections from 10 addresses, 4 each (the per-address share), each with a head it never ends:
    // more than the 16 connections the server holds at once.
    const attack: net.Socket[] = [];
    for (let a = 2; a < 12; a++) {
      for (let i = 0; i < 4; i++) {
        const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${a}` });
        s.on('error', () => undefined);
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        attack.push(s);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(attack.filter((s) => !s.destroyed).length).toBe(16);
    // Every check from the balancer is served, each time pushing out the oldest slow one.
    for (let i = 0; i < 5; i++) expect((await request(port, '/healthz')).status).toBe(200);
    for (const s of attack) s.destroy();
  });

  it('a body is never read: the connection ends after the answer', async () => {
    const port = await start();
    const s = await connectRaw({ family: 4, address: '127.0.0.1', port });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc');
    const text = await readUntilClose(s);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/\r\n\r\nready\n$/);
  });

  it('refuses bad options naming them', () => {
    const p = createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 } });
    expect(() => createMetricsServer({ proxies: [] })).toThrow(/at least one relay/);
    expect(() => createMetricsServer({ proxies: [p, p] })).not.toThrow(); // ftp-0, ftp-1
    expect(() => createMetricsServer({ proxies: [{ proxy: p, name: 'x' }, { proxy: p, name: 'x' }] })).toThrow(/two relays named "x"/);
    expect(() => createMetricsServer({ proxies: [p], maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => createMetricsServer({ proxies: [p], maxConnectionsPerAddress: 0 })).toThrow(/maxConnectionsPerAddress/);
    expect(() => createMetricsServer({ proxies: [p], headersTimeoutMs: 1.5 })).toThrow(/headersTimeoutMs/);
  });
});
