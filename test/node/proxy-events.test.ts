/**
 * The relay's emitter carries what used to reach only the logger: upstream-failed,
 * protocol-error, session-failed; and session-close comes exactly once per session-open.
 */
import { describe, expect, it } from 'vitest';
import { createFtpProxy, type FtpProxy, type ProtocolErrorEvent, type SessionFailedEvent, type UpstreamFailedEvent } from '../../src/node/index.js';
import { FtpTestClient } from '../../src/testing/index.js';
import { cleanupsAfterEach, connectRaw, deadPort, eventually, listenProxy, noLeaks, readUntilClose, rig } from './helpers.js';

const { cleanups, track } = cleanupsAfterEach();

/** session-open and session-close, in order, as `open:<id>` / `close:<id>`. */
function lifecycle(proxy: FtpProxy): string[] {
  const seen: string[] = [];
  proxy.on('session-open', (e) => seen.push(`open:${e.sessionId}`));
  proxy.on('session-close', (e) => seen.push(`close:${e.sessionId}`));
  return seen;
}

describe('relay events', () => {
  it('upstream-failed: the reason and the farewell the client got', async () => {
    const proxy = createFtpProxy({ upstream: { host: '127.0.0.1', port: await deadPort() } });
    cleanups.push(async () => {
      await proxy.shutdown({ graceMs: 0 });
      await noLeaks(proxy);
    });
    const relay = await listenProxy(proxy, '127.0.0.1');
    const failed: UpstreamFailedEvent[] = [];
    proxy.on('upstream-failed', (e) => failed.push(e));
    const seen = lifecycle(proxy);
    const text = await readUntilClose(await connectRaw(relay));
    expect(failed).toEqual([
      {
        sessionId: 1,
        client: expect.objectContaining({ address: '127.0.0.1' }),
        reason: 'Upstream FTP server unavailable (ECONNREFUSED)',
        reply: '421 Upstream FTP server unavailable (ECONNREFUSED)',
      },
    ]);
    expect(text).toBe(`${failed[0]!.reply}\r\n`);
    await eventually(() => seen.length === 2, 3000, 'session-close');
    expect(seen).toEqual(['open:1', 'close:1']);
  });

  it('protocol-error: a 227 without an address, with the direction', async () => {
    const r = track(await rig());
    r.server.scriptRaw('PASV', '227 Entering Passive Mode\r\n');
    const errors: ProtocolErrorEvent[] = [];
    r.proxy.on('protocol-error', (e) => errors.push(e));
    const client = await FtpTestClient.connect(r.relay);
    await client.login();
    const reply = await client.command('PASV');
    expect(reply.code).toBe(425);
    expect(errors).toEqual([
      { sessionId: 1, client: expect.objectContaining({ address: '127.0.0.1' }), direction: 'server-to-client', message: expect.stringMatching(/227 reply without an address/) },
    ]);
    // Still logged as before.
    expect(r.log.filter((e) => e.event === 'protocol-error')).toHaveLength(1);
    await client.quit();
  });

  it('session-failed: a listener that throws tears down its session only; session-close follows once', async () => {
    const r = track(await rig());
    const failures: SessionFailedEvent[] = [];
    const seen = lifecycle(r.proxy);
    r.proxy.on('session-failed', (e) => failures.push(e));
    r.proxy.on('command-refused', (e) => {
      if (e.sessionId === 1) throw new Error('listener bug');
    });
    const other = await FtpTestClient.connect(r.relay);
    const victim = await FtpTestClient.connect(r.relay);
    await other.login();
    await victim.login();
    // Session 1 is `other`: the first to connect. A refused bounce PORT reaches the throwing listener.
    other.sendRaw('PORT 198,51,100,99,4,1\r\n');
    await eventually(() => failures.length === 1, 3000, 'session-failed');
    expect(failures[0]).toMatchObject({ sessionId: 1, client: expect.objectContaining({ address: '127.0.0.1' }) });
    expect(failures[0]!.error.message).toBe('listener bug');
    // The refusal went out before the listener ran; then the connection was torn down.
    expect((await other.readReply()).code).toBe(504);
    await expect(other.readReply()).rejects.toThrow(/closed/);
    // The other session is untouched.
    await victim.expect('NOOP', 2);
    await victim.quit();
    await noLeaks(r.proxy);
    expect(seen.filter((s) => s === 'close:1')).toHaveLength(1);
    expect(seen.filter((s) => s.startsWith('close:'))).toHaveLength(2);
    expect(r.log.find((e) => e.event === 'session-failed')).toMatchObject({ level: 'error', sessionId: 1 });
  });

  it('session-failed and session-close listeners that throw too are logged, not thrown', async () => {
    const r = track(await rig());
    r.proxy.on('command-refused', () => {
      throw new Error('first bug');
    });
    r.proxy.on('session-failed', () => {
      throw new Error('second bug');
    });
    let closes = 0;
    r.proxy.on('session-close', () => {
      closes++;
      throw new Error('third bug');
    });
    const client = await FtpTestClient.connect(r.relay);
    await client.login();
    client.sendRaw('PORT 198,51,100,99,4,1\r\n');
    await eventually(() => r.log.some((e) => e.event === 'listener-failed'), 3000, 'listener-failed log');
    expect(r.log.find((e) => e.event === 'listener-failed')).toMatchObject({ level: 'error', listener: 'session-failed', error: expect.stringContaining('second bug') });
    await noLeaks(r.proxy);
    expect(closes).toBe(1);
    expect(r.proxy.stats().sessions).toBe(0);
  });
});
