/**
 * From the review of the IRC DCC ALG (issue 9): STARTTLS smuggled past the gateway, and outside offers
 * naming loopback / link-local through IPv6 spellings the policy does not recognise.
 *
 * Every test failed on main at the time of review (14041b6); the fixes: a client line with a bare
 * CR is refused (rules.ts LINE_READING), IPv6 forms embedding IPv4 are judged by the IPv4 address
 * (net/no-remote-host.ts).
 */
import { describe, expect, it } from 'vitest';
import type { IrcEvent } from '../../src/core/irc/types.js';
import { c, s, REGISTER, run } from './harness.js';

const HEAD_C2S = 'NICK alice\r\nUSER alice 0 * :Alice\r\n';

function targets(events: readonly IrcEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'data-channel-request' ? [e.request.target.address] : []));
}

describe('STARTTLS after a bare CR', () => {
  // docs/irc.md: "STARTTLS: answered 691 by the gateway, not forwarded: a TLS connection could
  // not be read, and its offers not translated". A client line is only read when its first byte
  // is N/S/no letter or it holds a \x01 (rules.ts LINE_READING, lines.ts readStart); the framer
  // does not refuse bare CRs (translator.ts refuseBareCR: false both ways, "a line without \x01
  // cannot hide an offer"). But servers of the irc2 family end a message at a bare CR
  // (packet.c dopacket: `if (*ch1 == '\r' || *ch1 == '\n')`, "we must assume that either CR or
  // LF terminates the message", kept in UnrealIRCd's src/packet.c, which also implements
  // STARTTLS; src/core/irc/message.ts notes ngircd does the same). So `PING x\rSTARTTLS\r\n`
  // reaches such a server as two commands, the second STARTTLS: the server answers 670 and
  // switches to TLS, after which the gateway sees only ciphertext and every later DCC offer
  // passes untranslated and unchecked (the whole policy is off for the session). A bare CR in
  // front of NICK likewise changes the nick without the gateway noticing (its NOTICEs then go
  // to the old nick).
  it('a STARTTLS behind a bare CR in a line that starts with P is not forwarded', () => {
    // input:    PING x\rSTARTTLS\r\n   (client to server, before or after registration)
    // expected: refused like STARTTLS\r\n (691 to the client) or the line dropped
    // actual:   forwarded byte for byte
    const r = run([c('NICK alice\r\nUSER alice 0 * :Alice\r\n'), c('PING x\rSTARTTLS\r\n')]);
    expect(r.c2s).toBe(HEAD_C2S);
    const plain = run([c('NICK alice\r\nUSER alice 0 * :Alice\r\n'), c('STARTTLS\r\n')]);
    expect(plain.c2s).toBe(HEAD_C2S); // what the gateway does without the CR, for comparison
  });
});

describe('outside offers naming loopback or link-local in IPv6 spellings', () => {
  // policy.ts forbidden() -> net/no-remote-host.ts namesNoRemoteHost reads IPv4-mapped
  // (::ffff:a.b.c.d) as IPv4 but no other IPv6 form that embeds an IPv4 address. A gateway with
  // IPv6 and NAT64 (RFC 6146; the well-known prefix 64:ff9b::/96 of RFC 6052, and the local-use
  // 64:ff9b:1::/48 of RFC 8215) reaches 64:ff9b::a9fe:a9fe as 169.254.169.254, the cloud metadata
  // service the docs name as the reason link-local is forbidden; SIIT (RFC 7915,
  // ::ffff:0:a.b.c.d) likewise. The gateway itself connects there (connector 'client': the
  // gateway dials the offered endpoint when the client accepts).
  it('64:ff9b::169.254.169.254 (NAT64 well-known prefix) is refused as forbidden', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC SEND f 64:ff9b::a9fe:a9fe 6000 1\x01\r\n')]);
    expect(targets(r.events)).toEqual([]);
    expect(r.events.some((e) => e.type === 'command-refused' && e.reason === 'forbidden-address')).toBe(true);
  });

  it('::ffff:0:127.0.0.1 (SIIT IPv4-translated) is refused as forbidden', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC SEND f ::ffff:0:7f00:1 6000 1\x01\r\n')]);
    expect(targets(r.events)).toEqual([]);
  });
});
