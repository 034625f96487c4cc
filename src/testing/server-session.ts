/**
 * One control connection of the test FTP server: reads commands one at a time, answers them
 * with the built-in behaviour or with a script installed on the server, and runs the data
 * connections. It behaves like common server software where it matters to a gateway: PORT/EPRT
 * must name the client's own address and an unprivileged port, and the server connects out to
 * that endpoint; a passive listener takes whoever connects first and records who it was.
 */

import type * as net from 'node:net';
import { parseAddress, type Endpoint } from '../core/net/ip.js';
import { connectData, DataListener, delay, localEndpoint, readAll, remoteEndpoint, writeAll } from './data.js';
import { isDirectory, listDirectory, listLine, resolvePath, type FileMap } from './files.js';
import { parseEprt, parsePort } from './data-commands.js';
import { formatEpsvReply, formatPasvReply, formatReply } from './reply.js';
import { fromLatin1, LineRecorder, type ControlLine } from './transcript.js';

/** Longest command line the server reads; longer ones are answered 500 and skipped. */
export const MAX_COMMAND_LINE = 4096;

export interface DataConnectionRecord {
  readonly session: number;
  readonly mode: 'active' | 'passive';
  /** The command that set the channel up (PORT, EPRT, PASV, EPSV). */
  readonly command: string;
  /** The peer of the data connection: who came (passive) or whom the server reached (active). */
  readonly remote: Endpoint;
  readonly local: Endpoint;
}

/** What a script sees when it handles a command. */
export interface CommandContext {
  readonly session: FtpServerSession;
  /** The verb, upper case. */
  readonly verb: string;
  /** Everything after the first space, as received. */
  readonly argument: string;
  /** Send a reply; several lines make a multi-line reply. */
  reply(code: number, text: string | readonly string[]): Promise<void>;
  /** Send bytes as they are, optionally in pieces cut at the given offsets, with a pause between. */
  sendRaw(data: string | Uint8Array, options?: { splitAt?: readonly number[]; pauseMs?: number }): Promise<void>;
  delay(ms: number): Promise<void>;
  /** Run the server's own handling of this command (for example after a delay). */
  runDefault(): Promise<void>;
  /** Open a passive data listener, as PASV would, without replying: the script words the reply. */
  openPassive(): Promise<Endpoint>;
}

export type CommandHandler = (ctx: CommandContext) => void | Promise<void>;

export interface SessionConfig {
  readonly files: FileMap;
  readonly greeting: readonly string[];
  readonly passiveAddress: string | undefined;
  readonly allowForeignDataAddress: boolean;
  readonly allowLowDataPorts: boolean;
  readonly dataTimeoutMs: number;
  readonly handlers: ReadonlyMap<string, CommandHandler>;
  readonly transcript: ControlLine[];
  readonly dataConnections: DataConnectionRecord[];
}

type PendingData =
  | { readonly kind: 'passive'; readonly command: string; readonly listener: DataListener }
  | { readonly kind: 'active'; readonly command: string; readonly target: Endpoint };

const OPEN_BEFORE_LOGIN = new Set(['USER', 'PASS', 'QUIT', 'FEAT', 'SYST', 'NOOP', 'HELP']);

export class FtpServerSession {
  readonly transcript: ControlLine[] = [];
  /** The client's control endpoint, as the server sees it. */
  readonly client: Endpoint;
  /** The server's own control endpoint (the address the client reached). */
  readonly local: Endpoint;
  cwd = '/';
  user: string | null = null;
  loggedIn = false;
  epsvAll = false;
  private pending: PendingData | null = null;
  private readonly received: LineRecorder;
  private readonly sent: LineRecorder;
  private partial = '';
  private skipping = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly dataSockets = new Set<net.Socket>();
  private closed = false;

