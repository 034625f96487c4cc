/**
 * A binary min-heap of (deadline, handle) pairs over two Float64Arrays: the expiry structure of
 * the mapping table. Push and pop are O(log n); nothing is ever scanned per packet.
 *
 * The table deletes lazily. A refresh only moves the deadline stored with the mapping; the heap
 * entry keeps its old, earlier deadline and is re-pushed with the real one when it surfaces. A
 * released mapping leaves a stale entry that is recognised by its handle (slot and generation)
 * and dropped when it surfaces. So each live mapping has at most one entry of its own, and stale
 * entries are bounded by `compact`.
 */

export class TimerHeap {
  private deadlines: Float64Array;
  private handles: Float64Array;
  private n = 0;

  constructor(initialCapacity = 64) {
    this.deadlines = new Float64Array(initialCapacity);
    this.handles = new Float64Array(initialCapacity);
  }

  get size(): number {
    return this.n;
  }

  /** Bytes held by the heap arrays (for the memory benchmark and stats). */
  get byteLength(): number {
    return this.deadlines.byteLength + this.handles.byteLength;
  }

  push(deadline: number, handle: number): void {
    if (this.n === this.deadlines.length) this.grow();
    let i = this.n++;
    const d = this.deadlines;
    const h = this.handles;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (d[parent]! <= deadline) break;
      d[i] = d[parent]!;
      h[i] = h[parent]!;
      i = parent;
    }
    d[i] = deadline;
    h[i] = handle;
  }

  /** Earliest deadline, or Infinity when empty. */
  peekDeadline(): number {
    return this.n > 0 ? this.deadlines[0]! : Infinity;
  }

  /** Handle of the earliest entry; only valid when size > 0. */
  peekHandle(): number {
    return this.handles[0]!;
  }

  /** Remove the earliest entry. */
  pop(): void {
    const last = --this.n;
    if (last <= 0) {
      this.n = Math.max(0, last);
      return;
    }
    this.siftDown(0, this.deadlines[last]!, this.handles[last]!);
  }

  /** Replace the earliest entry by one with a later deadline (cheaper than pop + push). */
  replaceTop(deadline: number, handle: number): void {
    this.siftDown(0, deadline, handle);
  }

  /** Keep only entries for which `keep(handle, deadline)` is true, then restore heap order in O(n). */
  compact(keep: (handle: number, deadline: number) => boolean): void {
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      const h = this.handles[r]!;
      if (keep(h, this.deadlines[r]!)) {
        this.deadlines[w] = this.deadlines[r]!;
        this.handles[w] = h;
        w++;
      }
    }
    this.n = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.siftDown(i, this.deadlines[i]!, this.handles[i]!);
  }

  clear(): void {
    this.n = 0;
  }

  private siftDown(start: number, deadline: number, handle: number): void {
    const d = this.deadlines;
    const h = this.handles;
    const n = this.n;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && d[child + 1]! < d[child]!) child++;
      if (d[child]! >= deadline) break;
      d[i] = d[child]!;
      h[i] = h[child]!;
      i = child;
    }
    d[i] = deadline;
    h[i] = handle;
  }

  private grow(): void {
    const cap = this.deadlines.length * 2;
    const d = new Float64Array(cap);
    d.set(this.deadlines);
    const h = new Float64Array(cap);
    h.set(this.handles);
    this.deadlines = d;
    this.handles = h;
  }
}
