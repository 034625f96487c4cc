/**
 * NftablesDataPlane: FTP data channels carried by the Linux kernel's conntrack NAT instead of
 * being spliced through Node. The relay keeps the control connection; for each data channel it
 * asks this plane for a redirect, and the data bytes never reach the process.
 *
 *   const plane = new NftablesDataPlane({ tableName: 'nat_alg' });
 *   await plane.start();            // checks prerequisites, replaces a stale table of ours, creates ours
 *   await plane.open({ id, family, peer, announced, target, sourceAddress, timeoutMs });
 *   // ... the relay writes announced.address/port into the FTP line; the peer connects there
 *   plane.on('connected' | 'closed' | 'expired' | 'error', ...);
 *   const bytes = await plane.close(id);   // removes what is left of the channel
 *   await plane.stop();             // deletes the table
 *
 * What a redirect admits (the ruleset is in ruleset.ts):
 * - Only a TCP SYN from `peer` to `announced` (address and port), arriving through the
 *   interface `peer` is routed through (strictReversePath), is redirected, to `target`, with its
 *   source rewritten to `sourceAddress`; anything else sent to the announced port reaches the
 *   host itself, where nothing listens, and is reset. The SYN uses the redirect up, not a
 *   completed handshake as with a listener: a SYN forged with the peer's address from the
 *   peer's own link makes the transfer fail (nothing leaks: the target answers the real peer).
 * - Every value written into nft text is validated and re-printed from parsed bytes (ruleset.ts).
 * - One connection: the rule that redirects deletes the admission element (the gate) from the
 *   packet path, so the next SYN finds none. The lookup and the delete are two steps of one
 *   rule, not one atomic operation: two SYNs of the same peer handled on two CPUs in the same
 *   microsecond could both pass. The plane then sees two flows in conntrack and reports an
 *   'error' (extra-connection); it cannot stop the second flow without cutting the first.
 * - Lapse: the gate element carries the kernel timeout `timeoutMs`; the plane's own timer fires
 *   just after it, re-reads conntrack and, if nobody connected, removes the channel and emits
 *   'expired'. If this process dies, gates lapse by themselves; the table stays (with forwarding
 *   of established flows) until a plane with the same table name starts again and replaces it.
 * - Forwarding: a redirected flow is forwarded, so forwarding must be on (the plane checks,
 *   never sets it). The forward chain accepts the plane's flows and drops per `forwardGuard`.
 *   Coexistence with other tables: every base chain on a hook sees the packet; an accept here
 *   does not save a packet another table drops (a host firewall with a forward drop policy must
 *   accept these flows itself, e.g. `ct status dnat accept`), while a drop here ends the packet
 *   for all. Hence guard `all` stops all other forwarding on the host; `interfaces` limits it.
 *
 * Seeing the flow: conntrack is read (see conntrack.ts) every `pollIntervalMs` while channels are
 * open. Established -> 'connected'. TIME_WAIT (FINs) or CLOSE (RST) or gone -> the channel's
 * counters are read, its rules removed, 'closed' emitted. Conntrack entries of the same key that
 * existed before the gate was written (an earlier channel's flow) are recorded at open() and
 * ignored. Latency of these events: up to one poll interval plus the read; the interval grows
 * to 20 times the cost of a read when the conntrack table is large (see POLL_COST_FACTOR).
 *
 * close(id) removes the channel whatever its state and puts its key into the cut set: packets
 * its flow still sends are answered with a TCP reset (each side is reset when it next sends),
 * as the user-space path destroys both sockets. stop() deletes the table; flows already
 * tracked keep their NAT binding in conntrack and are no longer filtered by this plane.
 *
 * Not supported: a peer on the relay host itself (its packets take the output hook, not
 * prerouting, so they reach the announced port unredirected and are refused), and a target on
 * the relay host (the flow would not be forwarded). The relay should use its user-space data
 * path for those. TCP only (FTP data). More, with the ruleset and measurements: README.md.
 */

