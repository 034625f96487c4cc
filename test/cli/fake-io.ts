/**
 * What the in-process command tests share: a CliIo that records stdout/stderr and lets the test
 * deliver signals, and a poll for a condition the command reaches asynchronously.
 */
import type { CliIo } from '../../src/cli/relay-command.js';

export class FakeIo implements CliIo {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private handler: ((signal: string) => void) | null = null;
  out(line: string): void {
    this.stdout.push(line);
  }
  err(line: string): void {
    this.stderr.push(line);
  }
  onSignal(handler: (signal: string) => void): () => void {
    this.handler = handler;
    return () => (this.handler = null);
  }
  now(): Date {
    return new Date(0);
  }
  /** Deliver a signal to the command, as the process would. */
  signal(name: string): void {
    if (!this.handler) throw new Error('no signal handler installed');
    this.handler(name);
  }
  /** The command listens for signals (it is running). */
  get signalled(): boolean {
    return this.handler !== null;
  }
}

/** Poll `cond` every 10 ms for up to 5 s. */
export async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error('condition not met');
}
