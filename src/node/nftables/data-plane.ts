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
 * - While the channel is unclaimed (its gate element is in the table), every bare TCP SYN from
 *   `peer` to `announced` (address and port), arriving through the interface `peer` is routed
 *   through (strictReversePath), is redirected to `target`, with its source rewritten to
 *   `sourceAddress`; anything else sent to the announced port reaches the host itself, where
 *   nothing of ours listens, and is reset.
 * - The claim: the first of those flows whose handshake completes (conntrack marks it ASSURED
 *   when the peer's ACK answers the target's SYN-ACK) uses the channel up: the forward-chain rule
 *   that sees it deletes the gate and records the flow (key . the peer's port) in the won set,
 *   in the kernel, on that packet. From then on only that flow is forwarded; every other flow
 *   of the key is reset, and new SYNs are no longer redirected. This is the listener's rule (a
 *   listener is used by a completed handshake, not by a SYN): a SYN forged with the peer's
 *   address, from anywhere, cannot claim the channel (the target's SYN-ACK goes to the real peer,
 *   which resets it), so it cannot take the peer's transfer away. What it still can do: make the
 *   target see a half-open connection from the relay, as a SYN to the relay's own listener would.
 *   Only who completes a handshake with the peer's address (on its path, or guessing the target's
 *   sequence number within conntrack's window) can claim it.
 * - Every value written into nft text is validated and re-printed from parsed bytes (ruleset.ts).
 * - One connection: the lookup and the delete of the claim are two steps of one rule, not one
 *   atomic operation: two handshakes of the same peer completing on two CPUs in the same
 *   microsecond could both claim. The plane then sees two established flows in conntrack and
 *   reports an 'error' (extra-connection); it cannot stop the second flow without cutting the first.
 * - Lapse: the gate element carries the kernel timeout `timeoutMs`: a handshake must complete
 *   before it lapses. The plane's own timer fires just after it, re-reads conntrack and, if no
 *   flow claimed the channel, removes the channel (cutting handshakes left half-done) and emits
 *   'expired'. If this process dies, gates lapse by themselves; the table stays (with forwarding
 *   of claimed flows) until a plane with the same table name starts again and replaces it.
 * - Forwarding: a redirected flow is forwarded, so forwarding must be on (the plane checks,
 *   never sets it). The forward chain accepts the plane's flows and drops per `forwardGuard`.
 *   Coexistence with other tables: every base chain on a hook sees the packet; an accept here
 *   does not save a packet another table drops (a host firewall with a forward drop policy must
 *   accept these flows itself, e.g. `ct status dnat accept`), while a drop here ends the packet
 *   for all. Hence guard `all` stops all other forwarding on the host; `interfaces` limits it.
 *
 * Seeing the flow: conntrack is read (see conntrack.ts) every `pollIntervalMs` while channels are
 * open. The claiming flow (ASSURED) -> 'admitted', then 'connected'. TIME_WAIT (FINs) or CLOSE
 * (RST) or gone -> the channel's counters are read, its rules removed, 'closed' emitted. Flows
 * that never completed a handshake are nobody's connection and are not reported. Conntrack
 * entries of the same key that existed before the gate was written (an earlier channel's flow)
 * are recorded at open() and ignored. Latency of these events: up to one poll interval plus the
 * read; the interval grows to 20 times the cost of a read when the conntrack table is large
 * (see POLL_COST_FACTOR).
 *
 * close(id) removes the channel whatever its state and cuts its flows that may still run: each
 * one's key . peer port goes into the cut set, and packets it still sends are answered with a
 * TCP reset (each side is reset when it next sends), as the user-space path destroys both
 * sockets. Cuts name flows, so opening the same key again later neither lifts them nor lets a
 * cut flow claim the new channel. stop() deletes the table; flows already tracked keep their
 * NAT binding in conntrack and are no longer filtered by this plane.
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
import { NftShell, type NftResult, type ShellEnd } from './nft-shell.js';
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
  closeGate,
  counterNames,
  flowKey,
  removeIfPresent,
  createTable,
  deleteTable,
  listCounter,
  listCounters,
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
 * A channel's life: `opening` (nft writing), `waiting` (gate set, unclaimed: SYNs of the peer are
 * redirected, no flow has completed its handshake), `connected` (a flow claimed it), `closing`
 * (rules being removed).
 */
type ChannelState = 'opening' | 'waiting' | 'connected' | 'closing';

interface Channel {
  readonly ch: CheckedChannel;
  readonly counters: CounterNames;
  /** The key and target in conntrack's spelling. */
  readonly procKey: string;
  readonly procTarget: string;
  state: ChannelState;
  /** Flows of this key that existed before the gate was written; never this channel's. */
  baseline: Set<string>;
  /** The flow that claimed this channel (its identity), once seen. */
  flow: string | null;
  /** The peer's port of that flow. */
  flowPort: number | null;
  expiry: NodeJS.Timeout | null;
  extraReported: boolean;
  opened: Promise<void> | null;
  closing: Promise<ChannelBytes> | null;
}

