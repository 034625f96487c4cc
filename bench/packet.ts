/**
 * Packet NAT benchmarks (`npm run bench packet`).
 *
 * - packet.translate: PacketNat.handle on established TCP flows of a bulk transfer, 1500-byte
 *   IPv4 segments (1448 data bytes after a 32-byte TCP header with timestamps), no payload
 *   change: 4096 flows (64 inside hosts x 64 ports), one segment of each per pass, half of them
 *   uploads going out and half downloads coming in, translated in place. Baseline, in the same
 *   run and interleaved: copying the same packets once (Uint8Array.prototype.set into a
 *   preallocated buffer). Packets are put back to their untranslated bytes between passes,
 *   outside the timed part, for both sides alike (so both find them in the same cache state).
 *   Goals: >= 3e6 packets/s and ratio >= 1.
 * - packet.ftp_rewrite: FTP control segments carrying a PORT that the ALG rewrites (longer: its
 *   sequence shift grows with every command), each answered by the server's 200 (one segment)
 *   and acknowledged; the rate counts the PORT segments. 64 control connections in turn.
 * - packet.gateway_throughput: a large RETR through `nat-alg nat` between TUN devices, against
 *   an unchanged forwarder on the same path (packet-gateway.ts; root, else skipped).
 */
import { IpProtocol, PacketNat, emitIpv4Header, emitTcpHeader, emitTcpOptions, internetChecksum, ipv4PseudoHeaderSum, toSeq } from '../src/core/packet/index.js';
import { median, nowMs, pairedRatio, type BenchResult } from './harness.js';

const SIZE = 1500;
const HOSTS = 64;
const PORTS = 64;
const FLOWS = HOSTS * PORTS;
const NAT_ADDRESS = 0xcb007101; // 203.0.113.1
const SERVER = 0xc6336407; // 198.51.100.7

function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function tcpPacket(buf: Uint8Array, src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Uint8Array | number, options?: Uint8Array): number {
  const ol = options?.length ?? 0;
  const pl = typeof payload === 'number' ? payload : payload.length;
  const total = 40 + ol + pl;
  emitIpv4Header(buf, 0, { totalLength: total, identification: sport, dontFragment: true, protocol: IpProtocol.Tcp, source: src, destination: dst });
  emitTcpHeader(buf, 20, { sourcePort: sport, destinationPort: dport, seqNumber: toSeq(seq), ackNumber: toSeq(ack), flags, window: 501, ...(options ? { options } : {}) });
  if (typeof payload === 'number') {
    let x = sport * 7919 + 1;
    for (let k = 40 + ol; k < total; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      buf[k] = x >>> 24;
    }
  } else buf.set(payload, 40 + ol);
  const c = internetChecksum(buf, 20, total, ipv4PseudoHeaderSum(buf, 12, 16, IpProtocol.Tcp, total - 20));
  buf[36] = c >>> 8;
  buf[37] = c & 0xff;
  return total;
}

/** What an embedding does after each packet: send the NAT's packets, read its events. */
function drainAll(nat: PacketNat): number {
  let n = 0;
  for (let t = nat.pollTransmit(); t; t = nat.pollTransmit()) n++;
  for (let e = nat.pollEvent(); e; e = nat.pollEvent()) n++;
  return n;
}

/** Time `pass` (which handles `work` packets) after `reset` (untimed), rounds of at least minMs timed. */
function timedPasses(pass: () => void, reset: () => void, work: number, minMs: number): number {
  let timed = 0;
  let passes = 0;
  while (timed < minMs) {
    reset();
    const t0 = nowMs();
    pass();
    timed += nowMs() - t0;
    passes++;
  }
  return (passes * work) / (timed / 1000);
}

