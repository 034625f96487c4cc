/**
 * A tiny scriptable FTP server and a raw control client for the hostile-peer tests: the server
 * records every byte it receives and answers each command line with whatever the test says (in
 * as many writes as the test wants); the client sends raw bytes and reads whole replies.
 */

import { createServer, connect, type Server, type Socket } from 'node:net';

export type LineHandler = (line: string, control: Socket) => void | Promise<void>;

export class ScriptedServer {
  readonly server: Server;
  /** Every byte received on control connections, per connection, in order. */
  readonly received: Buffer[][] = [];
  private handler: LineHandler = (_line, c) => void c.write('200 OK\r\n');
  greeting = '220 scripted server ready\r\n';

  constructor() {
    this.server = createServer((c) => {
      c.setNoDelay(true);
      const chunks: Buffer[] = [];
      this.received.push(chunks);
      // Only the first 64 KiB of a line is kept for the handler; `received` has every byte.
      let parts: Buffer[] = [];
      let kept = 0;
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        let start = 0;
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, start)) {
          parts.push(d.subarray(start, i));
          const line = Buffer.concat(parts).toString('latin1').replace(/\r$/, '');
          parts = [];
          kept = 0;
          start = i + 1;
          void this.handler(line, c);
        }
        if (start < d.length && kept < 64 * 1024) {
          parts.push(d.subarray(start));
          kept += d.length - start;
        }
      });
      c.on('error', () => undefined);
      c.write(this.greeting);
    });
  }

  onLine(handler: LineHandler): void {
    this.handler = handler;
  }

  /** All bytes received on every connection so far. */
  allReceived(): Buffer {
    return Buffer.concat(this.received.flat());
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve) => {
      this.server.listen(0, host, () => {
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Connections a test left open must not keep close() waiting.
      (this.server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }
}

/** A raw control-channel client: bytes out, complete replies in. */
export class RawClient {
  readonly socket: Socket;
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      // A hostile server may send an endless line: keep only its tail.
      if (this.buf.length > 1 << 20) this.buf = this.buf.slice(-4096);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.destroyed) return resolve();
      if (this.socket.write(data)) return resolve();
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** The next complete reply (multi-line replies joined with CRLF), or null if the connection closed. */
  async reply(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.takeReply();
      if (r !== null) return r;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; have ${JSON.stringify(this.buf.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private takeReply(): string | null {
    const lines: string[] = [];
    let pos = 0;
    let code: string | null = null;
    for (;;) {
      const nl = this.buf.indexOf('\n', pos);
      if (nl < 0) return null;
      const line = this.buf.slice(pos, nl).replace(/\r$/, '');
      pos = nl + 1;
      lines.push(line);
      if (code === null) {
        const m = /^(\d{3})([ -])/.exec(line);
        if (!m) continue; // garbage before a reply: keep it with the reply
        if (m[2] === ' ') break;
        code = m[1] ?? '';
      } else if (line.startsWith(`${code} `)) {
        break;
      }
    }
    this.buf = this.buf.slice(pos);
    return lines.join('\r\n');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resident set size and its peak of a process, in bytes (Linux /proc). */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The first six comma-separated numbers in a line, as a PORT/227 endpoint. */
export function pasvEndpoint(reply: string): { host: string; port: number } {
  const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply);
  if (!m) throw new Error(`no address in ${JSON.stringify(reply)}`);
  const n = m.slice(1).map(Number);
  return { host: n.slice(0, 4).join('.'), port: (n[4] ?? 0) * 256 + (n[5] ?? 0) };
}

/** A one-shot data listener: sends `payload` to the first connection, then closes. */
export function listenOnce(host: string, payload: string): Promise<{ server: Server; port: number; peer: Promise<string> }> {
  return new Promise((resolve) => {
    let peerResolve: (addr: string) => void = () => undefined;
    const peer = new Promise<string>((r) => (peerResolve = r));
    const server = createServer((s) => {
      peerResolve(s.remoteAddress ?? '');
      s.end(payload);
      server.close();
    });
    server.listen(0, host, () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0, peer });
    });
  });
}

/** Connects and reads until the peer ends. */
export function readAll(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}
