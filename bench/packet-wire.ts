/**
 * Packet wire-layer benchmarks (`npm run bench packet-wire`), over 1024 distinct IPv4/TCP packets
 * of 1500 bytes (20-byte IP header, 32-byte TCP header with timestamps, 1448 bytes of data: an
 * established flow's full-size segments), each a Uint8Array view into one pool, as packets from
 * a receive ring would be. Every figure beside the baseline measured in the same run, in
 * interleaved rounds: copying the same packets once with `Uint8Array.prototype.set` into a
 * preallocated buffer.
 * - packet.parse_tcp4: PacketParser.parse (IPv4 and TCP checked, no checksum verification).
 * - packet.translate_tcp4: parse, then rewriteIpv4Endpoint: source address and port rewritten in
 *   place with incremental checksum updates (IPv4 header; TCP pseudo-header and port together),
 *   as a NAT does on the way out. Goals: >= 3e6 packets/s and ratio >= 1 (translating in place
 *   costs no more than one copy). packet.translate_tcp4_setters: the same through the views'
 *   setters, field by field.
 * - packet.parse_verify_tcp4: parse with verifyChecksums (the TCP checksum summed over all 1480
 *   bytes), for scale: what the incremental path saves.
 */
import { IpProtocol, PacketParser, emitIpv4Header, emitTcpHeader, emitTcpOptions, rewriteIpv4Endpoint, toSeq } from '../src/core/packet/index.js';
import { compareRates, type BenchResult } from './harness.js';

const N = 1024;
const SIZE = 1500;

function buildPool(): { pool: Uint8Array; packets: Uint8Array[] } {
  const pool = new Uint8Array(N * SIZE);
  const packets: Uint8Array[] = [];
  const parser = new PacketParser();
  const opts = new Uint8Array(12);
  const ol = emitTcpOptions(opts, 0, { timestamps: [1000, 2000] });
  for (let i = 0; i < N; i++) {
    const p = pool.subarray(i * SIZE, (i + 1) * SIZE);
    emitIpv4Header(p, 0, { totalLength: SIZE, identification: i, dontFragment: true, protocol: IpProtocol.Tcp, source: 0x0a000000 + 2 + (i % 200), destination: 0xc6336409 });
    const hl = emitTcpHeader(p, 20, { sourcePort: 20000 + i, destinationPort: 443, seqNumber: toSeq(i * 7919), ackNumber: toSeq(i * 104729), flags: 0x18, window: 501, options: opts.subarray(0, ol) });
    let x = i + 1;
    for (let k = 20 + hl; k < SIZE; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      p[k] = x >>> 24;
    }
    const v = parser.parse(p);
    if (!v.ok || v.kind !== 'packet' || v.transport.kind !== 'tcp') throw new Error('bench setup: packet does not parse');
    v.transport.fillChecksum(v.ip.pseudoHeaderSum(IpProtocol.Tcp, v.transport.length));
    packets.push(p);
  }
  return { pool, packets };
}

export async function run(): Promise<BenchResult[]> {
  const { packets } = buildPool();
  const out = new Uint8Array(N * SIZE);
  const parser = new PacketParser();
  const verifier = new PacketParser({ verifyChecksums: true });
  let sink = 0;

  // One closure per side, made once (a closure made per round would start unoptimised).
  const copy = (): void => {
    for (let i = 0; i < N; i++) out.set(packets[i]!, i * SIZE);
    sink += out[SIZE - 1]!;
  };
  const parse = (): void => {
    let acc = 0;
    for (let i = 0; i < N; i++) {
      const v = parser.parse(packets[i]!);
      if (v.ok && v.kind === 'packet' && v.transport.kind === 'tcp') acc += v.transport.sourcePort();
    }
    sink += acc;
  };
  let flip = 0;
  // Alternate between two external addresses per pass, so every pass really changes bytes.
  const translate = (): void => {
    const ext = flip++ & 1 ? 0xcb007105 : 0xcb007106;
    let acc = 0;
    for (let i = 0; i < N; i++) {
      const v = parser.parse(packets[i]!);
      if (!v.ok || v.kind !== 'packet' || v.ip.version !== 4) continue;
      rewriteIpv4Endpoint(v.ip, v.transport, 'source', ext, 40000 + (i & 0x3fff));
      acc += v.ip.headerChecksum();
    }
    sink += acc;
  };
  // The same through the views' setters, one field at a time.
  const translateSetters = (): void => {
    const ext = flip++ & 1 ? 0xcb007105 : 0xcb007106;
    let acc = 0;
    for (let i = 0; i < N; i++) {
      const v = parser.parse(packets[i]!);
      if (!v.ok || v.kind !== 'packet' || v.ip.version !== 4 || v.transport.kind !== 'tcp') continue;
      const ip = v.ip;
      const tcp = v.transport;
      tcp.adjustChecksum32(ip.sourceAddress(), ext);
      ip.setSourceAddress(ext);
      tcp.setSourcePort(40000 + (i & 0x3fff));
      acc += tcp.checksum();
    }
    sink += acc;
  };
  const verify = (): void => {
    let acc = 0;
    for (let i = 0; i < N; i++) if (verifier.parse(packets[i]!).ok) acc++;
    if (acc !== N) throw new Error('packet bench: a translated packet no longer verifies');
    sink += acc;
  };

  const p = compareRates(parse, copy, N, 5, 60);
  const t = compareRates(translate, copy, N, 5, 60);
  const ts = compareRates(translateSetters, copy, N, 5, 60);
  const c = compareRates(verify, copy, N, 5, 60);
  if (sink === 42) process.stdout.write('');
  const note = `${N} IPv4/TCP packets of ${SIZE} bytes (1448 data), views into one pool; median of 5 interleaved rounds; baseline: Uint8Array.prototype.set of the same packets into a preallocated buffer`;
  return [
    { name: 'packet.parse_tcp4', value: p.value, unit: 'packets/s', baseline: p.baseline, ratio: p.ratio, note: `PacketParser.parse, IPv4 + TCP checked, no checksum verification; ${note}` },
    { name: 'packet.translate_tcp4', value: t.value, unit: 'packets/s', baseline: t.baseline, ratio: t.ratio, note: `parse + rewriteIpv4Endpoint (source address and port in place; IPv4 header checksum and TCP checksum by one incremental update each); ${note}; goals >= 3e6/s and ratio >= 1` },
    { name: 'packet.translate_tcp4_setters', value: ts.value, unit: 'packets/s', baseline: ts.baseline, ratio: ts.ratio, note: `as packet.translate_tcp4 through the views' setters (tcp.adjustChecksum32, ip.setSourceAddress, tcp.setSourcePort): one call and one checksum update per field; ${note}` },
    { name: 'packet.parse_verify_tcp4', value: c.value, unit: 'packets/s', baseline: c.baseline, ratio: c.ratio, note: `parse with verifyChecksums (IPv4 header and full TCP checksum over 1480 bytes); ${note}` },
  ];
}
