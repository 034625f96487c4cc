/**
 * IRC translator benchmark.
 * - irc.passthrough: MB/s through both directions of a realistic IRC session (a busy channel:
 *   PRIVMSGs of varying length, JOIN/PART/QUIT, numerics, PING/PONG, a /me ACTION now and then,
 *   and every 1000th server line and every 100th client line a DCC offer translated with a data
 *   channel answered at once) fed in 1460-byte chunks, with the ratio against a plain newline scan
 *   (`indexOf(10)` loop) of the same chunks in the same run. Goal: ratio >= 0.5.
 */
import { IrcTranslator } from '../src/core/index.js';
import type { Direction } from '../src/core/index.js';
import { compareRates, type BenchResult } from './harness.js';

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';
const MSS = 1460;

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

const WORDS = ['the', 'build', 'is', 'green', 'again', 'anyone', 'seen', 'the', 'release', 'notes', 'for', 'tomorrow', 'lunch', 'ok', 'thanks', 'merging', 'now', 'ping', 'me', 'later'];

function sentence(k: number): string {
  const n = 3 + ((k * 7) % 23);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[(k * 13 + i * 5) % WORDS.length]!);
  return out.join(' ');
}

/** One server line of a busy channel, or an offer from outside every 1000th line. */
function serverLine(k: number): string {
  const who = `nick${k % 57}!~user${k % 57}@host-${k % 57}.example.net`;
  if (k % 1000 === 999) return `:${who} PRIVMSG alice :\x01DCC SEND file-${k}.tar.gz 3325256706 ${6000 + (k % 1000)} ${k * 997}\x01\r\n`;
  switch (k % 40) {
    case 7:
      return `:${who} JOIN #project\r\n`;
    case 19:
      return `:${who} PART #project :see you\r\n`;
    case 23:
      return `:${who} PRIVMSG #project :\x01ACTION ${sentence(k)}\x01\r\n`;
    case 31:
      return 'PING :irc.example.net\r\n';
    case 37:
      return `:irc.example.net 353 alice = #project :${Array.from({ length: 12 }, (_, i) => `@nick${(k + i) % 57}`).join(' ')}\r\n`;
    default:
      return `:${who} PRIVMSG #project :${sentence(k)}\r\n`;
  }
}

/** One client line, or an offer from the client every 100th line. */
function clientLine(k: number): string {
  if (k % 100 === 99) return `PRIVMSG bob :\x01DCC SEND report-${k}.pdf 3221225994 ${5000 + (k % 1000)} ${k * 31}\x01\r\n`;
  if (k % 5 === 4) return 'PONG :irc.example.net\r\n';
  return `PRIVMSG #project :${sentence(k * 3)}\r\n`;
}

interface Stream {
  chunks: Array<[Direction, Uint8Array]>;
  bytes: number;
}

/** Both directions cut into MSS chunks and interleaved (a client writes about one line in eight). */
export function buildStream(targetBytes: number): Stream {
  const cs: string[] = ['NICK alice\r\nUSER alice 0 * :Alice\r\n'];
  const ss: string[] = [':irc.example.net 001 alice :Welcome to the network\r\n'];
  let n = cs[0]!.length + ss[0]!.length;
  for (let k = 0; n < targetBytes; k++) {
    const s = serverLine(k);
    ss.push(s);
    n += s.length;
    if (k % 8 === 0) {
      const c = clientLine(k >> 3);
      cs.push(c);
      n += c.length;
    }
  }
  const cut = (text: string) => {
    const b = enc(text);
    const out: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += MSS) out.push(b.subarray(i, Math.min(b.length, i + MSS)));
    return out;
  };
  const c = cut(cs.join(''));
  const s = cut(ss.join(''));
  const chunks: Array<[Direction, Uint8Array]> = [];
  let j = 0;
  for (let i = 0; i < c.length; i++) {
    chunks.push([C2S, c[i]!]);
    const until = Math.floor(((i + 1) * s.length) / c.length);
    for (; j < until; j++) chunks.push([S2C, s[j]!]);
  }
  for (; j < s.length; j++) chunks.push([S2C, s[j]!]);
  return { chunks, bytes: n };
}

const OUTSIDE = { family: 4 as const, address: '198.51.100.1', port: 40000 };
const INSIDE = { family: 4 as const, address: '192.0.2.1', port: 40001 };

export function passthrough(stream: Stream, expectOffers = true): () => void {
  return () => {
    const t = new IrcTranslator({
      clientAddress: '192.0.2.10',
      serverAddress: '198.51.100.7',
      gateway: { client: { local: '192.0.2.1', announced: [] }, server: { local: '198.51.100.1', announced: [] } },
    });
    let offers = 0;
    for (const [dir, chunk] of stream.chunks) {
      let off = 0;
      for (;;) {
        off += t.handleData(dir, off === 0 ? chunk : chunk.subarray(off), 0);
        for (let e = t.pollEvent(); e; e = t.pollEvent()) {
          if (e.type === 'data-channel-request') {
            t.resolveDataChannel(e.request.id, e.request.connector === 'server' ? OUTSIDE : INSIDE);
            offers++;
          } else if (e.type === 'command-refused' || e.type === 'protocol-error' || e.type === 'close') {
            throw new Error(`unexpected ${e.type}: ${JSON.stringify(e)}`);
          }
        }
        while (t.pollOutput(C2S) !== null);
        while (t.pollOutput(S2C) !== null);
        if (off >= chunk.length) break;
      }
    }
    if (expectOffers && offers === 0) throw new Error('no offer was translated');
  };
}

let sink = 0;
function newlineScan(stream: Stream): () => void {
  return () => {
    let lines = 0;
    for (const [, chunk] of stream.chunks) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }
    sink += lines;
  };
}

export async function run(): Promise<BenchResult[]> {
  const stream = buildStream(4 * 1024 * 1024);
  const cmp = compareRates(passthrough(stream), newlineScan(stream), stream.bytes / 1e6, 7, 200);
  if (sink < 0) console.log(sink);
  return [
    {
      name: 'irc.passthrough',
      value: cmp.value,
      unit: 'MB/s',
      baseline: cmp.baseline,
      ratio: cmp.ratio,
      note: `goal ratio >= 0.5; ${(stream.bytes / 1e6).toFixed(1)} MB of a busy channel both directions in ${MSS}-byte chunks, a DCC offer every 1000th server and 100th client line (data channels answered at once); baseline: indexOf(10) scan of the same chunks; medians of 7 interleaved rounds, ratio = median of the per-round ratios`,
    },
  ];
}
