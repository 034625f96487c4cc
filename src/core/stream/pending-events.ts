/**
 * The events a translator reports, waiting for `pollEvent()`, in order. Unbounded on purpose: an
 * event is never dropped (an embedding that never polls lets the queue grow with the traffic, as
 * documented); everything else a translator keeps is bounded.
 */

export class PendingEvents<E> {
  private items: (E | undefined)[] = [];
  private head = 0;
  private tail = 0;

  push(e: E): void {
    this.items[this.tail++] = e;
  }

  poll(): E | null {
    if (this.head >= this.tail) return null;
    const e = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head === this.tail) this.head = this.tail = 0;
    return e;
  }
}
