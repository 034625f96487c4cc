/**
 * How the verb of a client command line is read: the one rule every part of the translator uses
 * to decide which command a line carries and where its argument starts.
 *
 * The rule follows the most lenient real servers, because a line that such a server executes as
 * a PORT must be seen by the gateway as a PORT too:
 * - Before the verb, blanks (SP, HT, VT, FF) and Telnet commands (IAC x, IAC WILL|WONT|DO|DONT x)
 *   are skipped: ProFTPD skips leading whitespace, and servers strip Telnet commands.
 * - Telnet commands inside the verb are skipped too (`PO IAC NOP RT` is PORT to a server that
 *   strips them anywhere in a line).
 * - The verb is letters, case-insensitive, and ends at any whitespace byte C's isspace() knows
 *   (SP, HT, LF, VT, FF, CR) or at NUL, where a C server's string ends: ProFTPD splits a command
 *   at any whitespace, so `PORT\t6,6,6,6,0,21` is a PORT there.
 * - The argument starts after the one blank that ends the verb. Arguments are then parsed
 *   strictly: more blanks, or a verb ended by NUL or CR, give an argument that does not parse, and
 *   a data command whose argument does not parse is refused, never forwarded.
 * Anything else before the verb's end (a digit, punctuation, a doubled IAC, a fifth letter)
 * makes the line a command of no interest (`VERB_OTHER`).
 *
 * The scanner is incremental: a line's first bytes may arrive one read at a time, and each byte
 * is looked at once however the line is split (a line of a million blanks costs a million steps,
 * not a million squared).
 */

/** Verbs the translator reacts to; everything else is `VERB_OTHER` and streams through. */
export const VERB_OTHER = 0;
export const VERB_PORT = 1;
export const VERB_EPRT = 2;
export const VERB_LPRT = 3;
export const VERB_PASV = 4;
export const VERB_EPSV = 5;
export const VERB_LPSV = 6;
export const VERB_AUTH = 7;
export const VERB_CCC = 8;
export const VERB_REIN = 9;
export const VERB_QUIT = 10;
export const VERB_ALGS = 11;

export const VERB_NAMES: readonly string[] = [
  'OTHER', 'PORT', 'EPRT', 'LPRT', 'PASV', 'EPSV', 'LPSV', 'AUTH', 'CCC', 'REIN', 'QUIT', 'ALGS',
];

/** Returned by `classifyCommand` when the line's first bytes do not decide yet. */
export const NEED_MORE = -1;

const IAC = 255;

/** Skipped before a verb; one of them ends a verb that has an argument. */
export function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12;
}

/** Ends a verb: whitespace (SP HT LF VT FF CR) or NUL. */
function endsVerb(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// Where the scanner is in a line.
const LEAD = 0; // before the verb: blanks and Telnet commands
const WORD = 1; // inside the verb
const AFTER_IAC = 2; // an IAC was seen; `resume` says where
const AFTER_OPTION_VERB = 3; // IAC WILL|WONT|DO|DONT was seen; one option byte follows

/** Reads the verb of one line, fed in pieces. `reset()` at every line start. */
export class VerbScanner {
  private stage = LEAD;
  /** Stage to return to after a Telnet command. */
  private resume = LEAD;
  private key = 0;
  private letters = 0;
  /** After a decision: the index (in the buffer of the deciding call) of the byte that decided. */
  at = -1;

  reset(): void {
    this.stage = LEAD;
    this.resume = LEAD;
    this.key = 0;
    this.letters = 0;
    this.at = -1;
  }

  /**
   * Read buf[from..to). Returns the verb once decided (`at` is then the index of the deciding
   * byte: the verb's end, or the byte that made the line no verb of ours), else NEED_MORE (all of
   * it read; feed the line's next bytes).
   */
  feed(buf: Uint8Array, from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const c = buf[i]!;
      switch (this.stage) {
        case AFTER_IAC:
          // IAC IAC is a data byte 255: not a letter, so no verb. LF ends the line.
          if (c === IAC || c === 10) return this.decide(i, VERB_OTHER);
          this.stage = c >= 251 && c <= 254 ? AFTER_OPTION_VERB : this.resume;
          break;
        case AFTER_OPTION_VERB:
          if (c === 10) return this.decide(i, VERB_OTHER);
          this.stage = this.resume;
          break;
        case LEAD:
          if (c === IAC) {
            this.resume = LEAD;
            this.stage = AFTER_IAC;
          } else if (isLetter(c)) {
            this.stage = WORD;
            this.key = c & 0xdf;
            this.letters = 1;
          } else if (!isBlank(c)) {
            return this.decide(i, VERB_OTHER);
          }
          break;
        default: // WORD
          if (c === IAC) {
            this.resume = WORD;
            this.stage = AFTER_IAC;
          } else if (isLetter(c)) {
            if (this.letters === 4) return this.decide(i, VERB_OTHER); // five letters: none of ours
            this.key = ((this.key << 8) | (c & 0xdf)) >>> 0;
            this.letters++;
          } else if (endsVerb(c)) {
            return this.decide(i, verbOfKey(this.key));
          } else {
            return this.decide(i, VERB_OTHER);
          }
      }
    }
    return NEED_MORE;
  }

  private decide(i: number, verb: number): number {
    this.at = i;
    return verb;
  }
}

const scanner = new VerbScanner();

/**
 * The verb of the line starting at buf[from] with bytes up to `to`, or NEED_MORE when those do
 * not decide yet.
 */
export function classifyCommand(buf: Uint8Array, from: number, to: number): number {
  scanner.reset();
  return scanner.feed(buf, from, to);
}

/**
 * Where the argument of a complete command line buf[from..to) (line ending excluded) starts:
 * after the verb and the one blank that ends it; `to` when there is none. -1 when the line
 * carries no verb of letters.
 */
export function argumentStart(buf: Uint8Array, from: number, to: number): number {
  scanner.reset();
  if (scanner.feed(buf, from, to) === NEED_MORE) {
    // The verb runs to the end of the line: a verb without argument, if it is a word at all.
    return to;
  }
  let p = scanner.at;
  if (p >= to) return to;
  const c = buf[p]!;
  if (!endsVerb(c)) return -1;
  return isBlank(c) ? p + 1 : p;
}

function key4(a: string): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) k = ((k << 8) | a.charCodeAt(i)) >>> 0;
  return k;
}

const VERBS: ReadonlyMap<number, number> = new Map([
  [key4('PORT'), VERB_PORT],
  [key4('EPRT'), VERB_EPRT],
  [key4('LPRT'), VERB_LPRT],
  [key4('PASV'), VERB_PASV],
  [key4('EPSV'), VERB_EPSV],
  [key4('LPSV'), VERB_LPSV],
  [key4('AUTH'), VERB_AUTH],
  [key4('CCC'), VERB_CCC],
  [key4('REIN'), VERB_REIN],
  [key4('QUIT'), VERB_QUIT],
  [key4('ALGS'), VERB_ALGS],
]);

function verbOfKey(k: number): number {
  return VERBS.get(k) ?? VERB_OTHER;
}
