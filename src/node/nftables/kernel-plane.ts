/**
 * The `nftables` data plane of the relay: the session still terminates and translates every
 * control connection, but a data channel is a one-shot kernel NAT redirect (NftablesDataPlane):
 * the expected peer's connection to the announced endpoint is DNATed to the channel's target and
 * SNATed to the relay's own address on the target's side, and its bytes never reach this process.
 *
 * How the session's data actions map onto the kernel (data-plane.ts has the contract):
 * - `listen`: a placeholder listener is bound on the announced endpoint (it takes the port from
 *   the data-port range, or any free one, and keeps it from other programs and other channels),
 *   then the redirect is installed for the expected peer to that endpoint; only then is the
 *   session told the channel listens (so the line naming it goes out after the rule is in). The
 *   expected peer's SYNs are redirected before they reach the placeholder, until one of its
 *   connections completes its handshake and claims the channel (as a listener is used by a
 *   completed handshake: a SYN forged with the peer's address cannot use the channel up);
 *   anyone else's connection reaches the placeholder and is reset and reported as
 *   `data-rejected`, as the relay path does.
 * - The plane sees the claiming flow in conntrack -> the session's handleDataIncoming; the
 *   relay's `connect-data` has nothing to do (the kernel's SYN to the target is part of the same
 *   flow) and is answered at once (the claim is a completed handshake: handleDataConnected). A
 *   target that refuses the peer's SYN is seen by the peer itself (its connection is refused);
 *   the channel waits on, until its timeout. The flow's end -> handleDataClosed with the
 *   kernel's byte counts (whole IP packets: `measure: 'ip'`; `unknown` when unreadable).
 * - `close-data`: the redirect goes (a flow still running is reset, as destroying the sockets
 *   resets it on the relay path); `settle`: before the session sees control input, the waiting
 *   channels' counters, and a fresh conntrack read once one moved (see settle()), so that it
 *   does not read a RETR or a 150 before the data connection it depends on.
 *
 * A channel the kernel cannot carry uses the relay's own data path, per channel, with a log
 * entry saying why (`data-plane-fallback`): FTP64 (the kernel's NAT does not translate between
 * IPv6 and IPv4), a channel any peer may use (the rule needs the peer's address), a peer or target
 * on the relay host itself (its packets never cross prerouting and forward), a family the plane
 * does not serve. Nothing else falls back: a missing prerequisite fails start() (the relay does
 * not listen), and a plane that breaks later is the relay's 'error'.
 */

import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  endpoint,
  sameAddress,
  type DataByteCounts,
  type Endpoint,
  type Side,
} from '../../core/index.js';
import { NatAlgError } from '../../core/errors.js';
import { DataSockets } from '../data-sockets.js';
import type { ChannelSpec, DataPlane, DataPlaneContext, DataPlaneHost, SessionDataPlane } from '../data-plane.js';
import { NftablesDataPlane } from './data-plane.js';
import { PlaneFault } from './errors.js';
import type { ChannelBytes, FlowEnd, NftablesDataPlaneOptions } from './types.js';

/** Options of the relay's nftables plane: the kernel plane's, with families chosen for you. */
export interface NftablesRelayPlaneOptions extends Omit<NftablesDataPlaneOptions, 'logger' | 'families'> {
  /**
   * Families whose channels the kernel carries; start() checks forwarding for each. Default: those
   * both the relay's clients and its server can have (the listening address and the upstream
   * address say which), so an IPv4-only relay does not need IPv6 forwarding on.
   */
  readonly families?: readonly (4 | 6)[];
}

function now(): number {
  return performance.now();
}

/** A placeholder listener is closed with its channel: a recent channel's plane is kept for its last events. */
const RECENT_CHANNELS = 64;

/** An address of this host (its own packets do not take the path a kernel redirect needs). */
function isLocalAddress(address: string): boolean {
  const a = endpoint(address, 0).address;
  if (a === '::1' || a.startsWith('127.')) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (sameAddress(i.address.replace(/%.*$/, ''), a)) return true;
  }
  return false;
}

export function createNftablesDataPlane(options: NftablesRelayPlaneOptions = {}): DataPlane {
  return new NftablesRelayPlane(options);
}

