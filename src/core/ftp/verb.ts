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
 * makes the line a command of no interest (`OTHER`).
 *
 * The scanner is incremental: a line's first bytes may arrive one read at a time, and each byte
 * is looked at once however the line is split (a line of a million blanks costs a million steps,
 * not a million squared).
 */

/** The verbs the translator reacts to; every other command is `OTHER` and passes unchanged. */
export type Verb = 'PORT' | 'EPRT' | 'LPRT' | 'PASV' | 'EPSV' | 'LPSV' | 'AUTH' | 'CCC' | 'REIN' | 'QUIT' | 'ALGS' | 'OTHER';

const IAC = 255;

/** What a byte is to the verb rule: one table, looked up once per byte. */
const LETTER = 1;
/** Skipped before a verb; one of them ends a verb that has an argument: SP HT VT FF. */
const BLANK = 2;
/** Ends a verb without being a blank: LF, CR, NUL. */
const END = 4;
const BYTE_CLASS = new Uint8Array(256);
for (let c = 65; c <= 90; c++) BYTE_CLASS[c] = BYTE_CLASS[c + 32] = LETTER;
for (const c of [32, 9, 11, 12]) BYTE_CLASS[c] = BLANK;
for (const c of [10, 13, 0]) BYTE_CLASS[c] = END;

export function isBlank(c: number): boolean {
  return BYTE_CLASS[c] === BLANK;
}

/** Ends a verb: whitespace (SP HT LF VT FF CR) or NUL. */
function endsVerb(c: number): boolean {
  return (BYTE_CLASS[c]! & (BLANK | END)) !== 0;
}

/**
 * Where the scanner is in a line: before the verb (LEAD), inside it (WORD), after an IAC
 * (AFTER_IAC) or after IAC WILL|WONT|DO|DONT (AFTER_OPTION_VERB); the last two go back to
 * `resume`. Numbers, so that the per-byte loop compares small integers.
 */
type Stage = 0 | 1 | 2 | 3;
const LEAD = 0;
const WORD = 1;
const AFTER_IAC = 2;
const AFTER_OPTION_VERB = 3;

/** Reads the verb of one line, fed in pieces. `reset()` at every line start. */
export class VerbScanner {
  private stage: Stage = LEAD;
  private resume: typeof LEAD | typeof WORD = LEAD;
  /** The verb's letters so far, upper case, one per byte of a number (at most four: see verbOf). */
  private key = 0;
  private letters = 0;
  /** After a decision: the verb, and the index (in the buffer of the deciding call) of the byte that decided. */
  verb: Verb = 'OTHER';
  at = -1;

  reset(): void {
    this.stage = LEAD;
    this.resume = LEAD;
    this.key = 0;
    this.letters = 0;
    this.verb = 'OTHER';
    this.at = -1;
  }

  /**
   * Read buf[from..to). Returns true once decided (`verb` and `at`: the index of the deciding
   * byte, the verb's end or the byte that made the line no verb of ours), false when all of it
   * was read without a decision (feed the line's next bytes).
   */
  feed(buf: Uint8Array, from: number, to: number): boolean {
    if (this.stage === LEAD && to - from >= 5 && this.fiveBytes(buf, from)) return true;
    // The state in locals for the loop, written back when it stops.
    let stage = this.stage;
    let resume = this.resume;
    let key = this.key;
    let letters = this.letters;
    let verb: Verb | null = null;
    let i = from;
    for (; i < to && verb === null; i++) {
      const c = buf[i]!;
      const k = BYTE_CLASS[c]!;
      switch (stage) {
        case AFTER_IAC:
          // IAC IAC is a data byte 255: not a letter, so no verb. LF ends the line.
          if (c === IAC || c === 10) verb = 'OTHER';
          else stage = c >= 251 && c <= 254 ? AFTER_OPTION_VERB : resume;
          break;
        case AFTER_OPTION_VERB:
          if (c === 10) verb = 'OTHER';
          else stage = resume;
          break;
        case LEAD:
          if (k === LETTER) {
            stage = WORD;
            key = c & 0xdf;
            letters = 1;
          } else if (c === IAC) {
            resume = LEAD;
            stage = AFTER_IAC;
          } else if (k !== BLANK) {
            verb = 'OTHER';
          }
          break;
        case WORD:
          if (k === LETTER) {
            if (letters === 4) verb = 'OTHER'; // five letters: none of ours
            else {
              key = ((key << 8) | (c & 0xdf)) >>> 0;
              letters++;
            }
          } else if (c === IAC) {
            resume = WORD;
            stage = AFTER_IAC;
          } else {
            verb = k === BLANK || k === END ? verbOf(key) : 'OTHER';
          }
          break;
      }
    }
    this.stage = stage;
    this.resume = resume;
    this.key = key;
    this.letters = letters;
    if (verb === null) return false;
    this.verb = verb;
    this.at = i - 1;
    return true;
  }

