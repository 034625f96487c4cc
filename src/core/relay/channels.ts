/**
 * The data channels of one relay session: each follows one data-channel request of the
 * translator through binding, listening, connecting and open (see `states.ts`), holds its port
 * from the data-port source, and has at most one deadline. The session owns the control
 * connection and the translator; this table owns everything about data connections.
 */

import { NatAlgError } from '../errors.js';
import { endpoint, sameAddress, type Endpoint } from '../net/ip.js';
import type { DataChannelMode, DataChannelRequest } from '../alg/contract.js';
import type { ChannelPlan } from './plan.js';
import type { DataPortSource } from './ports.js';
import type { WaitingChannelBudget } from './client-budget.js';
import { CHANNEL_BUSY, CHANNEL_TRANSITIONS, transition, type ChannelState } from './states.js';
import type { DataByteCounts, RelayAction, RelayEvent, RelayTimeouts } from './types.js';

/** `active` when the peer on the server's side connects, `passive` when the client does. */
function modeOf(request: DataChannelRequest): DataChannelMode {
  return request.connector === 'server' ? 'active' : 'passive';
}

/** How long a listener waits for its peer: the ALG's wish for the request, else the relay's. */
function listenTimeout(request: DataChannelRequest, timeouts: RelayTimeouts): number {
  return request.timeoutMs ?? timeouts.dataListenTimeoutMs;
}

/** The `listen` action for a channel on `port`: where, and everything decided about the channel. */
function listenAction(c: Channel, port: number, timeouts: RelayTimeouts): RelayAction {
  return {
    type: 'listen',
    channel: c.id,
    side: c.plan.listenSide,
    local: endpoint(c.plan.bindAddress, port),
    request: c.request,
    plan: c.plan,
    timeoutMs: listenTimeout(c.request, timeouts),
  };
}

/** Why a data channel over the client's budget is refused (FTP: `425 Cannot open data connection (...).`). */
export const CLIENT_LIMIT_REASON = 'too many data connections waiting from your address';

/** A port taken by another program: try this many other ports before refusing the request. */
const MAX_BIND_ATTEMPTS = 8;

interface Channel {
  readonly id: number;
  readonly request: DataChannelRequest;
  readonly plan: ChannelPlan;
  state: ChannelState;
  /** Port handed out by the port source (0: none, the embedding picks). */
  heldPort: number;
  /** Ports that failed to bind: kept from the source until the channel closes, so none is retried. */
  failedPorts: number[];
  listenerOpen: boolean;
  attempts: number;
  deadline: number | null;
  peer: Endpoint | null;
  /** Where its listener is bound, once it is. */
  local: Endpoint | null;
  /** The translator has not yet been answered for this channel's request. */
  unanswered: boolean;
  /** Holds a slot of the client's budget of waiting listeners (given back when it stops waiting). */
  budgeted: boolean;
}

/** What the table needs from its session. */
export interface ChannelHost {
  readonly actions: RelayAction[];
  readonly events: RelayEvent[];
  readonly timeouts: RelayTimeouts;
  readonly ports: DataPortSource | null;
  /**
   * Listeners waiting for their peer (binding or listening) kept at once. A client that sends
   * PASV after PASV (or PORT after PORT) without ever connecting would otherwise hold a listener
   * and a data port per command until each times out, and drain the port range shared by every
   * session. Beyond this the oldest waiting listener goes: the server itself honours only its
   * latest PASV/PORT, so an old one could not carry a transfer anyway.
   */
  readonly maxWaiting: number;
  /** The client's budget of waiting listeners over all its sessions, if the embedding keeps one. */
  readonly budget: WaitingChannelBudget | null;
  /** Answer the translator's request (the line can go on) or refuse it (it answers the client). */
  resolve(requestId: number, replacement: Endpoint): void;
  refuse(requestId: number, reason: string): void;
}

export class DataChannels {
  private readonly host: ChannelHost;
  private readonly channels = new Map<number, Channel>();
  /**
   * Channels that carried a transfer and were closed by the session (its end, a failure): only
   * the embedding knows how many bytes they moved, so their `data-close` waits for its report
   * (handleDataClosed after `close-data`). Reason they were closed, by id.
   */
  private readonly closing = new Map<number, string>();
  private nextId = 1;

  constructor(host: ChannelHost) {
    this.host = host;
  }

  get size(): number {
    return this.channels.size;
  }

