// Reading /proc/net/nf_conntrack lines (samples taken from this kernel, 6.18). No root needed.
import { describe, expect, it } from 'vitest';
import { isEnded, isEstablished, parseConntrack, parseLine, procAddress } from '../../src/node/nftables/conntrack.js';

const V4 =
  'ipv4     2 tcp      6 116 TIME_WAIT src=192.0.2.2 dst=192.0.2.1 sport=55950 dport=40000 src=198.51.100.2 dst=198.51.100.1 sport=7000 dport=55950 [ASSURED] mark=0 zone=0 use=2';
const V6 =
  'ipv6     10 tcp      6 116 TIME_WAIT src=2001:0db8:0001:0000:0000:0000:0000:0002 dst=2001:0db8:0001:0000:0000:0000:0000:0001 sport=48884 dport=40001 src=2001:0db8:0002:0000:0000:0000:0000:0002 dst=2001:0db8:0002:0000:0000:0000:0000:0001 sport=7000 dport=48884 [ASSURED] mark=0 zone=0 use=2';
const ACCT_UNREPLIED =
  'ipv4     2 tcp      6 118 SYN_SENT src=192.0.2.2 dst=192.0.2.1 sport=40100 dport=40002 packets=1 bytes=60 [UNREPLIED] src=198.51.100.2 dst=198.51.100.1 sport=7002 dport=40100 packets=0 bytes=0 mark=0 use=1';
const UDP = 'ipv4     2 udp      17 28 src=192.0.2.2 dst=192.0.2.1 sport=5353 dport=40000 [UNREPLIED] src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=5353 mark=0 use=1';

describe('conntrack lines', () => {
  it('reads both tuples, the state and the assured flag', () => {
    expect(parseLine(V4)).toEqual({
      family: 4,
      state: 'TIME_WAIT',
      original: { src: '192.0.2.2', dst: '192.0.2.1', sport: 55950, dport: 40000 },
      reply: { src: '198.51.100.2', dst: '198.51.100.1', sport: 7000, dport: 55950 },
      assured: true,
    });
    const v6 = parseLine(V6);
    expect(v6?.family).toBe(6);
    expect(v6?.reply.src).toBe(procAddress('2001:db8:2::2'));
  });

  it('skips accounting fields and [UNREPLIED] between the tuples', () => {
    const f = parseLine(ACCT_UNREPLIED);
    expect(f?.state).toBe('SYN_SENT');
    expect(f?.reply).toEqual({ src: '198.51.100.2', dst: '198.51.100.1', sport: 7002, dport: 40100 });
    expect(f?.assured).toBe(false);
  });

  it('ignores other protocols, other ports and garbage', () => {
    const text = [V4, UDP, 'garbage', '', V6, ACCT_UNREPLIED].join('\n');
    expect(parseConntrack(text, new Set([40000])).map((f) => f.original.sport)).toEqual([55950]);
    expect(parseConntrack(text, new Set([40001, 40002])).map((f) => f.original.dport)).toEqual([40001, 40002]);
    expect(parseConntrack(text, new Set())).toEqual([]);
  });

  it('spells addresses as the kernel does', () => {
    expect(procAddress('2001:db8:1::2')).toBe('2001:0db8:0001:0000:0000:0000:0000:0002');
    expect(procAddress('192.0.2.2')).toBe('192.0.2.2');
  });

  it('established covers the closing states; ended is TIME_WAIT or CLOSE', () => {
    expect(isEstablished('SYN_SENT')).toBe(false);
    expect(isEstablished('SYN_RECV')).toBe(false);
    expect(isEstablished('CLOSE_WAIT')).toBe(true);
    expect(isEnded('FIN_WAIT')).toBe(false);
    expect(isEnded('CLOSE_WAIT')).toBe(false);
    expect(isEnded('TIME_WAIT')).toBe(true);
    expect(isEnded('CLOSE')).toBe(true);
  });
});