import { EventEmitter } from 'node:events';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { NatAlgError } from '../../core/errors.js';
import { parseConntrack, procAddress, isEnded, isEstablished, type TrackedFlow } from './conntrack.js';
import { DataPlaneUnavailableError, PlaneFault, type PlaneFaultKind } from './errors.js';
import { NftShell, type ShellEnd } from './nft-shell.js';
import {
  checkForwarding,
  ownerAlive,
  ownerTag,
  parseOwner,
  readSysctlFile,
  shellStartFailure,
  tableFailureCause,
} from './prerequisites.js';
import {
  checkChannel,
  checkGuard,
  checkTableName,
  closeCommands,
  counterNames,
  cutCommand,
  removeIfPresent,
  createTable,
  deleteTable,
  listCounter,
  openCommands,
  tableDefinition,
  type CheckedChannel,
  type CounterNames,
} from './ruleset.js';
import type {
  ChannelBytes,
  FlowEnd,
  ForwardGuard,
  ForwardingSysctl,
  KernelChannel,
  NftablesDataPlaneEvents,
  NftablesDataPlaneOptions,
  NftablesLogEntry,
} from './types.js';

/** The plane's timer fires this long after the kernel's gate timeout, so the kernel has decided. */
const EXPIRY_GRACE_MS = 50;
/** Forwarding is re-checked at open() at most this often (a sysctl read per channel is waste). */
const FORWARDING_RECHECK_MS = 1000;
/**
 * Polls are spaced at least this many times their own cost: reading the conntrack table costs
 * ~0.4 ms empty and ~70 ms with 20000 flows (measured on a 2-core VM), so on a busy host the
 * interval stretches (to ~1.4 s there) rather than the plane eating a core.
 */
const POLL_COST_FACTOR = 20;

type PlaneState = 'new' | 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

/**
 * A channel's life: `opening` (nft writing), `waiting` (gate set, nobody yet), `connecting`
 * (a SYN got through, handshake not seen done), `connected`, `closing` (rules being removed).
 */
type ChannelState = 'opening' | 'waiting' | 'connecting' | 'connected' | 'closing';

interface Channel {
  readonly ch: CheckedChannel;
  readonly counters: CounterNames;
  /** The key and target in conntrack's spelling. */
  readonly procKey: string;
  readonly procTarget: string;
  state: ChannelState;
  /** Flows of this key that existed before the gate was written; never this channel's. */
  baseline: Set<string>;
  /** The flow this channel follows (its identity), once seen. */
  flow: string | null;
  everEstablished: boolean;
  expiry: NodeJS.Timeout | null;
  extraReported: boolean;
  opened: Promise<void> | null;
  closing: Promise<ChannelBytes> | null;
}

/**
 * A closed channel whose flow may still run: its key is in the cut set (the flow's packets are
 * answered with a reset) until conntrack shows the flow over, then the cut element is removed.
 */
interface Cut {
  readonly ch: CheckedChannel;
  readonly procKey: string;
  readonly procTarget: string;
  readonly baseline: Set<string>;
  removing: boolean;
}

/** stop() waits at most this long for cut flows to be reset before it deletes the table. */
const STOP_CUT_WAIT_MS = 1000;

/** Planes running in this process, by nft command and table: two must not share a table. */
const running = new Set<string>();

function flowId(f: TrackedFlow): string {
  return `${f.original.sport}|${f.reply.src}|${f.reply.sport}`;
}

