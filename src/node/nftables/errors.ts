/**
 * The plane's two kinds of trouble. DataPlaneUnavailableError: why the kernel data plane cannot
 * run here. PlaneFault: something that went wrong later, reported through the 'error' event.
 *
 * A DataPlaneUnavailableError is thrown by `start()` (and by `open()` when a prerequisite went
 * away since), never replaced by a silent fallback: a relay that wanted kernel data channels and
 * got none must say so, and the message names the cause and the fix.
 */

import { NatAlgError } from '../../core/errors.js';

export type DataPlaneUnavailableCause =
  | 'nft-missing' // the nft binary (or the wrapper in nftCommand) is not there
  | 'nft-failed' // nft started but does not answer as nft 1.0.x does (crashed, wrong program)
  | 'no-cap-net-admin' // nft runs without CAP_NET_ADMIN in its network namespace
  | 'no-nf-tables' // the kernel lacks nf_tables or a piece the ruleset uses (nat, ct, objref, reject)
  | 'ip-forward-off' // a data channel is a forwarded flow, and forwarding is off for its family
  | 'no-conntrack' // /proc/net/nf_conntrack is not readable: the ends of flows cannot be seen
  | 'foreign-table'; // a table of that name exists and no nat-alg instance made it

const FIX: Record<DataPlaneUnavailableCause, string> = {
  'nft-missing': 'install nftables (Debian: apt-get install nftables) or point the nftCommand option at nft',
  'nft-failed': 'check that nftCommand runs nft 1.0 or later and that it works by hand (`nft list tables`)',
  'no-cap-net-admin': 'run the relay as root or with CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN)',
  'no-nf-tables': 'use a kernel with nf_tables, nft_chain_nat, nf_nat, nft_ct, nft_objref and nft_reject (modprobe them), or the relay\'s user-space data path',
  'ip-forward-off':
    'enable forwarding for that family yourself (sysctl -w net.ipv4.ip_forward=1 / net.ipv6.conf.all.forwarding=1; nat-alg never changes sysctls) and keep the forward guard on, or use the user-space data path',
  'foreign-table':
    'choose another tableName (nat-alg ftp --nft-table NAME): nat-alg uses a table of its own, replaces only one whose comment shows a nat-alg instance made it, and never touches another',
  'no-conntrack': 'load nf_conntrack with procfs support (CONFIG_NF_CONNTRACK_PROCFS) or point the conntrackPath option at the namespace\'s nf_conntrack file',
};

export class DataPlaneUnavailableError extends NatAlgError {
  /** Shadows Error.cause (unknown) with the typed reason. */
  override readonly cause: DataPlaneUnavailableCause;
  /** What nft or the kernel said, when something did (stderr, errno text). */
  readonly detail: string;

  constructor(cause: DataPlaneUnavailableCause, what: string, detail = '') {
    super('invalid-state', `nftables data plane unavailable (${cause}): ${what}; fix: ${FIX[cause]}${detail ? ` [${detail.trim().slice(0, 400)}]` : ''}`);
    this.name = 'DataPlaneUnavailableError';
    this.cause = cause;
    this.detail = detail;
  }
}

/**
 * A fault of a channel seen after the fact: `extra-connection` (a second flow of the same peer
 * claimed the channel: two handshakes completing in the same instant, the kernel's
 * lookup-then-delete race, see data-plane.ts), `cleanup-failed` (the
 * kernel refused to remove a channel's elements). `plane-failed`: the nft child died or stopped
 * answering; every further call throws until stop().
 */
export type PlaneFaultKind = 'extra-connection' | 'cleanup-failed' | 'conntrack-unreadable' | 'plane-failed';

export class PlaneFault extends Error {
  readonly fault: PlaneFaultKind;
  readonly channelId: number | null;

  constructor(fault: PlaneFaultKind, channelId: number | null, message: string) {
    super(message);
    this.name = 'PlaneFault';
    this.fault = fault;
    this.channelId = channelId;
  }
}