/** Routes the kernel plane's events, which carry process-wide ids, to the session channel they belong to. */
interface KernelOwner {
  admitted(gid: number, peer: Endpoint): void;
  connected(gid: number): void;
  closed(gid: number, bytes: ChannelBytes, end: FlowEnd): void;
  expired(gid: number): void;
}

class NftablesRelayPlane implements DataPlane {
  readonly name = 'nftables';
  private readonly options: NftablesRelayPlaneOptions;
  kernel: NftablesDataPlane | null = null;
  families: readonly (4 | 6)[] = [];
  private context: DataPlaneContext | null = null;
  private nextId = 1;
  private readonly owners = new Map<number, KernelOwner>();
  private failed: Error | null = null;

  constructor(options: NftablesRelayPlaneOptions) {
    this.options = options;
  }

  async start(context: DataPlaneContext): Promise<void> {
    this.context = context;
    const families = this.options.families ?? context.clientFamilies.filter((f) => context.serverFamilies.includes(f));
    this.families = families;
    if (families.length === 0) {
      // Every channel changes family (IPv6 clients, IPv4 server: FTP64): the kernel carries none.
      context.log({ level: 'warn', event: 'data-plane-idle', plane: this.name, reason: 'no channel of this relay keeps one address family (FTP64): all use the relay data path' });
      return;
    }
    const { families: _f, ...rest } = this.options;
    const kernel = new NftablesDataPlane({
      ...rest,
      families,
      logger: (e) => context.log({ ...e, event: `nftables-${e.event}` }),
    });
    kernel.on('admitted', (e) => this.owners.get(e.id)?.admitted(e.id, endpoint(e.peer.address, e.peer.port)));
    kernel.on('connected', (e) => this.owners.get(e.id)?.connected(e.id));
    kernel.on('closed', (e) => this.owners.get(e.id)?.closed(e.id, e.bytes, e.end));
    kernel.on('expired', (e) => this.owners.get(e.id)?.expired(e.id));
    kernel.on('error', (fault: PlaneFault) => {
      if (fault.fault === 'plane-failed') {
        this.failed = fault;
        context.fail(fault);
      } else {
        // Already logged by the kernel plane (nftables-plane-fault); a second connection through
        // one redirect is a security event, so it is said again at the session's level.
        const owner = fault.channelId !== null ? this.owners.get(fault.channelId) : undefined;
        if (owner && owner instanceof KernelChannels) owner.fault(fault);
      }
    });
    await kernel.start();
    this.kernel = kernel;
  }

  async stop(): Promise<void> {
    const k = this.kernel;
    this.kernel = null;
    this.owners.clear();
    if (k) await k.stop();
  }

  forSession(host: DataPlaneHost): SessionDataPlane {
    return new KernelChannels(this, host);
  }

  /** Null when the kernel can carry the channel, else why not (the channel then uses the relay path). */
  unsuitable(spec: ChannelSpec, local: Endpoint): string | null {
    if (this.failed) return null; // not a fallback: open() fails and the channel is refused
    const { plan } = spec;
    if (plan.expectedPeer === null) return 'any peer may connect to this channel; a kernel rule needs the peer address';
    const peer = endpoint(plan.expectedPeer, 0);
    const family = local.family;
    if (peer.family !== family || plan.connectTarget.family !== family || endpoint(plan.connectFrom, 0).family !== family) {
      return 'the channel changes address family (FTP64); the kernel NAT does not translate IPv6 to IPv4';
    }
    if (!this.kernel || !this.families.includes(family)) return `the nftables plane does not serve IPv${family} here`;
    if (isLocalAddress(peer.address)) return `the peer ${peer.address} is on the relay host; its packets never cross prerouting`;
    if (isLocalAddress(plan.connectTarget.address)) return `the target ${plan.connectTarget.address} is on the relay host; its flow would not be forwarded`;
    return null;
  }

  register(owner: KernelOwner): number {
    const gid = this.nextId++;
    this.owners.set(gid, owner);
    return gid;
  }

  unregister(gid: number): void {
    this.owners.delete(gid);
  }
}

/**
 * A channel of this session carried by the kernel:
 * binding (placeholder bind) -> installing (nft) -> waiting (rule in, nobody yet) -> admitted
 * (conntrack shows the peer's flow) -> open (established and the session connected) -> gone.
 */
