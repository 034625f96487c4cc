/**
 * FtpTestClient: a small promise-based FTP client for tests. It does what ordinary clients do
 * (connects to the endpoint a 227 names, listens on its own control address for PORT/EPRT) so
 * that a gateway in between is really exercised, and it records every control line it sent and
 * received. Every wait has a deadline: a broken gateway fails a test instead of hanging it.
 */

import * as net from 'node:net';
import { NatAlgError } from '../core/errors.js';
import { endpoint, type Endpoint } from '../core/net/ip.js';
import { connectData, DataListener, FtpTestError, localEndpoint, readAll, remoteEndpoint, writeAll } from './data.js';
import { parseEpsvReply, parsePasvReply, ReplyReader, type FtpReply } from './reply.js';
import { fromLatin1, LineRecorder, type ControlLine } from './transcript.js';

/** How data connections are set up: the client connects (pasv, epsv) or listens (port, eprt). */
export type TransferMode = 'pasv' | 'epsv' | 'port' | 'eprt';

export interface FtpTestClientOptions {
  /** Data-channel mode for transfers. Default 'epsv'. */
  readonly mode?: TransferMode;
  /** Address to listen on in active modes. Default: the local address of the control connection. */
  readonly activeAddress?: string;
  /** Deadline for every reply and data connection. Default 10 s. */
  readonly timeoutMs?: number;
  /** Local address to connect from. */
  readonly localAddress?: string;
}

export class FtpTestClient {
  /** Every control line sent and received, in order. */
  readonly transcript: ControlLine[] = [];
  /** Data-connection peers: whom the client reached (passive) or who came (active). */
  readonly dataPeers: Endpoint[] = [];
  mode: TransferMode;
  greeting!: FtpReply;
  private readonly timeoutMs: number;
  private readonly replies: FtpReply[] = [];
  private waiter: ((r: FtpReply | Error) => void) | null = null;
  private closedError: Error | null = null;
  private readonly received: LineRecorder;
  private readonly sentLines: LineRecorder;
  private readonly reader = new ReplyReader();

