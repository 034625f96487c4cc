// A TCP peer for the nftables data-plane tests, run inside a namespace with `node peer.mjs`.
// Prints one JSON object per line on stdout.
//
//   listen HOST PORT SEND          accept connections; to each send SEND random bytes and close
//                                  our side; report who connected and digests both ways
//   connect HOST PORT SEND [--from ADDR] [--hold MS] [--more N] [--timeout MS]
//                                  connect, send SEND random bytes (then wait MS and send N more),
//                                  half-close, read until the other side closes; report digests
//   pipe HOST PORT TOHOST TOPORT   a plain Node relay: accept, connect on, pipe both ways
//   --fast (listen, connect)       no digests: for throughput runs, where SHA-256 would be the
//                                  bottleneck rather than the path under test
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

const [mode, host, portText, sendText, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : dflt;
};
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const CHUNK = randomBytes(1 << 20);
const FAST = rest.includes('--fast');
const NO_HASH = { update() {}, digest: () => '' };
const hasher = () => (FAST ? NO_HASH : createHash('sha256'));

/** Writes `n` bytes (slices of one random megabyte, rotated) with backpressure; hashes them. */
function pump(sock, n, hash, done) {
  let left = n;
  let turn = 0;
  const step = () => {
    while (left > 0) {
      const off = (turn++ * 7919) % 4096;
      const c = CHUNK.subarray(off, off + Math.min(left, CHUNK.length - off));
      left -= c.length;
      hash.update(c);
      if (!sock.write(c)) return void sock.once('drain', step);
    }
    done();
  };
  step();
}

if (mode === 'listen') {
  const send = Number(sendText);
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    const from = s.remoteAddress;
    const fromPort = s.remotePort;
    out({ event: 'accepted', from, fromPort });
    const rx = hasher();
    const tx = hasher();
    let bytes = 0;
    let failure = null;
    s.on('data', (d) => {
      rx.update(d);
      bytes += d.length;
    });
    s.on('error', (e) => {
      failure = e.code ?? e.message;
    });
    pump(s, send, tx, () => s.end());
    s.on('close', () => out({ event: 'received', from, fromPort, bytes, sha256: rx.digest('hex'), sentSha256: tx.digest('hex'), failure }));
  });
  srv.listen({ host, port: Number(portText) }, () => out({ event: 'listening' }));
} else if (mode === 'connect') {
  const send = Number(sendText);
  const hold = Number(opt('--hold', '0'));
  const more = Number(opt('--more', '0'));
  const from = opt('--from', undefined);
  const timeout = Number(opt('--timeout', '3000'));
  const t0 = process.hrtime.bigint();
  const rx = hasher();
  const tx = hasher();
  let bytes = 0;
  let connected = false;
  let localPort = null;
  let failure = null;
  const s = net.connect({ host, port: Number(portText), allowHalfOpen: true, ...(from ? { localAddress: from } : {}) });
  const timer = setTimeout(() => {
    out({ event: 'timeout', connected });
    process.exit(2);
  }, timeout);
  s.on('connect', () => {
    connected = true;
    localPort = s.localPort;
    clearTimeout(timer);
    pump(s, send, tx, () => {
      if (hold <= 0) return void s.end();
      setTimeout(() => pump(s, more, tx, () => s.end()), hold);
    });
  });
  s.on('data', (d) => {
    rx.update(d);
    bytes += d.length;
  });
  s.on('error', (e) => {
    failure = e.code ?? e.message;
  });
  s.on('close', () => {
    clearTimeout(timer);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    out({ event: connected ? 'done' : 'error', connected, failure, localPort, ms, sentSha256: tx.digest('hex'), bytes, sha256: rx.digest('hex') });
    process.exit(0);
  });
} else if (mode === 'pipe') {
  const [toHost, toPort] = [sendText, rest[0]];
  const srv = net.createServer({ allowHalfOpen: true }, (a) => {
    const b = net.connect({ host: toHost, port: Number(toPort), allowHalfOpen: true });
    a.pipe(b);
    b.pipe(a);
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  });
  srv.listen({ host, port: Number(portText) }, () => out({ event: 'listening' }));
} else {
  process.stderr.write('usage: peer.mjs listen|connect ...\n');
  process.exit(64);
}
