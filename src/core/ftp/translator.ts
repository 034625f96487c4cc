/**
 * The FTP control-channel translator: one instance per control connection, sans-I/O.
 *
 * STATE RULES. How bytes move (the phases of each direction) is written down once, in
 * framing.ts; what lines mean, and the session state, once, here:
 *
 * Client lines are commands; the first bytes (after Telnet commands) name the verb:
 *   PORT EPRT LPRT EPSV (and ALGS with FTP64) are held whole and read; every other line is held
 *   too (up to maxLineLength, never forwarded in part) and goes out unchanged at its LF. Every
 *   line is a command and, once sent, gets an entry in the pending queue (pending.ts) that the
 *   next final reply (2xx-5xx) answers; PASV LPSV AUTH REIN are marked there by verb. A line
 *   longer than maxLineLength is dropped and answered 500 locally (or `close`).
 * Server lines are replies `ddd ` / `ddd-` (multi-line until `ddd `). A reply line is held only
 *   when it is the final answer (227/229/228) to a PASV/EPSV/LPSV at the queue head and no address
 *   was found yet in that reply (FTP64: every line, to renumber 227 as 229). Its first address is
 *   the one rewritten; a blocked direction holds that one line and consumes nothing else.
 * On a reply's last line: 2xx to PORT/EPRT/LPRT commits the mapping, 4xx/5xx releases it; 234 to
 *   AUTH starts TLS; 2xx to EPSV ALL turns on EPSV-only; 2xx to REIN resets the session.
 * Local replies (refusals, FTP64 answers) wait in the queue and go out when they reach its head
 *   while the server direction is at a line start outside a multi-line reply.
 * AUTH: the client direction blocks after the AUTH line until its reply: 234 makes both
 *   directions TLS (server after the 234 line, client after the AUTH line), anything else resumes.
 * TLS: followed until a record boundary shows plaintext (after CCC); tls-ended when both are plain.
 */

import { NatAlgError } from '../errors.js';
import type { Endpoint } from '../net/ip.js';
import type { Direction, StreamTranslator } from '../stream/translator.js';
import {
  parsePort, parseEprt, parseLprt, commandArgument, VERB_NAMES,
  VERB_PORT, VERB_EPRT, VERB_LPRT, VERB_PASV, VERB_EPSV, VERB_LPSV, VERB_AUTH, VERB_REIN, VERB_ALGS,
  type AddressParseResult,
} from './commands.js';
import { classifyReply, find227, find228, find229, MALFORMED, REPLY_NOT_A_REPLY, type FoundAddress } from './replies.js';
import {
  DirectionStream, PHASE_LINE_START, PHASE_PASS, PHASE_HOLD, PHASE_DISCARD, PHASE_BLOCKED, PHASE_TLS, PHASE_CLOSED,
  LINE_NONE, LINE_DROP, LINE_FIRST, LINE_LAST,
} from './line-reader.js';
import { LineFraming, checkTime } from './framing.js';
import { TlsRecordFollower } from './tls-records.js';
import { resolveOptions, checkDataAddress, ownAddress, REFUSAL_REPLIES, passiveRefusal, type ResolvedOptions } from './policy.js';
import {
  PendingQueue, expectedPassiveCode, Q_OTHER, Q_GREETING, Q_ACTIVE, Q_PASV, Q_EPSV, Q_LPSV, Q_EPSV_AS_PASV,
  Q_AUTH, Q_EPSV_ALL, Q_REIN, Q_HELD, Q_LOCAL, type LocalReply,
} from './pending.js';
import { ascii, asciiLine, latin1, lineBody, lineEnding, lineEndingLength, replyText } from './text.js';
import {
  scanSextet, scanned, quadOfFields, quadOfText, sextetText, sextetLength, writeSextet, writeEol, PieceCache, EMPTY_PIECE,
  type Piece,
} from './sextet.js';
import { algsReply, EPSV_ALL_REPLY } from './ftp64.js';
import { replacementEndpoint, rewriteCommand, rewriteReply } from './rewrite.js';
import type { DataChannelRequest, DataCommand, FtpEvent, FtpTranslatorOptions, RefusalReason } from './types.js';

