// A relay session as the kernel plane sees it, for the plane's tests over the stand-in nft: it
// records what the plane tells it, and a channel spec for a PASV whose peer and target are not
// this host's (a peer on the relay host would make the channel fall back to the relay path).
import { endpoint } from '../../src/core/index.js';
import type { ChannelSpec, DataPlaneHost } from '../../src/node/data-plane.js';

export interface SessionStub {
  readonly host: DataPlaneHost;
  /** Channels the plane reported listening, in order. */
  readonly listening: { id: number; port: number }[];
  /** What the plane logged for this session. */
  readonly logs: Record<string, unknown>[];
}

export function sessionStub(): SessionStub {
  const listening: { id: number; port: number }[] = [];
  const logs: Record<string, unknown>[] = [];
  const session = {
    handleDataListening: (id: number, local: { port: number }) => {
      listening.push({ id, port: local.port });
    },
    handleDataListenFailed: (_id: number, why: string) => {
      throw new Error(`listen failed: ${why}`);
    },
    handleDataIncoming: () => true,
    handleDataConnected: () => undefined,
    handleDataConnectFailed: () => undefined,
    handleDataClosed: () => undefined,
  };
  const host: DataPlaneHost = {
    session: session as unknown as DataPlaneHost['session'],
    handles: { socketOpened: () => undefined, listenerOpened: () => undefined },
    step: (fn) => fn(),
    adopt: () => undefined,
    report: () => undefined,
    log: (e) => logs.push(e),
  };
  return { host, listening, logs };
}

/** A PASV channel from 203.0.113.77 to 198.51.100.77:7000. */
export function pasvSpec(id: number): ChannelSpec {
  return {
    request: {
      id, connector: 'client', acceptFrom: '203.0.113.77', original: endpoint('198.51.100.77', 7000), target: endpoint('198.51.100.77', 7000),
      family: 4, oneShot: true, timeoutMs: null, label: 'PASV',
    },
    plan: {
      listenSide: 'client', bindAddress: '127.0.0.1', advertiseAddress: '127.0.0.1', expectedPeer: '203.0.113.77',
      connectSide: 'server', connectTarget: endpoint('198.51.100.77', 7000), connectFrom: '198.51.100.78',
    },
    timeoutMs: 30_000,
  };
}
