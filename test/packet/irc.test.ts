/**
 * The IRC DCC ALG in the packet NAT, with no packet code of its own: the NAT takes any module of
 * the ALG contract (here ircAlg on port 6667 by configuration), and the same stream layer that
 * carries FTP rewrites a DCC SEND offer, shifts the sequence numbers after it, maps the
 * acknowledgements back, resends a retransmission as first rewritten, and opens the offer's
 * data channel as a pinhole for whoever accepts it.
 */
import { describe, expect, it } from 'vitest';
import { ircAlg, ipv4FromDccInteger, ipv4ToDccInteger } from '../../src/core/index.js';
import type { PacketNat, PacketNatEvent, Transmit } from '../../src/core/packet/index.js';
import { ACK, INSIDE_CLIENT, NAT_ADDRESS, PSH, SERVER, SYN, checked, makeNat, tcp, through } from './nat-helpers.js';

const C_ISN = 700_000;
const S_ISN = 4_294_967_000; // wraps during the conversation
const IRC_PORT = 6667;
const PEER = '198.51.100.99'; // the user who accepts the offer (not the IRC server)

function only(out: Transmit[], to: 'inside' | 'outside'): Transmit[] {
  return out.filter((t) => t.to === to);
}

function events(nat: PacketNat): PacketNatEvent[] {
  const out: PacketNatEvent[] = [];
  for (let e = nat.pollEvent(); e; e = nat.pollEvent()) out.push(e);
  return out;
}

/** An IRC connection from the inside client to SERVER:6667 through `nat`, driven by hand. */
function ircConnection(nat: PacketNat) {
  const syn = through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 41000, dport: IRC_PORT, seq: C_ISN, flags: SYN }), 0);
  expect(syn.drop).toBeNull();
  const natPort = checked(syn.out[0]!.packet).sport;
  expect(through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: IRC_PORT, dport: natPort, seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK }), 0).drop).toBeNull();
  expect(through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 41000, dport: IRC_PORT, seq: C_ISN + 1, ack: (S_ISN + 1) >>> 0, flags: ACK }), 0).drop).toBeNull();
  const fromClient = (at: number, payload: string, acked: number, now = 1) =>
    through(nat, 'inside', tcp({ src: INSIDE_CLIENT, dst: SERVER, sport: 41000, dport: IRC_PORT, seq: C_ISN + 1 + at, ack: (S_ISN + 1 + acked) >>> 0, flags: ACK | (payload ? PSH : 0), payload }), now);
  const fromServer = (at: number, payload: string, acked: number, now = 1) =>
    through(nat, 'outside', tcp({ src: SERVER, dst: NAT_ADDRESS, sport: IRC_PORT, dport: natPort, seq: (S_ISN + 1 + at) >>> 0, ack: C_ISN + 1 + acked, flags: ACK | (payload ? PSH : 0), payload }), now);
  return { fromClient, fromServer, natPort };
}