const C2S: Direction = 'client-to-server';
const EMPTY_BYTES = new Uint8Array(0);
const PORT_SPACE = ascii('PORT ');
const S2C: Direction = 'server-to-client';

// What to do when the current line ends (DirectionStream.lineAction).
// (LINE_NONE and LINE_DROP are generic, in line-reader.ts)
const LINE_COMMAND = 1; // c2s: a command of no interest (or PASV/LPSV/AUTH/REIN) went out: queue it
const LINE_REPLY_END = 2; // s2c: last line of a reply
const LINE_DROP_REPLY = 4; // s2c: an overlong candidate reply line; replace it

/**
 * Commands the client may send without waiting for replies before the gateway gives up on the
 * connection: far beyond any real pipelining, small enough that the queue stays a few KiB.
 */
export const MAX_PENDING_COMMANDS = 512;

/**
 * A data-channel request waiting for the embedding, with what is needed to rewrite its line.
 * The line's bytes are not kept: its text is, as the address and the pieces around it.
 */
interface HeldLine {
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
  /** s2c: the line is the reply's last line / first line. */
  readonly last: boolean;
  readonly first: boolean;
  /** s2c: the reply code of the line (for pairing once it is sent). */
  readonly code: number;
}

export class FtpTranslator extends LineFraming implements StreamTranslator<FtpEvent> {
  private readonly o: ResolvedOptions;
  private readonly queue = new PendingQueue();
  // The held line of each direction (at most one each: a blocked direction consumes nothing).
  private heldC2S: HeldLine | null = null;
  private heldS2C: HeldLine | null = null;
  /** Mappings asked for and neither committed nor released (policy maxPendingDataChannels). */
  private outstanding = 0;
  /** The latest committed mapping: the server's current data port setting (released by REIN). */
  private current = 0;
  private nextId = 1;

  // Server reply in progress.
  private multiCode = -1; // code of the multi-line reply being read, or -1
  private replyWanted = 0; // queue kind of the passive command it answers, or 0
  private replyFound = false; // an address was already found (and handled) in this reply

  private epsvAll = false;
  private ftp64Active: boolean;
  private authWait = false; // c2s blocked after an AUTH line until its reply
  private tls = false;

  // The words around addresses, as the peers repeat them (see sextet.ts).
  private readonly commandHead = new PieceCache(latin1);
  private readonly replyHead = new PieceCache(latin1);
  private readonly replyTail = new PieceCache(latin1);

  constructor(options: FtpTranslatorOptions) {
    const o = resolveOptions(options);
    super(o.policy.maxLineLength, o.policy.overlongLine === 'close');
    this.o = o;
    this.ftp64Active = o.ftp64;
    this.queue.push(Q_GREETING);
  }

  // ---- StreamTranslator (the rest is in framing.ts) --------------------------------------

  /** No timers: mapping lifetimes belong to the embedding's mapping table. */
  pollTimeout(): number | null {
    return null;
  }

  handleTimeout(nowMs: number): void {
    checkTime(nowMs);
  }

  get tlsActive(): boolean {
    return this.tls;
  }

  // ---- answers from the embedding ------------------------------------------------------------

