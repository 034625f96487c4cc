/**
 * Data-channel requests: the line held while the embedding chooses a replacement endpoint, the
 * request ids, the count of outstanding mappings, and the rewriting of a held line once answered.
 * At most one line per direction is held (a blocked direction consumes nothing), and its bytes
 * are not kept: its text is, as the address and the words around it.
 *
 * No framing here: the translator decides when a line is held and applies the results to the
 * streams (state rules in session.ts). The usual PORT and 227 are read and rebuilt in place,
 * from and into bytes (sextet.ts); every other shape goes through the string parsers.
 */

import { NatAlgError } from '../errors.js';
import type { AddressFamily, Endpoint } from '../net/ip.js';
import type { Direction } from '../stream/translator.js';
import { VERB_NAMES, VERB_PORT } from './commands.js';
import { argumentStart } from './verb.js';
import type { FoundAddress } from './replies.js';
import { Q_EPSV_AS_PASV, Q_PASV } from './pending.js';
import { checkDataAddress, ownAddress, passiveRefusal, type ResolvedOptions } from './policy.js';
import { replacementEndpoint, rewriteCommand, rewriteReply } from './rewrite.js';
import {
  scanSextet, scanned, quadOfFields, quadOfText, sextetText, sextetLength, writeSextet, writeEol, PieceCache, EMPTY_PIECE,
  type Piece,
} from './sextet.js';
import { ascii, asciiLine, latin1 } from './text.js';
import type { DataChannelRequest, DataCommand } from './types.js';

const C2S: Direction = 'client-to-server';
const S2C: Direction = 'server-to-client';
const PORT_SPACE = ascii('PORT ');
const EMPTY_BYTES = new Uint8Array(0);

/** A data-channel request waiting for the embedding, with what is needed to rewrite its line. */
export interface HeldLine {
  readonly request: DataChannelRequest;
  readonly direction: Direction;
  /** The line's text without its line ending (head + address + tail). */
  readonly text: string;
  readonly lineStart: number;
  readonly lineLength: number;
  /** Length of the line's ending: 2 CRLF, 1 LF, 0 none. */
  readonly eol: number;
  /** Verb (c2s) or queue kind of the passive command (s2c). */
  readonly kind: number;
  /** s2c: the text before and after the address; `fast`: with their bytes (sextet.ts). */
  readonly head: Piece;
  readonly tail: Piece;
  readonly fast: boolean;
  /** s2c: the line is the reply's first line / last line. */
  readonly first: boolean;
  readonly last: boolean;
  /** s2c: the reply code of the line (for pairing once it is sent). */
  readonly code: number;
}

/** Where a held line is: its input offset and length, and the length of its line ending. */
export interface LinePlace {
  readonly lineStart: number;
  readonly lineLength: number;
  readonly eol: number;
}

/** Where a held reply line is in its reply. */
export interface ReplyPlace extends LinePlace {
  readonly first: boolean;
  readonly last: boolean;
  readonly code: number;
}

export class DataChannels {
  /** Mappings asked for and neither committed nor released (policy maxPendingDataChannels). */
  outstanding = 0;
  /** The latest committed mapping: the server's current data port setting (released by REIN). */
  current = 0;
  private nextId = 1;
  private heldC2S: HeldLine | null = null;
  private heldS2C: HeldLine | null = null;
  // The words around addresses, as the peers repeat them.
  private readonly commandHead = new PieceCache(latin1);
  private readonly replyHead = new PieceCache(latin1);
  private readonly replyTail = new PieceCache(latin1);

  constructor(private readonly o: ResolvedOptions) {}

  /** maxPendingDataChannels reached. */
  get full(): boolean {
    return this.outstanding >= this.o.policy.maxPendingDataChannels;
  }

  // ---- the usual shapes, read in place -------------------------------------------------------

