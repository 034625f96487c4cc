/**
 * FTP replies as a client reads them: an incremental reader that groups lines into replies
 * (single and multi-line, RFC 959 section 4.2), and parsers for the endpoints carried by 227 and
 * 229 replies. Pure functions over text; the sockets live in `client.ts`.
 *
 * The 227 parser reads the shapes servers really send (no parentheses, `=`, a trailing period,
 * zero-padded fields, the numbers on any line of a multi-line reply) but never masks a field
 * into range: a field above 255 makes the reply unusable, as it should.
 */

export interface FtpReply {
  /** The reply code; 0 for a line that is not a reply at all (a protocol error by the server). */
  readonly code: number;
  /** The lines of the reply as received, without line ends. */
  readonly lines: readonly string[];
  /** The text after the code on every line, joined with '\n' (continuation lines as they are). */
  readonly message: string;
}

/** Longest reply (all its lines) the reader holds; a server that never ends one is broken. */
export const MAX_REPLY_LENGTH = 256 * 1024;

/** Groups control lines into replies. Feed it whole lines (see `LineRecorder`). */
export class ReplyReader {
  private open: { code: string; lines: string[]; size: number } | null = null;

  /** Returns the reply that this line completes, if any. */
  pushLine(line: string): FtpReply | null {
    if (this.open) {
      this.open.lines.push(line);
      this.open.size += line.length;
      const isLast = line.startsWith(this.open.code) && line.charAt(3) === ' ';
      if (!isLast && this.open.size <= MAX_REPLY_LENGTH) return null;
      const done = this.open;
      this.open = null;
      return makeReply(Number(done.code), done.lines);
    }
    const code = /^[1-5][0-9][0-9]/.test(line) ? line.slice(0, 3) : null;
    if (code === null) return makeReply(0, [line]);
    if (line.charAt(3) === '-') {
      this.open = { code, lines: [line], size: line.length };
      return null;
    }
    return makeReply(Number(code), [line]);
  }
}

function makeReply(code: number, lines: string[]): FtpReply {
  const message = lines
    .map((l, i) => (i === 0 || /^[1-5][0-9][0-9][ -]/.test(l) ? l.slice(4) : l))
    .join('\n');
  return { code, lines, message };
}

/** The host and port of a 227 reply, or null when no six fields in range are found. */
export function parsePasvReply(reply: FtpReply | string): { address: string; port: number } | null {
  const text = typeof reply === 'string' ? reply : reply.message;
  const m = /(?<![0-9])([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3})(?![0-9])/.exec(text);
  if (!m) return null;
  const f = m.slice(1, 7).map((s) => Number.parseInt(s, 10));
  if (f.some((v) => v > 255)) return null;
  return { address: `${f[0]}.${f[1]}.${f[2]}.${f[3]}`, port: f[4]! * 256 + f[5]! };
}

/** The port of a 229 reply `(<d><d><d>port<d>)`, any delimiter 33-126, or null. */
export function parseEpsvReply(reply: FtpReply | string): number | null {
  const text = typeof reply === 'string' ? reply : reply.message;
  const m = /\(([\x21-\x7e])\1\1([0-9]{1,5})\1\)/.exec(text);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? port : null;
}

/** The shapes of 227 replies seen in the wild, to script a test server with. */
export type PasvShape =
  | 'standard' // 227 Entering Passive Mode (h,h,h,h,p,p)
  | 'trailing-period' // ... (h,h,h,h,p,p).
  | 'no-parentheses' // 227 Entering Passive Mode h,h,h,h,p,p
  | 'equals' // 227 =h,h,h,h,p,p
  | 'zero-padded' // 227 Entering Passive Mode (127,000,000,001,004,001)
  | 'multi-line-first' // the numbers on the first line of a multi-line reply
  | 'multi-line-last'; // the numbers on the last line of a multi-line reply

/** A 227 reply in the given shape, line ends included. */
export function formatPasvReply(address: string, port: number, shape: PasvShape = 'standard'): string {
  const h = address.split('.').map(Number);
  if (h.length !== 4 || h.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
    throw new RangeError(`227 needs an IPv4 address, not ${address}`);
  }
  const fields = [...h, port >> 8, port & 0xff];
  const plain = fields.join(',');
  switch (shape) {
    case 'standard':
      return `227 Entering Passive Mode (${plain})\r\n`;
    case 'trailing-period':
      return `227 Entering Passive Mode (${plain}).\r\n`;
    case 'no-parentheses':
      return `227 Entering Passive Mode ${plain}\r\n`;
    case 'equals':
      return `227 =${plain}\r\n`;
    case 'zero-padded':
      return `227 Entering Passive Mode (${fields.map((v) => String(v).padStart(3, '0')).join(',')})\r\n`;
    case 'multi-line-first':
      return `227-Entering Passive Mode (${plain})\r\n227 Use it soon\r\n`;
    case 'multi-line-last':
      return `227-Entering Passive Mode\r\n227 (${plain})\r\n`;
  }
}

/** A 229 reply, line end included. */
export function formatEpsvReply(port: number, delimiter = '|'): string {
  return `229 Entering Extended Passive Mode (${delimiter}${delimiter}${delimiter}${port}${delimiter})\r\n`;
}

/** Text of a (possibly multi-line) reply with line ends. */
export function formatReply(code: number, text: string | readonly string[]): string {
  const lines = typeof text === 'string' ? [text] : text;
  if (lines.length <= 1) return `${code} ${lines[0] ?? ''}\r\n`;
  const body = lines.slice(1, -1).map((l) => ` ${l}\r\n`).join('');
  return `${code}-${lines[0]}\r\n${body}${code} ${lines[lines.length - 1]}\r\n`;
}
