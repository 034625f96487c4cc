/**
 * Differential fuzzing against a model of the most lenient real server (lenient-server.ts):
 * hostile command lines in many spellings (case, leading blanks and tabs, Telnet commands inside
 * and before the verb, any whitespace or NUL after it, bare CRs) go through the translator in
 * random chunkings, and whatever it forwards is read by the model, which answers like a server:
 * - every PORT/EPRT/LPRT the model executes must name the gateway's own endpoint (the attacker
 *   only ever names a third host, itself or a low port): anything else is a bounce that got by;
 * - every passive command the model executes is answered with the server's real data port in a
 *   plain `200` (a reply only a recognised passive command makes the gateway read), and that
 *   port must never reach the client;
 * - an AUTH the model executes (234) must have the translator follow TLS.
 * Found this way before: ` PORT`, `PORT<TAB>`, `PORT<VT>` and `EPRT<TAB>` passed unchecked.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { bytes, text, C2S, S2C } from './harness.js';
import { FtpTranslator } from '../../src/core/ftp/translator.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';
import { FLUSH_LIMIT, LenientServer, lenientEprtAddress, lenientPortAddress, type LenientCommand } from './lenient-server.js';
import { hostileLineArb as lineArb } from './arbitraries.js';

const o: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' };
const GATEWAY = '192.0.2.1';
const SECRET_PORT = 55555; // the server's real data port: 217 * 256 + 3

/** Answers like a server that executes what the lenient model reads. */
function answer(c: LenientCommand, violations: string[], auth: { executed: boolean }): string {
  switch (c.verb) {
    case 'PORT':
    case 'LPRT': {
      const address = lenientPortAddress(c.verb, c.argument);
      if (address !== null && address !== GATEWAY) violations.push(`server executed ${c.verb} ${c.argument}`);
      return '200 PORT command successful.\r\n';
    }
    case 'EPRT': {
      const address = lenientEprtAddress(c.argument);
      if (address !== null && address !== GATEWAY) violations.push(`server executed EPRT ${c.argument}`);
      return '200 EPRT command successful.\r\n';
    }
    case 'PASV':
      return `200 Entering Passive Mode (198,51,100,20,${SECRET_PORT >> 8},${SECRET_PORT & 255}).\r\n`;
    case 'EPSV':
      return c.argument.toUpperCase() === 'ALL' ? '200 EPSV ALL ok.\r\n' : `200 Entering Extended Passive Mode (|||${SECRET_PORT}|).\r\n`;
    case 'LPSV':
      return `200 Entering Long Passive Mode (4,4,198,51,100,20,2,${SECRET_PORT >> 8},${SECRET_PORT & 255}).\r\n`;
    case 'AUTH':
      auth.executed = true;
      return '234 AUTH ok.\r\n';
    case '':
      return '500 Command too long.\r\n';
    default:
      return '500 Unknown command.\r\n';
  }
}

function drain(t: FtpTranslator, d: typeof C2S | typeof S2C): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) out.push(b.slice());
  return out;
}

/** Cut `data` at the given fractions (a chunking), never empty pieces. */
function pieces(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * data.length)).filter((p) => p > 0 && p < data.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(from, p));
    from = p;
  }
  return out;
}

/** One session: the client's lines in a chunking; the model server answering what it reads. */
function session(lines: string[], cuts: number[], options = o): { violations: string[]; toClient: string; tls: boolean; closed: boolean; authExecuted: boolean } {
  const t = new FtpTranslator(options);
  const server = new LenientServer();
  const violations: string[] = [];
  const auth = { executed: false };
  let toClient = '';
  let tls = false;
  let closed = false;
  let now = 0;
  const step = () => {
    for (let e = t.pollEvent(); e; e = t.pollEvent()) {
      if (e.type === 'tls-started') tls = true;
      if (e.type === 'close') closed = true;
      if (e.type === 'data-channel-request') {
        const r = e.request;
        t.resolveDataChannel(r.id, r.family === 4 ? { family: 4, address: GATEWAY, port: 40000 + r.id } : { family: 6, address: '2001:db8::1', port: 40000 + r.id });
      }
    }
    for (const b of drain(t, S2C)) toClient += text(b);
    for (const b of drain(t, C2S)) {
      if (auth.executed) continue; // after a 234 the model's control channel is TLS: not read
      for (const c of server.feed(b)) {
        const reply = bytes(answer(c, violations, auth));
        feed(S2C, reply);
      }
    }
  };
  const queue: Record<string, Uint8Array[]> = { [C2S]: [], [S2C]: [] };
  const feed = (d: typeof C2S | typeof S2C, b: Uint8Array) => {
    queue[d]!.push(b);
  };
  const pump = () => {
    for (let guard = 0; guard < 10_000; guard++) {
      let moved = false;
      for (const d of [S2C, C2S] as const) {
        const q = queue[d]!;
        if (q.length === 0 || t.isBlocked(d)) continue;
        const chunk = q[0]!;
        const used = t.handleData(d, chunk, now);
        if (used >= chunk.length) q.shift();
        else q[0] = chunk.subarray(used);
        moved = moved || used > 0;
        step();
      }
      step();
      if (!moved) return;
    }
    throw new Error('no progress');
  };
  feed(S2C, bytes('220 lenient server ready\r\n'));
  pump();
  for (const piece of pieces(bytes(lines.join('')), cuts)) {
    now += 10;
    feed(C2S, piece);
    pump();
  }
  return { violations, toClient, tls, closed, authExecuted: auth.executed };
}

