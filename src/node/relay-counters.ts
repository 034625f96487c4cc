/**
 * RelayCounters: what a relay has done since it was made, for `proxy.metrics()`, `proxy.stats()`
 * and the Prometheus endpoint (metrics.ts). The proxy feeds it the relay events it already gets
 * (core/relay/types.ts: RelayEvent) and its own accept/refuse decisions; nothing else counts, so
 * the numbers everywhere are the same ones.
 *
 * Invariants: every counter only grows (a scrape never sees a counter go back, which Prometheus
 * would take for a restart), and the number of distinct reasons kept is bounded (reasons come from
 * ALG modules, possibly third-party ones: a module that put details into its reasons could
 * otherwise grow the table and the scrape without end).
 */

import type { DataChannelMode, RelayEvent, SessionByteCounts } from '../core/index.js';

/** Distinct reasons kept per table; later new ones count under OTHER_REASON. */
export const MAX_REASONS = 64;
/** Where reasons beyond MAX_REASONS are counted. */
const OTHER_REASON = 'other';
/** Longest reason kept as it is; a longer one is cut (a label value is no place for a paragraph). */
const MAX_REASON_LENGTH = 80;

/** Control-connection bytes of a relay, over all its sessions (open ones included, as they go). */
export interface ControlByteCounts {
  /** Received from clients, and written to upstream servers (after translation). */
  readonly fromClient: number;
  readonly toServer: number;
  /** Received from upstream servers, and written to clients (after translation). */
  readonly fromServer: number;
  readonly toClient: number;
}

/** Data-connection bytes of closed channels, per plane. */
export interface DataBytesOfPlane {
  /** Server to client ("down"), client to server ("up"). */
  readonly toClient: number;
  readonly toServer: number;
}

/**
 * Everything a relay counts: a plain object, a snapshot taken by `proxy.metrics()`. Names of
 * counters (`total`, `refused`, ...) count since the relay was made; `open`, `sockets`,
 * `listeners` and `unauthenticated` are what exists right now.
 */
export interface RelayMetrics {
  /** The relay's ALG (`ftp`, `irc`, the name of your own). */
  readonly alg: string;
  /** True once `shutdown()` or `close()` began: no new session is accepted. */
  readonly draining: boolean;
  readonly sessions: {
    readonly open: number;
    /** Open sessions not logged in yet. */
    readonly unauthenticated: number;
    /** Accepted since the start. */
    readonly total: number;
    /** Connections refused (a `421` or the ALG's farewell), by reason: `too many sessions`, `shutting down`, ... */
    readonly refused: Readonly<Record<string, number>>;
    /** Sessions torn down by an internal failure (a bug: the `session-failed` log entry has the stack). */
    readonly failed: number;
  };
  /** Sockets (control and data) and data listeners open now. */
  readonly sockets: number;
  readonly listeners: number;
  /** Lines the ALG refused (not passed on, the peer got a reply instead), by the ALG's reason. */
  readonly commandsRefused: Readonly<Record<string, number>>;
  readonly dataChannels: {
    /** Data connections made (both ends connected), by mode, then by plane (`relay`, `nftables`). */
    readonly opened: Readonly<Record<DataChannelMode, Readonly<Record<string, number>>>>;
    /** Connections to a data listener from a stranger (not the expected peer): refused, a theft attempt. */
    readonly rejected: number;
    /** Data commands refused because the client had maxPendingDataChannelsPerClient listeners waiting. */
    readonly limited: number;
  };
  readonly bytes: {
    readonly control: ControlByteCounts;
    /**
     * Data bytes of closed channels by plane. `relay` counts payload; `nftables` counts IP packets
     * (headers included), as the kernel's counters see them.
     */
    readonly data: Readonly<Record<string, DataBytesOfPlane>>;
  };
  /** Upstream connections that failed (refused, timed out, closed before the greeting). */
  readonly upstreamFailures: number;
  /** Protocol errors the translator reported (a reply it could not parse and replaced, ...), by direction. */
  readonly protocolErrors: { readonly clientToServer: number; readonly serverToClient: number };
}

/** Counts by reason, at most MAX_REASONS distinct ones. */
class ReasonTable {
  private readonly counts = new Map<string, number>();