  /**
   * A PORT line (buf[from..to), line ending included) in its usual shape and passing the policy,
   * as a held line; null when anything is unusual: the general path then decides, refusals
   * included.
   */
  readPort(buf: Uint8Array, from: number, to: number, lineStart: number): HeldLine | null {
    const eol = eolLength(buf, from, to);
    const end = to - eol;
    const a = argumentStart(buf, from, end); // after the verb and its blanks (verb.ts)
    if (a <= from || a >= end || !scanSextet(buf, a, end) || scanned.end !== end) return null;
    const f = scanned.fields;
    const quad = quadOfFields(f);
    const port = f[4]! * 256 + f[5]!;
    const original = ownAddress({ family: 4, address: quad.dotted, port }, this.o);
    if (checkDataAddress(original, this.o, this.outstanding) !== null) return null;
    const head = this.commandHead.get(buf, from, a);
    const text = head.text + (scanned.canonical ? sextetText(quad, port) : latin1(buf, a, end));
    return {
      request: this.request('active', 'PORT', original, this.o.serverFamily),
      direction: C2S, text, lineStart, lineLength: to - from, eol, kind: VERB_PORT,
      head: EMPTY_PIECE, tail: EMPTY_PIECE, fast: false, first: false, last: false, code: 0,
    };
  }

  /**
   * A 227 line answering PASV in its usual shape (the first number after the reply code starts a
   * valid sextet) and passing the policy, as a held line; null when anything is unusual: the
   * general path then decides, replacements included. `codeLength`: 4 when the line starts with
   * a reply code, else 0.
   */
  read227(
    buf: Uint8Array, from: number, to: number, codeLength: number, lineStart: number, first: boolean, last: boolean, code: number,
    command: DataCommand,
  ): HeldLine | null {
    if (this.full) return null;
    const eol = eolLength(buf, from, to);
    const end = to - eol;
    // The words before the address are usually those of the server's previous 227.
    let head = codeLength > 0 ? this.replyHead.before(buf, from, end) : null;
    let i = head !== null ? from + head.bytes.length : from + codeLength;
    if (head === null) while (i < end && (buf[i]! < 48 || buf[i]! > 57)) i++;
    if (i >= end || !scanSextet(buf, i, end)) return null;
    const f = scanned.fields;
    const port = f[4]! * 256 + f[5]!;
    if (port < 1024 && !this.o.policy.allowLowDataPorts) return null;
    const quad = quadOfFields(f);
    if (head === null) head = this.replyHead.get(buf, from, i);
    const tail = this.replyTail.get(buf, scanned.end, end);
    const span = scanned.canonical ? sextetText(quad, port) : latin1(buf, i, scanned.end);
    return {
      request: this.request('passive', command, { family: 4, address: quad.dotted, port }, 4),
      direction: S2C, text: head.text + span + tail.text, lineStart, lineLength: to - from, eol, kind: Q_PASV,
      head, tail, fast: true, first, last, code,
    };
  }

  // ---- every other shape (parsed by the string parsers, policy checked by the caller) ---------

  /** An active command (`verb`) naming `original`, whose server reads `family`. */
  active(verb: number, original: Endpoint, family: AddressFamily, text: string, place: LinePlace): HeldLine {
    return {
      request: this.request('active', VERB_NAMES[verb] as DataCommand, original, family),
      direction: C2S, text, ...place, kind: verb, head: EMPTY_PIECE, tail: EMPTY_PIECE, fast: false, first: false, last: false, code: 0,
    };
  }

  /** A passive reply (to the queue kind `kind`) whose address is `found` in `text`. */
  passive(kind: number, command: DataCommand, found: FoundAddress, family: AddressFamily, text: string, place: ReplyPlace): HeldLine {
    return {
      request: this.request('passive', command, found.endpoint, family),
      direction: S2C, text, ...place, kind,
      head: { text: text.slice(0, found.start), bytes: EMPTY_BYTES }, tail: { text: text.slice(found.end), bytes: EMPTY_BYTES },
      fast: false,
    };
  }

  // ---- holding and answering ----------------------------------------------------------------

