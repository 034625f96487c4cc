/**
 * A model of the most lenient IRC client's reading of DCC offers, written apart from the
 * translator's code (string and regex based) so that the fuzzer compares two readings:
 *
 * - A line ends at LF, CR or NUL (a client may split at any of them).
 * - A DCC is `\x01`, any blanks, then `DCC`, `TDCC` or `XDCC` (KVIrc) in any case, or any word
 *   beginning with `DCC` (HexChat), anywhere in a line (not only in a PRIVMSG or NOTICE text, not
 *   only where the text begins). Its body runs from after that word to the next \x01 or the
 *   line's end.
 * - Words split at runs of spaces and tabs. Every verb but RESUME, ACCEPT and REJECT is read as an
 *   offer (a client may know verbs the gateway does not).
 * - Readings of (address, port): the 2nd and 3rd words after the verb (sscanf), the two words
 *   after a closing double quote, from the right with 0, 1 or 2 words after the port, irssi's
 *   leftmost (address, port, size) triple of digit words (from the 1st or the 2nd word), KVIrc's
 *   left reading where a backslash joins the next byte to its word, and WeeChat's: the body runs
 *   to the last \x01 of the line, split at single spaces (a trailing space leaves an empty last
 *   word), read from the right (3rd and 2nd from the end; 2nd and last for CHAT).
 * - Numbers as strtoul with base 0 (0x hex, leading 0 octal, stops at the first non-digit); an
 *   address modulo 2^32, dotted as inet_aton, IPv6 as text; a port modulo 2^16.
 * - A reading is a connection attempt when its port is not 0 and its address is IPv6 or at least
 *   2^24 (0.0.0.0/8 is unroutable; 0.0.0.0 itself is left out here because the fuzzer's right
 *   readings take a passive offer's port field `0` for an address: the translator refuses an
 *   offer whose strict address is 0 anyway).
 */

export type ModelAddress = { readonly v4: number } | { readonly v6: string };

export interface ModelReading {
  readonly address: ModelAddress;
  readonly port: number;
  readonly words: string;
}

function strtoul(s: string, base: 0 | 10): { value: number; rest: string } | null {
  let radix = 10;
  let t = s;
  if (base === 0 && t.startsWith('0')) {
    if (/^0[xX][0-9a-fA-F]/.test(t)) {
      radix = 16;
      t = t.slice(2);
    } else radix = 8;
  }
  const digits = radix === 16 ? /^[0-9a-fA-F]+/ : radix === 8 ? /^[0-7]+/ : /^[0-9]+/;
  const m = digits.exec(t);
  if (!m) return radix === 8 ? { value: 0, rest: t.slice(1) } : null;
  let v = 0n;
  for (const ch of m[0]) v = v * BigInt(radix) + BigInt(parseInt(ch, 16));
  return { value: Number(v % 2n ** 32n), rest: t.slice(m[0].length) };
}

function inetAton(s: string): number | null {
  const parts: number[] = [];
  let rest = s;
  for (;;) {
    const n = strtoul(rest, 0);
    if (n === null) return null;
    parts.push(n.value);
    rest = n.rest;
    if (rest.startsWith('.') && parts.length < 4) {
      rest = rest.slice(1);
      continue;
    }
    break;
  }
  let v = 0;
  for (let k = 0; k < parts.length - 1; k++) {
    if (parts[k]! > 255) return null;
    v = v * 256 + parts[k]!;
  }
  const room = 2 ** (8 * (5 - parts.length));
  if (parts.at(-1)! >= room) return null;
  return v * room + parts.at(-1)!;
}

