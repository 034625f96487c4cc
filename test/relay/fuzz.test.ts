/**
 * The relay session under random peers and a random transport: control bytes from both sides,
 * data-channel reports in any order (late, duplicated, for closed channels), ends, errors and
 * timeouts. Nothing may throw for calls about channels the session issued; the session never
 * holds more than its bounds; after it closes it asks for nothing more.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { endpoint, FtpRelaySession, PortRangeSource, type RelayAction, type Side } from '../../src/core/index.js';

const CLIENT = endpoint('203.0.113.5', 50123);
const CLIENT_LOCAL = endpoint('192.0.2.1', 21);
const SERVER = endpoint('198.51.100.7', 21);
const SERVER_LOCAL = endpoint('198.51.100.1', 40000);

const clientTokens = [
  'PASV\r\n', 'EPSV\r\n', 'PORT 203,0,113,5,100,1\r\n', 'EPRT |1|203.0.113.5|5001|\r\n', 'PORT 6,6,6,6,100,1\r\n', 'LIST\r\n',
  'AUTH TLS\r\n', 'REIN\r\n', 'EPSV ALL\r\n', 'QUIT\r\n', 'NOOP', '\r\n', 'x'.repeat(300), '\xff\xf4\xff\xf2ABOR\r\n',
];
const serverTokens = [
  '200 ok\r\n', '227 Entering Passive Mode (198,51,100,7,200,1)\r\n', '229 (|||50000|)\r\n', '150 go\r\n', '226 done\r\n',
  '234 tls\r\n', '227-x\r\n', '227 (0,0,0,0,200,2)\r\n', '500 no\r\n', '\x16\x03\x01\x00\x01x', '421 bye\r\n', '22',
];

type Op =
  | { t: 'data'; side: Side; text: string }
  | { t: 'end'; side: Side }
  | { t: 'error'; side: Side }
  | { t: 'chan'; pick: number; what: 'listening' | 'listen-failed' | 'in-use' | 'incoming' | 'foreign' | 'connected' | 'connect-failed' | 'closed' }
  | { t: 'time'; ms: number }
  | { t: 'shutdown' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.boolean(), fc.array(fc.nat(), { minLength: 1, maxLength: 4 })).map(([cl, ps]): Op => ({ t: 'data', side: cl ? 'client' : 'server', text: ps.map((p) => (cl ? clientTokens : serverTokens)[p % (cl ? clientTokens : serverTokens).length]).join('') })) },
  { weight: 1, arbitrary: fc.boolean().map((cl): Op => ({ t: 'end', side: cl ? 'client' : 'server' })) },
  { weight: 1, arbitrary: fc.boolean().map((cl): Op => ({ t: 'error', side: cl ? 'client' : 'server' })) },
  { weight: 8, arbitrary: fc.tuple(fc.nat(), fc.constantFrom('listening' as const, 'listen-failed' as const, 'in-use' as const, 'incoming' as const, 'foreign' as const, 'connected' as const, 'connect-failed' as const, 'closed' as const)).map(([pick, what]): Op => ({ t: 'chan', pick, what })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 40000 }).map((ms): Op => ({ t: 'time', ms })) },
  { weight: 1, arbitrary: fc.constant<Op>({ t: 'shutdown' }) },
);

describe('relay session fuzz', () => {
  it('never throws for calls about its own channels, stays bounded, goes quiet once closed', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 50 }), fc.boolean(), (ops, ports) => {
        let now = 0;
        const s = new FtpRelaySession(
          { client: CLIENT, clientLocal: CLIENT_LOCAL, upstream: { host: SERVER.address, port: 21 }, ...(ports ? { dataPorts: new PortRangeSource(50000, 50003) } : {}) },
          now,
        );
        const issued: number[] = [];
        const finSent = { client: false, server: false };
        const ended = { client: false, server: false };
        const drain = () => {
          const actions: RelayAction[] = [];
          for (let a = s.pollAction(); a; a = s.pollAction()) actions.push(a);
          for (let e = s.pollEvent(); e; e = s.pollEvent()) void e;
          for (const a of actions) {
            if (a.type === 'listen') issued.push(a.channel);
            if (a.type === 'write') expect(finSent[a.side], `write to the ${a.side} after its FIN`).toBe(false);
            if (a.type === 'end') finSent[a.side] = true;
          }
          return actions;
        };
        drain();
        s.handleUpstreamConnected(SERVER_LOCAL, SERVER, now);
        drain();
        s.handleControlData('server', new TextEncoder().encode('220 hi\r\n'), now);
        drain();
        for (const op of ops) {
          if (op.t === 'data') {
            if (ended[op.side]) continue;
            s.handleControlData(op.side, Uint8Array.from(op.text, (ch) => ch.charCodeAt(0) & 0xff), now);
          } else if (op.t === 'end') {
            ended[op.side] = true;
            s.handleControlEnd(op.side, now);
          } else if (op.t === 'error') {
            s.handleControlError(op.side, 'ECONNRESET', now);
          } else if (op.t === 'chan') {
            if (issued.length === 0) continue;
            const id = issued[op.pick % issued.length]!;
            if (op.what === 'listening') s.handleDataListening(id, endpoint(id % 2 ? CLIENT_LOCAL.address : SERVER_LOCAL.address, 50000 + id), now);
            else if (op.what === 'listen-failed' || op.what === 'in-use') s.handleDataListenFailed(id, 'EADDRINUSE', op.what === 'in-use', now);
            else if (op.what === 'incoming') s.handleDataIncoming(id, endpoint(op.pick % 2 ? CLIENT.address : SERVER.address, 40000), now);
            else if (op.what === 'foreign') expect(s.handleDataIncoming(id, endpoint('192.0.2.99', 40000), now)).toBe(false);
            else if (op.what === 'connected') s.handleDataConnected(id, now);
            else if (op.what === 'connect-failed') s.handleDataConnectFailed(id, 'ECONNREFUSED', now);
            else s.handleDataClosed(id, { toClient: 1, toServer: 2 }, 'done', now);
          } else if (op.t === 'time') {
            now += op.ms;
            const at = s.pollTimeout();
            if (at !== null && at <= now) s.handleTimeout(now);
          } else {
            s.handleShutdown(now);
          }
          const actions = drain();
          if (s.isClosed) {
            expect(s.pollTimeout()).toBeNull();
            expect(s.openChannels).toBe(0);
          }
          // Only answered, waiting listeners or running transfers: never more than the cap waiting.
          expect(s.openChannels).toBeLessThanOrEqual(8 + issued.length);
          void actions;
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
    );
  });
});
