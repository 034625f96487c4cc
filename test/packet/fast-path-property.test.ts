/**
 * The IPv4 fast path (PacketNat.fast over the session rows, session-rows.ts) against the general
 * path alone (a NAT with verifyChecksums, which has no fast path), over random conversations:
 * TCP and UDP flows opened, used, closed and reset from either side, FTP control connections
 * (an ALG: never fast), time moving past the mapping refresh and the idle timeouts, timers run.
 * Both must give the same verdicts, bytes, transmits, events and stats at every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PacketNat, PacketNatEvent, PacketNatVerdict } from '../../src/core/packet/index.js';
import { ACK, FIN, PSH, RST, SYN, decode, drain, makeNat, NAT_ADDRESS, seeded, tcp, udp } from './nat-helpers.js';
import { patternBytes } from './builders.js';

interface Flow {
  readonly tcp: boolean;
  readonly host: string;
  readonly port: number;
  readonly server: string;
  readonly serverPort: number;
}

const FLOWS: readonly Flow[] = [
  { tcp: true, host: '192.0.2.10', port: 40000, server: '198.51.100.7', serverPort: 443 },
  { tcp: true, host: '192.0.2.11', port: 40001, server: '198.51.100.7', serverPort: 443 },
  { tcp: true, host: '192.0.2.10', port: 40002, server: '198.51.100.8', serverPort: 80 },
  { tcp: true, host: '192.0.2.12', port: 40003, server: '198.51.100.7', serverPort: 21 },
  { tcp: false, host: '192.0.2.10', port: 5000, server: '198.51.100.7', serverPort: 53 },
  { tcp: false, host: '192.0.2.13', port: 5001, server: '198.51.100.8', serverPort: 4500 },
  // Same inside endpoints as flows 0 and 4, other servers: one mapping for two sessions, so a
  // session can idle out while the other keeps the mapping alive.
  { tcp: true, host: '192.0.2.10', port: 40000, server: '198.51.100.8', serverPort: 443 },
  { tcp: false, host: '192.0.2.10', port: 5000, server: '198.51.100.8', serverPort: 53 },
];

/** Mostly what an established connection carries, so that its packets take the fast path. */
const TCP_FLAGS = [SYN, SYN | ACK, FIN | ACK, RST, RST | ACK, ...Array<number>(8).fill(ACK), ...Array<number>(6).fill(PSH | ACK)];

