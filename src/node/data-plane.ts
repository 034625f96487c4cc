/**
 * The data plane: what carries the data channels of relay sessions. The session (core) decides
 * every channel from the ALG's protocol-neutral request (alg/contract.ts): which side's peer
 * connects, the only address it may connect from, the endpoint announced to it, where the
 * connection then goes and from which address, how long the channel waits (core/relay/plan.ts).
 * It asks for the channel with its actions (`listen`, `close-listener`, `connect-data`, `splice`,
 * `close-data`); a data plane carries them out and reports back through the session's
 * handleData* inputs: listening, someone came, connected, closed with the bytes moved. No plane
 * reads a protocol line, so every ALG works with every plane.
 *
 * Two come with the package:
 * - `relay` (data-sockets.ts): a listener and two sockets in this process, spliced. No privileges.
 * - `nftables` (nftables/kernel-plane.ts): the Linux kernel's NAT carries the channel (a one-shot
 *   DNAT/SNAT rule per channel); the bytes never reach this process.
 */

import type * as net from 'node:net';
import type { DataChannelRequest, Endpoint, ChannelPlan, RelayEvent, RelaySession, Side } from '../core/index.js';
import { DataSockets, type HandleCounter } from './data-sockets.js';
import type { FtpProxyLogEntry, LogLevel } from './types.js';

/** A log entry of a data plane about a session's channels (the relay adds the session id). */
export interface PlaneLogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly [field: string]: unknown;
}

/** What the session decided about a channel, beyond where to listen (the `listen` action's rest). */
export interface ChannelSpec {
  readonly request: DataChannelRequest;
  readonly plan: ChannelPlan;
  /** How long the channel waits for its peer (the request's wish, else the relay's data listen timeout). */
  readonly timeoutMs: number;
}

/** What a session's data plane gets from the session's driver. */
export interface DataPlaneHost {
  readonly session: RelaySession<unknown>;
  readonly handles: HandleCounter;
  /** Run a session call, then carry out what it asked for. */
  step(fn: () => void): void;
  /** Count a socket as the session's own until it closes. */
  adopt(socket: net.Socket): void;
  /** An event the session itself cannot make (a stranger at a port the kernel watches), as if it had. */
  report(event: RelayEvent): void;
  /** A log entry about this session's channels (the relay adds the session id). */
  log(entry: PlaneLogEntry): void;
}

/** The data channels of one session, on some plane: the session's data actions, carried out. */
export interface SessionDataPlane {
  /** `listen`: be ready for the channel's peer at `local` (port 0: any); answer handleDataListening/-ListenFailed. */
  listen(id: number, side: Side, local: Endpoint, spec: ChannelSpec): void;
  closeListener(id: number): void;
  connect(id: number, target: Endpoint, localAddress: string): void;
  splice(id: number): void;
  /** `close-data`: everything of the channel goes; a channel that carried a transfer reports its bytes. */
  destroy(id: number): void;
  /** The session is over: every channel goes, without reports. */
  destroyAll(): void;
  /** Which plane carries the channel, for events and logs: `relay`, `nftables`. */
  planeOf(id: number): string;
  /**
   * Before the session is given control input or a timer: report what already happened on the
   * channels (a plane that learns of connections by polling polls now), so that the session
   * never sees a control line before the data connection that line depends on. A promise when
   * the driver must wait, null when the session's view is already current.
   */
  settle(): Promise<void> | null;
}

/** Where a relay learns what its sessions can be. */
export interface DataPlaneContext {
  /** Address families the relay's clients can have (its listening address), and its server. */
  readonly clientFamilies: readonly (4 | 6)[];
  readonly serverFamilies: readonly (4 | 6)[];
  log(entry: FtpProxyLogEntry): void;
  /** The plane broke after it started (its nft process died): the relay emits this as 'error'. */
  fail(error: Error): void;
}

/** A data plane: made once per relay, started before it accepts clients, stopped after the last session. */
export interface DataPlane {
  /** `relay`, `nftables`, or a name of your own. */
  readonly name: string;
  /** Check prerequisites and install what the plane needs; rejects with the reason (nothing is listening then). */
  start(context: DataPlaneContext): Promise<void>;
  /** Remove everything the plane installed. */
  stop(): Promise<void>;
  forSession(host: DataPlaneHost): SessionDataPlane;
}

/** The relay's own data path: sockets in this process (data-sockets.ts). */
export function createRelayDataPlane(): DataPlane {
  return {
    name: 'relay',
    start: async () => undefined,
    stop: async () => undefined,
    forSession: (host) => new DataSockets(host),
  };
}