  add(reason: string): void {
    let key = reason.length > MAX_REASON_LENGTH ? reason.slice(0, MAX_REASON_LENGTH) : reason;
    if (!this.counts.has(key) && this.counts.size >= MAX_REASONS) key = OTHER_REASON;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** What the proxy knows right now that the counters do not keep themselves (its stats()). */
export interface RelayGauges {
  readonly sessions: number;
  readonly unauthenticated: number;
  readonly sockets: number;
  readonly listeners: number;
  readonly draining: boolean;
}

export class RelayCounters {
  private readonly alg: string;
  private sessionsTotal = 0;
  private sessionsFailed = 0;
  private readonly sessionsRefused = new ReasonTable();
  private refusedTotal = 0;
  private readonly commandsRefused = new ReasonTable();
  private readonly opened: Record<DataChannelMode, Map<string, number>> = { active: new Map(), passive: new Map() };
  private dataRejectedCount = 0;
  private dataLimitedCount = 0;
  private upstreamFailures = 0;
  private protocolErrorsUp = 0;
  private protocolErrorsDown = 0;
  /** Control bytes of sessions whose final counts are in. */
  private control = { fromClient: 0, toServer: 0, fromServer: 0, toClient: 0 };
  private readonly dataBytes = new Map<string, { toClient: number; toServer: number }>();
  /** Open sessions: where to read their control bytes so far. */
  private readonly live = new Map<number, () => SessionByteCounts>();

  constructor(alg: string) {
    this.alg = alg;
  }

  get dataRejected(): number {
    return this.dataRejectedCount;
  }

  get dataLimited(): number {
    return this.dataLimitedCount;
  }

  get refused(): number {
    return this.refusedTotal;
  }

  /** A session was accepted; `bytes` reads its byte counts while it is open. */
  sessionOpened(sessionId: number, bytes: () => SessionByteCounts): void {
    this.sessionsTotal++;
    this.live.set(sessionId, bytes);
  }

  /** Every socket of the session is closed. A session that never reported its end is settled here (the proxy reports one for every session; this is a guard). */
  sessionGone(sessionId: number): void {
    const read = this.live.get(sessionId);
    if (read === undefined) return;
    this.live.delete(sessionId);
    this.addControl(safeRead(read));
  }

  sessionRefused(reason: string): void {
    this.refusedTotal++;
    this.sessionsRefused.add(reason);
  }

  sessionFailed(): void {
    this.sessionsFailed++;
  }

  /** Every relay event of a session, with the plane of a data channel's event. */
  observe(sessionId: number, e: RelayEvent, plane: string): void {
    switch (e.type) {
      case 'data-open': {
        const byPlane = this.opened[e.mode];
        byPlane.set(plane, (byPlane.get(plane) ?? 0) + 1);
        return;
      }
      case 'data-close': {
        const d = this.dataBytes.get(plane) ?? { toClient: 0, toServer: 0 };
        d.toClient += e.bytes.toClient;
        d.toServer += e.bytes.toServer;
        this.dataBytes.set(plane, d);
        return;
      }
      case 'data-rejected':
        this.dataRejectedCount++;
        return;
      case 'data-limit':
        this.dataLimitedCount++;
        return;
      case 'command-refused':
        this.commandsRefused.add(e.reason);
        return;
      case 'upstream-failed':
        this.upstreamFailures++;
        return;
      case 'alg':
        if (e.event.type === 'protocol-error') {
          if (e.event.direction === 'client-to-server') this.protocolErrorsUp++;
          else this.protocolErrorsDown++;
        }
        return;
      case 'session-close':
        // The final counts: from here the session's bytes are no longer read live.
        if (this.live.delete(sessionId)) this.addControl(e.bytes);
        return;
      case 'upstream-connected':
      case 'data-listening':
      case 'logged-in':
        return;
      default: {
        // A new event type must be decided on here: counted, or deliberately not.
        const unhandled: never = e;
        return unhandled;
      }
    }
  }

  snapshot(gauges: RelayGauges): RelayMetrics {
    const control = { ...this.control };
    for (const read of this.live.values()) {
      const b = safeRead(read);
      control.fromClient += b.controlFromClient;
      control.toServer += b.controlToServer;
      control.fromServer += b.controlFromServer;
      control.toClient += b.controlToClient;
    }
    const data: Record<string, DataBytesOfPlane> = {};
    for (const [plane, d] of this.dataBytes) data[plane] = { ...d };
    return {
      alg: this.alg,
      draining: gauges.draining,
      sessions: {
        open: gauges.sessions,
        unauthenticated: gauges.unauthenticated,
        total: this.sessionsTotal,
        refused: this.sessionsRefused.snapshot(),
        failed: this.sessionsFailed,
      },
      sockets: gauges.sockets,
      listeners: gauges.listeners,
      commandsRefused: this.commandsRefused.snapshot(),
      dataChannels: {
        opened: { active: Object.fromEntries(this.opened.active), passive: Object.fromEntries(this.opened.passive) },
        rejected: this.dataRejectedCount,
        limited: this.dataLimitedCount,
      },
      bytes: { control, data },
      upstreamFailures: this.upstreamFailures,
      protocolErrors: { clientToServer: this.protocolErrorsUp, serverToClient: this.protocolErrorsDown },
    };
  }

  private addControl(b: SessionByteCounts): void {
    this.control.fromClient += b.controlFromClient;
    this.control.toServer += b.controlToServer;
    this.control.fromServer += b.controlFromServer;
    this.control.toClient += b.controlToClient;
  }
}

const NO_BYTES: SessionByteCounts = {
  controlFromClient: 0, controlFromServer: 0, controlToClient: 0, controlToServer: 0, dataToClient: 0, dataToServer: 0, dataChannels: 0,
};

/** A session whose driver never got as far as making its session has no counts yet. */
function safeRead(read: () => SessionByteCounts): SessionByteCounts {
  try {
    return read();
  } catch {
    return NO_BYTES;
  }
}
