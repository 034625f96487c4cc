/**
 * Where a relay's data listeners get their ports. One source is shared by every session of a
 * relay so that two sessions never ask for the same port; the embedding still has the last word
 * (a port taken by another program fails to bind, and the session then asks again).
 */

import { NatAlgError } from '../errors.js';
import { endpoint } from '../net/ip.js';
import { PortAllocator } from '../mapping/allocator.js';
import type { PortRange, RandomSource } from '../mapping/types.js';

export interface DataPortSource {
  /** A port that no other session of this relay holds on `address`, or null when none is left. */
  acquire(address: string, nowMs: number): number | null;
  /** The listener on `address`:`port` is closed; the port may be handed out again. */
  release(address: string, port: number, nowMs: number): void;
}

/**
 * A range of ports handed out in turn (not lowest first, so that a port just released is not
 * reused at once while a late connection to its old listener may still be on the way).
 */
export class PortRangeSource implements DataPortSource {
  readonly min: number;
  readonly max: number;
  private readonly held = new Set<string>();
  private next: number;

  constructor(min: number, max: number) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new NatAlgError('invalid-argument', `data port range ${min}-${max} is not within 1-65535`);
    }
    this.min = min;
    this.max = max;
    this.next = min;
  }

  get size(): number {
    return this.max - this.min + 1;
  }

  /** Ports currently held, over all addresses. */
  get inUse(): number {
    return this.held.size;
  }

  acquire(address: string, _nowMs: number): number | null {
    for (let tried = 0; tried < this.size; tried++) {
      const port = this.next;
      this.next = port === this.max ? this.min : port + 1;
      const key = `${address}|${port}`;
      if (!this.held.has(key)) {
        this.held.add(key);
        return port;
      }
    }
    return null;
  }

  release(address: string, port: number, _nowMs: number): void {
    this.held.delete(`${address}|${port}`);
  }
}

/**
 * Data ports from the port-mapping table's PortAllocator (RFC 6056 selection: the next data port
 * cannot be guessed by a third party). Ports form one pool for every local address of the relay,
 * as a firewall rule for "the relay's data ports" would; each allocation gets an owner of its own.
 */
export class MappedPortSource implements DataPortSource {
  readonly allocator: PortAllocator;
  private readonly held = new Map<string, number>();
  private nextOwner = 0;

  constructor(options: { readonly range: PortRange; readonly random: RandomSource | (() => number) }) {
    this.allocator = new PortAllocator({ address: POOL_ADDRESS, range: options.range, random: options.random });
  }

  get inUse(): number {
    return this.held.size;
  }

  acquire(address: string, nowMs: number): number | null {
    // Owners only tell allocations apart; a 16-bit counter is enough while fewer than 65535 are held.
    for (let tried = 0; tried < 65535; tried++) {
      this.nextOwner = (this.nextOwner % 65535) + 1;
      const r = this.allocator.allocate('tcp', endpoint(OWNER_ADDRESS, this.nextOwner), nowMs);
      if (!r.ok) return null;
      const key = `${address}|${r.port}`;
      if (this.held.has(key)) continue; // the owner was still holding this port: try the next owner
      this.held.set(key, r.id);
      return r.port;
    }
    return null;
  }

  release(address: string, port: number, _nowMs: number): void {
    const key = `${address}|${port}`;
    const id = this.held.get(key);
    if (id === undefined) return;
    this.held.delete(key);
    this.allocator.release(id);
  }
}

/** The pool's nominal address and the owners' (never on the wire: they only key the table). */
const POOL_ADDRESS = '0.0.0.0';
const OWNER_ADDRESS = '0.0.0.1';
