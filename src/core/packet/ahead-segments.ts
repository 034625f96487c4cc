/**
 * Segments that arrived ahead of the next byte a stream translator expects (reordering, or a
 * loss before them), held until the gap is filled, so that the sender need not send them again.
 *
 * Bounded in bytes: beyond `maxBytes` a segment is refused (the caller drops it, as a loss, and
 * the sender retransmits it later). Overlapping pieces are kept as they came; `take` hands out
 * the bytes that continue the stream, each byte once, and forgets what lies before it.
 */

interface Piece {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly fin: boolean;
}

export class AheadSegments {
  private pieces: Piece[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  /** Hold a copy of `bytes` at stream offset `offset` (with FIN after it); false when full. */
  hold(offset: number, bytes: Uint8Array, fin: boolean): boolean {
    if (this.bytes + bytes.length > this.maxBytes) return false;
    this.pieces.push({ offset, bytes: bytes.slice(), fin });
    this.pieces.sort((a, b) => a.offset - b.offset);
    this.bytes += bytes.length;
    return true;
  }

  /**
   * The held bytes that continue the stream at `next`, or null: one contiguous run, and whether a
   * FIN follows it. Pieces wholly before `next` are forgotten.
   */
  take(next: number): { bytes: Uint8Array; fin: boolean } | null {
    const parts: Uint8Array[] = [];
    let at = next;
    let fin = false;
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (let k = 0; k < this.pieces.length; k++) {
        const p = this.pieces[k]!;
        const end = p.offset + p.bytes.length;
        if (p.offset > at) continue;
        this.pieces.splice(k, 1);
        this.bytes -= p.bytes.length;
        k--;
        if (end > at) {
          parts.push(p.bytes.subarray(at - p.offset));
          at = end;
          progressed = true;
        }
        if (p.fin && end === at) fin = true;
        if (fin) break;
      }
      if (fin) break;
    }
    if (parts.length === 0 && !fin) return null;
    const out = new Uint8Array(at - next);
    let w = 0;
    for (const p of parts) {
      out.set(p, w);
      w += p.length;
    }
    return { bytes: out, fin };
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}
