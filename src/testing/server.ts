/**
 * FtpTestServer: a small, scriptable FTP server on loopback for testing gateways. In-memory
 * files, any login, both address families, all four data-channel modes, and a transcript of
 * every control line it received and sent. Any command's answer can be replaced by a script
 * (odd reply shapes, replies split across writes, delays, raw bytes, a passive reply naming an
 * address the client cannot reach, as a server in a container sends).
 */

import * as net from 'node:net';
import { NatAlgError } from '../core/errors.js';
import { canonicalAddress, endpoint, type Endpoint } from '../core/net/ip.js';
import { toFileMap, type FileMap } from './files.js';
import { formatPasvReply, type PasvShape } from './reply.js';
import { FtpServerSession, type CommandHandler, type DataConnectionRecord, type SessionConfig } from './server-session.js';
import type { ControlLine } from './transcript.js';

export interface FtpTestServerOptions {
  /** Address to listen on. Default '127.0.0.1'; '::1' for IPv6. */
  readonly host?: string;
  /** Default 0: any free port (see `endpoint` after `listen`). */
  readonly port?: number;
  /** Initial files, path -> content (strings are UTF-8). Paths are made absolute. */
  readonly files?: Record<string, Uint8Array | string> | Iterable<[string, Uint8Array | string]>;
  /** The 220 greeting; several lines make a multi-line greeting. */
  readonly greeting?: string | readonly string[];
  /** Address to name in 227 replies instead of the server's own (a server behind NAT does this). */
  readonly passiveAddress?: string;
  /** Accept PORT/EPRT naming another host than the client. Default false, as real servers. */
  readonly allowForeignDataAddress?: boolean;
  /** Accept PORT/EPRT naming a port below 1024. Default false. */
  readonly allowLowDataPorts?: boolean;
  /** How long to wait for a data connection or a transfer. Default 10 s. */
  readonly dataTimeoutMs?: number;
}

export class FtpTestServer {
  /** The in-memory file system: absolute path -> bytes. Tests read and change it freely. */
  readonly files: FileMap;
  /** Every control line of every session, in order of arrival and departure. */
  readonly transcript: ControlLine[] = [];
  /** Every data connection: who came to a passive listener, whom the server reached. */
  readonly dataConnections: DataConnectionRecord[] = [];
  readonly sessions: FtpServerSession[] = [];
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly server: net.Server;
  private readonly config: SessionConfig;
  private bound: Endpoint | null = null;

  constructor(private readonly options: FtpTestServerOptions = {}) {
    this.files = toFileMap(options.files);
    const greeting = options.greeting ?? 'nat-alg test server ready';
    this.config = {
      files: this.files,
      greeting: typeof greeting === 'string' ? [greeting] : greeting,
      passiveAddress: options.passiveAddress === undefined ? undefined : canonicalAddress(options.passiveAddress),
      allowForeignDataAddress: options.allowForeignDataAddress ?? false,
      allowLowDataPorts: options.allowLowDataPorts ?? false,
      dataTimeoutMs: options.dataTimeoutMs ?? 10_000,
      handlers: this.handlers,
      transcript: this.transcript,
      dataConnections: this.dataConnections,
    };
    this.server = net.createServer((socket) => {
      this.sessions.push(new FtpServerSession(this.sessions.length + 1, socket, this.config));
    });
  }

  /** Start listening; resolves with the bound endpoint. */
  listen(): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 0 }, () => {
        this.server.off('error', reject);
        const a = this.server.address() as net.AddressInfo;
        this.bound = endpoint(a.address, a.port);
        resolve(this.bound);
      });
    });
  }

  /** The bound endpoint; throws before `listen` has resolved. */
  get endpoint(): Endpoint {
    if (!this.bound) throw new NatAlgError('invalid-state', 'FtpTestServer: not listening');
    return this.bound;
  }

  /**
   * Replace the server's answer to `verb` (upper case; '*' for every command without a script
   * of its own; 'CONNECT' for the greeting of a new session, e.g. a server that never greets).
   * The script may call `ctx.runDefault()` to fall back to the built-in behaviour.
   */
  script(verb: string, handler: CommandHandler): this {
    this.handlers.set(verb.toUpperCase(), handler);
    return this;
  }

  /** Remove a script; the built-in behaviour answers again. */
  unscript(verb: string): this {
    this.handlers.delete(verb.toUpperCase());
    return this;
  }

  /** Answer `verb` with these exact bytes, cut into writes at `splitAt` offsets. */
  scriptRaw(verb: string, raw: string | Uint8Array, splitAt: readonly number[] = []): this {
    return this.script(verb, (ctx) => ctx.sendRaw(raw, { splitAt }));
  }

  /**
   * Answer PASV with a 227 in the given shape, naming `address` (default: the server's own, or
   * `passiveAddress`) and a real listener's port, optionally cut into writes at `splitAt`.
   */
  scriptPasv(shape: PasvShape, options: { address?: string; splitAt?: readonly number[] } = {}): this {
    return this.script('PASV', async (ctx) => {
      const listener = await ctx.openPassive();
      const address = options.address ?? this.config.passiveAddress ?? listener.address;
      await ctx.sendRaw(formatPasvReply(address, listener.port, shape), { splitAt: options.splitAt ?? [] });
    });
  }

  /** Lines the server received (commands), in order, without line ends. */
  received(session?: number): string[] {
    return this.linesOf('client', session);
  }

  /** Lines the server sent (replies), in order, without line ends. */
  sent(session?: number): string[] {
    return this.linesOf('server', session);
  }

  private linesOf(source: 'client' | 'server', session?: number): string[] {
    const lines = session === undefined ? this.transcript : (this.sessions[session - 1]?.transcript ?? []);
    return lines.filter((l) => l.source === source).map((l) => l.text);
  }

  /** Reset every session's control and data connections at once (a crashed server); keeps listening. */
  crash(): void {
    for (const s of this.sessions) s.crash();
  }

  /** Stop listening and close every session and data connection. */
  close(): Promise<void> {
    for (const s of this.sessions) s.close();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}
