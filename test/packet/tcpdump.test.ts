/**
 * An outside opinion on the checksums: packets built with the library's emitters (and some then
 * rewritten in place with incremental updates, as a NAT would) are written to a pcap file and
 * read back by tcpdump -vv, which recomputes every checksum itself. Skipped when tcpdump is
 * missing, except under CI=true, where it is installed and the test must run.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Icmpv4Message,
  Icmpv6Message,
  IpProtocol,
  PacketParser,
  TcpFlag,
  TcpOptions,
  emitIpv4Header,
  emitIpv6Header,
  emitTcpHeader,
  emitTcpOptions,
  emitUdpHeader,
  rewriteIpv4Endpoint,
  rewriteIpv6Endpoint,
  toSeq,
} from '../../src/core/packet/index.js';
import { v4num, v6 } from './builders.js';

const TCPDUMP = '/usr/bin/tcpdump';
const available = existsSync(TCPDUMP);
const required = process.env['CI'] === 'true';

function pcap(packets: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const global = new DataView(new ArrayBuffer(24));
  global.setUint32(0, 0xa1b2c3d4, true);
  global.setUint16(4, 2, true);
  global.setUint16(6, 4, true);
  global.setUint32(16, 65535, true);
  global.setUint32(20, 101, true); // LINKTYPE_RAW: the packet starts with the IP header
  parts.push(new Uint8Array(global.buffer));
  packets.forEach((p, i) => {
    const rec = new DataView(new ArrayBuffer(16));
    rec.setUint32(0, 1_700_000_000 + i, true);
    rec.setUint32(8, p.length, true);
    rec.setUint32(12, p.length, true);
    parts.push(new Uint8Array(rec.buffer), p);
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tcp4(payload: number): Uint8Array {
  const opts = new Uint8Array(40);
  const ol = emitTcpOptions(opts, 0, { mss: 1460, sackPermitted: true, timestamps: [12345, 0], windowScale: 7 });
  const hl = 20 + ol;
  const total = 20 + hl + payload;
  const buf = new Uint8Array(total);
  emitIpv4Header(buf, 0, { totalLength: total, identification: 1, dontFragment: true, protocol: 6, source: v4num('10.0.0.2'), destination: v4num('198.51.100.9') });
  emitTcpHeader(buf, 20, { sourcePort: 40000, destinationPort: 21, seqNumber: toSeq(0xfffffff0), ackNumber: toSeq(0), flags: payload ? TcpFlag.Psh | TcpFlag.Ack : TcpFlag.Syn, window: 64240, options: opts.subarray(0, ol) });
  for (let k = 0; k < payload; k++) buf[20 + hl + k] = 65 + (k % 26);
  return fill(buf);
}

function udp6(payload: number): Uint8Array {
  const buf = new Uint8Array(48 + payload);
  emitIpv6Header(buf, 0, { payloadLength: 8 + payload, nextHeader: 17, source: v6('2001:db8::2'), destination: v6('2001:db8:1::53') });
  emitUdpHeader(buf, 40, { sourcePort: 5353, destinationPort: 53, length: 8 + payload });
  for (let k = 0; k < payload; k++) buf[48 + k] = k;
  return fill(buf);
}

/** Fill transport checksums through the parser's views (UDP over IPv6 has none yet: allow it). */
function fill(buf: Uint8Array): Uint8Array {
  const v = new PacketParser({ allowZeroUdpChecksumIpv6: true }).parse(buf);
  if (!v.ok || v.kind !== 'packet') throw new Error('built packet does not parse');
  const t = v.transport;
  if (t.kind === 'tcp') t.fillChecksum(v.ip.pseudoHeaderSum(IpProtocol.Tcp, t.length));
  else if (t.kind === 'udp') t.fillChecksum(v.ip.pseudoHeaderSum(IpProtocol.Udp, t.length));
  else if (t.kind === 'icmpv4') t.fillChecksum();
  else if (t.kind === 'icmpv6') t.fillChecksum(v.ip.pseudoHeaderSum(IpProtocol.Icmpv6, t.length));
  return buf;
}

