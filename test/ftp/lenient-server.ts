/**
 * A model of the most lenient way real FTP servers read commands, for the fuzzer that checks
 * that no line the gateway forwards can reach such a server as a data command the gateway did
 * not see. Each habit here is one some server has:
 * - a line ends at LF, and also at a lone CR (servers that split on either);
 * - the string ends at NUL (servers written in C read the line as a C string);
 * - Telnet commands are stripped anywhere in the line (ProFTPD); IAC IAC is a data byte 255;
 * - leading whitespace is skipped and the verb ends at any whitespace (ProFTPD's isspace split);
 * - verbs are case-insensitive;
 * - PORT and LPRT arguments are read as the first run of comma-separated numbers, EPRT by its
 *   first byte as the delimiter;
 * - a line that grows past 2048 bytes is thrown away with a `500` and what follows it on the line
 *   is read as a new command (pyftpdlib flushes its input buffer so; the network may split the
 *   line anywhere, so the model flushes at the 2049th byte).
 */

export interface LenientCommand {
  readonly verb: string;
  readonly argument: string;
}

/** pyftpdlib's input buffer: more than this without a line end and the buffer is flushed. */
export const FLUSH_LIMIT = 2048;

/** The pseudo-command the model reports for a flush: the server answers `500 Command too long.` */
export const FLUSHED: LenientCommand = Object.freeze({ verb: '', argument: 'flushed' });

const IAC = 255;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Reads a byte stream into the commands a lenient server would execute, in order. */
export class LenientServer {
  private pending: number[] = [];

  /** Feed bytes; returns the commands whose lines completed. */
  feed(bytes: Uint8Array): LenientCommand[] {
    const out: LenientCommand[] = [];
    for (const b of bytes) {
      if (b === 10) {
        out.push(...this.line());
      } else if (b === 13) {
        // A lone CR ends a line too; CR LF ends it once (the LF then ends an empty line).
        out.push(...this.line());
      } else {
        this.pending.push(b);
        if (this.pending.length > FLUSH_LIMIT) {
          this.pending = [];
          out.push(FLUSHED);
        }
      }
    }
    return out;
  }

  private line(): LenientCommand[] {
    const raw = this.pending;
    this.pending = [];
    // Strip Telnet commands anywhere; IAC IAC is a data 255.
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c !== IAC) {
        bytes.push(c);
        continue;
      }
      const next = raw[i + 1];
      if (next === undefined) break;
      if (next === IAC) {
        bytes.push(IAC);
        i++;
      } else if (next >= 251 && next <= 254) {
        i += 2;
      } else {
        i++;
      }
    }
    // A C string ends at NUL.
    const nul = bytes.indexOf(0);
    const text = String.fromCharCode(...(nul >= 0 ? bytes.slice(0, nul) : bytes));
    let p = 0;
    while (p < text.length && isSpace(text.charCodeAt(p))) p++;
    let q = p;
    while (q < text.length && !isSpace(text.charCodeAt(q))) q++;
    if (q === p) return [];
    const verb = text.slice(p, q).toUpperCase();
    let a = q;
    while (a < text.length && isSpace(text.charCodeAt(a))) a++;
    return [{ verb, argument: text.slice(a).trimEnd() }];
  }
}

/** The IPv4 address a lenient server would take from a PORT or LPRT argument, or null. */
export function lenientPortAddress(verb: string, argument: string): string | null {
  const nums = argument.match(/\d+/g)?.map(Number) ?? [];
  if (verb === 'PORT') return nums.length >= 6 ? nums.slice(0, 4).join('.') : null;
  if (verb === 'LPRT') return nums.length >= 9 && nums[0] === 4 ? nums.slice(2, 6).join('.') : null;
  return null;
}

/** The address a lenient server would take from an EPRT argument, or null. */
export function lenientEprtAddress(argument: string): string | null {
  if (argument.length < 2) return null;
  const parts = argument.split(argument[0]!);
  return parts.length >= 4 ? (parts[2] ?? null) : null;
}