type Op =
  | { readonly kind: 'packet'; readonly flow: number; readonly out: boolean; readonly flags: number; readonly payload: number }
  /** A handshake: SYN out, SYN-ACK in, ACK out (UDP: a datagram each way). */
  | { readonly kind: 'open'; readonly flow: number }
  | { readonly kind: 'time'; readonly ms: number }
  | { readonly kind: 'timers' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('packet' as const), flow: fc.nat(FLOWS.length - 1), out: fc.boolean(), flags: fc.constantFrom(...TCP_FLAGS), payload: fc.constantFrom(0, 0, 1, 100, 1448) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('open' as const), flow: fc.nat(FLOWS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.oneof(fc.constantFrom(0, 1, 500, 999, 1000, 1001, 2500, 5500), fc.integer({ min: 0, max: 7000 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('timers' as const) }) },
);

function events(nat: PacketNat): PacketNatEvent[] {
  const out: PacketNatEvent[] = [];
  for (let e = nat.pollEvent(); e; e = nat.pollEvent()) out.push(e);
  return out;
}

/** The verdict; a throw fails the property (handle() never throws on bytes from the wire). */
function outcome(n: PacketNat, out: boolean, p: Uint8Array, now: number): PacketNatVerdict {
  return n.handle(out ? 'inside' : 'outside', p, now);
}

/** A NAT with short timeouts (so random time steps reach them), counting its general-path packets. */
function nat(reference: boolean, udpInboundRefresh: boolean): { nat: PacketNat; general: () => number } {
  const n = makeNat({
    random: seeded(9),
    verifyChecksums: reference,
    table: { tcp: { establishedTimeoutMs: 6000, transitoryTimeoutMs: 2000 }, udp: { establishedTimeoutMs: 3000, transitoryTimeoutMs: 3000, inboundRefresh: udpInboundRefresh } },
  });
  let general = 0;
  const inner = n as unknown as { general: (...args: unknown[]) => PacketNatVerdict };
  const g = inner.general.bind(n);
  inner.general = (...args: unknown[]) => {
    general++;
    return g(...args);
  };
  return { nat: n, general: () => general };
}

describe('PacketNat fast path (session rows) against the general path', () => {
  it('gives the same verdicts, bytes, transmits, events and stats over random conversations', () => {
    let packets = 0;
    const fastPackets = { tcp: 0, udp: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200, size: 'max' }), fc.boolean(), (ops, udpInboundRefresh) => {
        const fast = nat(false, udpInboundRefresh);
        const ref = nat(true, udpInboundRefresh);
        const external: (number | null)[] = FLOWS.map(() => null);
        const seq = FLOWS.map(() => [1000, 9000]);
        let now = 0;
        let handled = 0;
        const packetOps = ops.flatMap((o): Op[] =>
          o.kind !== 'open'
            ? [o]
            : [
                { kind: 'packet', flow: o.flow, out: true, flags: SYN, payload: 0 },
                { kind: 'packet', flow: o.flow, out: false, flags: SYN | ACK, payload: 0 },
                { kind: 'packet', flow: o.flow, out: true, flags: ACK, payload: 0 },
              ],
        );
        for (const o of packetOps) {
          if (o.kind === 'open') continue;
          if (o.kind === 'time') {
            now += o.ms;
            continue;
          }
          if (o.kind === 'timers') {
            fast.nat.handleTimeout(now);
            ref.nat.handleTimeout(now);
            expect(events(fast.nat)).toEqual(events(ref.nat));
            expect(drain(fast.nat)).toEqual(drain(ref.nat));
            continue;
          }
          const f = FLOWS[o.flow]!;
          // Inbound packets go to the flow's external port once known (else to one of no flow).
          const ext = external[o.flow] ?? 1;
          const body = patternBytes(o.payload, o.flow + 1);
          const s = seq[o.flow]!;
          const p = f.tcp
            ? o.out
              ? tcp({ src: f.host, dst: f.server, sport: f.port, dport: f.serverPort, seq: s[0]!, ack: s[1]!, flags: o.flags, payload: body })
              : tcp({ src: f.server, dst: NAT_ADDRESS, sport: f.serverPort, dport: ext, seq: s[1]!, ack: s[0]!, flags: o.flags, payload: body })
            : o.out
              ? udp(f.host, f.port, f.server, f.serverPort, body)
              : udp(f.server, f.serverPort, NAT_ADDRESS, ext, body);
          if (o.out) s[0] = s[0]! + o.payload;
          else s[1] = s[1]! + o.payload;
          const q = p.slice();
          const before = fast.general();
          const vf = outcome(fast.nat, o.out, p, now);
          const vr = outcome(ref.nat, o.out, q, now);
          handled++;
          if (fast.general() === before) fastPackets[f.tcp ? 'tcp' : 'udp']++;
          expect(vf).toEqual(vr);
          expect(p).toEqual(q);
          expect(drain(fast.nat)).toEqual(drain(ref.nat));
          expect(events(fast.nat)).toEqual(events(ref.nat));
          if ('ok' in vf && vf.ok && vf.action === 'forward' && o.out && vf.to === 'outside') external[o.flow] = decode(p).sport;
        }
        packets += handled;
        expect(fast.nat.stats()).toEqual(ref.nat.stats());
        expect(fast.nat.sessionCount).toBe(ref.nat.sessionCount);
        expect(ref.general()).toBe(handled);
      }),
      { numRuns: 100 },
    );
    // The fast path really ran, for a good share of the packets.
    expect(fastPackets.tcp).toBeGreaterThan(packets / 50);
    expect(fastPackets.udp).toBeGreaterThan(packets / 20);
  });
});