  resolveDataChannel(id: number, replacement: Endpoint): void {
    const h = this.heldLineOf(id);
    const e = replacementEndpoint(replacement);
    let after: string;
    let out: Uint8Array;
    const quad = e.family === 4 ? quadOfText(e.address) : null;
    if (h.direction === C2S) {
      if (quad !== null && h.kind === VERB_PORT) {
        // The usual case, built straight into bytes: PORT h1,h2,h3,h4,p1,p2
        after = 'PORT ' + sextetText(quad, e.port);
        out = new Uint8Array(5 + sextetLength(quad, e.port) + (h.eol === 1 ? 1 : 2));
        out.set(PORT_SPACE);
        writeEol(out, writeSextet(out, 5, quad, e.port), h.eol);
      } else {
        after = rewriteCommand(h.kind, e, this.ftp64Active);
        out = asciiLine(after, h.eol);
      }
    } else {
      if (quad !== null && h.kind === Q_PASV && h.fast) {
        // The usual case: only the numbers change, the server's words are copied as bytes.
        const head = h.head.bytes;
        const tail = h.tail.bytes;
        after = h.head.text + sextetText(quad, e.port) + h.tail.text;
        out = new Uint8Array(head.length + sextetLength(quad, e.port) + tail.length + (h.eol === 1 ? 1 : 2));
        out.set(head);
        const p = writeSextet(out, head.length, quad, e.port);
        out.set(tail, p);
        writeEol(out, p + tail.length, h.eol);
      } else {
        after = rewriteReply(h.kind, h.head.text, h.tail.text, e, h.first && h.last);
        out = asciiLine(after, h.eol);
      }
    }
    const text = h.text;
    this.release(h);
    const s = this.side(h.direction);
    const edit = this.replaceLine(s, h.lineStart, h.lineLength, out);
    this.push({ type: 'line-translated', direction: h.direction, keyword: keywordOf(h), before: text, after, edit });
    this.push({ type: 'edit', edit });
    s.phase = PHASE_LINE_START;
    if (h.direction === C2S) {
      this.queue.replaceTail(Q_ACTIVE, id);
    } else {
      this.outstanding--;
      this.current = id;
      this.push({ type: 'data-channel-committed', id });
      if (h.last) this.completeReply(h.code);
    }
  }

  refuseDataChannel(id: number, reason = 'refused by the gateway'): void {
    const h = this.heldLineOf(id);
    this.release(h);
    this.outstanding--;
    const why = replyText(String(reason));
    const s = this.side(h.direction);
    s.phase = PHASE_LINE_START;
    if (h.direction === C2S) {
      const reply = `425 Cannot open data connection (${why}).`;
      this.edit(s, h.lineStart, h.lineLength, 0);
      this.queue.replaceTail(Q_LOCAL, { bytes: ascii(reply + '\r\n') } satisfies LocalReply);
      this.push({ type: 'command-refused', command: VERB_NAMES[h.kind]!, reason: 'mapping-refused', reply });
      this.drain();
    } else {
      const reply = this.replacePassive(h.text, h.lineLength, h.eol, h.first, h.last, why, h.lineStart);
      this.push({ type: 'command-refused', command: h.request.command, reason: 'mapping-refused', reply });
      if (h.last) this.completeReply(h.code);
    }
  }

  // ---- hooks called by the framing --------------------------------------------------------

  protected decideLine(s: DirectionStream, r: number): number {
    return s === this.c2s ? this.decideCommand(r) : this.decideReply(s, r);
  }