  /** Closed channels whose byte counts the embedding has not reported yet. */
  get awaitingCounts(): number {
    return this.closing.size;
  }

  /** A transfer may be running: the session is not idle. */
  get busy(): boolean {
    for (const c of this.channels.values()) if (CHANNEL_BUSY.has(c.state)) return true;
    return false;
  }

  nextDeadline(): number | null {
    let next: number | null = null;
    for (const c of this.channels.values()) {
      if (c.deadline !== null && (next === null || c.deadline < next)) next = c.deadline;
    }
    return next;
  }

  /** The live channel, null for one already closed (late reports are stale); throws for ids never issued. */
  private live(id: number): Channel | null {
    if (!Number.isInteger(id) || id < 1 || id >= this.nextId) {
      throw new NatAlgError('unknown-id', `data channel ${id} was never opened by this session`);
    }
    return this.channels.get(id) ?? null;
  }

  open(request: DataChannelRequest, plan: ChannelPlan, nowMs: number): void {
    // The session's own oldest waiting listener goes first: that frees a slot of the client's budget too.
    this.makeRoom(nowMs);
    const { ports, budget } = this.host;
    if (budget && !budget.take()) {
      this.host.events.push({ type: 'data-limit', command: request.label, limit: budget.limit });
      this.host.refuse(request.id, CLIENT_LIMIT_REASON);
      return;
    }
    const port = ports ? ports.acquire(plan.bindAddress, nowMs) : 0;
    if (port === null) {
      budget?.release();
      this.host.refuse(request.id, 'no free data port');
      return;
    }
    const id = this.nextId++;
    this.channels.set(id, {
      id,
      request,
      plan,
      state: 'binding',
      heldPort: port,
      failedPorts: [],
      listenerOpen: false,
      attempts: 1,
      deadline: nowMs + listenTimeout(request, this.host.timeouts),
      peer: null,
      local: null,
      unanswered: true,
      budgeted: budget !== null,
    });
    this.host.actions.push(listenAction(this.channels.get(id)!, port, this.host.timeouts));
  }

  listening(id: number, local: Endpoint, nowMs: number): void {
    const c = this.live(id);
    if (!c || c.state !== 'binding') return;
    c.state = transition(CHANNEL_TRANSITIONS, 'channel', c.state, 'listening');
    c.listenerOpen = true;
    c.local = local;
    c.deadline = nowMs + listenTimeout(c.request, this.host.timeouts);
    const advertised = endpoint(c.plan.advertiseAddress, local.port);
    this.host.events.push({ type: 'data-listening', channel: id, mode: modeOf(c.request), command: c.request.label, side: c.plan.listenSide, local, advertised });
    if (c.unanswered) {
      c.unanswered = false;
      this.host.resolve(c.request.id, advertised);
    }
  }

  listenFailed(id: number, reason: string, portInUse: boolean, nowMs: number): void {
    const c = this.live(id);
    if (!c || c.state !== 'binding') return;
    if (c.heldPort !== 0) c.failedPorts.push(c.heldPort);
    c.heldPort = 0;
    const { ports } = this.host;
    if (portInUse && ports && c.attempts < MAX_BIND_ATTEMPTS) {
      const port = ports.acquire(c.plan.bindAddress, nowMs);
      if (port !== null) {
        c.attempts++;
        c.heldPort = port;
        c.state = transition(CHANNEL_TRANSITIONS, 'channel', c.state, 'binding');
        this.host.actions.push(listenAction(c, port, this.host.timeouts));
        return;
      }
    }
    this.close(c, `listen failed: ${reason}`, nowMs);
  }

  /** True: keep the connection (unread until `splice`); false: destroy it. */
  incoming(id: number, remote: Endpoint, nowMs: number): boolean {
    const c = this.live(id);
    if (!c || c.state !== 'listening') return false;
    const expected = c.plan.expectedPeer;
    if (expected !== null && !sameAddress(remote.address, expected)) {
      this.host.events.push({ type: 'data-rejected', channel: id, peer: remote, local: c.local!, expected });
      return false;
    }
    c.state = transition(CHANNEL_TRANSITIONS, 'channel', c.state, 'connecting');
    c.peer = remote;
    if (c.listenerOpen) {
      c.listenerOpen = false;
      this.host.actions.push({ type: 'close-listener', channel: id });
    }
    this.stopWaiting(c, nowMs);
    const { connectSide: side, connectTarget: target, connectFrom: localAddress } = c.plan;
    c.deadline = nowMs + this.host.timeouts.upstreamConnectTimeoutMs;
    this.host.actions.push({ type: 'connect-data', channel: id, side, target, localAddress });
    return true;
  }

