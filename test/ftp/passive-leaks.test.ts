/**
 * No data address a lenient client could read reaches it untranslated. The clients are modelled
 * here independently of the translator's own readers (src/core/ftp/passive-address.ts):
 * - Python's ftplib: the first `\d+,` x6 anywhere in the whole reply (227); the first `(` of the
 *   whole reply, split at the character after it, int() of the fourth field (229).
 * - curl-like C clients: `sscanf("%d,%d,%d,%d,%d,%d")` tried at every position of a line (227);
 *   the first `(` of a line, three equal delimiters, strtoul, the delimiter again (229); a reply
 *   ends at any line of three digits and a blank.
 * A server's reply to PASV or EPSV, however it is shaped, must leave the gateway with every
 * in-range reading naming the gateway's own endpoint, in one piece or a byte at a time.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { run, c, s, text, opts } from './harness.js';
import { same } from './arbitraries.js';

const GATEWAY = '192.0.2.1';
const bytewise = (d: Uint8Array) => Array.from({ length: d.length }, () => 1);

type Reading = { address: string | null; port: number };

const inRange = (v: number[]) => v.every((n) => n >= 0 && n <= 255);
const sextet = (v: number[]): Reading | null => (inRange(v) ? { address: v.slice(0, 4).join('.'), port: v[4]! * 256 + v[5]! } : null);

function ftplib227(resp: string): Reading | null {
  const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(resp);
  return m ? sextet(m.slice(1).map(Number)) : null;
}

const WS = '[ \\t\\v\\f\\r\\n]*';
const D = `${WS}([+-]?\\d+)`;
const SCANF6 = new RegExp(`${D},${D},${D},${D},${D},${D}`, 'y');

function sscanf227(line: string): Reading | null {
  for (let i = 0; i < line.length; i++) {
    SCANF6.lastIndex = i;
    const m = SCANF6.exec(line);
    if (m) return sextet(m.slice(1).map(Number));
  }
  return null;
}

function pythonInt(field: string): number | null {
  const t = field.trim();
  return /^[+-]?\d(?:_?\d)*$/.test(t) ? Number(t.replace(/_/g, '')) : null;
}

function ftplib229(resp: string): Reading | null {
  const left = resp.indexOf('(');
  if (left < 0) return null;
  let right = resp.indexOf(')', left + 1);
  if (right < 0) right = resp.length - 1; // Python's resp[left+1:-1]
  const body = resp.slice(left + 1, right);
  if (body.length === 0) return null;
  const parts = body.split(body[0]!);
  if (parts.length !== 5) return null;
  const port = pythonInt(parts[3]!);
  return port !== null && port >= 1 && port <= 65535 ? { address: null, port } : null;
}

function curl229(line: string): Reading | null {
  const p = line.indexOf('(');
  if (p < 0) return null;
  const sep = line[p + 1];
  if (sep === undefined || line[p + 2] !== sep || line[p + 3] !== sep) return null;
  const m = /^[ \t\v\f\r]*[+-]?(\d+)/.exec(line.slice(p + 4));
  if (!m || line[p + 4 + m[0].length] !== sep) return null;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535 ? { address: null, port } : null;
}

/** The lines of the first reply as RFC 959 ends it (ftplib), and as curl ends it: at the first `ddd ` line. */
function firstReply(out: string): { rfc: string[]; curl: string[] } {
  const lines = out.split(/\r?\n/).filter((l, i, a) => i < a.length - 1 || l !== '');
  const code = lines[0]?.slice(0, 3) ?? '';
  const end = lines.findIndex((l, i) => (i === 0 && l[3] !== '-') || (i > 0 && l.startsWith(code + ' ')));
  const curlEnd = lines.findIndex((l) => /^\d{3} /.test(l));
  return { rfc: end < 0 ? lines : lines.slice(0, end + 1), curl: curlEnd < 0 ? lines : lines.slice(0, curlEnd + 1) };
}

/** A client reads a data address only from a positive reply. */
const positive = (codeLine: string | undefined) => codeLine !== undefined && /^2\d\d/.test(codeLine);

/** Every reading some lenient client that sent `command` makes of the reply, in range. */
function readings(reply: { rfc: string[]; curl: string[] }, command: 'PASV' | 'EPSV'): Reading[] {
  const resp = reply.rfc.join('\n');
  const all: Array<Reading | null> = [];
  if (positive(reply.rfc[0])) all.push(command === 'PASV' ? ftplib227(resp) : ftplib229(resp));
  if (positive(reply.curl[reply.curl.length - 1])) all.push(...reply.curl.map(command === 'PASV' ? sscanf227 : curl229));
  return all.filter((r): r is Reading => r !== null);
}

function answer(command: 'PASV' | 'EPSV', reply: string, chunking = (d: Uint8Array) => [d.length]) {
  return run(opts, [s('220 hi\r\n'), c(`${command}\r\n`), s(reply)], undefined, chunking);
}

function leaks(reply: string, command: 'PASV' | 'EPSV' = 'PASV'): Reading[] {
  const whole = answer(command, reply);
  same(whole, answer(command, reply, bytewise));
  const out = text(whole.s2c).slice('220 hi\r\n'.length);
  return readings(firstReply(out), command).filter((r) => !(r.address === GATEWAY || (r.address === null && r.port > 40000)));
}