/** A hostile line behind padding that takes it across pyftpdlib's 2048-byte flush. */
const paddedLineArb = fc
  .tuple(fc.integer({ min: FLUSH_LIMIT - 40, max: FLUSH_LIMIT + 40 }), lineArb)
  .map(([n, line]) => 'NOOP ' + 'x'.repeat(n) + line);

describe('fuzzing against the most lenient server', () => {
  it('no data command the model executes names anything but the gateway; no server data port reaches the client; AUTH is followed', () => {
    let sessions = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: lineArb, weight: 6 }, { arbitrary: paddedLineArb, weight: 1 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        (lines, cuts) => {
          for (const chunking of [[], cuts, Array.from({ length: 64 }, (_, k) => k / 64)]) {
            sessions++;
            const r = session(lines, chunking);
            expect(r.violations, JSON.stringify(lines)).toEqual([]);
            expect(r.toClient, JSON.stringify(lines)).not.toMatch(new RegExp(`\\b${SECRET_PORT}\\b|,217,3\\b|\\b217,3\\)`));
            // An AUTH the model ran is followed, or the gateway closed the connection.
            if (r.authExecuted) expect(r.tls || r.closed, JSON.stringify(lines)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
    expect(sessions).toBe(9000);
  });

  it('a line longer than pyftpdlib reads whole never reaches it: with a larger maxLineLength the model shows the bypass', () => {
    const smuggled = ['NOOP ' + 'x'.repeat(FLUSH_LIMIT - 4) + 'PORT 6,6,6,6,0,21\r\n'];
    const lax = { ...o, policy: { maxLineLength: 4096 } };
    expect(session(smuggled, []).violations).toEqual([]);
    expect(session(smuggled, [], lax).violations).toEqual(['server executed PORT 6,6,6,6,0,21']);
    // An AUTH smuggled so starts TLS on a command the gateway never saw: it closes the connection.
    const auth = session(['NOOP ' + 'x'.repeat(FLUSH_LIMIT - 4) + 'AUTH TLS\r\n', 'PORT 6,6,6,6,0,21\r\n'], [], lax);
    expect(auth.authExecuted).toBe(true);
    expect(auth.closed).toBe(true);
    expect(auth.toClient).toContain('421 Unexpected TLS negotiation');
  });

  it('the model itself finds the bypasses this fuzzer exists for (its checks can fail)', () => {
    // Read with the gateway out of the way: the lenient server executes what the old rule let
    // through unchecked.
    const server = new LenientServer();
    const seen = server.feed(bytes(' PORT 6,6,6,6,0,21\r\nPORT\t6,6,6,6,0,21\r\nport\x0c6,6,6,6,0,21\r\nEPRT\t|1|6.6.6.6|21|\r\nPO\xff\xf1RT 6,6,6,6,0,21\r\n'));
    expect(seen.map((c) => c.verb)).toEqual(['PORT', 'PORT', 'PORT', 'EPRT', 'PORT']);
    expect(seen.map((c) => (c.verb === 'EPRT' ? lenientEprtAddress(c.argument) : lenientPortAddress(c.verb, c.argument)))).toEqual(['6.6.6.6', '6.6.6.6', '6.6.6.6', '6.6.6.6', '6.6.6.6']);
  });
});