function normalizeV6(text: string): string | null {
  // inet_pton takes nothing else (the URL parser below would drop tabs and newlines).
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

export function modelAddress(word: string): ModelAddress | null {
  if (word.includes(':')) {
    for (const t of [word, /^[0-9a-fA-F:.]*/.exec(word)![0]]) {
      const v6 = normalizeV6(t);
      if (v6 !== null) return { v6 };
    }
    return null;
  }
  if (word.includes('.')) {
    const v = inetAton(word);
    if (v !== null) return { v4: v };
  }
  const n = strtoul(word, 0);
  return n === null ? null : { v4: n.value };
}

function modelPort(word: string): number {
  const n = strtoul(word, 10);
  return n === null ? 0 : n.value % 65536;
}

/** The (address, port) word pairs each modelled client takes from one DCC body. */
function pairsOf(line: string, bodyFrom: number, body: string): [string, string][] {
  const words = body.split(/[ \t]+/).filter((w) => w !== '');
  const verb = (words[0] ?? '').toUpperCase();
  if (verb === 'RESUME' || verb === 'ACCEPT' || verb === 'REJECT') return [];
  const args = words.slice(1);
  const pairs: [string, string][] = [];
  // sscanf from the left
  if (args.length >= 3) pairs.push([args[1]!, args[2]!]);
  // from the right
  for (let extra = 0; extra <= 2; extra++) {
    const k = args.length - 2 - extra;
    if (k >= 1) pairs.push([args[k]!, args[k + 1]!]);
  }
  // after a quoted filename
  const q1 = body.indexOf('"');
  if (q1 >= 0) {
    const q2 = body.indexOf('"', q1 + 1);
    if (q2 >= 0) {
      const after = body.slice(q2 + 1).split(/[ \t]+/).filter((w) => w !== '');
      if (after.length >= 2) pairs.push([after[0]!, after[1]!]);
    }
  }
  // irssi: the leftmost digits triple
  const digits = (w: string | undefined) => w !== undefined && /^[0-9]+$/.test(w);
  for (const first of [0, 1]) {
    for (let k = first; k + 2 < args.length; k++) {
      if ((digits(args[k]) || args[k]!.includes(':')) && digits(args[k + 1]) && Number(args[k + 1]) < 65536 && digits(args[k + 2])) {
        pairs.push([args[k]!, args[k + 1]!]);
        break;
      }
    }
  }
  // KVIrc: a backslash joins the next byte to its word
  const escaped = (body.match(/(?:\\[\s\S]|[^ \t\\])+/g) ?? []).slice(1);
  if (escaped.length >= 3) {
    if (escaped[1]!.includes('\\') || escaped[2]!.includes('\\')) pairs.push(['0x7f000001', '1']); // undecodable: counts as a connection
    else pairs.push([escaped[1]!, escaped[2]!]);
  }
  // WeeChat: to the last \x01 of the line, fields at single spaces, from the right
  const verbEnd = bodyFrom + body.search(/[^ \t]/) + (words[0] ?? '').length;
  const last = line.lastIndexOf('\x01');
  const tail = line.slice(verbEnd, last >= verbEnd ? last : line.length);
  const f = tail.split(' ');
  if (f.length >= 3 && !verb.endsWith('CHAT')) pairs.push([f[f.length - 3]!, f[f.length - 2]!]);
  if (f.length >= 2 && !verb.endsWith('SEND')) pairs.push([f[f.length - 2]!, f[f.length - 1]!]);
  return pairs;
}

/** Every connection a lenient client could attempt after reading `stream`. */
export function lenientReadings(stream: string): ModelReading[] {
  const out: ModelReading[] = [];
  for (const line of stream.split(/[\r\n\0]/)) {
    const re = /\x01[ \t]*(?:[tx]?dcc(?![A-Za-z0-9])|dcc)[^ \t\x01]*/gi;
    for (let m = re.exec(line); m; m = re.exec(line)) {
      const from = m.index + m[0].length;
      const close = line.indexOf('\x01', from);
      const body = line.slice(from, close < 0 ? line.length : close);
      for (const [a, p] of pairsOf(line, from, body)) {
        const address = modelAddress(a);
        const port = modelPort(p);
        if (address === null || port === 0) continue;
        if ('v4' in address && address.v4 < 2 ** 24) continue;
        out.push({ address, port, words: `${a} ${p}` });
      }
      // a match may not swallow the next \x01
      re.lastIndex = Math.max(from, m.index + 1);
    }
  }
  return out;
}