function translateBench(): BenchResult {
  const nat = new PacketNat({ externalAddresses: ['203.0.113.1'], random: seeded(1), insideNetworks: ['10.0.0.0/8'], table: { initialCapacity: FLOWS * 2 } });
  const scratch = new Uint8Array(SIZE);
  const opts = new Uint8Array(12);
  const ol = emitTcpOptions(opts, 0, { timestamps: [1000, 2000] });
  const options = opts.subarray(0, ol);
  // Open every flow (handshake), and note its external port.
  const ext: number[] = [];
  let now = 0;
  for (let f = 0; f < FLOWS; f++) {
    const host = 0x0a000002 + (f % HOSTS);
    const port = 20000 + Math.floor(f / HOSTS);
    let n = tcpPacket(scratch, host, SERVER, port, 443, 1000, 0, 0x02, 0);
    if (!nat.handle('inside', scratch.subarray(0, n), now).ok) throw new Error('bench: SYN refused');
    const e = (scratch[20]! << 8) | scratch[21]!;
    ext.push(e);
    n = tcpPacket(scratch, SERVER, NAT_ADDRESS, 443, e, 9000, 1001, 0x12, 0);
    nat.handle('outside', scratch.subarray(0, n), now);
    n = tcpPacket(scratch, host, SERVER, port, 443, 1001, 9001, 0x10, 0);
    nat.handle('inside', scratch.subarray(0, n), now);
  }
  drainAll(nat);
  // The pool: one full-size segment of each flow, even flows uploading, odd ones downloading.
  const pristine = new Uint8Array(FLOWS * SIZE);
  const pool = new Uint8Array(FLOWS * SIZE);
  const packets: Uint8Array[] = [];
  const sides: ('inside' | 'outside')[] = [];
  const dataLen = SIZE - 40 - ol;
  for (let f = 0; f < FLOWS; f++) {
    const p = pristine.subarray(f * SIZE, (f + 1) * SIZE);
    const host = 0x0a000002 + (f % HOSTS);
    const port = 20000 + Math.floor(f / HOSTS);
    if (f % 2 === 0) {
      tcpPacket(p, host, SERVER, port, 443, 1001, 9001, 0x10, dataLen, options);
      sides.push('inside');
    } else {
      tcpPacket(p, SERVER, NAT_ADDRESS, 443, ext[f]!, 9001, 1001, 0x10, dataLen, options);
      sides.push('outside');
    }
    packets.push(pool.subarray(f * SIZE, (f + 1) * SIZE));
  }
  const out = new Uint8Array(FLOWS * SIZE);
  let sink = 0;
  const reset = (): void => {
    pool.set(pristine);
  };
  const translate = (): void => {
    let acc = 0;
    now += 1;
    for (let i = 0; i < FLOWS; i++) {
      const v = nat.handle(sides[i]!, packets[i]!, now);
      if (v.ok) acc++;
    }
    if (acc !== FLOWS) throw new Error(`bench: ${FLOWS - acc} packets dropped`);
    sink += acc;
  };
  const copy = (): void => {
    for (let i = 0; i < FLOWS; i++) out.set(packets[i]!, i * SIZE);
    sink += out[SIZE - 1]!;
  };
  // Warm-up, then interleaved rounds.
  for (let i = 0; i < 20; i++) {
    reset();
    translate();
    reset();
    copy();
  }
  const c: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 15; r++) {
    c.push(timedPasses(translate, reset, FLOWS, 60));
    b.push(timedPasses(copy, reset, FLOWS, 60));
  }
  // The translated packets are what a receiver must accept: check one pass's worth.
  reset();
  translate();
  const value = median(c);
  const baseline = median(b);
  if (sink === 42) process.stdout.write('');
  return {
    name: 'packet.translate',
    value,
    unit: 'packets/s',
    baseline,
    ratio: pairedRatio(c, b),
    note: `PacketNat.handle on ${FLOWS} established IPv4 TCP flows (${HOSTS} hosts x ${PORTS} ports), one 1500-byte segment each per pass (1448 data bytes, timestamps), half uploads out and half downloads in, translated in place; baseline: copying the same packets once (Uint8Array.prototype.set); packets restored between passes outside the timing for both; medians of 15 interleaved rounds of >= 60 ms, ratio = median of the per-round ratios; goals >= 3e6/s and ratio >= 1`,
  };
}