  /** `h` waits for the embedding (its direction must consume nothing until then). */
  hold(h: HeldLine): void {
    if (h.direction === C2S) this.heldC2S = h;
    else this.heldS2C = h;
    this.outstanding++;
  }

  /** The held line of request `id`; NatAlgError('unknown-id') when there is none. */
  find(id: number): HeldLine {
    const c = this.heldC2S;
    if (c !== null && c.request.id === id) return c;
    const r = this.heldS2C;
    if (r !== null && r.request.id === id) return r;
    throw new NatAlgError('unknown-id', `no pending data-channel request ${id}`);
  }

  /** The line is answered: it is held no more. */
  release(h: HeldLine): void {
    if (h === this.heldC2S) this.heldC2S = null;
    else if (h === this.heldS2C) this.heldS2C = null;
  }

  /**
   * The text and bytes replacing held line `h` with `replacement`. Pure: throws NatAlgError
   * (invalid-argument) for an unusable replacement before anything changes.
   */
  rewrite(h: HeldLine, replacement: Endpoint, ftp64Active: boolean): { after: string; out: Uint8Array } {
    const e = replacementEndpoint(replacement);
    const quad = e.family === 4 ? quadOfText(e.address) : null;
    const eolBytes = h.eol === 1 ? 1 : 2;
    if (quad !== null && h.kind === VERB_PORT && h.direction === C2S) {
      // The usual command, built straight into bytes: PORT h1,h2,h3,h4,p1,p2
      const out = new Uint8Array(5 + sextetLength(quad, e.port) + eolBytes);
      out.set(PORT_SPACE);
      writeEol(out, writeSextet(out, 5, quad, e.port), h.eol);
      return { after: 'PORT ' + sextetText(quad, e.port), out };
    }
    if (quad !== null && h.fast) {
      // The usual 227: only the numbers change, the server's words are copied as bytes.
      const head = h.head.bytes;
      const tail = h.tail.bytes;
      const out = new Uint8Array(head.length + sextetLength(quad, e.port) + tail.length + eolBytes);
      out.set(head);
      const p = writeSextet(out, head.length, quad, e.port);
      out.set(tail, p);
      writeEol(out, p + tail.length, h.eol);
      return { after: h.head.text + sextetText(quad, e.port) + h.tail.text, out };
    }
    const after = h.direction === C2S
      ? rewriteCommand(h.kind, e, ftp64Active)
      : rewriteReply(h.kind, h.head.text, h.tail.text, e, h.first && h.last);
    return { after, out: asciiLine(after, h.eol) };
  }

  private request(mode: 'active' | 'passive', command: DataCommand, original: Endpoint, family: AddressFamily): DataChannelRequest {
    return { id: this.nextId++, mode, command, original, family, connector: mode === 'active' ? 'server' : 'client' };
  }
}

/** `line-translated` keyword of a held line: the verb, or the reply code. */
export function keywordOf(h: HeldLine): string {
  if (h.direction === C2S) return VERB_NAMES[h.kind]!;
  return h.code === 227 ? '227' : String(h.code);
}

/**
 * The line replacing a passive reply (`before`: its text) that will not be passed on. A whole
 * reply becomes a 425; a line inside a multi-line reply keeps its code prefix (renumbered 229
 * when `as229`, FTP64) so that the structure stays valid.
 */
export function passiveRefusalLine(before: string, first: boolean, last: boolean, why: string, kind: number): string {
  if (first && last) return passiveRefusal(why);
  let prefix = /^[0-9]{3}[ -]/.test(before) ? before.slice(0, 4) : ' ';
  if (kind === Q_EPSV_AS_PASV && prefix.startsWith('227')) prefix = '229' + prefix.slice(3);
  return `${prefix}Cannot open data connection (${why}).`;
}

/** Length of the line ending of buf[from..to): 2 CRLF, 1 LF, 0 none. */
export function eolLength(buf: Uint8Array, from: number, to: number): number {
  if (to === from || buf[to - 1] !== 10) return 0;
  return to - from >= 2 && buf[to - 2] === 13 ? 2 : 1;
}
