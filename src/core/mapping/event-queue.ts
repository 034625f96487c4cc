/**
 * A bounded FIFO of events waiting for `pollEvent`. Beyond the bound, events are counted and
 * dropped rather than held: an embedding that never polls must not make the table grow.
 */

export class EventQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  dropped = 0;

  constructor(private readonly max: number) {}

  push(e: T): void {
    if (this.items.length - this.head >= this.max) {
      this.dropped++;
      return;
    }
    this.items.push(e);
  }

  poll(): T | null {
    if (this.head >= this.items.length) return null;
    const e = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return e;
  }
}
