/**
 * The port-mapping table (NAPT state, RFC 4787 / 5382 / 5508), expectations (pinholes), the
 * relay-facing PortAllocator, and snapshot/restore. See docs/mapping.md.
 */
export * from './types.js';
export { PortTable, ALLOCATE_FAILURES, type AllocateOptions, type StaticMappingRequest } from './table.js';
export { PortAllocator, type PortAllocatorOptions, type PortAllocation } from './allocator.js';
export {
  snapshotPortTable,
  restorePortTable,
  SNAPSHOT_VERSION,
  type PortTableSnapshot,
  type MappingRecord,
  type ExpectationSnapshot,
} from './snapshot.js';
