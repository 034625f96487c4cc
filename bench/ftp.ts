/**
 * FTP translator benchmarks.
 * - ftp.passthrough: MB/s through both directions of a realistic control stream (typical commands
 *   and replies, multi-line FEAT/HELP/STAT replies, long path names) fed in 1460-byte chunks,
 *   with the ratio against a plain newline scan (`indexOf(10)` loop) of the same chunks in the
 *   same run. Goal: ratio >= 0.5 (no absolute goal: a control channel carries bytes per second,
 *   and legibility is worth more than speed beyond a few hundred MB/s).
 *   Client lines are held until their LF (the line cap), so lines cut by the 1460-byte chunking
 *   are copied once: that cost is part of the figure.
 * - ftp.rewrite: PORT and 227 lines rewritten per second with a resolver that answers at once.
 *   Goal: >= 500,000 lines/s.
 */
import { FtpTranslator } from '../src/core/index.js';
import type { Direction } from '../src/core/index.js';
import { compareRates, measureRate, type BenchResult } from './harness.js';

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';
const MSS = 1460;

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** One typical exchange after login: commands and their replies. */
function exchange(k: number): [string, string] {
  const dir = `/pub/releases/project-${k % 97}/v${k % 13}.${k % 7}`;
  const file = `archive-${k}-${(k * 7919) % 100000}.tar.gz`;
  const c = [
    `CWD ${dir}\r\n`, 'TYPE I\r\n', `SIZE ${file}\r\n`, `MDTM ${file}\r\n`, `RETR ${file}\r\n`, 'NOOP\r\n', `STAT ${file}\r\n`,
    'PWD\r\n', 'FEAT\r\n',
  ].join('');
  const s = [
    '250 Directory successfully changed.\r\n', '200 Switching to Binary mode.\r\n', `213 ${k * 1031}\r\n`, '213 20260115093012\r\n',
    `150 Opening BINARY mode data connection for ${file} (${k * 1031} bytes).\r\n`, '226 Transfer complete.\r\n', '200 NOOP ok.\r\n',
    `213-Status follows:\r\n-rw-r--r--    1 ftp      ftp      ${k * 1031} Jan 15 09:30 ${file}\r\n213 End of status\r\n`,
    `257 "${dir}" is the current directory\r\n`,
    '211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n',
  ].join('');
  return [c, s];
}

interface Stream {
  chunks: Array<[Direction, Uint8Array]>;
  bytes: number;
}

/** Both directions cut into MSS chunks and interleaved as a conversation would be. */
export function buildStream(targetBytes: number): Stream {
  const cs: string[] = [];
  const ss: string[] = ['220 (vsFTPd 3.0.3)\r\n'];
  let n = 0;
  for (let k = 0; n < targetBytes; k++) {
    const [c, s] = exchange(k);
    cs.push(c);
    ss.push(s);
    n += c.length + s.length;
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
  // Interleave so that the server never runs ahead of the commands it answers.
  let j = 0;
  for (let i = 0; i < c.length; i++) {
    chunks.push([C2S, c[i]!]);
    const until = Math.floor(((i + 1) * s.length) / c.length) - 1;
    for (; j < until; j++) chunks.push([S2C, s[j]!]);
  }
  for (; j < s.length; j++) chunks.push([S2C, s[j]!]);
  return { chunks, bytes: n };
}

export function passthrough(stream: Stream): () => void {
  return () => {
    const t = new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' });
    for (const [dir, chunk] of stream.chunks) {
      if (t.handleData(dir, chunk, 0) !== chunk.length) throw new Error('passthrough blocked');
      while (t.pollOutput(dir) !== null);
      while (t.pollOutput(S2C) !== null);
      if (t.pollEvent() !== null) throw new Error('unexpected event in pass-through stream');
    }
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

export function rewrite(pairs: number): { fn: () => void; lines: number } {
  const c: string[] = [];
  const s: string[] = ['220 ready\r\n'];
  for (let k = 0; k < pairs; k++) {
    const p = 1024 + (k % 60000);
    c.push(`PORT 192,0,2,10,${p >> 8},${p & 255}\r\nPASV\r\n`);
    s.push(`200 PORT command successful.\r\n227 Entering Passive Mode (10,0,0,5,${p >> 8},${p & 255}).\r\n`);
  }
  const cb = enc(c.join(''));
  const sb = enc(s.join(''));
  const replacement4 = { family: 4 as const, address: '203.0.113.1', port: 40000 };
  let translated = 0;
  const feed = (t: FtpTranslator, dir: Direction, b: Uint8Array) => {
    let off = 0;
    while (off < b.length) {
      off += t.handleData(dir, b.subarray(off), 0);
      for (let e = t.pollEvent(); e; e = t.pollEvent()) {
        if (e.type === 'data-channel-request') t.resolveDataChannel(e.request.id, replacement4);
        else if (e.type === 'line-translated') translated++;
        else if (e.type === 'command-refused' || e.type === 'protocol-error') throw new Error(`unexpected ${e.type}`);
      }
      while (t.pollOutput(dir) !== null);
    }
  };
  const fn = () => {
    const t = new FtpTranslator({
      clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxPendingDataChannels: 16 },
    });
    // in steps of 8 exchanges so that the pending queue and mappings stay small
    const step = 8;
    const cl = cb.length / pairs;
    const sl = (sb.length - 11) / pairs;
    feed(t, S2C, sb.subarray(0, 11));
    for (let k = 0; k < pairs; k += step) {
      // line lengths vary with the port digits, so find the boundaries by counting lines
      feed(t, C2S, slice(cb, k * 2, (k + step) * 2));
      feed(t, S2C, slice(sb, 1 + k * 2, 1 + (k + step) * 2));
      while (t.pollOutput(S2C) !== null);
    }
    void cl;
    void sl;
  };
  fn();
  if (translated !== pairs * 2) throw new Error(`rewrote ${translated} of ${pairs * 2} lines`);
  return { fn, lines: pairs * 2 };
}

/** Bytes of lines [from, to) of b (precomputed line starts would be faster; cached below). */
const lineCache = new WeakMap<Uint8Array, number[]>();
function slice(b: Uint8Array, from: number, to: number): Uint8Array {
  let starts = lineCache.get(b);
  if (!starts) {
    starts = [0];
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) starts.push(i + 1);
    lineCache.set(b, starts);
  }
  const last = starts.length - 1;
  return b.subarray(starts[Math.min(from, last)]!, starts[Math.min(to, last)]!);
}

export async function run(): Promise<BenchResult[]> {
  const stream = buildStream(4 * 1024 * 1024);
  const cmp = compareRates(passthrough(stream), newlineScan(stream), stream.bytes / 1e6, 7, 200);
  const rw = rewrite(20000);
  const rewrites = measureRate(rw.fn, rw.lines, 7, 200);
  if (sink < 0) console.log(sink);
  return [
    {
      name: 'ftp.passthrough',
      value: cmp.value,
      unit: 'MB/s',
      baseline: cmp.baseline,
      ratio: cmp.ratio,
      note: `goal ratio >= 0.5; ${(stream.bytes / 1e6).toFixed(1)} MB both directions in ${MSS}-byte chunks; baseline: indexOf(10) scan of the same chunks; medians of 7 interleaved rounds, ratio = median of the per-round ratios`,
    },
    {
      name: 'ftp.rewrite',
      value: rewrites,
      unit: 'lines/s',
      note: 'goal >= 500,000 lines/s; PORT and 227 lines rewritten, resolver answering synchronously; median of 7 rounds of >= 200 ms',
    },
  ];
}