function procKeyOf(peer: string, announced: string, port: number): string {
  return `${peer}|${announced}|${port}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class NftablesDataPlane extends EventEmitter<NftablesDataPlaneEvents> {
  readonly tableName: string;
  private readonly nftCommand: readonly string[];
  private readonly families: readonly (4 | 6)[];
  private readonly guard: ForwardGuard;
  private readonly strictReversePath: boolean;
  private readonly readSysctl: (name: ForwardingSysctl) => Promise<string>;
  private readonly pollIntervalMs: number;
  private readonly cutTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly maxQueuedCommands: number;
  private readonly logger: ((entry: NftablesLogEntry) => void) | undefined;
  private readonly conntrackOverride: string | undefined;

  private state: PlaneState = 'new';
  private shell: NftShell | null = null;
  private conntrackPath = '';
  private definition = '';
  /** The comment of the table this plane made (its pid and start time). */
  private owner = '';
  private readonly channels = new Map<number, Channel>();
  private readonly byKey = new Map<string, Channel>();
  private readonly cuts = new Map<string, Cut>();
  private seq = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  /** What the last poll cost (read and parse), in ms. */
  private pollCostMs = 0;
  private rawRead: Promise<string> | null = null;
  private readonly forwardCheckedAt: Record<4 | 6, number> = { 4: -Infinity, 6: -Infinity };
  private conntrackFaultReported = false;
  private registryKey = '';

  constructor(options: NftablesDataPlaneOptions = {}) {
    super();
    this.tableName = checkTableName(options.tableName ?? 'nat_alg');
    this.nftCommand = options.nftCommand ?? ['nft'];
    if (this.nftCommand.length === 0) throw new NatAlgError('invalid-argument', 'nftCommand is empty');
    this.families = options.families ?? [4, 6];
    if (this.families.length === 0 || this.families.some((f) => f !== 4 && f !== 6)) {
      throw new NatAlgError('invalid-argument', 'families: 4, 6 or both');
    }
    this.guard = checkGuard(options.forwardGuard ?? { kind: 'all' });
    this.strictReversePath = options.strictReversePath ?? true;
    this.readSysctl = options.readSysctl ?? readSysctlFile;
    this.pollIntervalMs = positive('pollIntervalMs', options.pollIntervalMs ?? 200);
    this.cutTimeoutMs = positive('cutTimeoutMs', options.cutTimeoutMs ?? 600_000);
    this.commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 10_000);
    this.maxQueuedCommands = positive('maxQueuedCommands', options.maxQueuedCommands ?? 256);
    this.logger = options.logger;
    this.conntrackOverride = options.conntrackPath;
  }

  /** The table the plane installs (nft syntax), for logs and documentation. */
  get ruleset(): string {
    return this.definition || tableDefinition(this.tableName, this.guard, ownerTag(process.pid), this.strictReversePath);
  }

  /** Channels open now. */
  get size(): number {
    return this.channels.size;
  }

  async start(): Promise<void> {
    if (this.state !== 'new' && this.state !== 'stopped') throw new NatAlgError('invalid-state', `start() while ${this.state}`);
    this.registryKey = `${this.nftCommand.join('\0')}\0${this.tableName}`;
    if (running.has(this.registryKey)) {
      throw new NatAlgError('invalid-state', `table inet ${this.tableName} is used by another plane in this process: choose another tableName`);
    }
    running.add(this.registryKey);
    this.state = 'starting';
    let tableMade = false;
    try {
      let ended: { end: ShellEnd; stderr: string } | null = null;
      const shell = new NftShell(this.nftCommand, this.commandTimeoutMs, (end, stderr) => {
        ended = { end, stderr };
        this.onShellEnd(end, stderr);
      });
      this.shell = shell;
      try {
        await shell.run('');
      } catch (err) {
        const e = ended as { end: ShellEnd; stderr: string } | null;
        throw e ? shellStartFailure(this.nftCommand, e.end, e.stderr) : new DataPlaneUnavailableError('nft-failed', 'nft did not answer', errorText(err));
      }
      for (const f of this.families) await checkForwarding(this.readSysctl, f);
      this.forwardCheckedAt[4] = this.forwardCheckedAt[6] = performance.now();

      // Only a table a nat-alg instance made (its comment names the owner) is ever replaced, and
      // only when that owner is dead; any other table of this name is the administrator's.
      const existing = await this.listTableOnce();
      let stale = false;
      if (existing !== null) {
        const owner = parseOwner(existing);
        if (!owner) {
          throw new DataPlaneUnavailableError('foreign-table', `table inet ${this.tableName} exists and was not made by nat-alg (no "nat-alg pid=... start=..." comment); it is left untouched`);
        }
        if (ownerAlive(owner, process.pid)) {
          throw new NatAlgError('invalid-state', `table inet ${this.tableName} belongs to running process ${owner.pid}: choose another tableName`);
        }
        stale = true;
      }
      this.owner = ownerTag(process.pid);
      this.definition = tableDefinition(this.tableName, this.guard, this.owner, this.strictReversePath);
      const made = await shell.run(createTable(this.tableName, this.owner, this.definition, stale));
      if (made.error !== '') {
        throw new DataPlaneUnavailableError(tableFailureCause(made.error), `nft could not create table inet ${this.tableName}`, made.error);
      }
      tableMade = true;

      const pid = shell.pid;
      this.conntrackPath = this.conntrackOverride ?? `/proc/${pid ?? 'self'}/net/nf_conntrack`;
      try {
        await readFile(this.conntrackPath, 'utf8');
      } catch (err) {
        throw new DataPlaneUnavailableError('no-conntrack', `${this.conntrackPath} is not readable`, errorText(err));
      }
      this.state = 'running';
      this.log('info', 'plane-start', { table: this.tableName, guard: this.guard.kind, families: this.families });
    } catch (err) {
      if (tableMade) await this.shell?.run(deleteTable(this.tableName)).catch(() => undefined);
      await this.shell?.close().catch(() => undefined);
      this.shell = null;
      this.state = 'stopped';
      running.delete(this.registryKey);
      throw err;
    }
  }

  async open(channel: KernelChannel): Promise<void> {
    this.requireRunning('open');
    const ch = checkChannel(channel);
    if (!this.families.includes(ch.family)) throw new NatAlgError('invalid-argument', `this plane serves IPv${this.families.join('/IPv')} only`);
    if (this.channels.has(ch.id)) throw new NatAlgError('invalid-state', `channel ${ch.id} is already open`);
    const procKey = procKeyOf(procAddress(ch.peer), procAddress(ch.announced.address), ch.announced.port);
    const clash = this.byKey.get(procKey);
    if (clash) throw new NatAlgError('invalid-state', `channel ${clash.ch.id} already redirects ${ch.peer} to ${ch.announced.address} port ${ch.announced.port}`);
    const queued = this.shell?.queued ?? 0;
    if (queued >= this.maxQueuedCommands) {
      // Load shedding, not a fault: nft is working, only behind. The caller (the relay) carries
      // this channel another way; removals still queue, so nothing is left behind.
      this.log('warn', 'open-refused', { id: ch.id, queued, reason: 'nft busy' });
      throw new NatAlgError('capacity', `nft has ${queued} commands queued (maxQueuedCommands ${this.maxQueuedCommands}): channel ${ch.id} not installed`);
    }

    const c: Channel = {
      ch,
      counters: counterNames(++this.seq),
      procKey,
      procTarget: procAddress(ch.target.address),
      state: 'opening',
      baseline: new Set(),
      flow: null,
      everEstablished: false,
      expiry: null,
      extraReported: false,
      opened: null,
      closing: null,
    };
    this.channels.set(ch.id, c);
    this.byKey.set(procKey, c);
    // Opening the same key again removes its cut (openCommands): the old flow is not followed any more.
    this.cuts.delete(procKey);
    const done = this.install(c);
    c.opened = done.catch(() => undefined);
    await done;
  }

  private async install(c: Channel): Promise<void> {
    const ch = c.ch;
    const t0 = performance.now();
    let nftMs = 0;
    try {
      if (performance.now() - this.forwardCheckedAt[ch.family] > FORWARDING_RECHECK_MS) {
        await checkForwarding(this.readSysctl, ch.family);
        this.forwardCheckedAt[ch.family] = performance.now();
      }
      // The peer learns the port only from the FTP line the relay writes after this resolves,
      // so a conntrack read started now shows only flows that existed before the gate.
      const before = this.readRaw().then(
        (text) => text,
        () => null,
      );
      const shell = this.requireShell();
      const t1 = performance.now();
      const [res, text] = await Promise.all([shell.run(openCommands(this.tableName, ch, c.counters)).finally(() => (nftMs = performance.now() - t1)), before]);
      if (res.error !== '') {
        const kind = /No space left|ENOSPC|set is full/i.test(res.error) ? 'capacity' : 'invalid-state';
        throw new NatAlgError(kind, `nft refused channel ${ch.id}: ${res.error.split('\n')[0] ?? ''}`);
      }
      if (text !== null) {
        for (const f of parseConntrack(text, new Set([ch.announced.port]))) if (this.belongs(c, f)) c.baseline.add(flowId(f));
      }
    } catch (err) {
      this.forget(c);
      throw err;
    }
    if (this.channels.get(ch.id) !== c) return; // stopped meanwhile
    c.state = 'waiting';
    c.expiry = setTimeout(() => void this.checkExpiry(c), ch.timeoutMs + EXPIRY_GRACE_MS);
    this.log('debug', 'channel-open', {
      id: ch.id, family: ch.family, peer: ch.peer, announced: ch.announced, target: ch.target,
      ms: +(performance.now() - t0).toFixed(2), nftMs: +nftMs.toFixed(2),
    });
    this.schedulePoll();
  }

  /**
   * Removes the channel's rules (whatever is left) and resets what its flow still sends.
   * Resolves to the bytes forwarded, or null when no such channel is open (never opened,
   * already closed, or already reported 'closed'/'expired').
   */
  async close(id: number): Promise<ChannelBytes | null> {
    const c = this.channels.get(id);
    if (!c) return null;
    if (c.state === 'opening') await c.opened;
    if (this.channels.get(id) !== c) return null;
    if (c.closing) return c.closing;
    return this.teardown(c, 'close');
  }

  /**
   * Reads conntrack now (a read started after this call; callers that ask while one read runs
   * share the next) and emits what happened since the last read: admissions, established flows,
   * ends. Resolves once those events are out. A relay calls it before acting on control input,
   * so that it does not see a control line (a client's RETR) before the data connection the line
   * depends on; a read costs the whole host table, so such a caller bounds how often it asks
   * (kernel-plane.ts: once per `pollWindowMs` per session).
   */
  async refresh(): Promise<void> {
    if (this.state !== 'running' || this.channels.size === 0) return;
    await this.poll(true);
  }

  /** The least time between two polls of conntrack: the poll interval, stretched on a large table. */
  get pollWindowMs(): number {
    return Math.max(this.pollIntervalMs, this.pollCostMs * POLL_COST_FACTOR);
  }

  /** Cut keys whose flow has not been seen over yet (their element is still in the table). */
  get cutsPending(): number {
    return this.cuts.size;
  }

  /** Deletes the table and ends nft. Open channels are dropped without events. */
  async stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped' || this.state === 'stopping') return;
    // A flow cut just now is reset by its next packet, which a running transfer sends at once;
    // once the table is gone its packets would be forwarded again. Give the resets a moment.
    for (const end = performance.now() + STOP_CUT_WAIT_MS; this.state === 'running' && this.cuts.size > 0 && performance.now() < end; ) {
      await new Promise((r) => setTimeout(r, 50));
      await this.poll(true);
    }
    this.state = 'stopping';
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const c of this.channels.values()) if (c.expiry) clearTimeout(c.expiry);
    this.channels.clear();
    this.byKey.clear();
    this.cuts.clear();
    const shell = this.shell;
    this.shell = null;
    let failure: string | null = null;
    if (shell && !shell.ended) {
      const r = await shell.run(deleteTable(this.tableName)).catch((err: unknown) => ({ error: errorText(err), docs: [] }));
      if (r.error !== '') failure = r.error;
      await shell.close();
    } else {
      failure = await this.deleteTableOnce();
    }
    this.state = 'stopped';
    running.delete(this.registryKey);
    if (failure !== null) {
      throw new NatAlgError('invalid-state', `table inet ${this.tableName} could not be deleted: ${failure}`);
    }
    this.log('info', 'plane-stop', { table: this.tableName });
  }

  // ---- flows ----------------------------------------------------------------------------

  /** A flow of this channel's key that the plane redirected (its reply comes from the target). */
  private belongs(c: Channel, f: TrackedFlow): boolean {
    return (
      procKeyOf(f.original.src, f.original.dst, f.original.dport) === c.procKey &&
      f.reply.src === c.procTarget &&
      f.reply.sport === c.ch.target.port
    );
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.state !== 'running' || (this.channels.size === 0 && this.cuts.size === 0)) return;
    this.pollTimer = setTimeout(
      () => {
        this.pollTimer = null;
        void this.poll().finally(() => this.schedulePoll());
      },
      this.pollWindowMs,
    );
  }

  /** One read of the conntrack table, shared by whoever asks while it is under way. */
  private readRaw(): Promise<string> {
    if (!this.rawRead) {
      this.rawRead = readFile(this.conntrackPath, 'utf8').finally(() => {
        this.rawRead = null;
      });
    }
    return this.rawRead;
  }

  /** Reads conntrack (a fresh read when `fresh`) and moves every channel along. */
  private async poll(fresh = false): Promise<void> {
    if (this.state !== 'running') return;
    const t0 = performance.now();
    let text: string;
    try {
      if (fresh && this.rawRead) await this.rawRead.catch(() => undefined);
      text = await this.readRaw();
    } catch (err) {
      if (!this.conntrackFaultReported) {
        this.conntrackFaultReported = true;
        this.fault('conntrack-unreadable', null, `${this.conntrackPath}: ${errorText(err)}`);
      }
      return;
    }
    const ports = new Set<number>();
    for (const c of this.channels.values()) ports.add(c.ch.announced.port);
    for (const cut of this.cuts.values()) ports.add(cut.ch.announced.port);
    const seen = new Map<Channel, TrackedFlow[]>();
    /** Cut keys with a flow still running. */
    const cutLive = new Set<string>();
    for (const f of parseConntrack(text, ports)) {
      const key = procKeyOf(f.original.src, f.original.dst, f.original.dport);
      const cut = this.cuts.get(key);
      if (cut && f.reply.src === cut.procTarget && f.reply.sport === cut.ch.target.port && !cut.baseline.has(flowId(f)) && !isEnded(f.state)) {
        cutLive.add(key);
      }
      const c = this.byKey.get(key);
      if (!c || !this.belongs(c, f) || c.baseline.has(flowId(f))) continue;
      const list = seen.get(c);
      if (list) list.push(f);
      else seen.set(c, [f]);
    }
    this.pollCostMs = performance.now() - t0;
    for (const c of [...this.channels.values()]) {
      if (c.state === 'waiting' || c.state === 'connecting' || c.state === 'connected') this.observe(c, seen.get(c) ?? []);
    }
    for (const cut of [...this.cuts.values()]) if (!cutLive.has(cut.procKey)) this.uncut(cut);
  }

  private observe(c: Channel, flows: TrackedFlow[]): void {
    if (c.flow === null) {
      const first = flows[0];
      if (!first) return;
      c.flow = flowId(first);
      this.emit('admitted', { id: c.ch.id, peer: { address: c.ch.peer, port: first.original.sport } });
      if (this.channels.get(c.ch.id) !== c || c.state === 'closing') return; // closed by a listener
    }
    if (flows.length > 1 && !c.extraReported) {
      c.extraReported = true;
      this.fault('extra-connection', c.ch.id, `channel ${c.ch.id}: ${flows.length} connections from ${c.ch.peer} got through one redirect`);
    }
    const f = flows.find((x) => flowId(x) === c.flow);
    if (!f) {
      void this.finish(c, c.everEstablished ? 'vanished' : 'refused');
      return;
    }
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    const established = isEstablished(f.state) || (f.state === 'CLOSE' && f.assured);
    if (established && !c.everEstablished) {
      c.everEstablished = true;
      c.state = 'connected';
      this.emit('connected', { id: c.ch.id, peer: { address: c.ch.peer, port: f.original.sport } });
    } else if (!established && c.state === 'waiting') {
      c.state = 'connecting';
    }
    if (isEnded(f.state)) void this.finish(c, f.state === 'TIME_WAIT' ? 'finished' : c.everEstablished ? 'reset' : 'refused');
  }

  private async checkExpiry(c: Channel): Promise<void> {
    c.expiry = null;
    if (this.channels.get(c.ch.id) !== c || c.state !== 'waiting') return;
    // The kernel's gate has lapsed by now: one fresh read decides between a late arrival and none.
    await this.poll(true);
    if (this.channels.get(c.ch.id) !== c || c.state !== 'waiting' || c.flow !== null) return;
    await this.teardown(c, 'expired').catch(() => undefined);
    this.emit('expired', { id: c.ch.id });
  }

  private async finish(c: Channel, end: FlowEnd): Promise<void> {
    if (c.closing) return;
    const bytes = await this.teardown(c, 'ended').catch((): ChannelBytes => ({ toTarget: null, fromTarget: null }));
    this.emit('closed', { id: c.ch.id, bytes, end });
  }

  /**
   * Reads the counters, removes the channel's elements and, for a flow that may still run (the
   * relay closes a channel under a transfer), cuts its key. A flow that ended by itself and a
   * channel nobody used leave nothing behind. Runs once per channel.
   */
  private teardown(c: Channel, why: 'close' | 'expired' | 'ended'): Promise<ChannelBytes> {
    if (c.closing) return c.closing;
    const seen = c.flow !== null;
    c.state = 'closing';
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    c.closing = (async (): Promise<ChannelBytes> => {
      try {
        const shell = this.requireShell();
        const bytes: ChannelBytes =
          why === 'expired'
            ? { toTarget: 0, fromTarget: 0 }
            : { toTarget: await this.counterBytes(shell, c.counters.up), fromTarget: await this.counterBytes(shell, c.counters.down) };
        const cut = why === 'close' && seen ? this.cutTimeoutMs : null;
        const r = await shell.run(closeCommands(this.tableName, c.ch, c.counters, cut));
        if (r.error !== '') this.fault('cleanup-failed', c.ch.id, `channel ${c.ch.id}: ${r.error}`);
        let cutNow = cut !== null;
        // Closed before any flow was seen: the gate is gone now, so no flow can start any more;
        // one that slipped in between the last read and the removal is cut.
        if (why === 'close' && !seen && (await this.flowAppeared(c))) {
          const r2 = await shell.run(cutCommand(this.tableName, c.ch, this.cutTimeoutMs));
          if (r2.error !== '') this.fault('cleanup-failed', c.ch.id, `channel ${c.ch.id}: ${r2.error}`);
          cutNow = true;
        }
        const sameKey = this.byKey.get(c.procKey);
        if (cutNow && this.state === 'running' && (sameKey === undefined || sameKey === c)) {
          this.cuts.set(c.procKey, { ch: c.ch, procKey: c.procKey, procTarget: c.procTarget, baseline: c.baseline, removing: false });
          this.schedulePoll();
        }
        this.log('debug', 'channel-close', { id: c.ch.id, why, bytes, cut: cut !== null });
        return bytes;
      } finally {
        this.forget(c);
      }
    })();
    return c.closing;
  }

  /** The cut flow is over (reset, finished or gone): its cut element goes too. */
  private uncut(cut: Cut): void {
    if (cut.removing) return;
    cut.removing = true;
    const shell = this.shell;
    if (!shell || this.state !== 'running') return;
    const [add, del] = removeIfPresent(this.tableName, `cut${cut.ch.family}`, cut.ch.key);
    void shell.run(`${add}; ${del}`).then(
      (r) => {
        if (this.cuts.get(cut.procKey) === cut) this.cuts.delete(cut.procKey);
        if (r.error !== '') this.fault('cleanup-failed', null, `cut ${cut.ch.key}: ${r.error}`);
        else this.log('debug', 'cut-removed', { key: cut.ch.key });
      },
      () => undefined,
    );
  }

  /** A fresh read of conntrack shows a flow of this channel's key that was not there before it opened. */
  private async flowAppeared(c: Channel): Promise<boolean> {
    let text: string;
    try {
      if (this.rawRead) await this.rawRead.catch(() => undefined);
      text = await this.readRaw();
    } catch {
      return true; // cannot tell: cut, to be safe
    }
    return parseConntrack(text, new Set([c.ch.announced.port])).some((f) => this.belongs(c, f) && !c.baseline.has(flowId(f)));
  }

  private async counterBytes(shell: NftShell, name: string): Promise<number | null> {
    const r = await shell.run(listCounter(this.tableName, name), 1).catch(() => null);
    const doc = r?.docs[0];
    if (!r || r.error !== '' || typeof doc !== 'object' || doc === null) return null;
    const list = (doc as { nftables?: unknown }).nftables;
    if (!Array.isArray(list)) return null;
    for (const item of list) {
      const counter = (item as { counter?: { name?: unknown; bytes?: unknown } }).counter;
      if (counter && counter.name === name && typeof counter.bytes === 'number') return counter.bytes;
    }
    return null;
  }

  private forget(c: Channel): void {
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    if (this.channels.get(c.ch.id) === c) this.channels.delete(c.ch.id);
    if (this.byKey.get(c.procKey) === c) this.byKey.delete(c.procKey);
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private requireRunning(what: string): void {
    if (this.state === 'failed') throw new NatAlgError('invalid-state', `${what}(): the plane failed (nft ended); stop() and start() again`);
    if (this.state !== 'running') throw new NatAlgError('invalid-state', `${what}() while ${this.state}`);
  }

  private requireShell(): NftShell {
    if (!this.shell) throw new NatAlgError('invalid-state', 'the plane is not running');
    return this.shell;
  }

  private onShellEnd(end: ShellEnd, stderr: string): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const c of this.channels.values()) if (c.expiry) clearTimeout(c.expiry);
    this.fault('plane-failed', null, `nft ended (${end.kind === 'exited' ? `code ${end.code} signal ${end.signal}` : end.code}) ${stderr}`.trim());
  }

  private fault(kind: PlaneFaultKind, id: number | null, message: string): void {
    this.log('error', 'plane-fault', { fault: kind, id, message });
    this.emit('error', new PlaneFault(kind, id, message));
  }

  /**
   * The table as nft lists it (native syntax: it shows the owner comment), null if there is none.
   * A listing that fails for another reason is a startup failure: what is there is unknown.
   */
  private async listTableOnce(): Promise<string | null> {
    const r = await this.once_(['list', 'table', 'inet', this.tableName]);
    if (r.code === 0) return r.stdout;
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new DataPlaneUnavailableError(tableFailureCause(r.stderr), `nft could not list table inet ${this.tableName}`, r.stderr || `exit ${r.code}`);
  }

  /**
   * Used by stop() when the interactive child is gone: deletes the table only if it is still the
   * one this plane made (its comment carries our owner tag). Returns nft's complaint or null.
   */
  private async deleteTableOnce(): Promise<string | null> {
    let listing: string | null;
    try {
      listing = await this.listTableOnce();
    } catch (err) {
      return errorText(err);
    }
    if (listing === null || !listing.includes(`comment "${this.owner}"`)) return null;
    const r = await this.once_(['delete', 'table', 'inet', this.tableName]);
    return r.code === 0 || /No such file or directory/.test(r.stderr) ? null : r.stderr.trim() || `exit ${r.code}`;
  }

  private once_(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const [cmd, ...pre] = this.nftCommand;
    return new Promise((resolve) => {
      execFile(cmd ?? 'nft', [...pre, ...args], { timeout: this.commandTimeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  private log(level: NftablesLogEntry['level'], event: string, fields: Record<string, unknown>): void {
    if (!this.logger) return;
    try {
      this.logger({ level, event, ...fields });
    } catch {
      // A failing logger must not break the plane.
    }
  }
}

function positive(what: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new NatAlgError('invalid-argument', `${what} must be a positive number`);
  return n;
}
