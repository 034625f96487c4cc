/**
 * Data connections for the test peers: a one-shot listener that records who connected, an
 * outgoing connection with a deadline, and whole-stream read/write helpers. Shared by the test
 * server and the test client so that both sides behave like ordinary FTP software: a passive
 * listener takes the first connection from whoever comes; an active side connects out.
 */

import * as net from 'node:net';
import { canonicalAddress, endpoint, type Endpoint } from '../core/net/ip.js';

/** Most bytes a test peer accepts in one transfer: test tools must not be a memory hole. */
export const MAX_TRANSFER_BYTES = 256 * 1024 * 1024;

export class FtpTestError extends Error {
  /** The reply code that caused the error, when a reply did. */
  readonly code: number | null;

  constructor(message: string, code: number | null = null) {
    super(message);
    this.name = 'FtpTestError';
    this.code = code;
  }
}

/** The remote endpoint of a connected socket, canonical (IPv4-mapped IPv6 shown as IPv4). */
export function remoteEndpoint(socket: net.Socket): Endpoint {
  return endpoint(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0);
}

export function localEndpoint(socket: net.Socket): Endpoint {
  return endpoint(socket.localAddress ?? '0.0.0.0', socket.localPort ?? 0);
}

/** A listener for exactly one data connection: the first to come is taken, later ones closed. */
export class DataListener {
  readonly endpoint: Endpoint;
  /** Every peer that connected, in order, including refused latecomers. */
  readonly arrivals: Endpoint[] = [];
  private accepted: Promise<net.Socket>;
  private settle!: (s: net.Socket) => void;
  private fail!: (e: Error) => void;
  private taken = false;

  private constructor(
    private readonly server: net.Server,
    ep: Endpoint,
  ) {
    this.endpoint = ep;
    this.accepted = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    this.accepted.catch(() => undefined); // awaited later, maybe never
    server.on('connection', (socket) => {
      this.arrivals.push(remoteEndpoint(socket));
      if (this.taken) {
        socket.destroy();
        return;
      }
      this.taken = true;
      server.close();
      this.settle(socket);
    });
  }

  static async open(host: string): Promise<DataListener> {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    return new DataListener(server, endpoint(canonicalAddress(a.address), a.port));
  }

  /** The accepted socket (paused until read), or an error after `timeoutMs` with nobody. */
  accept(timeoutMs: number): Promise<net.Socket> {
    const timer = setTimeout(() => {
      this.fail(new FtpTestError(`no data connection to ${this.endpoint.address}:${this.endpoint.port} within ${timeoutMs} ms`));
      this.close();
    }, timeoutMs);
    return this.accepted.finally(() => clearTimeout(timer));
  }

  close(): void {
    this.taken = true;
    this.server.close();
    this.fail(new FtpTestError('data listener closed'));
  }
}

/** Connect to `target`, optionally from `localAddress`, failing after `timeoutMs`. */
export function connectData(target: Endpoint, timeoutMs: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.address, port: target.port, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FtpTestError(`data connection to ${target.address}:${target.port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (e: Error) => {
      clearTimeout(timer);
      reject(new FtpTestError(`data connection to ${target.address}:${target.port} failed: ${e.message}`));
    };
    socket.once('error', onError);
  });
}

/** Everything the peer sends until it closes its side, then the socket is closed. */
export function readAll(socket: net.Socket, limit = MAX_TRANSFER_BYTES): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        socket.destroy();
        reject(new FtpTestError(`transfer larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    socket.once('end', () => {
      socket.end();
      resolve(new Uint8Array(Buffer.concat(chunks, size)));
    });
    socket.once('error', (e) => reject(new FtpTestError(`data connection failed: ${e.message}`)));
    socket.resume();
  });
}

/** Write all bytes, close our side, and wait until the peer has closed too. */
export function writeAll(socket: net.Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', (e) => reject(new FtpTestError(`data connection failed: ${e.message}`)));
    socket.once('close', () => resolve());
    socket.on('data', () => undefined); // drain anything the peer sends so its FIN is seen
    socket.resume();
    socket.end(bytes);
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
