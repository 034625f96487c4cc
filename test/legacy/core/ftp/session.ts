/**
 * The FTP session as the gateway sees it, and the rules it follows. How bytes move (the phases of
 * each direction) is written down once, in framing.ts; what lines mean and what they do to the
 * session, once, here. translator.ts reads the lines by these rules; data-channels.ts keeps the
 * lines held for the embedding.
 *
 * STATE RULES.
 * Client lines are commands; the first bytes (after Telnet commands) name the verb:
 *   PORT EPRT LPRT EPSV (and ALGS with FTP64) are held whole and read; every other line is held
 *   too (up to maxLineLength, never forwarded in part) and goes out unchanged at its LF. Every
 *   line is a command and, once sent, gets an entry in the pending queue (pending.ts) that the
 *   next final reply (2xx-5xx) answers; PASV LPSV AUTH REIN are marked there by verb
 *   (commandSent). A line longer than maxLineLength is dropped and answered 500 locally (or
 *   `close`). PASV/LPSV/PORT/EPRT/LPRT after EPSV ALL are refused locally.
 * Server lines are replies `ddd ` / `ddd-` (multi-line until `ddd `). A reply line is held only
 *   when its reply is read for an address (pending.ts passiveFormat: every 227/228/229 whatever
 *   it answers, and any other 2xx to a passive command) and no address was found yet in that
 *   reply (FTP64: every line, to renumber 227 as 229). Its first address is the one rewritten; a
 *   blocked direction holds that one line and consumes nothing else.
 * A data-channel request (a PORT/EPRT/LPRT passing the policy, a passive reply's address) blocks
 *   its direction until the embedding answers; a resolved command waits in the queue as
 *   Q_ACTIVE, a resolved passive reply commits its mapping at once.
 * On a reply's last line (completeReply, one switch): 2xx to PORT/EPRT/LPRT commits the mapping,
 *   4xx/5xx releases it; 234 to AUTH starts TLS, anything else to AUTH resumes the client side;
 *   2xx to EPSV ALL turns on EPSV-only; 2xx to REIN resets the session.
 * Local replies (refusals, FTP64 answers) wait in the queue and go out when they reach its head
 *   while the server direction is at a line start outside a multi-line reply.
 * AUTH: the client direction blocks after the AUTH line until its reply: 234 makes both
 *   directions TLS (server after the 234 line, client after the AUTH line).
 * TLS: followed until a record boundary shows plaintext (after CCC); tls-ended when both are plain.
 */

import type { DirectionStream } from './line-reader.js';
import { PHASE_LINE_START, PHASE_BLOCKED, PHASE_TLS, PHASE_PASS, LINE_NONE } from './line-reader.js';
import { LineFraming } from './framing.js';
import { TlsRecordFollower } from './tls-records.js';
import { VERB_AUTH, VERB_LPSV, VERB_PASV, VERB_REIN } from './commands.js';
import { resolveOptions, REFUSAL_REPLIES, type ResolvedOptions } from './policy.js';
import {
  PendingQueue, Q_OTHER, Q_GREETING, Q_ACTIVE, Q_PASV, Q_LPSV, Q_AUTH, Q_EPSV_ALL, Q_REIN, Q_HELD, Q_LOCAL, type LocalReply,
} from './pending.js';
import { DataChannels, type HeldLine } from './data-channels.js';
import { ascii } from './text.js';
import type { DataCommand, FtpTranslatorOptions, RefusalReason } from './types.js';

/**
 * Commands the client may send without waiting for replies before the gateway gives up on the
 * connection: far beyond any real pipelining, small enough that the queue stays a few KiB.
 */
export const MAX_PENDING_COMMANDS = 512;

// What to do when the current line ends (DirectionStream.lineAction).
// (LINE_NONE and LINE_DROP are generic, in line-reader.ts)
export const LINE_COMMAND = 1; // c2s: a command that passes went out whole: queue it
export const LINE_REPLY_END = 2; // s2c: last line of a reply
export const LINE_DROP_REPLY = 4; // s2c: an over-long candidate reply line, already replaced: remove its input

export abstract class FtpSession extends LineFraming {
  protected readonly o: ResolvedOptions;
  /** Commands awaiting their final reply, and local replies awaiting their turn. */
  protected readonly queue = new PendingQueue();
  protected readonly channels: DataChannels;

  // Server reply in progress.
  protected multiCode = -1; // code of the multi-line reply being read, or -1
  protected replyCode = 0; // its code (also while reading its continuation lines)
  protected replyWanted = 0; // queue kind whose format it is read in for an address, or 0 (passiveFormat)
  protected replyCommand: DataCommand = 'PASV'; // the command a data channel it asks for belongs to
  protected replyExpected = false; // its code is the one the passive command at the queue head expects
  protected replyFound = false; // an address was already found (and handled) in this reply

  protected epsvAll = false;
  protected ftp64Active: boolean;
  protected authWait = false; // c2s blocked after an AUTH line until its reply
  protected tls = false;
  protected loggedIn = false;

  protected constructor(options: FtpTranslatorOptions) {
    const o = resolveOptions(options);
    super(o.policy.maxLineLength, o.policy.overlongLine === 'close', o.policy.maxDiscardedBytes);
    this.o = o;
    this.channels = new DataChannels(o);
    this.ftp64Active = o.ftp64;
    this.queue.push(Q_GREETING);
  }