/**
 * A flow of a closed channel that may still run: its F (key . peer port) is in the cut set (its
 * packets are answered with a reset) until conntrack shows it over, then the cut element is
 * removed. Keyed by flow, so a later channel of the same key neither lifts nor inherits it.
 */
interface Cut {
  readonly ch: CheckedChannel;
  readonly procKey: string;
  readonly peerPort: number;
  readonly procTarget: string;
  removing: boolean;
}

/** At most this many flows are cut per channel (the claimed one first; the rest are handshakes that can no longer claim). */
const MAX_CUTS_PER_CHANNEL = 64;

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

function cutKeyOf(procKey: string, peerPort: number): string {
  return `${procKey}|${peerPort}`;
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
  /** The read of the table's counters running now, and the one that starts after it (claimCounts). */
  private countsNow: Promise<ReadonlyMap<string, number> | null> | null = null;
  private countsNext: Promise<ReadonlyMap<string, number> | null> | null = null;
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
      flowPort: null,
      expiry: null,
      extraReported: false,
      opened: null,
      closing: null,
    };
    this.channels.set(ch.id, c);
    this.byKey.set(procKey, c);
    // Cut flows of an earlier channel of this key stay cut (cuts name flows); they existed before
    // the gate, so they are in this channel's baseline and never taken for its flow.
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
   * (kernel-plane.ts uses refreshIfClaimed(), which reads only once a waiting channel's counter moved).
   */
  async refresh(): Promise<void> {
    if (this.state !== 'running' || this.channels.size === 0) return;
    await this.poll(true);
  }

  /** The least time between two polls of conntrack: the poll interval, stretched on a large table. */
  private get pollWindowMs(): number {
    return Math.max(this.pollIntervalMs, this.pollCostMs * POLL_COST_FACTOR);
  }

  /**
   * refresh(), but only if one of these channels (ids as given to open()) may have been claimed
   * since the plane last looked: a channel still waiting is asked about through its `up` counter,
   * which counts the claiming flow's packets only (the claim's own ACK is its first), so a zero
   * means no connection yet and no read of conntrack is needed. What a relay calls before each
   * control input while a channel waits (the control line cannot depend on a connection that
   * does not exist). The counters come from one read of the table's counters started after this
   * call, shared by every caller that asks while the same read is due: however many sessions
   * send lines, at most one such read runs and one waits, instead of one nft command per line
   * and channel. A counter that cannot be read counts as moved.
   */
  async refreshIfClaimed(ids: readonly number[]): Promise<void> {
    if (this.state !== 'running' || !this.shell) return;
    const waiting: Channel[] = [];
    for (const id of ids) {
      const c = this.channels.get(id);
      if (c && c.state === 'waiting') waiting.push(c);
    }
    if (waiting.length === 0) return;
    const counts = await this.claimCounts(this.shell);
    if (counts === null || waiting.some((c) => (counts.get(c.counters.up) ?? 1) > 0)) await this.poll(true);
  }

  /**
   * Packets per counter of the plane's table, from a read that starts after this call: the read
   * running now may have begun before the caller's control line arrived, so a caller joins the
   * next one (started when the running one ends). Null when the read fails.
   */
  private claimCounts(shell: NftShell): Promise<ReadonlyMap<string, number> | null> {
    if (this.countsNext) return this.countsNext;
    const start = (): Promise<ReadonlyMap<string, number> | null> => {
      const read: Promise<ReadonlyMap<string, number> | null> = this.packetCounts(shell).finally(() => {
        if (this.countsNow === read) this.countsNow = null;
      });
      this.countsNow = read;
      return read;
    };
    if (!this.countsNow) return start();
    const next = this.countsNow.then(() => {
      this.countsNext = null;
      return start();
    });
    this.countsNext = next;
    return next;
  }

  private async packetCounts(shell: NftShell): Promise<ReadonlyMap<string, number> | null> {
    const r = await shell.run(listCounters(this.tableName), 1).catch(() => null);
    const list = nftList(r);
    if (list === null) return null;
    const counts = new Map<string, number>();
    for (const item of list) {
      const counter = (item as { counter?: { name?: unknown; packets?: unknown } }).counter;
      if (counter && typeof counter.name === 'string' && typeof counter.packets === 'number') counts.set(counter.name, counter.packets);
    }
    return counts;
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
    /** Cut flows still running. */
    const cutLive = new Set<string>();
    for (const f of parseConntrack(text, ports)) {
      const key = procKeyOf(f.original.src, f.original.dst, f.original.dport);
      const ck = cutKeyOf(key, f.original.sport); // a cut found by it has that peer port
      const cut = this.cuts.get(ck);
      if (cut && f.reply.src === cut.procTarget && f.reply.sport === cut.ch.target.port && !isEnded(f.state)) cutLive.add(ck);
      const c = this.byKey.get(key);
      if (!c || !this.belongs(c, f) || c.baseline.has(flowId(f))) continue;
      const list = seen.get(c);
      if (list) list.push(f);
      else seen.set(c, [f]);
    }
    this.pollCostMs = performance.now() - t0;
    for (const c of [...this.channels.values()]) {
      if (c.state === 'waiting' || c.state === 'connected') this.observe(c, seen.get(c) ?? []);
    }
    for (const [k, cut] of [...this.cuts]) if (!cutLive.has(k)) this.uncut(cut);
  }

  /**
   * `flows`: this channel's flows in conntrack (redirected by its rule, not there before it).
   * Several may exist while the channel is unclaimed (the peer's SYNs, or SYNs forged with its
   * address, each redirected); the kernel lets exactly one claim it, the first whose handshake
   * completes (ASSURED). A flow that never completed its handshake is nobody's connection: it
   * is not reported, and it cannot claim the channel after the gate is gone.
   */
  private observe(c: Channel, flows: TrackedFlow[]): void {
    // Flows that completed a handshake and are not over. One normally; two only if the kernel's
    // claim raced (two ACKs on two CPUs in the same instant), or a flow was let in by hand. A
    // loser that completes its handshake after the claim is reset at once (CLOSE): not counted.
    const live = flows.filter((f) => f.assured && isEstablished(f.state));
    if (c.flow === null) {
      const first = live[0] ?? flows.find((f) => f.assured);
      if (!first) return;
      c.flow = flowId(first);
      c.flowPort = first.original.sport;
      this.emit('admitted', { id: c.ch.id, peer: { address: c.ch.peer, port: first.original.sport } });
      if (this.channels.get(c.ch.id) !== c || c.state === 'closing') return; // closed by a listener
    }
    if (live.length > 1 && !c.extraReported) {
      c.extraReported = true;
      this.fault('extra-connection', c.ch.id, `channel ${c.ch.id}: ${live.length} connections from ${c.ch.peer} got through one redirect`);
    }
    const f = flows.find((x) => flowId(x) === c.flow);
    if (!f) {
      void this.finish(c, 'vanished', flows);
      return;
    }
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    if (c.state === 'waiting') {
      // The first sight of its flow established (observe runs only while waiting or connected).
      c.state = 'connected';
      this.emit('connected', { id: c.ch.id, peer: { address: c.ch.peer, port: f.original.sport } });
    }
    if (isEnded(f.state)) void this.finish(c, f.state === 'TIME_WAIT' ? 'finished' : 'reset', flows);
  }

  private async checkExpiry(c: Channel): Promise<void> {
    c.expiry = null;
    if (this.channels.get(c.ch.id) !== c || c.state !== 'waiting') return;
    // The kernel's gate has lapsed by now, so no flow can claim the channel any more: one fresh
    // read decides between a claim just before the lapse and none.
    await this.poll(true);
    if (this.channels.get(c.ch.id) !== c || c.state !== 'waiting' || c.flow !== null) return;
    await this.teardown(c, 'expired').catch(() => undefined);
    this.emit('expired', { id: c.ch.id });
  }

  private async finish(c: Channel, end: FlowEnd, flows: readonly TrackedFlow[]): Promise<void> {
    if (c.closing) return;
    const bytes = await this.teardown(c, 'ended', flows).catch((): ChannelBytes => ({ toTarget: null, fromTarget: null }));
    this.emit('closed', { id: c.ch.id, bytes, end });
  }

  /**
   * Reads the counters, removes the channel's elements and cuts its flows that may still run (the
   * relay closes a channel under a transfer; handshakes that lost the claim). A flow that ended
   * by itself and a channel nobody used leave nothing behind. Runs once per channel.
   *
   * The gate goes first (unless the claim removed it): after that no flow of the key can start or
   * claim, so the read that follows sees every flow there is to cut. `flows`: a read the caller
   * made after the claim (the flow's own end), used instead of a fresh one.
   */
  private teardown(c: Channel, why: 'close' | 'expired' | 'ended', flows?: readonly TrackedFlow[]): Promise<ChannelBytes> {
    if (c.closing) return c.closing;
    c.state = 'closing';
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    c.closing = (async (): Promise<ChannelBytes> => {
      try {
        const shell = this.requireShell();
        let current = flows;
        let gateClosed = false;
        if (!current) {
          if (c.flow === null) {
            gateClosed = true;
            const r = await shell.run(closeGate(this.tableName, c.ch));
            if (r.error !== '') this.fault('cleanup-failed', c.ch.id, `channel ${c.ch.id}: ${r.error}`);
          }
          current = await this.channelFlows(c);
        }
        const bytes: ChannelBytes =
          why === 'expired' && c.flow === null
            ? { toTarget: 0, fromTarget: 0 }
            : { toTarget: await this.counterBytes(shell, c.counters.up), fromTarget: await this.counterBytes(shell, c.counters.down) };
        // Won elements: every flow that claimed (or may have claimed) the channel.
        const won = new Set<number>(current.filter((f) => f.assured).map((f) => f.original.sport));
        if (c.flowPort !== null) won.add(c.flowPort);
        // Cut: what may still run; the claimed flow first, unless it ended by itself.
        const running = current.filter((f) => !isEnded(f.state) && !(why === 'ended' && flowId(f) === c.flow));
        running.sort((a, b) => Number(flowId(b) === c.flow) - Number(flowId(a) === c.flow) || Number(b.assured) - Number(a.assured));
        const cut = [...new Set(running.map((f) => f.original.sport))];
        if (cut.length > MAX_CUTS_PER_CHANNEL) {
          this.log('warn', 'cuts-capped', { id: c.ch.id, flows: cut.length, cut: MAX_CUTS_PER_CHANNEL });
          cut.length = MAX_CUTS_PER_CHANNEL;
        }
        const r = await shell.run(closeCommands(this.tableName, c.ch, c.counters, [...won], cut, this.cutTimeoutMs, !gateClosed));
        if (r.error !== '') this.fault('cleanup-failed', c.ch.id, `channel ${c.ch.id}: ${r.error}`);
        if (this.state === 'running' && cut.length > 0) {
          for (const port of cut) {
            this.cuts.set(cutKeyOf(c.procKey, port), { ch: c.ch, procKey: c.procKey, peerPort: port, procTarget: c.procTarget, removing: false });
          }
          this.schedulePoll();
        }
        this.log('debug', 'channel-close', { id: c.ch.id, why, bytes, cut: cut.length > 0, cutFlows: cut.length });
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
    const key = cutKeyOf(cut.procKey, cut.peerPort);
    const fk = flowKey(cut.ch, cut.peerPort);
    const [add, del] = removeIfPresent(this.tableName, `cut${cut.ch.family}`, fk);
    void shell.run(`${add}; ${del}`).then(
      (r) => {
        if (this.cuts.get(key) === cut) this.cuts.delete(key);
        if (r.error !== '') this.fault('cleanup-failed', null, `cut ${fk}: ${r.error}`);
        else this.log('debug', 'cut-removed', { key: fk });
      },
      () => undefined,
    );
  }

  /**
   * This channel's flows in a fresh read of conntrack. If the table cannot be read, the flow the
   * plane knows of (to be safe, as still running).
   */
  private async channelFlows(c: Channel): Promise<TrackedFlow[]> {
    let text: string;
    try {
      if (this.rawRead) await this.rawRead.catch(() => undefined);
      text = await this.readRaw();
    } catch {
      if (c.flowPort === null) return [];
      const peer = procAddress(c.ch.peer);
      const self = procAddress(c.ch.announced.address);
      return [{
        family: c.ch.family, state: 'ESTABLISHED', assured: true,
        original: { src: peer, dst: self, sport: c.flowPort, dport: c.ch.announced.port },
        reply: { src: c.procTarget, dst: procAddress(c.ch.sourceAddress), sport: c.ch.target.port, dport: c.flowPort },
      }];
    }
    return parseConntrack(text, new Set([c.ch.announced.port])).filter((f) => this.belongs(c, f) && !c.baseline.has(flowId(f)));
  }

  private async counterBytes(shell: NftShell, name: string): Promise<number | null> {
    const r = await shell.run(listCounter(this.tableName, name), 1).catch(() => null);
    const list = nftList(r);
    if (list === null) return null;
    for (const item of list) {
      const counter = (item as { counter?: { name?: unknown; bytes?: unknown; packets?: unknown } }).counter;
      if (counter && counter.name === name && typeof counter.bytes === 'number' && typeof counter.packets === 'number') {
        return counter.bytes;
      }
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

/** The items of a listing's one JSON document (`{ nftables: [...] }`), or null when nft failed. */
function nftList(r: NftResult | null): unknown[] | null {
  const doc = r?.docs[0];
  if (!r || r.error !== '' || typeof doc !== 'object' || doc === null) return null;
  const list = (doc as { nftables?: unknown }).nftables;
  return Array.isArray(list) ? list : null;
}
