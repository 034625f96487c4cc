/**
 * Addresses as numbers, so the table can keep them in typed arrays and compare them without
 * strings. An IPv4 address is its own unsigned 32-bit value. An IPv6 address is interned: it gets
 * a key of 2^32 + n, counted by reference and forgotten when the last mapping that uses it goes.
 * Keys are exact integers below 2^53, stored in Float64Array.
 *
 * IPv6 is the slower path (a Map lookup on canonical text); IPv4 costs one allocation-free parse.
 */

import { AddressError } from '../errors.js';
import { canonicalAddress, ipv4ToNumber, numberToIPv4, type Endpoint } from '../net/ip.js';

export const V6_BASE = 4294967296;

export class AddressKeys {
  private readonly v6ByText = new Map<string, number>();
  private v6Text: (string | undefined)[] = [];
  private v6Refs: number[] = [];
  private freeIds: number[] = [];

  /** Key of an address without taking a reference; -1 when an IPv6 address is not interned. */
  peek(address: string): number {
    const v4 = ipv4ToNumber(address);
    if (v4 >= 0) return v4;
    const canonical = canonicalOrNull(address);
    if (canonical === null) throw new AddressError(address, 'not an IPv4 or IPv6 address');
    const v4again = ipv4ToNumber(canonical); // an IPv4-mapped IPv6 spelling
    if (v4again >= 0) return v4again;
    const id = this.v6ByText.get(canonical);
    return id === undefined ? -1 : V6_BASE + id;
  }

  /** Key of an address, taking a reference on IPv6 keys (release with `release`). */
  acquire(address: string): number {
    const v4 = ipv4ToNumber(address);
    if (v4 >= 0) return v4;
    const canonical = canonicalOrNull(address);
    if (canonical === null) throw new AddressError(address, 'not an IPv4 or IPv6 address');
    const v4again = ipv4ToNumber(canonical);
    if (v4again >= 0) return v4again;
    let id = this.v6ByText.get(canonical);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.v6Text.length;
      this.v6ByText.set(canonical, id);
      this.v6Text[id] = canonical;
      this.v6Refs[id] = 0;
    }
    this.v6Refs[id]!++;
    return V6_BASE + id;
  }

  /** `acquire` when the caller already peeked the key (-1 when unknown): no second parse for IPv4. */
  acquireKnown(key: number, address: string): number {
    if (key >= 0 && key < V6_BASE) return key;
    if (key >= V6_BASE) {
      this.v6Refs[key - V6_BASE]!++;
      return key;
    }
    return this.acquire(address);
  }

  /** Take one more reference on a key already held. */
  retain(key: number): void {
    if (key >= V6_BASE) this.v6Refs[key - V6_BASE]!++;
  }

  release(key: number): void {
    if (key < V6_BASE) return;
    const id = key - V6_BASE;
    const refs = --this.v6Refs[id]!;
    if (refs === 0) {
      this.v6ByText.delete(this.v6Text[id]!);
      this.v6Text[id] = undefined;
      this.freeIds.push(id);
    }
  }

  text(key: number): string {
    if (key < V6_BASE) return numberToIPv4(key);
    const t = this.v6Text[key - V6_BASE];
    if (t === undefined) throw new AddressError(`#${key}`, 'address key no longer interned');
    return t;
  }

  endpoint(key: number, port: number): Endpoint {
    return { family: key < V6_BASE ? 4 : 6, address: this.text(key), port };
  }

  /** IPv6 addresses currently interned (for stats and tests). */
  get internedCount(): number {
    return this.v6ByText.size;
  }
}

function canonicalOrNull(address: string): string | null {
  try {
    return canonicalAddress(address);
  } catch {
    return null;
  }
}

export function isV6Key(key: number): boolean {
  return key >= V6_BASE;
}
