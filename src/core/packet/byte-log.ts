/**
 * The output bytes of one direction that the receiver has not acknowledged yet, by stream offset:
 * what a NAT that rewrites a stream must keep to resend a rewritten segment exactly as it first
 * sent it (a retransmission is served from here, never translated twice).
 *
 * Chunks are kept as appended (each a copy the log owns) and dropped whole once acknowledged; a
 * slice copies. Its size is bounded by the caller, which stops taking input when it is full.
 */

export class ByteLog {
  private chunks: Uint8Array[] = [];
  /** Stream offset of chunks[head][0]. */
  private first = 0;
  private head = 0;
  /** Offset just past the last byte appended. */
  private last = 0;
  /** Offset below which bytes were released (acknowledged). */
  private floor = 0;

  /** Offset of the first byte still held. */
  get start(): number {
    return this.floor;
  }
  get end(): number {
    return this.last;
  }
  /** Bytes held. */
  get size(): number {
    return this.last - this.floor;
  }

  /** Append a copy of `bytes` (the caller may reuse its buffer). */
  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.slice());
    this.last += bytes.length;
  }

  /** Bytes [from, to) as one new array; the range must lie within [start, end). */
  slice(from: number, to: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, to - from));
    let at = this.first;
    for (let k = this.head; k < this.chunks.length && at < to; k++) {
      const c = this.chunks[k]!;
      const cEnd = at + c.length;
      if (cEnd > from) {
        const a = Math.max(from, at);
        const b = Math.min(to, cEnd);
        out.set(c.subarray(a - at, b - at), a - from);
      }
      at = cEnd;
    }
    return out;
  }

  /** Bytes before `offset` are acknowledged: drop the chunks that lie wholly before it. */
  release(offset: number): void {
    if (offset <= this.floor) return;
    this.floor = Math.min(offset, this.last);
    while (this.head < this.chunks.length && this.first + this.chunks[this.head]!.length <= this.floor) {
      this.first += this.chunks[this.head]!.length;
      this.head++;
    }
    if (this.head > 32 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
