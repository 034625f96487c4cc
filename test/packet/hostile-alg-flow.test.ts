/**
 * An FTP control flow through the packet NAT, driven by a hostile or broken peer: a reset that
 * carries payload after unacknowledged data, data after a FIN. The NAT must never throw and never
 * spin: handle() returns a verdict, handleTimeout() returns, and the flow ends or goes on.
 */
import { describe, expect, it } from 'vitest';
import { ACK, FIN, PSH, RST, SYN, decode, drain, makeNat, NAT_ADDRESS, seeded, tcp } from './nat-helpers.js';
import { patternBytes } from './builders.js';

const HOST = '192.0.2.12';
const SERVER = '198.51.100.7';

/** A control connection to port 21, through its handshake; returns the NAT and the external port. */
function controlFlow() {
  const nat = makeNat({ random: seeded(9) });
  const syn = tcp({ src: HOST, dst: SERVER, sport: 40003, dport: 21, seq: 1000, ack: 9000, flags: SYN });
  expect(nat.handle('inside', syn, 0)).toMatchObject({ ok: true });
  const ext = decode(syn).sport;
  nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 21, dport: ext, seq: 9000, ack: 1001, flags: SYN | ACK }), 0);
  nat.handle('inside', tcp({ src: HOST, dst: SERVER, sport: 40003, dport: 21, seq: 1001, ack: 9001, flags: ACK }), 0);
  drain(nat);
  return { nat, ext };
}

/** handleTimeout must return; a loop that never ends would hang the test (its timeout fails it). */
function runTimers(nat: ReturnType<typeof makeNat>, now: number): void {
  nat.handleTimeout(now);
  for (let e = nat.pollEvent(); e; e = nat.pollEvent());
  drain(nat);
}

describe('hostile FTP control flow in packet mode', () => {
  it('a reset with payload after unacknowledged client data: handleTimeout returns, the next deadline is later', () => {
    const { nat, ext } = controlFlow();
    nat.handle('inside', tcp({ src: HOST, dst: SERVER, sport: 40003, dport: 21, seq: 1001, ack: 9001, flags: ACK, payload: patternBytes(1448, 4) }), 0);
    drain(nat);
    const v = nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 21, dport: ext, seq: 9001, ack: 1001, flags: RST | ACK, payload: patternBytes(1448, 4) }), 1001);
    expect(v).toHaveProperty('ok');
    drain(nat);
    runTimers(nat, 1001);
    const next = nat.pollTimeout();
    expect(next === null || next > 1001).toBe(true);
    // And on through time: every deadline moves on.
    for (let now = 1001, i = 0; i < 50 && nat.pollTimeout() !== null; i++) {
      now = Math.max(now, nat.pollTimeout()!);
      runTimers(nat, now);
      const after = nat.pollTimeout();
      expect(after === null || after > now).toBe(true);
    }
  }, 10_000);

  it('data in the sequence space of the server\'s FIN is a verdict, not a throw (the translator\'s input has ended)', () => {
    const { nat, ext } = controlFlow();
    // The FIN's payload starts at the SYN's own sequence number (9000): its 99 new bytes end at
    // offset 99, where the FIN sits; then one byte claims offset 99 again, after the FIN.
    const fin = nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 21, dport: ext, seq: 9000, ack: 1001, flags: FIN | ACK, payload: patternBytes(100, 4) }), 0);
    expect(fin).toHaveProperty('ok');
    for (const seq of [9100, 9101, 9102]) {
      let after: unknown;
      expect(() => {
        after = nat.handle('outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: 21, dport: ext, seq, ack: 1001, flags: PSH | ACK, payload: patternBytes(1, 4) }), 0);
      }).not.toThrow();
      expect(after).toHaveProperty('ok');
    }
    drain(nat);
    runTimers(nat, 10);
  });
});
