/**
 * One long-lived `nft -j -i` child: a data channel costs one line written to it (~2 ms) instead
 * of one nft process (~30 ms when started through `ip netns exec`, measured on a 2-core VM).
 *
 * In interactive mode nft runs each input line as one transaction (all commands of the line or
 * none) and says nothing on success. It prints no prompt when stdin is not a terminal, so the end
 * of a command is marked by the line after it: `@syncN`, which nft cannot parse and echoes on
 * stderr after the command's own errors ("Error: syntax error, unexpected @", "@syncN", "^").
 * A parse error touches neither the kernel nor nft's cache, so the marker costs microseconds.
 * Listings come on stdout as one JSON document per command (-j); nft writes a command's
 * stdout before it reads the marker line, and a command that fails writes none.
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface NftResult {
  /** nft's complaint; empty when the transaction went through. */
  readonly error: string;
  /** JSON documents a listing printed, parsed. */
  readonly docs: readonly unknown[];
}

interface Pending {
  readonly marker: string;
  readonly docs: number;
  readonly resolve: (r: NftResult) => void;
  readonly reject: (e: Error) => void;
  errorLines: string[];
  markerSeen: boolean;
  timer: NodeJS.Timeout | null;
}

/** Why the child is gone. */
export type ShellEnd = { readonly kind: 'spawn-failed'; readonly code: string } | { readonly kind: 'exited'; readonly code: number | null; readonly signal: string | null };

export class NftShell {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: Pending[] = [];
  private stderrTail = '';
  private stdoutBuf = '';
  private readonly docs: unknown[] = [];
  private seq = 0;
  /** Everything nft said on stderr that belonged to no command (startup trouble). */
  private strayStderr = '';
  private endInfo: ShellEnd | null = null;
  /** The caret nft prints under an echoed marker is the next stderr line; it belongs to no command. */
  private skipCaret = false;
  private readonly onEnd: (end: ShellEnd, stderr: string) => void;
  private readonly timeoutMs: number;

  constructor(argv: readonly string[], timeoutMs: number, onEnd: (end: ShellEnd, stderr: string) => void) {
    const [cmd, ...args] = argv;
    if (cmd === undefined) throw new Error('empty nft command');
    this.timeoutMs = timeoutMs;
    this.onEnd = onEnd;
    this.child = spawn(cmd, [...args, '-j', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (s: string) => this.onStdout(s));
    this.child.stderr.on('data', (s: string) => this.onStderr(s));
    this.child.stdin.on('error', () => undefined); // a dead child: reported through 'exit'
    this.child.on('error', (err: NodeJS.ErrnoException) => this.finish({ kind: 'spawn-failed', code: err.code ?? err.message }));
    // 'close', not 'exit': by then stderr is read to the end (why nft died is in its last lines).
    this.child.on('close', (code, signal) => this.finish({ kind: 'exited', code, signal }));
  }

  /** The child's pid: the process whose network namespace the plane works in. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get ended(): ShellEnd | null {
    return this.endInfo;
  }

  /**
   * Runs one line (one transaction). `docs` is how many JSON documents the line prints on
   * success (a listing: 1). Rejects only when the child is gone or does not answer in time.
   */
  run(line: string, docs = 0): Promise<NftResult> {
    if (line.includes('\n') || line.includes('\r')) return Promise.reject(new Error('an nft command is one line'));
    if (this.endInfo) return Promise.reject(new Error(`nft is not running (${describeEnd(this.endInfo)})`));
    return new Promise<NftResult>((resolve, reject) => {
      const marker = `@sync${++this.seq}`;
      const p: Pending = { marker, docs, resolve, reject, errorLines: [], markerSeen: false, timer: null };
      this.queue.push(p);
      if (this.queue.length === 1) this.watch(p);
      this.child.stdin.write(line === '' ? `${marker}\n` : `${line}\n${marker}\n`);
    });
  }

  /** Commands written and not yet answered (the one nft works on included). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * The watchdog times the command at the head of the line only: nft works on one line at a time,
   * so a command behind others has not started, and time it spends queued says nothing about
   * nft. A burst of commands on a slow but working nft must not look like a wedged one.
   */
  private watch(p: Pending): void {
    p.timer = setTimeout(() => {
      p.timer = null;
      // No answer: the child is wedged. Kill it; 'exit' fails this and every queued command.
      this.child.kill('SIGKILL');
    }, this.timeoutMs);
  }

  /** Ends nft by closing its input; resolves once it has exited. */
  async close(): Promise<void> {
    if (this.endInfo) return;
    const exited = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), this.timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  private onStderr(s: string): void {
    this.stderrTail += s;
    let nl: number;
    while ((nl = this.stderrTail.indexOf('\n')) >= 0) {
      const line = this.stderrTail.slice(0, nl);
      this.stderrTail = this.stderrTail.slice(nl + 1);
      this.stderrLine(line);
    }
  }

  private stderrLine(line: string): void {
    if (this.skipCaret) {
      this.skipCaret = false;
      if (/^\s*\^+\s*$/.test(line)) return;
    }
    const head = this.queue.find((p) => !p.markerSeen);
    if (!head) {
      this.strayStderr = (this.strayStderr + line + '\n').slice(-2000);
      return;
    }
    if (line === head.marker) {
      this.skipCaret = true;
      head.markerSeen = true;
      // The line before the echo is the marker's own "syntax error" line.
      head.errorLines.pop();
      this.settle();
      return;
    }
    head.errorLines.push(line);
  }

  private onStdout(s: string): void {
    this.stdoutBuf += s;
    // Documents are JSON objects one after another; cut them at the closing brace of each.
    for (;;) {
      const end = jsonObjectEnd(this.stdoutBuf);
      if (end < 0) break;
      const text = this.stdoutBuf.slice(0, end);
      this.stdoutBuf = this.stdoutBuf.slice(end);
      try {
        this.docs.push(JSON.parse(text));
      } catch {
        this.docs.push(null);
      }
    }
    this.settle();
  }

  /** Completes the head command once its marker came and (on success) its documents too. */
  private settle(): void {
    for (;;) {
      const head = this.queue[0];
      if (!head || !head.markerSeen) return;
      const error = head.errorLines.join('\n').trim();
      const want = error === '' ? head.docs : 0;
      if (this.docs.length < want) return;
      this.queue.shift();
      if (head.timer) clearTimeout(head.timer);
      const next = this.queue[0];
      if (next && !next.timer) this.watch(next);
      // A failed listing may have printed part of its output; it belongs to nobody.
      const docs = this.docs.splice(0, error === '' ? want : this.docs.length);
      head.resolve({ error, docs: error === '' ? docs : [] });
    }
  }

  private finish(end: ShellEnd): void {
    if (this.endInfo) return;
    this.endInfo = end;
    const stderr = (this.strayStderr + this.queue.flatMap((p) => p.errorLines).join('\n') + this.stderrTail).trim();
    for (const p of this.queue.splice(0)) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new Error(`nft ended (${describeEnd(end)}) ${stderr}`.trim()));
    }
    this.onEnd(end, stderr);
  }
}

export function describeEnd(end: ShellEnd): string {
  return end.kind === 'spawn-failed' ? `could not start: ${end.code}` : `exited with ${end.signal ?? `code ${end.code}`}`;
}

/** Index just past the first complete top-level JSON object in `s`, or -1 (skips leading whitespace). */
export function jsonObjectEnd(s: string): number {
  let depth = 0;
  let inString = false;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b) {
      depth++;
      started = true;
    } else if (c === 0x7d) {
      depth--;
      if (started && depth === 0) return i + 1;
    }
  }
  return -1;
}