  /**
   * The usual line, decided from its first five bytes at once: three or four letters at the very
   * start and their end (the same byte classes as the loop). False, nothing changed, for anything
   * else (blanks or Telnet commands first, a short word, an IAC among the five): the loop decides.
   */
  private fiveBytes(buf: Uint8Array, from: number): boolean {
    const c0 = buf[from]!;
    const c1 = buf[from + 1]!;
    const c2 = buf[from + 2]!;
    if ((BYTE_CLASS[c0]! & BYTE_CLASS[c1]! & BYTE_CLASS[c2]!) !== LETTER) return false;
    const c3 = buf[from + 3]!;
    const k3 = BYTE_CLASS[c3]!;
    const three = (((c0 & 0xdf) << 16) | ((c1 & 0xdf) << 8) | (c2 & 0xdf)) >>> 0;
    if (k3 === BLANK || k3 === END) return this.settle(from + 3, verbOf(three));
    if (k3 !== LETTER) return c3 === IAC ? false : this.settle(from + 3, 'OTHER');
    const c4 = buf[from + 4]!;
    const k4 = BYTE_CLASS[c4]!;
    if (k4 === BLANK || k4 === END) return this.settle(from + 4, verbOf(((three << 8) | (c3 & 0xdf)) >>> 0));
    return c4 === IAC ? false : this.settle(from + 4, 'OTHER');
  }

  private settle(at: number, verb: Verb): true {
    this.verb = verb;
    this.at = at;
    return true;
  }
}

/** A verb's letters packed into a number as the scanner packs them. */
function key(word: string): number {
  let k = 0;
  for (let i = 0; i < word.length; i++) k = ((k << 8) | word.charCodeAt(i)) >>> 0;
  return k;
}

const PORT = key('PORT');
const EPRT = key('EPRT');
const LPRT = key('LPRT');
const PASV = key('PASV');
const EPSV = key('EPSV');
const LPSV = key('LPSV');
const AUTH = key('AUTH');
const CCC = key('CCC');
const REIN = key('REIN');
const QUIT = key('QUIT');
const ALGS = key('ALGS');

function verbOf(k: number): Verb {
  switch (k) {
    case PORT: return 'PORT';
    case EPRT: return 'EPRT';
    case LPRT: return 'LPRT';
    case PASV: return 'PASV';
    case EPSV: return 'EPSV';
    case LPSV: return 'LPSV';
    case AUTH: return 'AUTH';
    case CCC: return 'CCC';
    case REIN: return 'REIN';
    case QUIT: return 'QUIT';
    case ALGS: return 'ALGS';
    default: return 'OTHER';
  }
}

/**
 * The verb of the line starting at buf[from] with bytes up to `to`, or `need-more` when those do
 * not decide yet.
 */
export function classifyCommand(buf: Uint8Array, from: number, to: number): Verb | 'need-more' {
  const scanner = new VerbScanner();
  return scanner.feed(buf, from, to) ? scanner.verb : 'need-more';
}

/**
 * Where the argument of a complete command line buf[from..to) (line ending excluded) starts:
 * after the verb and the one blank that ends it; `to` when there is none. -1 when the line
 * carries no verb of letters.
 */
export function argumentStart(buf: Uint8Array, from: number, to: number): number {
  const scanner = new VerbScanner();
  // The verb runs to the end of the line: a verb without argument, if it is a word at all.
  if (!scanner.feed(buf, from, to)) return to;
  const p = scanner.at;
  if (p >= to) return to;
  const c = buf[p]!;
  if (!endsVerb(c)) return -1;
  return isBlank(c) ? p + 1 : p;
}