  private constructor(
    private readonly socket: net.Socket,
    private readonly options: FtpTestClientOptions,
  ) {
    this.mode = options.mode ?? 'epsv';
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.received = new LineRecorder('server', this.transcript, (l) => {
      const r = this.reader.pushLine(l.text);
      if (r) this.deliver(r);
    });
    this.sentLines = new LineRecorder('client', this.transcript);
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.received.push(c));
    socket.on('end', () => this.received.end());
    socket.on('error', (e) => this.fail(new FtpTestError(`control connection failed: ${e.message}`)));
    socket.on('close', () => this.fail(new FtpTestError('control connection closed')));
  }

  /** Connect and read the greeting (which must be 220). */
  static async connect(target: { host: string; port: number } | Endpoint, options: FtpTestClientOptions = {}): Promise<FtpTestClient> {
    const host = 'address' in target ? target.address : target.host;
    const socket = await connectData(endpoint(host, target.port), options.timeoutMs ?? 10_000, options.localAddress);
    const client = new FtpTestClient(socket, options);
    try {
      client.greeting = await client.readReply();
    } catch (e) {
      client.close();
      throw e;
    }
    if (client.greeting.code !== 220) {
      client.close();
      throw new FtpTestError(`unexpected greeting: ${client.greeting.lines.join(' | ')}`, client.greeting.code);
    }
    return client;
  }

  /** The control connection's local and remote endpoints. */
  get local(): Endpoint {
    return localEndpoint(this.socket);
  }

  get remote(): Endpoint {
    return remoteEndpoint(this.socket);
  }

  /** Lines sent (commands) or received (replies), without line ends. */
  sent(): string[] {
    return this.transcript.filter((l) => l.source === 'client').map((l) => l.text);
  }

  receivedLines(): string[] {
    return this.transcript.filter((l) => l.source === 'server').map((l) => l.text);
  }

  private deliver(r: FtpReply): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(r);
    } else {
      this.replies.push(r);
    }
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    this.received.end();
    const w = this.waiter;
    this.waiter = null;
    w?.(e);
  }

  /** The next reply from the server (waits up to the deadline). */
  readReply(): Promise<FtpReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.waiter) return Promise.reject(new NatAlgError('invalid-state', 'FtpTestClient: a reply is already awaited'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new FtpTestError(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  /** Send bytes as they are on the control connection (recorded like everything else). */
  sendRaw(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? fromLatin1(data) : data;
    this.sentLines.push(bytes);
    this.socket.write(bytes);
  }

  /** Send one command line (CRLF added) and return the server's reply. */
  command(line: string): Promise<FtpReply> {
    this.sendRaw(`${line}\r\n`);
    return this.readReply();
  }

  /** Send a command and require a reply of class `expected` (2 for 2xx...). */
  async expect(line: string, expected: number): Promise<FtpReply> {
    const r = await this.command(line);
    if (Math.floor(r.code / 100) !== expected) throw new FtpTestError(`${line.split(' ')[0]}: ${r.lines.join(' | ')}`, r.code);
    return r;
  }

  async login(user = 'anonymous', password = 'nat-alg@example.com'): Promise<void> {
    const r = await this.command(`USER ${user}`);
    if (r.code === 230) return;
    if (r.code !== 331) throw new FtpTestError(`USER: ${r.lines.join(' | ')}`, r.code);
    await this.expect(`PASS ${password}`, 2);
  }

  async list(path?: string): Promise<string> {
    return new TextDecoder().decode(await this.transfer(path ? `LIST ${path}` : 'LIST', null));
  }

  async nlst(path?: string): Promise<string[]> {
    const text = new TextDecoder().decode(await this.transfer(path ? `NLST ${path}` : 'NLST', null));
    return text.split(/\r?\n/).filter((l) => l.length > 0);
  }

  retrieve(path: string): Promise<Uint8Array> {
    return this.transfer(`RETR ${path}`, null);
  }

  async store(path: string, bytes: Uint8Array | string): Promise<void> {
    await this.transfer(`STOR ${path}`, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  }

  async quit(): Promise<void> {
    try {
      await this.command('QUIT');
    } finally {
      this.close();
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /**
   * One transfer in the current mode: set up the data channel, send the command, move the
   * bytes (download when `upload` is null), and require 1xx then 2xx.
   */
  private async transfer(command: string, upload: Uint8Array | null): Promise<Uint8Array> {
    let data: Promise<net.Socket>;
    let listener: DataListener | null = null;
    if (this.mode === 'pasv' || this.mode === 'epsv') {
      const target = await this.passiveTarget();
      data = connectData(target, this.timeoutMs, this.local.address); // from the control connection's address, as real clients do
      data.catch(() => undefined);
    } else {
      listener = await DataListener.open(this.options.activeAddress ?? this.local.address);
      const ep = listener.endpoint;
      const line =
        this.mode === 'port'
          ? `PORT ${ep.address.split('.').join(',')},${ep.port >> 8},${ep.port & 0xff}`
          : `EPRT |${ep.family === 4 ? 1 : 2}|${ep.address}|${ep.port}|`;
      if (this.mode === 'port' && ep.family !== 4) {
        listener.close();
        throw new NatAlgError('invalid-argument', 'PORT needs an IPv4 address; use eprt');
      }
      try {
        await this.expect(line, 2);
      } catch (e) {
        listener.close();
        throw e;
      }
      data = listener.accept(this.timeoutMs);
    }
    const first = await this.command(command);
    if (Math.floor(first.code / 100) !== 1) {
      listener?.close();
      data.then((s) => s.destroy(), () => undefined);
      throw new FtpTestError(`${command.split(' ')[0]}: ${first.lines.join(' | ')}`, first.code);
    }
    const socket = await data;
    this.dataPeers.push(remoteEndpoint(socket));
    let result: Uint8Array = new Uint8Array(0);
    if (upload) await writeAll(socket, upload);
    else result = await readAll(socket);
    const done = await this.readReply();
    if (Math.floor(done.code / 100) !== 2) throw new FtpTestError(`${command.split(' ')[0]}: ${done.lines.join(' | ')}`, done.code);
    return result;
  }

  /** Where to connect for a passive transfer: the 227 address, or the control host for 229. */
  private async passiveTarget(): Promise<Endpoint> {
    if (this.mode === 'pasv') {
      const r = await this.expect('PASV', 2);
      const ep = parsePasvReply(r);
      if (r.code !== 227 || !ep) throw new FtpTestError(`unusable PASV reply: ${r.lines.join(' | ')}`, r.code);
      return endpoint(ep.address, ep.port);
    }
    const r = await this.expect('EPSV', 2);
    const port = parseEpsvReply(r);
    if (r.code !== 229 || port === null) throw new FtpTestError(`unusable EPSV reply: ${r.lines.join(' | ')}`, r.code);
    return endpoint(this.remote.address, port);
  }
}