  /** True when the channel is now open (spliced). */
  connected(id: number): boolean {
    const c = this.live(id);
    if (!c || c.state !== 'connecting') return false;
    c.state = transition(CHANNEL_TRANSITIONS, 'channel', c.state, 'open');
    c.deadline = null;
    this.host.actions.push({ type: 'splice', channel: id });
    this.host.events.push({ type: 'data-open', channel: id, mode: modeOf(c.request), command: c.request.label, peer: c.peer!, target: c.plan.connectTarget });
    return true;
  }

  connectFailed(id: number, reason: string, nowMs: number): void {
    const c = this.live(id);
    if (!c || c.state !== 'connecting') return;
    this.close(c, `connect to the ${c.plan.connectSide} failed: ${reason}`, nowMs);
  }

  /**
   * The embedding reports both connections gone, with the bytes they moved: for a live channel,
   * or for one the session closed while it carried a transfer. True when the counts are news.
   */
  closed(id: number, bytes: DataByteCounts, reason: string, nowMs: number): boolean {
    const pending = this.closing.get(id);
    if (pending !== undefined) {
      this.closing.delete(id);
      this.host.events.push({ type: 'data-close', channel: id, reason: pending, bytes });
      return true;
    }
    const c = this.live(id);
    if (!c) return false;
    this.close(c, reason, nowMs, bytes, false);
    return true;
  }

  /** The translator no longer wants the mapping: a channel still waiting for its peer goes. */
  released(requestId: number, reason: string, nowMs: number): void {
    for (const c of [...this.channels.values()]) {
      if (c.request.id === requestId && (c.state === 'binding' || c.state === 'listening')) {
        this.close(c, `released: ${reason}`, nowMs);
      }
    }
  }

  expire(nowMs: number): void {
    for (const c of [...this.channels.values()]) {
      if (c.deadline === null || nowMs < c.deadline) continue;
      this.close(c, c.state === 'connecting' ? 'connect timeout' : 'no data connection in time', nowMs);
    }
  }

  closeAll(reason: string, nowMs: number): void {
    for (const c of [...this.channels.values()]) this.close(c, reason, nowMs);
  }

  /** Close the oldest waiting listeners (already answered ones first) so one more fits. */
  private makeRoom(nowMs: number): void {
    const waiting: Channel[] = [];
    for (const c of this.channels.values()) if (c.state === 'binding' || c.state === 'listening') waiting.push(c);
    let excess = waiting.length - Math.max(0, this.host.maxWaiting - 1);
    for (const answered of [true, false]) {
      for (const c of waiting) {
        if (excess <= 0) return;
        if (c.unanswered === answered || c.state === 'closed') continue;
        this.close(c, 'superseded by a newer data channel', nowMs);
        excess--;
      }
    }
  }

  /** The channel no longer waits for its peer: its ports and its slot of the client's budget go back. */
  private stopWaiting(c: Channel, nowMs: number): void {
    if (c.budgeted) {
      c.budgeted = false;
      this.host.budget?.release();
    }
    const { ports } = this.host;
    if (ports) {
      for (const port of c.failedPorts) ports.release(c.plan.bindAddress, port, nowMs);
      if (c.heldPort !== 0) ports.release(c.plan.bindAddress, c.heldPort, nowMs);
    }
    c.failedPorts = [];
    c.heldPort = 0;
  }

  private close(
    c: Channel,
    reason: string,
    nowMs: number,
    bytes: DataByteCounts = { toClient: 0, toServer: 0 },
    tellEmbedding = true,
  ): void {
    if (c.unanswered) {
      c.unanswered = false;
      this.host.refuse(c.request.id, reason);
    }
    // close-data covers the listener too (and one still being bound): no close-listener first.
    c.listenerOpen = false;
    this.stopWaiting(c, nowMs);
    const carried = c.state === 'open';
    c.state = transition(CHANNEL_TRANSITIONS, 'channel', c.state, 'closed');
    this.channels.delete(c.id);
    if (tellEmbedding) this.host.actions.push({ type: 'close-data', channel: c.id, reason });
    // A spliced channel closed by us: its bytes come with the embedding's report.
    if (tellEmbedding && carried) this.closing.set(c.id, reason);
    else this.host.events.push({ type: 'data-close', channel: c.id, reason, bytes });
  }
}
