/**
 * How a server line begins (RFC 959 section 4.2): `ddd ` ends a reply (or is one), `ddd-` opens a
 * multi-line one, and anything else is text (inside a multi-line reply lines may start with
 * digits too; only a line with the opening code and a space closes it). Four bytes decide.
 */

/** A line that starts with a reply code: the code, and whether the reply goes on (`ddd-`). */
export interface ReplyCodeLine {
  readonly code: number;
  readonly continues: boolean;
}

/** What the first bytes of a server line say. */
export type ReplyLine = ReplyCodeLine | 'text';

// One frozen record per code and continuation, made up front: deciding a line allocates nothing.
const LINES: readonly ReplyCodeLine[] = Array.from({ length: 2000 }, (_, k) => Object.freeze({ code: k >> 1, continues: (k & 1) === 1 }));

function codeLine(code: number, continues: boolean): ReplyCodeLine {
  return LINES[code * 2 + (continues ? 1 : 0)]!;
}

function digit(c: number | undefined): number {
  return c !== undefined && c >= 48 && c <= 57 ? c - 48 : -1;
}

/** A server line whose first byte is `c` is text, whatever follows: a reply code begins with a digit. */
export function beginsText(c: number): boolean {
  return digit(c) < 0;
}

/**
 * The first bytes of a server line buf[from..to): what the line is, or `need-more` when fewer
 * than four bytes are there and they do not decide yet.
 */
export function classifyReply(buf: Uint8Array, from: number, to: number): ReplyLine | 'need-more' {
  const n = to - from;
  const a = digit(buf[from]);
  if (n < 1) return 'need-more';
  if (a < 0) return 'text'; // beginsText: no digit first
  if (n < 2) return 'need-more';
  const b = digit(buf[from + 1]);
  if (b < 0) return 'text';
  if (n < 3) return 'need-more';
  const c = digit(buf[from + 2]);
  if (c < 0) return 'text';
  if (n < 4) return 'need-more';
  const d = buf[from + 3];
  if (d === 32) return codeLine(a * 100 + b * 10 + c, false);
  if (d === 45) return codeLine(a * 100 + b * 10 + c, true);
  return 'text';
}

/** Reads the start of one server line, fed in pieces (it keeps the at most four bytes it needs). */
export class ReplyStartReader {
  private readonly first = new Uint8Array(4);
  private length = 0;
  /** After a decision: what the line is, and the index (in the deciding call's buffer) of the deciding byte. */
  line: ReplyLine = 'text';
  at = -1;

  reset(): void {
    this.length = 0;
    this.line = 'text';
    this.at = -1;
  }

  /** Read buf[from..to); true once decided. */
  feed(buf: Uint8Array, from: number, to: number): boolean {
    if (this.length === 0 && to - from >= 4) {
      // The usual case, the whole start in this buffer: decided at once, straight through.
      const a = buf[from]! - 48;
      const b = buf[from + 1]! - 48;
      const c = buf[from + 2]! - 48;
      const d = buf[from + 3]!;
      if (a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 && (d === 32 || d === 45)) {
        return this.decide(codeLine(a * 100 + b * 10 + c, d === 45), from + 3);
      }
      return this.decide('text', this.firstNonDigit(buf, from));
    }
    for (let i = from; i < to; i++) {
      this.first[this.length++] = buf[i]!;
      const r = classifyReply(this.first, 0, this.length);
      if (r !== 'need-more') return this.decide(r, i);
    }
    return false;
  }

  /** The byte that decided a text line: the first non-digit among three, or the fourth. */
  private firstNonDigit(buf: Uint8Array, from: number): number {
    for (let k = 0; k < 3; k++) if (digit(buf[from + k]) < 0) return from + k;
    return from + 3;
  }

  private decide(line: ReplyLine, at: number): true {
    this.line = line;
    this.at = at;
    return true;
  }
}
