// The data-plane seam of the relay (src/node/data-plane.ts), without root: a plane of the test's
// own wraps the relay's sockets and records what it is asked, so that the contract is visible:
// started before the listener, asked per channel with the request and the plan, its name on the
// events, settled before control input, stopped after the last session.
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFtpProxy,
  createNftablesDataPlane,
  createRelayDataPlane,
  DataPlaneUnavailableError,
  type ChannelSpec,
  type DataPlane,
  type DataPlaneContext,
  type FtpProxyLogEntry,
  type SessionDataPlane,
} from '../../src/node/index.js';
import { FtpTestClient, FtpTestServer } from '../../src/testing/index.js';
import { listenProxy, noLeaks, pattern } from './helpers.js';

interface Recorder {
  plane: DataPlane;
  calls: string[];
  specs: ChannelSpec[];
  context: DataPlaneContext | null;
  /** While set, settle() returns this promise (control input must wait for it). */
  hold: Promise<void> | null;
  settles: number;
}

function recordingPlane(name = 'recording'): Recorder {
  const inner = createRelayDataPlane();
  const r: Recorder = { plane: null as unknown as DataPlane, calls: [], specs: [], context: null, hold: null, settles: 0 };
  r.plane = {
    name,
    async start(context) {
      r.context = context;
      r.calls.push('start');
    },
    async stop() {
      r.calls.push('stop');
    },
    forSession(host) {
      const s = inner.forSession(host);
      const wrapped: SessionDataPlane = {
        listen: (id, side, local, spec) => {
          r.calls.push(`listen ${id} ${side}`);
          r.specs.push(spec);
          s.listen(id, side, local, spec);
        },
        closeListener: (id) => s.closeListener(id),
        connect: (id, target, localAddress) => {
          r.calls.push(`connect ${id}`);
          s.connect(id, target, localAddress);
        },
        splice: (id) => s.splice(id),
        destroy: (id) => s.destroy(id),
        destroyAll: () => s.destroyAll(),
        planeOf: () => name,
        settle: () => {
          r.settles++;
          return r.hold;
        },
      };
      return wrapped;
    },
  };
  return r;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function setup(dataPlane: Parameters<typeof createFtpProxy>[0]['dataPlane']) {
  const server = new FtpTestServer({ host: '127.0.0.1' });
  const up = await server.listen();
  const log: FtpProxyLogEntry[] = [];
  const proxy = createFtpProxy({ upstream: { host: up.address, port: up.port }, dataPlane, logger: (e) => log.push(e) });
  cleanup = async () => {
    await proxy.shutdown({ graceMs: 0 });
    await server.close();
  };
  return { server, proxy, log };
}

describe('data planes', () => {
  it('a plane of your own: started before the listener, asked per channel with request and plan, named on the events, stopped after the last session', async () => {
    const rec = recordingPlane();
    const { server, proxy } = await setup(rec.plane);
    const relay = await listenProxy(proxy, '127.0.0.1');
    expect(rec.calls).toEqual(['start']);
    expect(rec.context?.clientFamilies).toEqual([4]);
    expect(rec.context?.serverFamilies).toEqual([4]);
    const opens: { plane: string; mode: string }[] = [];
    const closes: { plane: string; bytes: { toClient: number } }[] = [];
    proxy.on('data-open', (e) => opens.push({ plane: e.plane, mode: e.mode }));
    proxy.on('data-close', (e) => closes.push({ plane: e.plane, bytes: e.bytes }));
    server.files.set('/f', pattern(100_000));
    for (const mode of ['epsv', 'port'] as const) {
      const client = await FtpTestClient.connect(relay, { mode });
      await client.login();
      expect((await client.retrieve('/f')).length).toBe(100_000);
      await client.quit();
    }
    await noLeaks(proxy);
    expect(opens).toEqual([
      { plane: 'recording', mode: 'passive' },
      { plane: 'recording', mode: 'active' },
    ]);
    expect(closes.map((c) => [c.plane, c.bytes.toClient])).toEqual([
      ['recording', 100_000],
      ['recording', 100_000],
    ]);
    // The protocol-neutral request and the plan: who connects, from where, and where it goes next.
    expect(rec.specs.map((s) => [s.request.connector, s.request.label, s.plan.listenSide, s.plan.expectedPeer, s.timeoutMs])).toEqual([
      ['client', 'EPSV', 'client', '127.0.0.1', 30_000],
      ['server', 'PORT', 'server', '127.0.0.1', 30_000],
    ]);
    expect(rec.specs[0]!.plan.connectTarget.address).toBe('127.0.0.1');
    expect(rec.settles).toBeGreaterThan(0);
    await proxy.shutdown({ graceMs: 0 });
    expect(rec.calls.at(-1)).toBe('stop');
  });

  it('control input waits while the plane settles, then arrives in order', async () => {
    const rec = recordingPlane();
    const { server, proxy } = await setup(rec.plane);
    const relay = await listenProxy(proxy, '127.0.0.1');
    server.files.set('/f', pattern(10_000));
    const client = await FtpTestClient.connect(relay, { mode: 'epsv' });
    await client.login();
    let release!: () => void;
    rec.hold = new Promise<void>((r) => (release = r));
    const noop = client.expect('NOOP', 2);
    let answered = false;
    void noop.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 200));
    // Held: the NOOP has not reached the session (nor the server) yet.
    expect(answered).toBe(false);
    expect(server.received().filter((l) => l === 'NOOP')).toHaveLength(0);
    rec.hold = null;
    release();
    await noop;
    expect((await client.retrieve('/f')).length).toBe(10_000);
    await client.quit();
  });

  it('a plane that cannot start: listen() emits its error and nothing listens; the option is checked', async () => {
    const failing: DataPlane = {
      ...createRelayDataPlane(),
      name: 'broken',
      start: async () => {
        throw new DataPlaneUnavailableError('no-cap-net-admin', 'test');
      },
    };
    const { proxy } = await setup(failing);
    const err = await new Promise<Error>((resolve) => {
      proxy.once('error', resolve);
      proxy.listen(0, '127.0.0.1');
    });
    expect(err).toBeInstanceOf(DataPlaneUnavailableError);
    expect(err.message).toMatch(/no-cap-net-admin.*fix: run the relay as root or with CAP_NET_ADMIN/);
    expect(proxy.address()).toBeNull();
    expect(() => createFtpProxy({ upstream: { host: '127.0.0.1', port: 21 }, dataPlane: 'kernel' as never })).toThrow(/dataPlane must be/);
  });

  it('nftables: a relay whose channels all change family (FTP64) needs no kernel, and says so', async () => {
    const log: FtpProxyLogEntry[] = [];
    const contexts: string[] = [];
    const plane = createNftablesDataPlane();
    await plane.start({
      clientFamilies: [6],
      serverFamilies: [4],
      log: (e) => log.push(e),
      fail: (e) => contexts.push(e.message),
    });
    expect(log.map((e) => [e.level, e.event])).toEqual([['warn', 'data-plane-idle']]);
    await plane.stop();
    expect(contexts).toEqual([]);
  });

  it('nftables with nft missing: a DataPlaneUnavailableError naming the fix, never a silent fallback', async () => {
    const plane = createNftablesDataPlane({ nftCommand: ['/nonexistent/nft'] });
    const err = await plane.start({ clientFamilies: [4], serverFamilies: [4], log: () => undefined, fail: () => undefined }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataPlaneUnavailableError);
    expect((err as DataPlaneUnavailableError).cause).toBe('nft-missing');
    expect((err as Error).message).toMatch(/apt-get install nftables/);
  });
});
