/**
 * The vocabulary of the nftables data plane: what a kernel data channel is, the options, the
 * events. The behaviour behind them is described in data-plane.ts.
 */

import type { PlaneFault } from './errors.js';

/** One data-channel redirect, as the relay's channel plan (src/core/relay/plan.ts) decides it. */
export interface KernelChannel {
  /** The relay's channel id; unique among the channels open at once. */
  readonly id: number;
  readonly family: 4 | 6;
  /** The only address allowed to connect (the plan's `expectedPeer`). */
  readonly peer: string;
  /**
   * The relay's own address and port written into the FTP line (the plan's `advertiseAddress`
   * and a port the relay picked); the peer connects here. Nothing needs to listen on it.
   */
  readonly announced: { readonly address: string; readonly port: number };
  /** Where the kernel delivers the connection (DNAT): the plan's `connectTarget`. */
  readonly target: { readonly address: string; readonly port: number };
  /**
   * The relay's own address towards the target (SNAT), so the target sees the address it
   * expects (vsftpd accepts a passive data connection only from the control connection's
   * address): the plan's `connectFrom`.
   */
  readonly sourceAddress: string;
  /** The redirect admits no connection after this long (the relay's data listen timeout). */
  readonly timeoutMs: number;
}

/**
 * Which forwarded packets the plane's forward chain drops. Turning forwarding on for kernel
 * data channels turns the host into a router for everything else too; the guard undoes that.
 * An accept in our table never overrides a drop in another table on the same hook, but our drop
 * ends the packet whatever other tables say, so `all` affects every forwarded packet on the
 * host (containers, VPNs, a router role): choose `interfaces` on such a host.
 */
export type ForwardGuard =
  /** Drop every forwarded packet that is not a data-channel flow of this plane (default). */
  | { readonly kind: 'all' }
  /** Drop forwarded packets that enter or leave through these interfaces unless they are ours. */
  | { readonly kind: 'interfaces'; readonly interfaces: readonly string[] }
  /** Drop nothing: another firewall must keep the host from routing what it should not. */
  | { readonly kind: 'none' };

/** The sysctls the plane reads (never writes). */
export type ForwardingSysctl = 'net.ipv4.ip_forward' | 'net.ipv6.conf.all.forwarding';

export interface NftablesDataPlaneOptions {
  /**
   * The table of this instance (family inet); everything the plane installs lives in it.
   * Letters, digits and `_`, starting with a letter. Default `nat_alg`.
   */
  readonly tableName?: string;
  /**
   * The command that runs nft, as argv. Default `['nft']` (found through PATH). Tests run the
   * plane's kernel side in another network namespace with `['ip', 'netns', 'exec', NS, 'nft']`;
   * the wrapper must exec nft in place (ip netns exec does), because the conntrack table is read
   * from `/proc/<pid of that process>/net/nf_conntrack`, i.e. from the namespace nft acts in.
   */
  readonly nftCommand?: readonly string[];
  /** Families the plane serves; `start()` checks forwarding for each. Default `[4, 6]`. */
  readonly families?: readonly (4 | 6)[];
  readonly forwardGuard?: ForwardGuard;
  /**
   * Redirect a peer's SYN only when it came in through the interface its address is routed
   * through (`fib saddr . iif oif exists`), so that SYNs with the peer's address forged from
   * another network do not even reach the target (they could not claim the channel anyway: only
   * a completed handshake does). On a single-homed relay (one interface, a default route) every
   * source passes it. Turn off only with asymmetric routing. Default true.
   */
  readonly strictReversePath?: boolean;
  /**
   * Reads a sysctl of the namespace nft acts in. Default: the file under /proc/sys, which shows
   * the namespace of this process; pass a reader when nftCommand enters another namespace.
   */
  readonly readSysctl?: (name: ForwardingSysctl) => Promise<string>;
  /** Overrides where the conntrack table is read. Default `/proc/<nft pid>/net/nf_conntrack`. */
  readonly conntrackPath?: string;
  /**
   * How often the conntrack table is read while channels are open, at most. A read of a large
   * table is slow (~70 ms for 20000 flows), so the interval is stretched to 20 times the last
   * read's cost. Default 200 ms.
   */
  readonly pollIntervalMs?: number;
  /** How long a closed channel's flows are answered with a TCP reset if they still send. Default 600000. */
  readonly cutTimeoutMs?: number;
  /**
   * nft is wedged when the command it works on (the head of the line: commands behind it have not
   * started) does not answer within this; nft is then killed and the plane fails. Default 10000.
   */
  readonly commandTimeoutMs?: number;
  /**
   * open() is refused (NatAlgError `capacity`; the relay carries that channel on its own data path)
   * while this many nft commands wait for nft: a burst of channels waits a bounded time and
   * never piles up without limit behind a slow nft. Removing channels is never refused. Default 256.
   */
  readonly maxQueuedCommands?: number;
  /** Diagnostics, one structured entry each; the plane never prints. */
  readonly logger?: (entry: NftablesLogEntry) => void;
}

export interface NftablesLogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly event: string;
  readonly [field: string]: unknown;
}

/**
 * Bytes the kernel forwarded for a channel's flow, counted by named nft counters in the forward
 * chain: whole IP packets, headers included (a transfer's payload plus well under 1 % on a
 * LAN, as the kernel counts a GRO/TSO super-packet once). null when the counter could not be read.
 */
export interface ChannelBytes {
  /** From the peer towards the target. */
  readonly toTarget: number | null;
  /** From the target back to the peer. */
  readonly fromTarget: number | null;
}

/**
 * How a flow ended, as conntrack saw it: `finished` (FIN both ways, TIME_WAIT), `reset` (RST,
 * CLOSE), `vanished` (the entry went away without a closing state we saw: evicted, or it closed
 * between two reads). `refused` is no longer reported: a flow is the channel's only once its
 * handshake completed (a SYN the target refuses leaves the channel waiting for another, as a
 * forged one does); it stays in the type for code written against it.
 */
export type FlowEnd = 'finished' | 'reset' | 'refused' | 'vanished';

export interface AdmittedEvent {
  readonly id: number;
  /** The peer's address and source port: its connection completed its handshake and claimed the channel. */
  readonly peer: { readonly address: string; readonly port: number };
}

export interface ConnectedEvent {
  readonly id: number;
  /** The peer's address and source port. */
  readonly peer: { readonly address: string; readonly port: number };
}

export interface ClosedEvent {
  readonly id: number;
  readonly bytes: ChannelBytes;
  readonly end: FlowEnd;
}

export interface ExpiredEvent {
  readonly id: number;
}

export interface NftablesDataPlaneEvents {
  /** A connection of the peer completed its handshake and claimed the channel (seen in conntrack). Comes just before 'connected'. */
  admitted: [AdmittedEvent];
  /** The claiming connection is established: the redirect is used up. */
  connected: [ConnectedEvent];
  /** The flow ended by itself (or the target refused it); the channel's rules are already gone. */
  closed: [ClosedEvent];
  /** Nobody connected within timeoutMs; the channel's rules are already gone. */
  expired: [ExpiredEvent];
  /** See PlaneFault. Listen for it: an EventEmitter throws an 'error' nobody listens to. */
  error: [PlaneFault];
}
