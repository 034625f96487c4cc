/**
 * The lab's scripted IRC client (irc-client.mjs) driven from tests: started in a namespace with
 * `node irc-client.mjs --host H --port P --nick N --role send|receive|idle ...` (the options are
 * IrcClientOptions, one flag each; the script's header says what each role does), its JSON-lines
 * report collected as it comes, so a test can wait for one step ("registered") before starting
 * the next client and check every step at the end. The relay tests reuse it unchanged: point
 * `host`/`port` at the relay and read the offers each side saw.
 */

import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Side, Topology } from './netns.js';

export const IRC_CLIENT_SCRIPT = join(import.meta.dirname, 'irc-client.mjs');

export type IrcClientRole = 'send' | 'receive' | 'idle' | 'chat-offer' | 'chat-accept';

export interface IrcClientOptions {
  readonly host: string;
  readonly port: number;
  readonly nick: string;
  readonly role: IrcClientRole;
  /** send: whom to offer to; receive: only offers from this nick. */
  readonly peer?: string;
  /** send: the file to offer. */
  readonly file?: string;
  /** send: the name in the offer (default: the file's base name). */
  readonly name?: string;
  /** send: offer port 0 and a token (reverse DCC). */
  readonly passive?: boolean;
  /** How to write an IPv4 address in offers and answers (default integer). */
  readonly addressForm?: 'integer' | 'ipv4-text';
  /** Address to put in offers and answers (default: the address the DCC socket listens on). */
  readonly advertise?: string;
  /** Port to put in offers and answers instead of the one really listened on. */
  readonly advertisePort?: number;
  /** Address to listen on for DCC (default: the local address of the IRC connection). */
  readonly dccListen?: string;
  /** receive: where to write the received bytes. */
  readonly out?: string;
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** idle: how long to stay registered. */
  readonly lingerMs?: number;
  /** idle: raw bytes to send once registered (and once `peer` is online, when given). */
  readonly sendRaw?: readonly Uint8Array[];
  /** idle: quit as soon as a PRIVMSG with this text arrives (instead of after lingerMs). */
  readonly quitOn?: string;
  /** receive: ask to resume at this position (DCC RESUME/ACCEPT) before fetching the rest. */
  readonly resumeFrom?: number;
  /** Write every line one byte per write. */
  readonly bytewise?: boolean;
  /** idle: after the raw bytes, a PRIVMSG to `peer` of this many more bytes without a line end. */
  readonly sendEndless?: number;
}

/** One line of the client's report. `event` names the step; the other fields depend on it. */
export interface IrcClientEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export function ircClientArgs(o: IrcClientOptions): string[] {
  const args = [IRC_CLIENT_SCRIPT, '--host', o.host, '--port', String(o.port), '--nick', o.nick, '--role', o.role];
  const add = (flag: string, value: string | number | undefined): void => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add('--peer', o.peer);
  add('--file', o.file);
  add('--name', o.name);
  if (o.passive === true) args.push('--passive');
  add('--address-form', o.addressForm);
  add('--advertise', o.advertise);
  add('--advertise-port', o.advertisePort);
  add('--dcc-listen', o.dccListen);
  add('--out', o.out);
  add('--timeout-ms', o.timeoutMs);
  add('--connect-timeout-ms', o.connectTimeoutMs);
  add('--linger-ms', o.lingerMs);
  add('--quit-on', o.quitOn);
  add('--resume-from', o.resumeFrom);
  if (o.bytewise === true) args.push('--bytewise');
  add('--send-endless', o.sendEndless);
  for (const raw of o.sendRaw ?? []) args.push('--send-hex', Buffer.from(raw).toString('hex'));
  return args;
}

export interface IrcClientResult {
  readonly code: number | null;
  readonly events: readonly IrcClientEvent[];
  readonly stderr: string;
}

export class IrcClientRun {
  readonly process: ChildProcess;
  readonly events: IrcClientEvent[] = [];
  readonly finished: Promise<IrcClientResult>;
  private stderr = '';
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(child: ChildProcess) {
    this.process = child;
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as IrcClientEvent);
        } catch {
          this.events.push({ event: 'unparsed-output', line });
        }
        this.wake();
      }
    });
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.finished = new Promise((resolve) => {
      // 'close', not 'exit': by then every line the client wrote has been read.
      child.once('close', (code) => {
        this.closed = true;
        this.wake();
        resolve({ code, events: this.events, stderr: this.stderr });
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  find(event: string): IrcClientEvent | undefined {
    return this.events.find((e) => e.event === event);
  }

  /** Resolves with the first `event`; rejects when the client exits or reports an error first. */
  async waitFor(event: string, timeoutMs = 15_000): Promise<IrcClientEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(event);
      if (found) return found;
      const error = this.find('error');
      if (error) throw new Error(`irc client failed before ${event}: ${JSON.stringify(error)}`);
      if (this.closed) {
        throw new Error(`irc client exited before ${event}: ${JSON.stringify(this.events)} ${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`irc client: no ${event} after ${timeoutMs} ms: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Starts the client in `side` of `topo`. */
export function startIrcClient(topo: Topology, side: Side, o: IrcClientOptions): IrcClientRun {
  return new IrcClientRun(topo.spawn(side, process.execPath, ircClientArgs(o)));
}