  constructor(
    readonly id: number,
    private readonly socket: net.Socket,
    private readonly config: SessionConfig,
  ) {
    this.client = remoteEndpoint(socket);
    this.local = localEndpoint(socket);
    const share = (l: ControlLine) => config.transcript.push(l);
    this.received = new LineRecorder('client', this.transcript, share);
    this.sent = new LineRecorder('server', this.transcript, share);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.received.end();
      socket.end();
    });
    socket.on('error', () => undefined); // a vanished client is normal
    socket.on('close', () => this.close());
    this.enqueue(() => this.greet());
  }

  /** The greeting, or the 'CONNECT' script (a silent, slow or odd server says hello its way). */
  private async greet(): Promise<void> {
    const runDefault = () => this.write(formatReply(220, this.config.greeting));
    const script = this.config.handlers.get('CONNECT');
    if (!script) return runDefault();
    await script(this.context('CONNECT', '', runDefault));
  }

  private context(verb: string, argument: string, runDefault: () => Promise<void>): CommandContext {
    return {
      session: this,
      verb,
      argument,
      reply: (code, text) => this.reply(code, text),
      sendRaw: (data, options) => this.sendRaw(data, options?.splitAt ?? [], options?.pauseMs ?? 20),
      delay,
      runDefault,
      openPassive: async () => (await this.openPassive(verb)).endpoint,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropPending();
    for (const s of this.dataSockets) s.destroy();
    this.socket.destroy();
  }

  /** Like close, but every connection is reset (RST), as a crashed server's often are. */
  crash(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropPending();
    for (const s of this.dataSockets) if (!s.destroyed) s.resetAndDestroy();
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    this.received.push(chunk);
    let text = this.partial + chunk.toString('latin1');
    let lf = text.indexOf('\n');
    while (lf >= 0) {
      const line = text.slice(0, lf).replace(/\r$/, '');
      text = text.slice(lf + 1);
      if (this.skipping) this.skipping = false;
      else if (line.length > MAX_COMMAND_LINE) this.enqueue(() => this.reply(500, 'Command line too long'));
      else this.enqueue(() => this.handleLine(line));
      lf = text.indexOf('\n');
    }
    if (text.length > MAX_COMMAND_LINE) {
      text = '';
      if (!this.skipping) this.enqueue(() => this.reply(500, 'Command line too long'));
      this.skipping = true;
    }
    this.partial = this.skipping ? '' : text;
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(() => (this.closed ? undefined : task())).catch(() => this.close());
  }

  private async handleLine(line: string): Promise<void> {
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const argument = space < 0 ? '' : line.slice(space + 1);
    const script = this.config.handlers.get(verb) ?? this.config.handlers.get('*');
    const runDefault = () => this.dispatch(verb, argument);
    if (!script) return runDefault();
    await script(this.context(verb, argument, runDefault));
  }

  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? fromLatin1(data) : data;
    this.sent.push(bytes);
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  reply(code: number, text: string | readonly string[]): Promise<void> {
    return this.write(formatReply(code, text));
  }

  async sendRaw(data: string | Uint8Array, splitAt: readonly number[], pauseMs: number): Promise<void> {
    const bytes = typeof data === 'string' ? fromLatin1(data) : data;
    let from = 0;
    for (const cut of [...splitAt].sort((a, b) => a - b)) {
      if (cut <= from || cut >= bytes.length) continue;
      await this.write(bytes.subarray(from, cut));
      await delay(pauseMs);
      from = cut;
    }
    await this.write(bytes.subarray(from));
  }

  private async dispatch(verb: string, arg: string): Promise<void> {
    if (!this.loggedIn && !OPEN_BEFORE_LOGIN.has(verb)) return this.reply(530, 'Please login with USER and PASS');
    switch (verb) {
      case 'USER':
        this.user = arg;
        return this.reply(331, 'Any password will do');
      case 'PASS':
        if (this.user === null) return this.reply(503, 'Login with USER first');
        this.loggedIn = true;
        return this.reply(230, 'Login successful');
      case 'SYST':
        return this.reply(215, 'UNIX Type: L8');
      case 'FEAT':
        return this.reply(211, ['Features:', 'EPRT', 'EPSV', 'PASV', 'SIZE', 'UTF8', 'End']);
      case 'NOOP':
        return this.reply(200, 'NOOP ok');
      case 'TYPE':
        return /^[AI]( N)?$/i.test(arg) ? this.reply(200, `Type set to ${arg.charAt(0).toUpperCase()}`) : this.reply(504, 'Type not supported');
      case 'PWD':
        return this.reply(257, `"${this.cwd}" is the current directory`);
      case 'CWD': {
        const dir = resolvePath(this.cwd, arg);
        if (!isDirectory(this.config.files, dir)) return this.reply(550, 'No such directory');
        this.cwd = dir;
        return this.reply(250, 'Directory changed');
      }
      case 'SIZE': {
        const f = this.config.files.get(resolvePath(this.cwd, arg));
        return f ? this.reply(213, String(f.length)) : this.reply(550, 'No such file');
      }
      case 'DELE':
        return this.config.files.delete(resolvePath(this.cwd, arg)) ? this.reply(250, 'Deleted') : this.reply(550, 'No such file');
      case 'QUIT':
        await this.reply(221, 'Goodbye');
        this.socket.end();
        return;
      case 'PASV':
      case 'EPSV':
        return this.passiveCommand(verb, arg);
      case 'PORT':
      case 'EPRT':
        return this.activeCommand(verb, arg);
      case 'LIST':
      case 'NLST':
        return this.listCommand(verb, arg);
      case 'RETR':
        return this.retrieve(arg);
      case 'STOR':
        return this.store(arg);
      default:
        return this.reply(502, 'Command not implemented');
    }
  }

  private async passiveCommand(verb: string, arg: string): Promise<void> {
    if (verb === 'EPSV' && arg.toUpperCase() === 'ALL') {
      this.epsvAll = true;
      return this.reply(200, 'EPSV ALL ok');
    }
    if (verb === 'PASV' && this.epsvAll) return this.reply(500, 'PASV not allowed after EPSV ALL');
    const af = this.local.family === 4 ? '1' : '2';
    if (verb === 'EPSV' && arg !== '' && arg !== af) return this.reply(522, `Network protocol not supported, use (${af})`);
    const advertised = this.config.passiveAddress ?? this.local.address;
    if (verb === 'PASV' && parseAddress(advertised)?.family !== 4) return this.reply(425, 'PASV needs IPv4, use EPSV');
    const listener = await this.openPassive(verb);
    const port = listener.endpoint.port;
    return this.write(verb === 'PASV' ? formatPasvReply(advertised, port) : formatEpsvReply(port));
  }

  private async openPassive(command: string): Promise<DataListener> {
    this.dropPending();
    const listener = await DataListener.open(this.local.address);
    this.pending = { kind: 'passive', command, listener };
    return listener;
  }

  private async activeCommand(verb: string, arg: string): Promise<void> {
    if (this.epsvAll) return this.reply(500, `${verb} not allowed after EPSV ALL`);
    const target = verb === 'PORT' ? parsePort(arg) : parseEprt(arg);
    if (target === 'family') return this.reply(522, `Network protocol not supported, use (${this.local.family === 4 ? 1 : 2})`);
    if (target === null) return this.reply(501, `Syntax error in ${verb} argument`);
    if (target.family !== this.local.family) return this.reply(522, `Network protocol not supported, use (${this.local.family === 4 ? 1 : 2})`);
    if (!this.config.allowForeignDataAddress && target.address !== this.client.address) return this.reply(500, `Illegal ${verb} command: not your address`);
    if (!this.config.allowLowDataPorts && target.port < 1024) return this.reply(500, `Illegal ${verb} command: privileged port`);
    this.dropPending();
    this.pending = { kind: 'active', command: verb, target };
    return this.reply(200, `${verb} command successful`);
  }

  private dropPending(): void {
    if (this.pending?.kind === 'passive') this.pending.listener.close();
    this.pending = null;
  }

  /** The data connection of the pending channel, or null after replying 425. */
  private async openData(): Promise<net.Socket | null> {
    const p = this.pending;
    this.pending = null;
    if (!p) {
      await this.reply(425, 'Use PORT, EPRT, PASV or EPSV first');
      return null;
    }
    try {
      const socket =
        p.kind === 'passive' ? await p.listener.accept(this.config.dataTimeoutMs) : await connectData(p.target, this.config.dataTimeoutMs, this.local.address);
      this.dataSockets.add(socket);
      socket.on('close', () => this.dataSockets.delete(socket));
      socket.on('error', () => undefined);
      this.config.dataConnections.push({ session: this.id, mode: p.kind, command: p.command, remote: remoteEndpoint(socket), local: localEndpoint(socket) });
      return socket;
    } catch {
      await this.reply(425, "Can't open data connection");
      return null;
    }
  }

  private async listCommand(verb: string, arg: string): Promise<void> {
    const path = resolvePath(this.cwd, arg.startsWith('-') ? '' : arg);
    const file = this.config.files.get(path);
    let text: string;
    if (file) text = verb === 'NLST' ? `${arg}\r\n` : listLine(path.slice(path.lastIndexOf('/') + 1), file.length);
    else if (isDirectory(this.config.files, path)) {
      text = listDirectory(this.config.files, path)
        .map((e) => (verb === 'NLST' ? `${e.name}\r\n` : listLine(e.name, e.size)))
        .join('');
    } else {
      this.dropPending();
      return this.reply(550, 'No such file or directory');
    }
    return this.send(fromLatin1(text), 'listing');
  }

  private async retrieve(arg: string): Promise<void> {
    const path = resolvePath(this.cwd, arg);
    const file = this.config.files.get(path);
    if (!file) {
      this.dropPending();
      return this.reply(550, 'No such file');
    }
    return this.send(file, `${path} (${file.length} bytes)`);
  }

  private async send(bytes: Uint8Array, what: string): Promise<void> {
    const socket = await this.openData();
    if (!socket) return;
    await this.reply(150, `Opening BINARY mode data connection for ${what}`);
    try {
      await withTimeout(writeAll(socket, bytes), this.config.dataTimeoutMs);
    } catch {
      socket.destroy();
      return this.reply(426, 'Connection closed; transfer aborted');
    }
    return this.reply(226, 'Transfer complete');
  }

  private async store(arg: string): Promise<void> {
    const path = resolvePath(this.cwd, arg);
    const socket = await this.openData();
    if (!socket) return;
    await this.reply(150, 'Ok to send data');
    try {
      const bytes = await withTimeout(readAll(socket), this.config.dataTimeoutMs);
      this.config.files.set(path, bytes);
    } catch {
      socket.destroy();
      return this.reply(426, 'Connection closed; transfer aborted');
    }
    return this.reply(226, 'Transfer complete');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