/** A NAT's rewrite in place: new source address and port, checksums by incremental update only. */
function natRewrite(buf: Uint8Array, address: number, port: number): Uint8Array {
  const v = new PacketParser().parse(buf);
  if (!v.ok || v.kind !== 'packet' || v.ip.version !== 4) throw new Error('IPv4 expected');
  const t = v.transport;
  if (t.kind === 'tcp' || t.kind === 'udp') {
    t.adjustChecksum32(v.ip.sourceAddress(), address);
    t.setSourcePort(port);
  }
  if (t.kind === 'tcp') {
    const o = new TcpOptions();
    if (t.readOptions(o).ok && o.mssOffset >= 0) t.setMss(o, 1400);
    t.setSeqNumber(toSeq(t.seqNumber() + 0x20));
  }
  v.ip.setSourceAddress(address);
  v.ip.setTtl(v.ip.ttl() - 1);
  return buf;
}

describe.skipIf(!available && !required)('tcpdump agrees with our checksums', () => {
  it('built and NAT-rewritten packets all verify', () => {
    expect(available).toBe(true);
    const packets: Uint8Array[] = [];
    packets.push(tcp4(0), tcp4(333), natRewrite(tcp4(0), v4num('203.0.113.5'), 61000), natRewrite(tcp4(1001), v4num('203.0.113.6'), 2));
    packets.push(udp6(0), udp6(77));
    // The one-call endpoint rewrites, both sides, both families.
    const u6 = udp6(20);
    const p6 = new PacketParser().parse(u6);
    if (!p6.ok || p6.kind !== 'packet' || p6.ip.version !== 6) throw new Error('udp6');
    rewriteIpv6Endpoint(p6.ip, p6.transport, 'source', v6('2001:db8:aaaa::7'), 0, 33333);
    rewriteIpv6Endpoint(p6.ip, p6.transport, 'destination', v6('2001:db8:bbbb::8'), 0, 5353);
    packets.push(u6);
    const t4 = tcp4(64);
    const p4 = new PacketParser().parse(t4);
    if (!p4.ok || p4.kind !== 'packet' || p4.ip.version !== 4) throw new Error('tcp4');
    rewriteIpv4Endpoint(p4.ip, p4.transport, 'source', v4num('192.0.2.77'), 1);
    rewriteIpv4Endpoint(p4.ip, p4.transport, 'destination', v4num('10.9.8.7'), 8021);
    packets.push(t4);
    const echo = new Uint8Array(28 + 5);
    emitIpv4Header(echo, 0, { totalLength: echo.length, protocol: 1, source: v4num('10.0.0.2'), destination: v4num('192.0.2.1') });
    echo.set([8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5], 20);
    fill(echo);
    const icmp = new Icmpv4Message();
    icmp.check(echo, 20, echo.length);
    icmp.setIdentifier(0xabcd); // query NAT: new identifier, checksum by update
    packets.push(echo);
    const echo6 = new Uint8Array(48 + 3);
    emitIpv6Header(echo6, 0, { payloadLength: 11, nextHeader: 58, source: v6('2001:db8::2'), destination: v6('2001:db8::1') });
    echo6.set([128, 0, 0, 0, 0, 7, 0, 9, 1, 2, 3], 40);
    fill(echo6);
    const m6 = new Icmpv6Message();
    m6.check(echo6, 40, echo6.length);
    m6.adjustChecksumBytes(echo6, 8, v6('2001:db8:ffff::2'), 0, 16); // NPTv6-style source change
    echo6.set(v6('2001:db8:ffff::2'), 8);
    m6.setIdentifier(0x55);
    packets.push(echo6);

    const dir = mkdtempSync(join(tmpdir(), 'nat-alg-pcap-'));
    try {
      const file = join(dir, 'packets.pcap');
      writeFileSync(file, pcap(packets));
      const out = execFileSync(TCPDUMP, ['-vv', '-n', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      expect(out).not.toMatch(/incorrect|bad cksum|bad udp cksum|wrong icmp cksum|bad icmp6 cksum/i);
      expect(out.match(/cksum 0x[0-9a-f]{4} \(correct\)/g)?.length).toBe(5); // five TCP segments
      expect(out.match(/\[udp sum ok\]/g)?.length).toBe(3);
      expect(out).toContain('192.0.2.77.1 > 10.9.8.7.8021');
      expect(out).toContain('2001:db8:aaaa::7.33333 > 2001:db8:bbbb::8.5353');
      expect(out.match(/\[icmp6 sum ok\]/g)?.length).toBe(1);
      expect(out).toContain('203.0.113.5.61000 > 198.51.100.9.21');
      expect(out).toContain('mss 1400');
      expect(out).toContain('id 43981'); // 0xabcd
      expect(lines.length).toBeGreaterThanOrEqual(packets.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