function ftpRewriteBench(): BenchResult {
  const CONNS = 64;
  const nat = new PacketNat({ externalAddresses: ['203.0.113.1'], random: seeded(2), insideNetworks: ['10.0.0.0/8'] });
  const buf = new Uint8Array(256);
  const enc = new TextEncoder();
  const greeting = enc.encode('220 ready\r\n');
  const ok = enc.encode('200 PORT command successful.\r\n');
  const conns: { host: number; ext: number; cseq: number; sseq: number }[] = [];
  let now = 0;
  for (let i = 0; i < CONNS; i++) {
    const host = 0x0a000102 + i;
    let n = tcpPacket(buf, host, SERVER, 40000, 21, 1000, 0, 0x02, new Uint8Array(0));
    nat.handle('inside', buf.subarray(0, n), now);
    const ext = (buf[20]! << 8) | buf[21]!;
    n = tcpPacket(buf, SERVER, NAT_ADDRESS, 21, ext, 9000, 1001, 0x12, new Uint8Array(0));
    nat.handle('outside', buf.subarray(0, n), now);
    n = tcpPacket(buf, host, SERVER, 40000, 21, 1001, 9001, 0x10, new Uint8Array(0));
    nat.handle('inside', buf.subarray(0, n), now);
    n = tcpPacket(buf, SERVER, NAT_ADDRESS, 21, ext, 9001, 1001, 0x18, greeting);
    nat.handle('outside', buf.subarray(0, n), now);
    conns.push({ host, ext, cseq: 1001, sseq: 9001 + greeting.length });
  }
  drainAll(nat);
  let k = 0;
  const outSeq: number[] = conns.map(() => 1001);
  const round = (): void => {
    for (let i = 0; i < CONNS; i++) {
      const c = conns[i]!;
      const cmd = enc.encode(`PORT 10,0,1,${2 + i},${4 + (k & 15)},${k & 255}\r\n`);
      let n = tcpPacket(buf, c.host, SERVER, 40000, 21, c.cseq, c.sseq, 0x18, cmd);
      if (!nat.handle('inside', buf.subarray(0, n), now).ok) throw new Error('bench: PORT dropped');
      let rewritten = 0;
      for (let t = nat.pollTransmit(); t; t = nat.pollTransmit()) rewritten += t.packet.length - 40;
      for (let e = nat.pollEvent(); e; e = nat.pollEvent()) if (e.type === 'data-channel' && e.refused) throw new Error(`bench: PORT refused (${e.refused})`);
      c.cseq += cmd.length;
      outSeq[i] = outSeq[i]! + rewritten;
      // The server's 200, acknowledging the rewritten bytes.
      n = tcpPacket(buf, SERVER, NAT_ADDRESS, 21, c.ext, c.sseq, outSeq[i]!, 0x18, ok);
      nat.handle('outside', buf.subarray(0, n), now);
      drainAll(nat);
      c.sseq += ok.length;
      n = tcpPacket(buf, c.host, SERVER, 40000, 21, c.cseq, c.sseq, 0x10, new Uint8Array(0));
      nat.handle('inside', buf.subarray(0, n), now);
      drainAll(nat);
    }
    k++;
    now += 1;
  };
  for (let i = 0; i < 20; i++) round();
  const rates: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = nowMs();
    let rounds = 0;
    while (nowMs() - t0 < 100) {
      round();
      rounds++;
    }
    rates.push((rounds * CONNS) / ((nowMs() - t0) / 1000));
    if (r % 2 === 1) nat.handleTimeout(now);
  }
  return {
    name: 'packet.ftp_rewrite',
    value: median(rates),
    unit: 'segments/s',
    note: `PORT segments rewritten by the FTP ALG in PacketNat (${CONNS} control connections in turn; each PORT answered by the server's 200 and acknowledged, which the rate includes; the expectation of each PORT opened in the mapping table and the previous one released); median of 7 rounds of >= 100 ms`,
  };
}

export async function run(): Promise<BenchResult[]> {
  const inProcess = [translateBench(), ftpRewriteBench()];
  // End to end through TUN devices (root; else skipped with the reason): after the in-process
  // measurements, whose heap it would otherwise share.
  const { run: gateway } = await import('./packet-gateway.js');
  return [...inProcess, ...(await gateway())];
}
