/**
 * From the review of the IRC DCC ALG (issue 9): lines the gateway passes although a real client reads a
 * DCC offer in them that the gateway neither checked nor rewrote. docs/irc.md promises "a line
 * passes only if the most lenient real client could not read more into it"; each test below is a
 * real client's reading that the lenient model (src/core/irc/lenient.ts) does not cover.
 *
 * Every refusal test failed on main at the time of review (433feae / 14041b6). Fixed: rules.ts
 * DCC_TAG_RULES and LENIENT_READINGS, lenient.ts. The lines real clients send (last describe)
 * still pass.
 */
import { describe, expect, it } from 'vitest';
import type { IrcEvent } from '../../src/core/irc/types.js';
import { c, s, REGISTER, run } from './harness.js';

const HEAD_C2S = 'NICK alice\r\nUSER alice 0 * :Alice\r\n';

function refused(events: readonly IrcEvent[]): boolean {
  return events.some((e) => e.type === 'command-refused');
}

function targets(events: readonly IrcEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'data-channel-request' ? [`${e.request.target.address}:${e.request.target.port}`] : []));
}

describe('CTCP tags other than DCC that clients treat as DCC', () => {
  // KVIrc dispatches the CTCP tags DCC, TDCC and XDCC to the same parser
  // (KviIrcServerParser_ctcp.cpp, m_ctcpParseProcTable: { "TDCC", REQ(Dcc), REQ(Dcc) },
  // { "XDCC", REQ(Dcc), REQ(Dcc) } -> parseCtcpRequestDcc, which reads type, filename, address,
  // port, size from the left; libkvidcc.cpp dccModuleParseDccSend: "DCC [ST]SEND <filename>
  // <ipaddress> <port> <filesize>"). The gateway's strict reader only knows the tag DCC and its
  // lenient marker rule (lenient.ts countDccMarkers) wants `\x01`, blanks, then `DCC`, so an XDCC
  // or TDCC offer passes untouched in both directions: no policy check, no rewrite, no channel.
  // Client to server: a client behind the gateway offers loopback (127.0.0.1:8080) or any third
  // host to a KVIrc user, against the "only the client's own address" policy; a client that
  // writes its private address leaks it. Server to client: a KVIrc user behind the gateway gets
  // an offer the gateway never translated.
  it('XDCC SEND from the client naming 127.0.0.1:8080 is refused, not forwarded as written', () => {
    // input:    PRIVMSG bob :\x01XDCC SEND f 2130706433 8080 1\x01
    // expected: dropped with a NOTICE (foreign-address / unreadable-offer)
    // actual:   forwarded byte for byte, no event
    const line = 'PRIVMSG bob :\x01XDCC SEND f 2130706433 8080 1\x01\r\n';
    const r = run([...REGISTER, c(line)]);
    expect(r.c2s).toBe(HEAD_C2S);
    expect(refused(r.events)).toBe(true);
  });

  it('TDCC CHAT from outside naming 127.0.0.1:8080 is refused, not delivered to the client as written', () => {
    const line = ':bob!b@h PRIVMSG alice :\x01TDCC CHAT chat 2130706433 8080\x01\r\n';
    const r = run([...REGISTER, s(line)]);
    expect(r.s2c).not.toContain('2130706433');
    expect(refused(r.events)).toBe(true);
  });
});

describe('a CTCP tag that only begins with DCC', () => {
  // HexChat (src/common/ctcp.c, ctcp_handle): `if (!g_ascii_strncasecmp (msg, "DCC", 3))` - a
  // three-byte PREFIX match on the CTCP text - hands the line to handle_dcc (src/common/dcc.c),
  // which takes its fields from the server line's words: type = word[5], filename = word[6],
  // address = word[7] (strtoul base 10), port = word[8], size = word[9]. So `\x01DCCX SEND f
  // 2130706433 8080 1\x01` is a DCC SEND of 127.0.0.1:8080 to HexChat. The gateway's marker rule
  // wants "DCC then no letter or digit" (lenient.ts countDccMarkers) and its strict tag must be
  // exactly DCC, so the line passes untouched both ways.
  it('HexChat: \x01DCCX SEND ... from the client is refused, not forwarded as written', () => {
    // input:    PRIVMSG bob :\x01DCCX SEND f 2130706433 8080 1\x01
    // expected: refused (unreadable-offer or foreign-address); actual: forwarded, no event
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCCX SEND f 2130706433 8080 1\x01\r\n')]);
    expect(r.c2s).toBe(HEAD_C2S);
    expect(refused(r.events)).toBe(true);
  });

  it('HexChat: \x01DCC1 CHAT ... from outside is refused, not delivered as written', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC1 CHAT chat 2130706433 8080\x01\r\n')]);
    expect(r.s2c).not.toContain('2130706433');
    expect(refused(r.events)).toBe(true);
  });
});