type KernelState = 'binding' | 'installing' | 'waiting' | 'admitted' | 'open' | 'gone';

interface KernelChannel {
  readonly id: number;
  readonly gid: number;
  readonly side: Side;
  readonly spec: ChannelSpec;
  state: KernelState;
  listener: net.Server | null;
  local: Endpoint | null;
  /** Conntrack saw the handshake complete. */
  established: boolean;
  /** The session asked for its `connect-data` (it accepted the admitted peer). */
  connectAsked: boolean;
  /** The session holds it open (its data-open went out): its data-close waits for our counts. */
  spliced: boolean;
  /** The rule is (or is being) installed, and not yet removed. */
  installed: boolean;
}

class KernelChannels implements SessionDataPlane, KernelOwner {
  private readonly plane: NftablesRelayPlane;
  private readonly host: DataPlaneHost;
  private readonly relay: DataSockets;
  private readonly channels = new Map<number, KernelChannel>();
  private readonly byGid = new Map<number, KernelChannel>();
  /** Ids of recently closed kernel channels: their last events still name the plane. */
  private readonly recent: number[] = [];

  constructor(plane: NftablesRelayPlane, host: DataPlaneHost) {
    this.plane = plane;
    this.host = host;
    this.relay = new DataSockets(host);
  }

  planeOf(id: number): string {
    return this.channels.has(id) || this.recent.includes(id) ? 'nftables' : 'relay';
  }

  /**
   * Before control input while a channel waits for its peer: report a connection made before the
   * input, so that the session does not see a control line (the client's RETR, the server's 150
   * in active mode) before the data connection it depends on. A read of conntrack costs the host's
   * whole table (~70 ms with 20000 flows), and a client decides how many control lines it sends
   * (NOOPs while a PASV waits), so conntrack is not read per line: the kernel plane first asks nft
   * for each waiting channel's `up` counter, which counts only the claiming connection's packets
   * and so stays 0 until a connection claimed the channel (its completing ACK is counted, in the
   * kernel, before the peer can send anything that depends on it). Only a counter that moved
   * causes a read, and after it the channel no longer waits: per control line a share of one
   * listing of the table's counters (every session that asks while one is due shares it), and at
   * most one conntrack read per claim.
   * The ordering is exact, as with a read per line.
   */
  settle(): Promise<void> | null {
    const kernel = this.plane.kernel;
    if (!kernel) return null;
    const waiting: number[] = [];
    for (const k of this.channels.values()) if (k.state === 'waiting') waiting.push(k.gid);
    if (waiting.length === 0) return null;
    return kernel.refreshIfClaimed(waiting).catch(() => undefined);
  }

  listen(id: number, side: Side, local: Endpoint, spec: ChannelSpec): void {
    const why = this.plane.unsuitable(spec, local);
    if (why !== null) {
      this.host.log({ level: 'info', event: 'data-plane-fallback', channel: id, plane: 'relay', reason: why });
      this.relay.listen(id, side, local);
      return;
    }
    const k: KernelChannel = {
      id,
      gid: this.plane.register(this),
      side,
      spec,
      state: 'binding',
      listener: null,
      local: null,
      established: false,
      connectAsked: false,
      spliced: false,
      installed: false,
    };
    this.channels.set(id, k);
    this.byGid.set(k.gid, k);
    this.bindPlaceholder(k, local);
  }

  /**
   * The announced endpoint is a real listener too: it holds the port, and whoever connects to it
   * is not the expected peer (whose SYNs the kernel redirects first) or comes after the claim.
   */
  private bindPlaceholder(k: KernelChannel, local: Endpoint): void {
    const srv = net.createServer({ pauseOnConnect: true });
    k.listener = srv;
    this.host.handles.listenerOpened(srv);
    srv.on('connection', (sock: net.Socket) => {
      this.host.handles.socketOpened(sock);
      sock.on('error', () => {});
      const expected = k.spec.plan.expectedPeer;
      const peer = sock.remoteAddress !== undefined && sock.remotePort !== undefined ? endpoint(sock.remoteAddress, sock.remotePort) : null;
      if (peer && expected !== null && k.local && !sameAddress(peer.address, expected)) {
        this.host.report({ type: 'data-rejected', channel: k.id, peer, local: k.local, expected });
      }
      if (!sock.destroyed) sock.resetAndDestroy();
    });
    srv.on('listening', () => {
      const addr = srv.address();
      if (!addr || typeof addr === 'string' || this.channels.get(k.id) !== k) return;
      k.local = endpoint(addr.address, addr.port);
      this.install(k, k.local);
    });
    srv.on('error', (err: NodeJS.ErrnoException) => {
      if (this.channels.get(k.id) !== k || k.state !== 'binding') return;
      k.listener = null;
      srv.close();
      this.forget(k);
      const code = err.code ?? err.message;
      this.host.step(() => this.host.session.handleDataListenFailed(k.id, code, code === 'EADDRINUSE', now()));
    });
    srv.listen({ host: local.address, port: local.port, exclusive: true });
  }