describe('passive replies leak no address', () => {
  const cases: Array<[string, string]> = [
    ['a second 227 line in a multi-line 227', '227-Entering (10,9,8,7,200,1)\r\n227 Entering (10,9,8,7,0,22)\r\n'],
    ['a 227 line inside a 150 reply', '150-x\r\n227 Entering Passive Mode (10,9,8,7,0,22)\r\n150 y\r\n'],
    ['a 229 line inside a 227 reply', '227-Entering (10,9,8,7,200,1)\r\n229 (|||22|)\r\n227 end\r\n'],
    ['blanks after the commas', '227 Entering Passive Mode (10, 9, 8, 7, 0, 22)\r\n'],
    ['a blank before each number', '227 Entering Passive Mode ( 10, 9, 8, 7, 0,22)\r\n'],
    ['a sign', '227 Entering Passive Mode (-10,9,8,7,0,22)\r\n'],
    ['two addresses on one line', '227 Entering Passive Mode (10,9,8,7,200,1) or (10,9,8,7,0,22)\r\n'],
    ['the address on a continuation line', '227-Entering Passive Mode\r\n 10,9,8,7,0,22\r\n227 ok\r\n'],
    ['229 with blanks around the port', '229 Entering Extended Passive Mode (|||  22 |)\r\n'],
    ['229 with a blank before the port', '229 Entering Extended Passive Mode (||| 22|)\r\n'],
    ['229 with a digit as delimiter', '229 Entering Extended Passive Mode (1112221)\r\n'],
    ['229 with underscores', '229 Entering Extended Passive Mode (|||2_2|)\r\n'],
    ['229 with fields between the delimiters', '229 Entering Extended Passive Mode (|a|b|22|)\r\n'],
    ['229 after a 229 in one reply', '229-Entering (|||51201|)\r\n229 (|||22|)\r\n'],
  ];
  for (const [name, reply] of cases) {
    it(name, () => {
      expect(leaks(reply, 'PASV')).toEqual([]);
      expect(leaks(reply, 'EPSV')).toEqual([]);
    });
  }

  it('well-formed replies are still translated, not refused', () => {
    const ok = (cmd: 'PASV' | 'EPSV', reply: string, want: string) => expect(text(answer(cmd, reply).s2c)).toBe('220 hi\r\n' + want);
    ok('PASV', '227 Entering Passive Mode (198,51,100,20,200,1).\r\n', '227 Entering Passive Mode (192,0,2,1,156,65).\r\n');
    ok('PASV', '227 Entering Passive Mode ( 198,51,100,20,200,1)\r\n', '227 Entering Passive Mode ( 192,0,2,1,156,65)\r\n');
    ok('EPSV', '229 Entering Extended Passive Mode (|||51201|)\r\n', '229 Entering Extended Passive Mode (|||40001|)\r\n');
    ok('PASV', '227-Entering Passive Mode\r\n227 (198,51,100,20,200,1)\r\n', '227-Entering Passive Mode\r\n227 (192,0,2,1,156,65)\r\n');
  });

  it('property: random reply shapes to PASV and EPSV leak nothing, whole or byte by byte', () => {
    const blank = fc.constantFrom('', ' ', '  ', '\t');
    const num = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('22', '0', '+7', '-1', '300', '0010', '2_2'));
    const six = fc.tuple(fc.array(fc.tuple(blank, num), { minLength: 6, maxLength: 6 }), fc.constantFrom(',', ', ')).map(([ns]) => ns.map(([b, n]) => b + n).join(','));
    const epsv = fc.tuple(fc.constantFrom('|', '!', '1', ' '), blank, num, blank).map(([d, b1, n, b2]) => `${d}${d}${d}${b1}${n}${b2}${d}`);
    const body = fc.oneof(
      six.map((x) => `Entering Passive Mode (${x})`),
      epsv.map((x) => `Entering Extended Passive Mode (${x})`),
      fc.constantFrom('hello', 'Entering Passive Mode', '(see RFC 2428)', '1,2,3', ''),
      fc.tuple(six, six).map(([a, b]) => `(${a}) or (${b})`),
    );
    const code = fc.constantFrom('150', '200', '211', '227', '228', '229', '250', '500');
    const reply = fc.tuple(code, fc.array(fc.tuple(fc.option(code, { nil: null }), fc.constantFrom(' ', '-'), body), { maxLength: 4 }), body).map(
      ([first, inner, last]) => {
        if (inner.length === 0) return `${first} ${last}\r\n`;
        const middle = inner.map(([cc, sep, b]) => (cc === null ? ` ${b}` : `${cc}${sep}${b}`));
        return [`${first}-${middle[0]}`, ...middle.slice(1), `${first} ${last}`].join('\r\n') + '\r\n';
      },
    );
    fc.assert(
      fc.property(reply, fc.constantFrom<'PASV' | 'EPSV'>('PASV', 'EPSV'), (r, cmd) => {
        expect(leaks(r, cmd)).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });
});