  protected heldLine(s: DirectionStream, buf: Uint8Array, from: number, to: number): void {
    // The usual PORT and 227 are read in place; anything else gets a line of its own.
    if (s === this.c2s) {
      if (s.lineCode === VERB_PORT && !this.epsvAll && this.heldPort(buf, from, to)) return;
      this.heldCommand(buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to));
    } else {
      if (this.replyWanted === Q_PASV && this.held227(buf, from, to)) return;
      this.heldReply(buf === s.hold ? buf.slice(from, to) : buf.subarray(from, to));
    }
  }

  protected onOverlong(s: DirectionStream): void {
    if (s === this.c2s) {
      s.lineAction = LINE_DROP;
      this.refuseLocal('line-too-long', s.lineCode > 0 ? VERB_NAMES[s.lineCode]! : 'UNKNOWN', REFUSAL_REPLIES['line-too-long']);
    } else {
      s.lineAction = LINE_DROP_REPLY;
      this.push({ type: 'protocol-error', direction: S2C, message: 'reply line too long; replaced' });
    }
  }

  protected onLineEnd(s: DirectionStream, action: number): void {
    if (action === LINE_REPLY_END) {
      this.completeReply(s.lineCode >> 1);
    } else if (action === LINE_COMMAND) {
      this.commandSent(s);
    } else if (action === LINE_DROP_REPLY) {
      const first = (s.lineFlags & LINE_FIRST) !== 0;
      const last = (s.lineFlags & LINE_LAST) !== 0;
      const text = first && last ? passiveRefusal('reply too long') : (last ? `${s.lineCode >> 1} ` : ' ') + 'Reply line too long.';
      const edit = this.replaceLine(s, s.lineStart, s.inputOffset - s.lineStart, ascii(text + '\r\n'));
      this.push({ type: 'edit', edit });
      if (last) this.completeReply(s.lineCode >> 1);
    }
  }

  protected onPlaintext(_s: DirectionStream): void {
    if (this.c2s.phase !== PHASE_TLS && this.s2c.phase !== PHASE_TLS && this.tls) {
      this.tls = false;
      this.push({ type: 'tls-ended' });
    }
  }

  // ---- commands (client to server) -----------------------------------------------------------

  /**
   * A client line's verb is known: say how its bytes are handled. A line that passes is queued
   * when it has gone out whole (commandSent): an over-long one never reaches the server.
   */
  private decideCommand(verb: number): number {
    const s = this.c2s;
    s.lineAction = LINE_NONE;
    if (this.queue.length >= MAX_PENDING_COMMANDS) {
      this.push({ type: 'close', reason: `more than ${MAX_PENDING_COMMANDS} commands awaiting replies` });
      return PHASE_CLOSED;
    }
    switch (verb) {
      case VERB_PORT:
      case VERB_EPRT:
      case VERB_LPRT:
      case VERB_EPSV:
        return PHASE_HOLD;
      case VERB_ALGS:
        if (this.o.ftp64) return PHASE_HOLD;
        break;
      case VERB_PASV:
      case VERB_LPSV:
        if (this.epsvAll) {
          s.lineAction = LINE_DROP;
          this.refuseLocal('epsv-all', VERB_NAMES[verb]!, REFUSAL_REPLIES['epsv-all']);
          return PHASE_DISCARD;
        }
        break;
    }
    s.lineAction = LINE_COMMAND;
    return PHASE_PASS;
  }

  /** A command that passes went out whole: it now awaits its reply. AUTH waits for it. */
  private commandSent(s: DirectionStream): void {
    const verb = s.lineCode;
    if (verb === VERB_PASV) this.queue.push(Q_PASV);
    else if (verb === VERB_LPSV) this.queue.push(Q_LPSV);
    else if (verb === VERB_REIN) this.queue.push(Q_REIN);
    else if (verb === VERB_AUTH) {
      this.queue.push(Q_AUTH);
      if (!s.ended) {
        this.authWait = true;
        s.phase = PHASE_BLOCKED;
      }
    } else this.queue.push(Q_OTHER);
  }

  /** A held client line is complete (line ending included). */
  private heldCommand(line: Uint8Array): void {
    const s = this.c2s;
    const verb = s.lineCode;
    const text = lineBody(line);
    const argument = commandArgument(text);
    const name = VERB_NAMES[verb]!;
    if (verb === VERB_EPSV) {
      const all = argument !== null && argument.trim().toUpperCase() === 'ALL';
      if (!this.ftp64Active) {
        s.emit(line);
        this.queue.push(all ? Q_EPSV_ALL : Q_EPSV);
      } else if (all) {
        this.refuseLine(line, name, 'local-command', EPSV_ALL_REPLY);
      } else {
        const after = 'PASV';
        const edit = this.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
        this.push({ type: 'line-translated', direction: C2S, keyword: name, before: text, after, edit });
        this.push({ type: 'edit', edit });
        this.queue.push(Q_EPSV_AS_PASV);
      }
      return;
    }
    if (verb === VERB_ALGS) {
      const answer = algsReply(argument, this.ftp64Active);
      this.ftp64Active = answer.active;
      this.refuseLine(line, name, 'local-command', answer.reply);
      return;
    }
    if (this.epsvAll) return this.refuseLine(line, name, 'epsv-all');
    let r: AddressParseResult;
    if (argument === null) r = { ok: false, error: 'bad-syntax' };
    else if (verb === VERB_PORT) {
      const e = parsePort(argument);
      r = e ? { ok: true, endpoint: e } : { ok: false, error: 'bad-syntax' };
    } else if (verb === VERB_EPRT) r = parseEprt(argument);
    else r = parseLprt(argument);
    if (!r.ok) return this.refuseLine(line, name, r.error);
    const original = ownAddress(r.endpoint, this.o);
    const refusal = checkDataAddress(original, this.o, this.outstanding);
    if (refusal !== null) return this.refuseLine(line, name, refusal);
    const family = verb === VERB_EPRT && this.ftp64Active ? 4 : this.o.serverFamily;
    const request: DataChannelRequest = {
      id: this.nextId++, mode: 'active', command: name as DataCommand, original, family, connector: 'server',
    };
    this.queue.push(Q_HELD, request.id);
    this.block(s, {
      request, direction: C2S, text, lineStart: s.lineStart, lineLength: line.length, eol: lineEndingLength(line), kind: verb,
      head: EMPTY_PIECE, tail: EMPTY_PIECE, fast: false, first: false, last: false, code: 0,
    });
  }

  /**
   * PORT in its usual shape and passing the policy, read from the bytes (sextet.ts). False when
   * anything is unusual: the general path then decides, refusals included.
   */
  private heldPort(line: Uint8Array, from: number, to: number): boolean {
    const s = this.c2s;
    const eol = eolLength(line, from, to);
    const end = to - eol;
    let p = from;
    while (p < end && line[p] === 255) p += line[p + 1]! >= 251 && line[p + 1]! <= 254 ? 3 : 2;
    p += 4; // the verb (classifyCommand found it here)
    if (line[p] !== 32 || !scanSextet(line, p + 1, end) || scanned.end !== end) return false;
    const f = scanned.fields;
    const quad = quadOfFields(f);
    const port = f[4]! * 256 + f[5]!;
    const original = ownAddress({ family: 4, address: quad.dotted, port }, this.o);
    if (checkDataAddress(original, this.o, this.outstanding) !== null) return false;
    const head = this.commandHead.get(line, from, p + 1);
    const text = head.text + (scanned.canonical ? sextetText(quad, port) : latin1(line, p + 1, end));
    const request: DataChannelRequest = {
      id: this.nextId++, mode: 'active', command: 'PORT', original, family: this.o.serverFamily, connector: 'server',
    };
    this.queue.push(Q_HELD, request.id);
    this.block(s, {
      request, direction: C2S, text, lineStart: s.lineStart, lineLength: to - from, eol, kind: VERB_PORT,
      head: EMPTY_PIECE, tail: EMPTY_PIECE, fast: false, first: false, last: false, code: 0,
    });
    return true;
  }

  /** Refuse a held client line: it is removed and the client gets `reply` in its turn. */
  private refuseLine(line: Uint8Array, command: string, reason: RefusalReason, reply = REFUSAL_REPLIES[reason]): void {
    this.push({ type: 'command-refused', command, reason, reply });
    this.edit(this.c2s, this.c2s.lineStart, line.length, 0);
    this.queueLocal(reply);
  }

  /** Refuse a client line whose bytes are being discarded (the removal edit comes at its LF). */
  private refuseLocal(reason: RefusalReason, command: string, reply: string): void {
    this.push({ type: 'command-refused', command, reason, reply });
    this.queueLocal(reply);
  }

  private queueLocal(reply: string): void {
    this.queue.push(Q_LOCAL, { bytes: ascii(reply + '\r\n') } satisfies LocalReply);
    this.drain();
  }

  /** Send local replies that reached the queue head, when the client side is between replies. */
  private drain(): void {
    const s = this.s2c;
    while (this.queue.headKind() === Q_LOCAL && s.phase === PHASE_LINE_START && s.holdLength === 0 && this.multiCode < 0) {
      const local = this.queue.headPayload() as LocalReply;
      this.queue.shift();
      this.insert(s, local.bytes);
    }
  }

  // ---- replies (server to client) ------------------------------------------------------------

  /** A server line's first bytes are known: track reply structure, hold it if it matters. */
  private decideReply(s: DirectionStream, r: number): number {
    s.lineAction = LINE_NONE;
    s.lineFlags = 0;
    if (this.multiCode >= 0) {
      if (r >= 0 && (r & 1) === 0 && r >> 1 === this.multiCode) {
        s.lineFlags = LINE_LAST;
        s.lineAction = LINE_REPLY_END;
        this.multiCode = -1;
      }
      // FTP64 holds every line of the reply: its 227 code lines are renumbered 229.
      return this.replyWanted !== 0 && (!this.replyFound || this.replyWanted === Q_EPSV_AS_PASV) ? PHASE_HOLD : PHASE_PASS;
    }
    if (r === REPLY_NOT_A_REPLY) return PHASE_PASS; // not a reply line: no effect on pairing
    const code = r >> 1;
    const head = this.queue.headKind();
    this.replyWanted = code >= 200 && code < 600 && expectedPassiveCode(head) === code ? head : 0;
    this.replyFound = false;
    s.lineFlags = LINE_FIRST;
    if (r & 1) this.multiCode = code;
    else {
      s.lineFlags |= LINE_LAST;
      s.lineAction = LINE_REPLY_END;
    }
    return this.replyWanted !== 0 ? PHASE_HOLD : PHASE_PASS;
  }

  /** A held reply line is complete: find the address, check it, ask for its replacement. */
  private heldReply(line: Uint8Array): void {
    const s = this.s2c;
    s.lineAction = LINE_NONE;
    const first = (s.lineFlags & LINE_FIRST) !== 0;
    const last = (s.lineFlags & LINE_LAST) !== 0;
    const code = s.lineCode >> 1;
    const kind = this.replyWanted;
    const from = s.lineCode >= 0 ? 4 : 0; // after the reply code, if the line has one
    const text = lineBody(line);
    if (this.replyFound) {
      // FTP64, a line after the address: only the reply code changes.
      this.passReplyLine(line, text);
      if (last) this.completeReply(code);
      return;
    }
    const f =
      kind === Q_EPSV ? find229(text, this.o.serverAddress, this.o.serverFamily, from)
      : kind === Q_LPSV ? find228(text, from)
      : find227(text, from);
    if (f === null) {
      if (first && last) {
        this.replacePassive(text, line.length, lineEndingLength(line), true, true, 'no address in the reply', s.lineStart);
        this.push({ type: 'protocol-error', direction: S2C, message: `${code} reply without an address` });
      } else {
        this.passReplyLine(line, text);
        if (last) this.push({ type: 'protocol-error', direction: S2C, message: `${code} reply without an address` });
      }
      if (last) this.completeReply(code);
      return;
    }
    this.replyFound = true;
    const command: DataCommand = kind === Q_PASV ? 'PASV' : kind === Q_LPSV ? 'LPSV' : 'EPSV';
    let problem: string | null = null;
    if (f === MALFORMED) problem = 'malformed address in the reply';
    else if (!this.o.policy.allowLowDataPorts && f.endpoint.port < 1024) problem = 'data port below 1024';
    if (problem !== null) {
      this.replacePassive(text, line.length, lineEndingLength(line), first, last, problem, s.lineStart);
      this.push({ type: 'protocol-error', direction: S2C, message: `${problem}; reply replaced` });
      if (last) this.completeReply(code);
      return;
    }
    const found = f as FoundAddress;
    if (this.outstanding >= this.o.policy.maxPendingDataChannels) {
      const reply = this.replacePassive(text, line.length, lineEndingLength(line), first, last, 'too many data connections pending', s.lineStart);
      this.push({ type: 'command-refused', command, reason: 'too-many-data-channels', reply });
      if (last) this.completeReply(code);
      return;
    }
    const request: DataChannelRequest = {
      id: this.nextId++,
      mode: 'passive',
      command,
      original: found.endpoint,
      family: kind === Q_PASV ? 4 : this.o.clientFamily,
      connector: 'client',
    };
    const head: Piece = { text: text.slice(0, found.start), bytes: EMPTY_BYTES };
    const tail: Piece = { text: text.slice(found.end), bytes: EMPTY_BYTES };
    this.block(s, {
      request, direction: S2C, text, lineStart: s.lineStart, lineLength: line.length, eol: lineEndingLength(line), kind,
      head, tail, fast: false, first, last, code,
    });
  }

  /**
   * A 227 in its usual shape (the first number after the code starts a valid sextet) passing the
   * policy, read from the bytes (sextet.ts). False when anything is unusual: the general path
   * then decides, replacements included.
   */
  private held227(line: Uint8Array, from: number, to: number): boolean {
    if (this.replyFound || this.outstanding >= this.o.policy.maxPendingDataChannels) return false;
    const s = this.s2c;
    const eol = eolLength(line, from, to);
    const end = to - eol;
    let i = s.lineCode >= 0 ? from + 4 : from; // after the reply code, if the line has one
    while (i < end && (line[i]! < 48 || line[i]! > 57)) i++;
    if (i >= end || !scanSextet(line, i, end)) return false;
    const f = scanned.fields;
    const port = f[4]! * 256 + f[5]!;
    if (port < 1024 && !this.o.policy.allowLowDataPorts) return false;
    const quad = quadOfFields(f);
    s.lineAction = LINE_NONE; // the reply's end is handled when the line is sent
    const head = this.replyHead.get(line, from, i);
    const tail = this.replyTail.get(line, scanned.end, end);
    const span = scanned.canonical ? sextetText(quad, port) : latin1(line, i, scanned.end);
    this.replyFound = true;
    const request: DataChannelRequest = {
      id: this.nextId++, mode: 'passive', command: 'PASV', original: { family: 4, address: quad.dotted, port }, family: 4, connector: 'client',
    };
    this.block(s, {
      request, direction: S2C, text: head.text + span + tail.text, lineStart: s.lineStart, lineLength: to - from, eol, kind: Q_PASV,
      head, tail, fast: true, first: (s.lineFlags & LINE_FIRST) !== 0, last: (s.lineFlags & LINE_LAST) !== 0, code: s.lineCode >> 1,
    });
    return true;
  }

  /** Send on a held reply line that has no address to rewrite (renumbered 227 -> 229 under FTP64). */
  private passReplyLine(line: Uint8Array, text: string): void {
    const s = this.s2c;
    if (this.replyWanted !== Q_EPSV_AS_PASV || !/^227[ -]/.test(text)) {
      s.emit(line);
      return;
    }
    const after = '229' + text.slice(3);
    const edit = this.replaceLine(s, s.lineStart, line.length, ascii(after + lineEnding(line)));
    this.push({ type: 'line-translated', direction: S2C, keyword: '227', before: text, after, edit });
    this.push({ type: 'edit', edit });
  }

  /** Replace a passive reply line (`before`: its text) by a refusal; returns the new text. */
  private replacePassive(before: string, lineLength: number, eol: number, first: boolean, last: boolean, why: string, lineStart: number): string {
    let prefix = /^[0-9]{3}[ -]/.test(before) ? before.slice(0, 4) : ' ';
    if (this.replyWanted === Q_EPSV_AS_PASV && prefix.startsWith('227')) prefix = '229' + prefix.slice(3);
    const text = first && last ? passiveRefusal(why) : `${prefix}Cannot open data connection (${why}).`;
    const edit = this.replaceLine(this.s2c, lineStart, lineLength, asciiLine(text, eol));
    this.push({ type: 'edit', edit });
    return text;
  }

  /** The last line of a reply went out: pair it with its command and apply the effects. */
  private completeReply(code: number): void {
    if (code >= 200 && code < 600) {
      const k = this.queue.headKind();
      if (k >= 0 && k !== Q_HELD && k !== Q_LOCAL) {
        const id = k === Q_ACTIVE ? (this.queue.headPayload() as number) : 0;
        this.queue.shift();
        const ok = code < 300;
        if (k === Q_ACTIVE) {
          this.outstanding--;
          if (ok) this.current = id;
          this.push(ok ? { type: 'data-channel-committed', id } : { type: 'data-channel-released', id, reason: `server replied ${code}` });
        } else if (k === Q_AUTH) {
          if (code === 234) this.startTls();
          else if (this.authWait) {
            this.authWait = false;
            this.c2s.phase = PHASE_LINE_START;
          }
        } else if (k === Q_EPSV_ALL) {
          if (ok) this.epsvAll = true;
        } else if (k === Q_REIN) {
          if (ok) this.reinitialize();
        }
      }
    }
    this.drain();
  }

  private startTls(): void {
    this.s2c.phase = PHASE_TLS;
    this.s2c.tls = new TlsRecordFollower();
    if (this.authWait) {
      this.authWait = false;
      this.c2s.phase = PHASE_TLS;
      this.c2s.tls = new TlsRecordFollower();
    }
    if (!this.tls) {
      this.tls = true;
      this.push({ type: 'tls-started' });
    }
  }

  /**
   * REIN answered 2xx: the session starts over (RFC 959 4.1.1) and the server forgets its data
   * port: the latest committed mapping is released (a transfer already running may finish).
   * Every PORT sent before the REIN was answered before the REIN's own reply, so nothing else
   * of the old session is outstanding.
   */
  private reinitialize(): void {
    this.epsvAll = false;
    this.ftp64Active = this.o.ftp64;
    if (this.current !== 0) {
      this.push({ type: 'data-channel-released', id: this.current, reason: 'REIN' });
      this.current = 0;
    }
  }



  // ---- shared --------------------------------------------------------------------------------

  private heldLineOf(id: number): HeldLine {
    const c = this.heldC2S;
    if (c !== null && c.request.id === id) return c;
    const r = this.heldS2C;
    if (r !== null && r.request.id === id) return r;
    throw new NatAlgError('unknown-id', `no pending data-channel request ${id}`);
  }

  private release(h: HeldLine): void {
    if (h === this.heldC2S) this.heldC2S = null;
    else this.heldS2C = null;
  }

  /** Hold a line for the embedding's answer; the direction consumes nothing until then. */
  private block(s: DirectionStream, h: HeldLine): void {
    if (s === this.c2s) this.heldC2S = h;
    else this.heldS2C = h;
    this.outstanding++;
    s.phase = PHASE_BLOCKED;
    this.push({ type: 'data-channel-request', request: h.request });
  }

}

function keywordOf(h: HeldLine): string {
  if (h.direction === C2S) return VERB_NAMES[h.kind]!;
  return h.code === 227 ? '227' : String(h.code);
}

/** Length of the line ending of buf[from..to): 2 CRLF, 1 LF, 0 none. */
function eolLength(buf: Uint8Array, from: number, to: number): number {
  if (to === from || buf[to - 1] !== 10) return 0;
  return to - from >= 2 && buf[to - 2] === 13 ? 2 : 1;
}