describe('filename words a real client reads as the endpoint', () => {
  // irssi (src/irc/dcc/dcc-get.c, get_file_params_count): for an unquoted filename it takes the
  // LEFTMOST position pos >= 1 where params[pos] is numeric (or IPv6), params[pos+1] numeric
  // below 65536 and params[pos+2] numeric (`for (pos = paramcount-3; pos > 0; pos--) if
  // (get_params_match(params, pos)) best = pos;`), then address = params[pos] through
  // dcc_str2ip (strtoul base 10), port = params[pos+1]. So a triple in the middle of a spaced
  // filename wins over the real fields at the end. lenient.ts isAmbiguous only tries the 2nd and
  // 3rd words (sscanf) and the readings from the right, never a triple starting at the 3rd word
  // or later, so the line passes with the strict fields rewritten and the hidden endpoint intact.
  it('irssi: a triple in the middle of an unquoted filename (client to server) is refused', () => {
    // input:    PRIVMSG bob :\x01DCC SEND a b 2130706433 8080 1 3221225994 5000 100\x01
    //           strict reading: file "a b 2130706433 8080 1", 192.0.2.10:5000 (the client's own)
    //           irssi's reading: file "a b", 127.0.0.1:8080, size 1
    // expected: refused (ambiguous-offer), as "x 2130706433 8080" is
    // actual:   forwarded with only 3221225994 5000 rewritten; an irssi peer connects to its
    //           own 127.0.0.1:8080
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a b 2130706433 8080 1 3221225994 5000 100\x01\r\n')]);
    expect(r.c2s).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
  });

  it('irssi: the same offer from outside is refused, not delivered to an irssi client behind the gateway', () => {
    // irssi behind the gateway would connect to 127.0.0.1:8080 (its own host; the gateway's
    // policy forbids loopback for offers from outside) instead of the gateway's endpoint.
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC SEND a b 2130706433 8080 1 3325256706 6000 100\x01\r\n')]);
    expect(r.s2c).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
    expect(targets(r.events)).toEqual([]);
  });

  // KVIrc (KviIrcServerParser_ctcp.cpp, extractCtcpParameter) decodes backslash escapes inside
  // CTCP parameters, quoted or not: `\` followed by a space appends the space without ending the
  // parameter (decodeCtcpEscape's "null escape"). So `a\ x` is ONE parameter to KVIrc, and its
  // left-to-right reading (filename, address, port, size) shifts by one word compared with the
  // sscanf reading the lenient model tries.
  it('KVIrc: an escaped space in the filename shifts the fields onto 127.0.0.1:8080 and is refused', () => {
    // input:    PRIVMSG bob :\x01DCC SEND a\ x 2130706433 8080 3221225994 5000 1\x01
    //           strict: file "a\ x 2130706433 8080", 192.0.2.10:5000 size 1
    //           KVIrc:  file "a x", 127.0.0.1:8080, size 3221225994
    // expected: refused; actual: forwarded with only the strict fields rewritten
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a\\ x 2130706433 8080 3221225994 5000 1\x01\r\n')]);
    expect(r.c2s).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
  });

  // WeeChat (src/plugins/irc/irc-ctcp.c, irc_ctcp_recv_dcc) reads DCC SEND from the right with
  // strrchr(' '): the size is what follows the LAST space, then the port, then the address. The
  // CTCP arguments keep their trailing spaces (irc_ctcp_recv only cuts at the final \x01), so
  // with a trailing space the size is "" (xfer reads it with sscanf "%llu": 0) and the address
  // and port are the last two words: here the strict reading's size and token. lenient.ts
  // isAmbiguous leaves out readings to the right of the strict address on purpose ("that is the
  // offer format itself"), but size and token pass the gateway unchanged exactly like a filename:
  // an endpoint read there is one the gateway never checked.
  it('WeeChat: size and token read as the endpoint after a trailing space are refused', () => {
    // input:    PRIVMSG bob :\x01DCC SEND f 3221225994 5000 2130706433 8080 \x01
    //           strict: 192.0.2.10:5000, size 2130706433, token "8080"
    //           WeeChat: file "f 3221225994 5000", 127.0.0.1:8080, size ""
    // expected: refused; actual: forwarded with 3221225994 5000 rewritten, 2130706433 8080 kept
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND f 3221225994 5000 2130706433 8080 \x01\r\n')]);
    expect(r.c2s).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
  });

  // WeeChat (src/plugins/irc/irc-ctcp.c, irc_ctcp_recv) cuts a CTCP at the LAST \x01 of the
  // text, not the next one: `pos_end = strrchr (ptr_args + 1, '\01')`. With the DCC first and any
  // later \x01 in the text (another CTCP, or a stray one), the DCC's arguments run on over the
  // closing \x01 to the last one, and irc_ctcp_recv_dcc reads size, port and address from the
  // right of that: the gateway parses two segments (ctcp.ts findCtcp: "segments are cut at raw
  // \x01 bytes"), rewrites the first and passes the second unread.
  it('WeeChat: a DCC followed by another CTCP is read up to the last x01 byte and is refused', () => {
    // input:    PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01 \x01ACTION 2130706433 8080 1\x01
    //           gateway: DCC SEND a 192.0.2.10:5000 size 1, then an ACTION
    //           WeeChat: DCC SEND "a 3221225994 5000 1\x01 \x01ACTION" 127.0.0.1:8080 size 1
    // expected: refused; actual: first segment rewritten, 2130706433 8080 delivered
    const r = run([...REGISTER, c('PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01 \x01ACTION 2130706433 8080 1\x01\r\n')]);
    expect(r.c2s).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
  });

  it('WeeChat: the same from outside is refused, not delivered to a WeeChat client behind the gateway', () => {
    const r = run([...REGISTER, s(':bob!b@h PRIVMSG alice :\x01DCC SEND a 3325256706 6000 1\x01 2130706433 8080 1\x01\r\n')]);
    expect(r.s2c).not.toContain('2130706433 8080');
    expect(refused(r.events)).toBe(true);
  });
});

