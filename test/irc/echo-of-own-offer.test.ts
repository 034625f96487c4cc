/**
 * From the review of the IRC DCC ALG (issue 9): the client's own offer echoed back by the server.
 *
 * With the IRCv3 `echo-message` capability (InspIRCd's ircv3_echomessage module: "Echoes NOTICE,
 * PRIVMSG, and TAGMSG messages back to the sender"; solanum, Ergo and UnrealIRCd offer it too;
 * clients such as WeeChat 4, Thunderbird chat and kiwiirc request it) and with bouncers'
 * self-message replay, the server sends the client's PRIVMSG back to it, as the server received
 * it: already translated, naming the gateway's outside endpoint. The gateway reads that line as
 * an offer FROM OUTSIDE and refuses it for naming the gateway's own address, so for every DCC
 * the user sends: the echo (which such clients display instead of the local copy) is dropped, and
 * the user gets a NOTICE "DCC SEND from alice refused by the gateway: it names an address the
 * gateway does not connect to" about their own, successful, offer.
 *
 * Failed on main at the time of review (14041b6). Fixed: an offer from the client's own nick
 * naming the endpoint announced for one of its live offers is translated back (offer-plan.ts).
 */
import { expect, it } from 'vitest';
import { c, REGISTER, run, s } from './harness.js';

it('the echo of the client’s own translated offer is not refused', () => {
  // input:    client: PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01
  //           (goes out as ... 3325256705 40001 ..., i.e. 198.51.100.1:40001, the gateway)
  //           server (echo-message): :alice!a@192.0.2.10 PRIVMSG bob :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01
  // expected: no command-refused event; the echo reaches the client
  // actual:   echo dropped, NOTICE "DCC SEND from alice refused by the gateway: it names an
  //           address the gateway does not connect to."
  const r = run([
    ...REGISTER,
    c('PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n'),
    s(':alice!a@192.0.2.10 PRIVMSG bob :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01\r\n'),
  ]);
  expect(r.events.filter((e) => e.type === 'command-refused')).toEqual([]);
  expect(r.s2c).toContain(':alice!a@192.0.2.10 PRIVMSG bob :');
});

it('the echo is given back the client’s own endpoint, and opens no data channel', () => {
  const r = run([
    ...REGISTER,
    c('PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n'),
    s(':alice!a@192.0.2.10 PRIVMSG bob :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01\r\n'),
  ]);
  expect(r.s2c).toContain(':alice!a@192.0.2.10 PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n');
  expect(r.events.filter((e) => e.type === 'data-channel-request')).toHaveLength(1); // the offer's own
});

it('the same line from another nick is refused as naming the gateway’s address', () => {
  // Anyone who saw the offer knows the gateway's endpoint; only the client's own nick is an echo.
  const r = run([
    ...REGISTER,
    c('PRIVMSG bob :\x01DCC SEND report.pdf 3221225994 5000 1048576\x01\r\n'),
    s(':mallory!m@h PRIVMSG alice :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01\r\n'),
  ]);
  expect(r.events.filter((e) => e.type === 'command-refused').map((e) => e.type === 'command-refused' && e.reason)).toEqual(['forbidden-address']);
  expect(r.s2c).not.toContain('3325256705');
});

it('an echo naming no live offer of the client is refused as before', () => {
  const r = run([...REGISTER, s(':alice!a@192.0.2.10 PRIVMSG bob :\x01DCC SEND report.pdf 3325256705 40001 1048576\x01\r\n')]);
  expect(r.events.filter((e) => e.type === 'command-refused').map((e) => e.type === 'command-refused' && e.reason)).toEqual(['forbidden-address']);
});
