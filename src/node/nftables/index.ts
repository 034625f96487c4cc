/**
 * The nftables data plane: FTP data channels carried by the kernel's conntrack NAT, installed
 * through the system's `nft`. Groundwork for the relay; see data-plane.ts for the contract.
 */

export { NftablesDataPlane } from './data-plane.js';
export { DataPlaneUnavailableError, PlaneFault } from './errors.js';
export type { DataPlaneUnavailableCause, PlaneFaultKind } from './errors.js';
export type * from './types.js';