describe('the lines real clients send still pass or are translated', () => {
  const translated = (events: readonly IrcEvent[]) => events.filter((e) => e.type === 'line-translated').length;
  it.each([
    ['a quoted filename with numbers', 'PRIVMSG bob :\x01DCC SEND "my file 2024 01 02.txt" 3221225994 5000 1048576\x01\r\n'],
    ['an unquoted filename with number words', 'PRIVMSG bob :\x01DCC SEND track 01 02 03.mp3 3221225994 5000 1048576\x01\r\n'],
    ['a trailing space (WeeChat reads port and size: the format itself)', 'PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576 \x01\r\n'],
    ['backslashes in the filename', 'PRIVMSG bob :\x01DCC SEND C:\\dir\\f.txt 3221225994 5000 100\x01\r\n'],
    ['an escaped blank in the filename', 'PRIVMSG bob :\x01DCC SEND a\\ b.txt 3221225994 5000 100\x01\r\n'],
    ['a passive offer of a file over 4 GiB with a numeric token', 'PRIVMSG bob :\x01DCC SEND big.iso 3221225994 0 4294967296 77\x01\r\n'],
    ['an offer followed by an ACTION', 'PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01 \x01ACTION waves\x01\r\n'],
    ['two offers in one line (WeeChat reads the second one\'s endpoint, which is translated too)', 'PRIVMSG bob :\x01DCC SEND a 3221225994 5000 1\x01\x01DCC SEND b 3221225994 5001 2\x01\r\n'],
  ])('from the client: %s', (_what, line) => {
    const r = run([...REGISTER, c(line)]);
    expect(refused(r.events)).toBe(false);
    expect(translated(r.events)).toBe(1);
  });

  it.each([
    ['XDCC SEND #5 to a bot', 'PRIVMSG bot :\x01XDCC SEND #5\x01\r\n'],
    ['XDCC LIST', 'PRIVMSG bot :\x01XDCC LIST\x01\r\n'],
    ['XDCC as plain text', 'PRIVMSG bot :XDCC SEND #5\r\n'],
    ['TDCC RESUME (a port and a position: no address)', 'PRIVMSG bob :\x01TDCC RESUME f 40001 100\x01\r\n'],
  ])('from the client, unchanged: %s', (_what, line) => {
    const r = run([...REGISTER, c(line)]);
    expect(refused(r.events)).toBe(false);
    expect(r.c2s).toBe(HEAD_C2S + line);
  });

  it.each([
    ['a quoted filename', ':bot!b@h PRIVMSG alice :\x01DCC SEND "Episode 01.mkv" 3325256706 6000 734003200\x01\r\n', 1],
    ['a CHAT', ':bob!b@h PRIVMSG alice :\x01DCC CHAT chat 3325256706 6000\x01\r\n', 1],
    ['an offer followed by an ACTION', ':bob!b@h PRIVMSG alice :\x01DCC SEND a 3325256706 6000 1\x01 \x01ACTION waves\x01\r\n', 1],
    ['a passive offer with a large size and a numeric token', ':bob!b@h PRIVMSG alice :\x01DCC SEND big.iso 3325256706 0 4294967296 77\x01\r\n', 0],
    ['a REJECT', ':bob!b@h NOTICE alice :\x01DCC REJECT SEND a.txt\x01\r\n', 0],
    ['an XDCC bot\'s listing', ':bot!b@h NOTICE alice :\x01XDCC LIST\x01 #1 10x [700M] Episode 01.mkv\r\n', 0],
  ])('from outside: %s', (_what, line, n) => {
    const r = run([...REGISTER, s(line)]);
    expect(refused(r.events)).toBe(false);
    expect(translated(r.events)).toBe(n);
  });
});
