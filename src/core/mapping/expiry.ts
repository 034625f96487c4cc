/**
 * When mappings expire: the binary heap of deadlines over the slot records, with lazy deletion.
 *
 * A refresh only moves the expiry stored in the record; the heap keeps the earlier deadline it
 * was filed with (`heapDeadline`) and re-files the entry when it surfaces. A change to an earlier
 * expiry files a new entry and makes the old one stale (its deadline no longer matches). Stale
 * entries (released slots, superseded deadlines) are dropped when they surface, and compacted
 * away when they outnumber the live ones. No work is proportional to the table size per packet.
 *
 * `floor` is a lower bound of every timed mapping's expiry (the heap's earliest deadline as last
 * seen, lowered by every earlier schedule or move): lookups need no per-mapping expiry while
 * nowMs is below it.
 */

import { F_HELD, SLOT_LIMIT, type SlotStore } from './slots.js';
import { TimerHeap } from './timer-heap.js';

export class ExpiryQueue {
  private readonly heap = new TimerHeap(1024);
  /** Live timed mappings (each has exactly one current entry). */
  private timed = 0;
  /** No timed mapping expires before this. */
  floor = Infinity;

  constructor(private readonly slots: SlotStore) {}

  /** File a new timed mapping. */
  schedule(s: number, expiresAt: number): void {
    const sl = this.slots;
    sl.setExpiry(s, expiresAt);
    sl.setHeapDeadline(s, expiresAt);
    this.heap.push(expiresAt, sl.handleOf(s));
    this.timed++;
    if (expiresAt < this.floor) this.floor = expiresAt;
    if (this.heap.size > 2 * this.timed + 1024) {
      this.heap.compact((h, d) => this.current(h, d));
    }
  }

  /** Move a timed mapping's expiry (refresh, or a phase change). */
  move(s: number, expiresAt: number): void {
    const sl = this.slots;
    sl.setExpiry(s, expiresAt);
    if (expiresAt < this.floor) this.floor = expiresAt;
    if (expiresAt < sl.heapDeadline(s)) {
      sl.setHeapDeadline(s, expiresAt);
      this.heap.push(expiresAt, sl.handleOf(s));
    }
  }

  /** A timed mapping leaves the table by another way than expiry (its entry goes stale). */
  forget(): void {
    this.timed--;
  }

  /** The true earliest expiry (stale tops dropped, refreshed ones re-filed), or Infinity. */
  next(): number {
    const sl = this.slots;
    const heap = this.heap;
    while (heap.size > 0) {
      const h = heap.peekHandle();
      const d = heap.peekDeadline();
      if (!this.current(h, d)) {
        heap.pop();
        continue;
      }
      const s = h % SLOT_LIMIT;
      const e = sl.expiry(s);
      if (e > d) {
        sl.setHeapDeadline(s, e);
        heap.replaceTop(e, h);
        continue;
      }
      // Every timed mapping has an entry no later than its expiry, so the top bounds them all.
      this.floor = d;
      return d;
    }
    this.floor = Infinity;
    return Infinity;
  }

  /** The slot of the earliest mapping if it is due at nowMs (removed from the queue), or -1. */
  popDue(nowMs: number): number {
    if (this.next() > nowMs) return -1;
    const s = this.heap.peekHandle() % SLOT_LIMIT;
    this.heap.pop();
    this.timed--;
    return s;
  }

  /** Whether a heap entry still stands for a live timed mapping's current deadline. */
  private current(h: number, d: number): boolean {
    const sl = this.slots;
    const s = h % SLOT_LIMIT;
    return sl.slotOf(h) === s && !(sl.flags(s) & F_HELD) && sl.heapDeadline(s) === d;
  }
}
