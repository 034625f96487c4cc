/**
 * Replay a recorded FTP control session through the nat-alg core, the way you would unit-test
 * address rewriting in isolation: no sockets, no timers, just bytes in and bytes out.
 *
 *   npx tsup --config tsup.scripts.config.ts && node .build/examples/replay-session.js
 *
 * The session below was recorded between curl and vsftpd on loopback (client 127.0.0.1); the
 * gateway in front of the client is pretended to be 203.0.113.5 and hands out ports from 50000.
 */
import { FtpTranslator, formatEndpoint, type Direction, type Endpoint, type FtpEvent } from '../src/core/index.js';

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';

/** The recording: what each side sent, in the order the gateway read it. */
const recording: Array<[Direction, string]> = [
  [S2C, '220 (vsFTPd 3.0.3)\r\n'],
  [C2S, 'USER anonymous\r\n'],
  [S2C, '230 Login successful.\r\n'],
  [C2S, 'EPSV\r\n'],
  [S2C, '229 Entering Extended Passive Mode (|||41637|)\r\n'],
  [C2S, 'PASV\r\n'],
  [S2C, '227 Entering Passive Mode (127,0,0,1,162,164).\r\n'],
  [C2S, 'PORT 127,0,0,1,231,197\r\n'],
  [S2C, '200 PORT command successful. Consider using PASV.\r\n'],
  [C2S, 'PORT 198,51,100,66,0,22\r\n'], // a bounce attempt: refused by the gateway itself
  [C2S, 'QUIT\r\n'],
  [S2C, '221 Goodbye.\r\n'],
];

const gateway = '203.0.113.5';
let nextPort = 50000;

const translator = new FtpTranslator({ clientAddress: '127.0.0.1', serverAddress: '127.0.0.1' });
const sent: Record<Direction, string[]> = { [C2S]: [], [S2C]: [] };
const events: FtpEvent[] = [];
const latin1 = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join('');
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The embedding loop: feed, answer requests, collect output; refeed what was not consumed. */
function feed(direction: Direction, input: Uint8Array): void {
  let rest = input;
  while (rest.length > 0) {
    rest = rest.subarray(translator.handleData(direction, rest, 0));
    for (let e = translator.pollEvent(); e; e = translator.pollEvent()) {
      events.push(e);
      if (e.type === 'data-channel-request') {
        // A relay would bind a listener here first; a packet NAT would consult its table.
        const replacement: Endpoint = { family: e.request.family, address: gateway, port: nextPort++ };
        translator.resolveDataChannel(e.request.id, replacement);
      }
    }
    for (const d of [C2S, S2C]) {
      for (let out = translator.pollOutput(d); out; out = translator.pollOutput(d)) sent[d].push(latin1(out));
    }
    if (rest.length > 0 && translator.isBlocked(direction)) throw new Error('blocked without a pending request');
  }
}

for (const [direction, line] of recording) feed(direction, bytes(line));

const show = (s: string) => s.replace(/\r\n/g, '').replace(/\n/g, '');
console.log('line by line (before -> after):');
for (const e of events) {
  if (e.type === 'line-translated') console.log(`  ${e.direction.padEnd(16)} ${e.before}\n  ${''.padEnd(16)} -> ${e.after}`);
  if (e.type === 'command-refused') console.log(`  refused ${e.command} (${e.reason}): client gets "${e.reply}"`);
  if (e.type === 'data-channel-request') {
    console.log(`  ${e.request.mode} data channel #${e.request.id}: ${formatEndpoint(e.request.original)} (${e.request.command})`);
  }
}

const toServer = sent[C2S].join('');
const toClient = sent[S2C].join('');
console.log('\nwhat the server received:\n' + toServer.split('\r\n').filter(Boolean).map((l) => '  ' + show(l)).join('\n'));
console.log('what the client received:\n' + toClient.split('\r\n').filter(Boolean).map((l) => '  ' + show(l)).join('\n'));

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`replay-session: ${what}`);
}
check(toClient.includes('229 Entering Extended Passive Mode (|||50000|)\r\n'), '229 port rewritten');
check(toClient.includes('227 Entering Passive Mode (203,0,113,5,195,81).\r\n'), '227 address rewritten');
check(toServer.includes('PORT 203,0,113,5,195,82\r\n'), 'PORT rewritten');
check(!toServer.includes('198,51,100,66'), 'bounce PORT never reaches the server');
check(toClient.includes('504 Data address refused: it must be your own address.\r\n'), 'bounce refused locally');
check(toServer.endsWith('QUIT\r\n') && toClient.endsWith('221 Goodbye.\r\n'), 'session completes');
check(events.filter((e) => e.type === 'data-channel-committed').length === 3, 'three data channels committed');
console.log('\nall checks passed');