  // ---- pairing -------------------------------------------------------------------------------

  /** A command that passes went out whole: it now awaits its reply. AUTH waits for it. */
  protected commandSent(s: DirectionStream): void {
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

  /** The last line of a reply went out: pair it with its command and apply the effects. */
  protected completeReply(code: number): void {
    if ((code === 230 || code === 232) && !this.loggedIn) {
      this.loggedIn = true;
      this.push({ type: 'logged-in' });
    }
    if (code >= 200 && code < 600) {
      const k = this.queue.headKind();
      if (k >= 0 && k !== Q_HELD && k !== Q_LOCAL) {
        const id = k === Q_ACTIVE ? (this.queue.headPayload() as number) : 0;
        this.queue.shift();
        const ok = code < 300;
        switch (k) {
          case Q_ACTIVE:
            this.channels.outstanding--;
            if (ok) this.channels.current = id;
            this.push(ok ? { type: 'data-channel-committed', id } : { type: 'data-channel-released', id, reason: `server replied ${code}` });
            break;
          case Q_AUTH:
            if (code === 234) this.startTls();
            else if (this.authWait) {
              this.authWait = false;
              this.c2s.phase = PHASE_LINE_START;
            }
            break;
          case Q_EPSV_ALL:
            if (ok) this.epsvAll = true;
            break;
          case Q_REIN:
            if (ok) this.reinitialize();
            break;
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

  protected onPlaintext(_s: DirectionStream): void {
    if (this.c2s.phase !== PHASE_TLS && this.s2c.phase !== PHASE_TLS && this.tls) {
      this.tls = false;
      this.push({ type: 'tls-ended' });
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
    const current = this.channels.current;
    if (current !== 0) {
      this.push({ type: 'data-channel-released', id: current, reason: 'REIN' });
      this.channels.current = 0;
    }
  }

  // ---- data-channel requests -----------------------------------------------------------------

  /** Hold a line for the embedding's answer; the direction consumes nothing until then. */
  protected block(s: DirectionStream, h: HeldLine): void {
    this.channels.hold(h);
    s.phase = PHASE_BLOCKED;
    this.push({ type: 'data-channel-request', request: h.request });
  }

  // ---- local replies -------------------------------------------------------------------------

  /** Refuse a held client line: it is removed and the client gets `reply` in its turn. */
  protected refuseLine(lineLength: number, command: string, reason: RefusalReason, reply = REFUSAL_REPLIES[reason]): void {
    this.push({ type: 'command-refused', command, reason, reply });
    this.edit(this.c2s, this.c2s.lineStart, lineLength, 0);
    this.queueLocal(reply);
  }

  /** Refuse a client line whose bytes are being discarded (the removal edit comes at its LF). */
  protected refuseLocal(reason: RefusalReason, command: string, reply: string): void {
    this.push({ type: 'command-refused', command, reason, reply });
    this.queueLocal(reply);
  }

  protected queueLocal(reply: string): void {
    this.queue.push(Q_LOCAL, { bytes: ascii(reply + '\r\n') } satisfies LocalReply);
    this.drain();
  }

  /**
   * The server's stream ended: no reply will come any more. The line it left unfinished is over
   * (a reply cut short never completes), commands still waiting for a reply will never get one,
   * and local replies go out at once from now on (drain).
   */
  protected onEnded(s: DirectionStream): void {
    if (s !== this.s2c) return;
    if (s.phase === PHASE_PASS) s.phase = PHASE_LINE_START;
    if (s.phase === PHASE_LINE_START) {
      s.lineAction = LINE_NONE;
      this.multiCode = -1;
    }
    this.drain();
  }

  /** After the server's end: drop the commands at the queue head that can never be answered. */
  private forgetUnanswered(): void {
    for (let k = this.queue.headKind(); k >= 0 && k !== Q_HELD && k !== Q_LOCAL; k = this.queue.headKind()) {
      if (k === Q_ACTIVE) {
        const id = this.queue.headPayload() as number;
        this.channels.outstanding--;
        this.push({ type: 'data-channel-released', id, reason: 'server closed the connection' });
      } else if (k === Q_AUTH && this.authWait) {
        this.authWait = false; // no 234 can come: the client side reads plain commands again
        this.c2s.phase = PHASE_LINE_START;
      }
      this.queue.shift();
    }
  }

  /** Send local replies that reached the queue head, when the client side is between replies. */
  protected drain(): void {
    if (this.s2c.ended) this.forgetUnanswered();
    if (this.queue.headKind() !== Q_LOCAL) return; // the usual case: nothing local to send
    const s = this.s2c;
    while (this.queue.headKind() === Q_LOCAL && s.phase === PHASE_LINE_START && s.holdLength === 0 && this.multiCode < 0) {
      const local = this.queue.headPayload() as LocalReply;
      this.queue.shift();
      this.insertLine(s, local.bytes);
    }
    // Held up by a server line that is no reply (outside any reply, nothing ends on it): go
    // out at its end rather than wait for the server's next reply, which may never come.
    if (this.queue.headKind() === Q_LOCAL && s.phase === PHASE_PASS && this.multiCode < 0 && s.lineAction === LINE_NONE) {
      s.lineAction = LINE_REPLY_END;
    }
  }
}
