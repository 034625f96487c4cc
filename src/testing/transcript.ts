/**
 * Control-channel transcripts: every line a test peer sent or received, exactly as it crossed
 * the wire. Lines are cut from the byte stream (not from write calls), so a reply that was
 * written in three pieces is recorded once, whole, and a line that was never finished is kept
 * as a trailing fragment rather than lost.
 */

/** Who put the line on the wire: the client (commands) or the server (replies). */
export type ControlSource = 'client' | 'server';

export interface ControlLine {
  readonly source: ControlSource;
  /** The line without its line end, decoded as latin1 (one char per byte, nothing lost). */
  readonly text: string;
  /** The line end as it was: '\r\n', '\n', or '' for a fragment cut off by the end of the stream. */
  readonly ending: '\r\n' | '\n' | '';
}

/** Longest line a recorder holds before cutting it: test peers face hostile peers too. */
export const MAX_RECORDED_LINE = 64 * 1024;

/** Cuts one direction of a control connection into lines and appends them to a shared list. */
export class LineRecorder {
  private partial = '';

  constructor(
    private readonly source: ControlSource,
    private readonly sink: ControlLine[],
    private readonly onLine?: (line: ControlLine) => void,
  ) {}

  push(bytes: Uint8Array): void {
    let text = this.partial + latin1(bytes);
    let lf = text.indexOf('\n');
    while (lf >= 0) {
      const cr = lf > 0 && text.charCodeAt(lf - 1) === 13;
      this.emit(text.slice(0, cr ? lf - 1 : lf), cr ? '\r\n' : '\n');
      text = text.slice(lf + 1);
      lf = text.indexOf('\n');
    }
    if (text.length > MAX_RECORDED_LINE) {
      this.emit(text, '');
      text = '';
    }
    this.partial = text;
  }

  /** The stream ended: keep what was never terminated. */
  end(): void {
    if (this.partial.length > 0) this.emit(this.partial, '');
    this.partial = '';
  }

  private emit(text: string, ending: ControlLine['ending']): void {
    const line: ControlLine = { source: this.source, text, ending };
    this.sink.push(line);
    this.onLine?.(line);
  }
}

/** One char per byte: control lines may carry any byte and the transcript must not alter them. */
export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  }
  return s;
}

export function fromLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** `> USER anonymous` / `< 331 ...`: a transcript as readable text, one line per entry. */
export function formatTranscript(lines: readonly ControlLine[], indent = ''): string {
  return lines
    .map((l) => `${indent}${l.source === 'client' ? 'C>' : 'S<'} ${visible(l.text)}${l.ending === '' ? ' [no line end]' : ''}`)
    .join('\n');
}

/** Control characters made visible so that a transcript never moves the terminal. */
export function visible(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