  private install(k: KernelChannel, local: Endpoint): void {
    const kernel = this.plane.kernel;
    k.state = 'installing';
    k.installed = true;
    const { plan } = k.spec;
    const opened = kernel
      ? kernel.open({
          id: k.gid,
          family: local.family,
          peer: plan.expectedPeer!,
          announced: { address: local.address, port: local.port },
          target: { address: plan.connectTarget.address, port: plan.connectTarget.port },
          sourceAddress: plan.connectFrom,
          timeoutMs: Math.max(1, Math.round(k.spec.timeoutMs)),
        })
      : Promise.reject(new Error('the nftables plane is not running'));
    opened.then(
      () => {
        if (this.channels.get(k.id) !== k || k.state !== 'installing') return; // closed meanwhile: destroy() removes it
        k.state = 'waiting';
        this.host.step(() => this.host.session.handleDataListening(k.id, local, now()));
      },
      (err: unknown) => {
        k.installed = false;
        if (this.channels.get(k.id) !== k || k.state !== 'installing') return;
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof NatAlgError && err.kind === 'capacity') {
          // nft is behind (a burst of channels) or the gate set is full: this channel uses the
          // relay's own data path, as an FTP64 channel does. Safe: the session has not been told
          // the channel listens yet, and the relay path enforces the same expected peer.
          this.host.log({ level: 'warn', event: 'data-plane-fallback', channel: k.id, plane: 'relay', reason: message });
          this.closePlaceholder(k);
          this.forget(k, false); // its events name the relay's plane from now on
          this.relay.listen(k.id, k.side, local);
          return;
        }
        this.host.log({ level: 'error', event: 'data-plane-failed', channel: k.id, plane: 'nftables', reason: message });
        this.closePlaceholder(k);
        this.forget(k);
        // The same key still redirected (an earlier channel being removed): another port may work.
        const clash = /already redirects/.test(message);
        this.host.step(() => this.host.session.handleDataListenFailed(k.id, `nftables: ${message}`, clash, now()));
      },
    );
  }

  // ---- the kernel plane's reports --------------------------------------------------------------

  admitted(gid: number, peer: Endpoint): void {
    const k = this.byGid.get(gid);
    if (!k || k.state !== 'waiting') return;
    k.state = 'admitted';
    let kept = false;
    this.host.step(() => {
      kept = this.host.session.handleDataIncoming(k.id, peer, now());
    });
    // The session no longer wants it (closed meanwhile): destroy() has run or runs now.
    if (!kept && this.channels.get(k.id) === k) this.destroy(k.id);
  }

  connected(gid: number): void {
    const k = this.byGid.get(gid);
    if (!k || k.state === 'gone') return;
    k.established = true;
    if (k.connectAsked) this.reportConnected(k);
  }

  closed(gid: number, bytes: ChannelBytes, end: FlowEnd): void {
    const k = this.byGid.get(gid);
    if (!k) return;
    k.installed = false; // the kernel plane removed the rule itself
    const wasOpen = k.spliced;
    const state = k.state;
    this.closePlaceholder(k);
    this.forget(k);
    if (wasOpen) {
      this.host.step(() => this.host.session.handleDataClosed(k.id, this.counts(k, bytes), flowEndReason(end), now()));
    } else if (state === 'admitted') {
      // Not reported by the plane any more (a claimed flow completed its handshake), kept for safety.
      this.host.step(() => this.host.session.handleDataConnectFailed(k.id, `${flowEndReason(end)} (kernel)`, now()));
    }
  }

  expired(gid: number): void {
    const k = this.byGid.get(gid);
    if (!k) return;
    // The rule lapsed in the kernel; the session's own timer (the same timeout, started a moment
    // later) closes the channel and reports it.
    k.installed = false;
  }

  fault(fault: PlaneFault): void {
    const k = fault.channelId !== null ? this.byGid.get(fault.channelId) : undefined;
    this.host.log({ level: 'error', event: `data-plane-${fault.fault}`, channel: k?.id ?? null, plane: 'nftables', message: fault.message });
  }

  // ---- the session's actions -----------------------------------------------------------------

  closeListener(id: number): void {
    const k = this.channels.get(id);
    if (k) this.closePlaceholder(k);
    else this.relay.closeListener(id);
  }

  connect(id: number, target: Endpoint, localAddress: string): void {
    const k = this.channels.get(id);
    if (!k) {
      this.relay.connect(id, target, localAddress);
      return;
    }
    // Nothing to open: the kernel's SYN to the target is the same flow. Answered once established.
    k.connectAsked = true;
    if (k.established) queueMicrotask(() => this.reportConnected(k));
  }

  splice(id: number): void {
    const k = this.channels.get(id);
    if (!k) this.relay.splice(id);
  }

  destroy(id: number): void {
    const k = this.channels.get(id);
    if (!k) {
      this.relay.destroy(id);
      return;
    }
    const report = k.spliced;
    this.closePlaceholder(k);
    this.forget(k);
    const kernel = this.plane.kernel;
    if (!k.installed || !kernel) {
      if (report) this.host.step(() => this.host.session.handleDataClosed(id, { toClient: 0, toServer: 0, measure: 'unknown' }, 'closed by the relay', now()));
      return;
    }
    k.installed = false;
    kernel.close(k.gid).then(
      (bytes) => {
        if (!report) return;
        const counts = bytes ? this.counts(k, bytes) : ({ toClient: 0, toServer: 0, measure: 'unknown' } as const);
        this.host.step(() => this.host.session.handleDataClosed(id, counts, 'closed by the relay', now()));
      },
      (err: unknown) => {
        this.host.log({ level: 'error', event: 'data-plane-cleanup-failed', channel: id, plane: 'nftables', reason: err instanceof Error ? err.message : String(err) });
        if (report) this.host.step(() => this.host.session.handleDataClosed(id, { toClient: 0, toServer: 0, measure: 'unknown' }, 'closed by the relay', now()));
      },
    );
  }

  destroyAll(): void {
    for (const id of [...this.channels.keys()]) this.destroy(id);
    this.relay.destroyAll();
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private reportConnected(k: KernelChannel): void {
    if (k.spliced || this.channels.get(k.id) !== k) return;
    k.spliced = true;
    k.state = 'open';
    this.host.step(() => this.host.session.handleDataConnected(k.id, now()));
  }

  /** The kernel's counts, per direction of the session: the peer is on the listening side. */
  private counts(k: KernelChannel, bytes: ChannelBytes): DataByteCounts {
    if (bytes.toTarget === null || bytes.fromTarget === null) return { toClient: 0, toServer: 0, measure: 'unknown' };
    return k.side === 'client'
      ? { toClient: bytes.fromTarget, toServer: bytes.toTarget, measure: 'ip' }
      : { toClient: bytes.toTarget, toServer: bytes.fromTarget, measure: 'ip' };
  }

  private closePlaceholder(k: KernelChannel): void {
    k.listener?.close();
    k.listener = null;
  }

  /** `remember`: its last events still name this plane (not for a channel handed to the relay path). */
  private forget(k: KernelChannel, remember = true): void {
    k.state = 'gone';
    if (this.channels.get(k.id) === k) {
      this.channels.delete(k.id);
      if (remember) {
        this.recent.push(k.id);
        if (this.recent.length > RECENT_CHANNELS) this.recent.shift();
      }
    }
    this.byGid.delete(k.gid);
    this.plane.unregister(k.gid);
  }
}

function flowEndReason(end: FlowEnd): string {
  switch (end) {
    case 'finished':
      return 'transfer complete';
    case 'reset':
      return 'ECONNRESET';
    case 'refused':
      return 'ECONNREFUSED';
    case 'vanished':
      return 'flow gone from conntrack';
  }
}