describe('IRC DCC ALG in the packet NAT (any module of the ALG contract)', () => {
  it('rewrites a DCC SEND offer from inside, shifts what follows once, maps acknowledgements back, and admits the accepting user', () => {
    const nat = makeNat({ algs: [{ alg: 'ftp' }, { alg: ircAlg, port: IRC_PORT }] });
    const k = ircConnection(nat);
    const registration = 'NICK alice\r\nUSER alice 0 * :Alice\r\n';
    const r1 = only(k.fromClient(0, registration, 0).out, 'outside');
    expect(checked(r1[0]!.packet).text).toBe(registration);
    const welcome = ':irc.example 001 alice :Welcome\r\n';
    expect(checked(only(k.fromServer(0, welcome, registration.length).out, 'inside')[0]!.packet).text).toBe(welcome);

    // Port 5000 offered, a port of the NAT's choosing announced: the line changes length unless
    // the NAT happened to choose a four-digit port too; the assertions below hold either way,
    // and the second offer (port 60000) is sure to change it.
    const dcc = ipv4ToDccInteger(INSIDE_CLIENT);
    const offers = [
      `PRIVMSG bob :\x01DCC SEND report.pdf ${dcc} 5000 123456\x01\r\n`,
      `PRIVMSG bob :\x01DCC SEND notes.txt ${dcc} 60000 42\x01\r\n`,
    ];
    let at = registration.length;
    let shift = 0;
    const announced: number[] = [];
    const sent: { at: number; seq: number; text: string }[] = [];
    for (const offer of offers) {
      const out = only(k.fromClient(at, offer, welcome.length, 2).out, 'outside');
      expect(out.length).toBe(1);
      const d = checked(out[0]!.packet);
      const m = /^PRIVMSG bob :\x01DCC SEND (\S+) (\d+) (\d+) (\d+)\x01\r\n$/.exec(d.text);
      expect(m, d.text).not.toBeNull();
      expect(ipv4FromDccInteger(m![2]!)).toBe(NAT_ADDRESS);
      expect(m![4]).toBe(offer.includes('123456') ? '123456' : '42');
      // Every byte after the earlier rewrites is shifted by their sum, once.
      expect(d.seq).toBe(C_ISN + 1 + at + shift);
      sent.push({ at, seq: d.seq, text: d.text });
      announced.push(Number(m![3]));
      shift += d.text.length - offer.length;
      at += offer.length;
    }
    expect(shift).not.toBe(0);

    // A retransmission of the first offer: the same bytes at the same place, no shift added twice.
    const again = checked(only(k.fromClient(sent[0]!.at, offers[0]!, welcome.length, 3).out, 'outside')[0]!.packet);
    expect([again.seq, again.text]).toEqual([sent[0]!.seq, sent[0]!.text]);

    // The next line goes out shifted by the sum of both corrections, once.
    const next = checked(only(k.fromClient(at, 'PING :x\r\n', welcome.length, 3).out, 'outside')[0]!.packet);
    expect(next.seq).toBe(C_ISN + 1 + at + shift);

    // The server acknowledges everything it got: the client sees its own byte count.
    const ackAll = sent[1]!.seq + sent[1]!.text.length + 'PING :x\r\n'.length - (C_ISN + 1);
    const pong = checked(only(k.fromServer(welcome.length, ':irc.example PONG :x\r\n', ackAll, 4).out, 'inside')[0]!.packet);
    expect(pong.ack).toBe(C_ISN + 1 + at + 'PING :x\r\n'.length);

    // Both offers are data channels for anyone on the outside (the NAT cannot know bob's address).
    const channels = events(nat).filter((e): e is Extract<PacketNatEvent, { type: 'data-channel' }> => e.type === 'data-channel');
    expect(channels.map((c) => [c.refused, c.request.acceptFrom, c.request.label])).toEqual([
      [null, null, 'DCC SEND'],
      [null, null, 'DCC SEND'],
    ]);
    // bob, at an address the NAT never saw, connects to the first announced endpoint: it leads to alice's port 5000.
    const bobSyn = through(nat, 'outside', tcp({ src: PEER, dst: NAT_ADDRESS, sport: 52000, dport: announced[0]!, seq: 9, flags: SYN }), 5);
    expect(bobSyn.drop).toBeNull();
    const bd = checked(bobSyn.out[0]!.packet);
    expect([bd.src, bd.sport, bd.dst, bd.dport]).toEqual([PEER, 52000, INSIDE_CLIENT, 5000]);
    expect(events(nat).find((e) => e.type === 'session-created')).toMatchObject({ via: 'expectation', alg: null });
    // One connection per offer: a second user at the same announced endpoint is not let in.
    const second = nat.handle('outside', tcp({ src: '198.51.100.98', dst: NAT_ADDRESS, sport: 52001, dport: announced[0]!, seq: 9, flags: SYN }), 5);
    expect(second.ok).toBe(false);
    // The second offer's channel still waits for its own user.
    const carol = through(nat, 'outside', tcp({ src: '203.0.113.77', dst: NAT_ADDRESS, sport: 52002, dport: announced[1]!, seq: 9, flags: SYN }), 6);
    expect(carol.drop).toBeNull();
    expect(checked(carol.out[0]!.packet).dport).toBe(60000);
  });

  it('a DCC offer split across two segments is joined and rewritten whole; an offer naming another host is refused with a NOTICE', () => {
    const nat = makeNat({ algs: [{ alg: 'irc' }] }); // by name from the built-in registry, its default port 6667
    const k = ircConnection(nat);
    const dcc = ipv4ToDccInteger(INSIDE_CLIENT);
    const line = `PRIVMSG bob :\x01DCC SEND a.bin ${dcc} 60001 7\x01\r\n`;
    const cut = 24;
    const first = k.fromClient(0, line.slice(0, cut), 0);
    expect(only(first.out, 'outside')).toEqual([]);
    // The held bytes are acknowledged to the client on the server's behalf.
    expect(checked(only(first.out, 'inside')[0]!.packet).ack).toBe(C_ISN + 1 + cut);
    const second = only(k.fromClient(cut, line.slice(cut), 0).out, 'outside');
    expect(second.length).toBe(1);
    const d = checked(second[0]!.packet);
    expect(d.seq).toBe(C_ISN + 1);
    expect(d.text).toMatch(new RegExp(`^PRIVMSG bob :\\x01DCC SEND a\\.bin ${ipv4ToDccInteger(NAT_ADDRESS)} \\d+ 7\\x01\\r\\n$`));

    // A foreign address in an offer from inside: the server never sees the line, the client gets a NOTICE.
    const foreign = `PRIVMSG bob :\x01DCC SEND x ${ipv4ToDccInteger('192.0.2.99')} 60002 1\x01\r\n`;
    const r = k.fromClient(line.length, foreign, 0, 2);
    expect(only(r.out, 'outside').map((t) => checked(t.packet).text).join('')).toBe('');
    const notice = only(r.out, 'inside').map((t) => checked(t.packet).text).join('');
    expect(notice).toMatch(/^:\S+ NOTICE \S+ :.*refused by the gateway/);
  });
});
