/**
 * Data-channel requests: the line held while the embedding chooses a replacement endpoint, the
 * request ids, the count of outstanding mappings, and the rewriting of a held line once answered.
 * At most one line per direction is held (a blocked direction consumes nothing), and its bytes
 * are not kept: its text is, as the address and the words around it.
 *
 * No framing here: the readers (command-lines.ts, reply-lines.ts) decide when a line is held and
 * the translator applies the answers to the streams.
 */

import { NatAlgError } from '../errors.js';
import type { AddressFamily, Endpoint } from '../net/ip.js';
import type { FoundAddress } from './replies.js';
import type { PassiveFormat } from './rules.js';
import { passiveRefusal } from './policy.js';
import { replacementEndpoint, rewriteCommand, rewriteReply, type ActiveVerb } from './rewrite.js';
import { asciiLine } from './text.js';
import type { FtpDataChannelRequest, DataCommand } from './types.js';
import { namesNoRemoteHost, type ResolvedOptions } from './policy.js';

/** Length of a line's ending: 2 CRLF, 1 LF, 0 none (a replacement ends the same way; CRLF for none). */
export type EolLength = 0 | 1 | 2;

/** Where a held line is: its input offset and length, and the length of its line ending. */
export interface LinePlace {
  readonly lineStart: number;
  readonly lineLength: number;
  readonly eol: EolLength;
}

/** Where a held reply line is in its reply. */
export interface ReplyPlace extends LinePlace {
  readonly first: boolean;
  readonly last: boolean;
  /** The reply's code (for pairing once the line is sent). */
  readonly code: number;
}

interface HeldBase extends LinePlace {
  readonly request: FtpDataChannelRequest;
  /** The line's text without its line ending. */
  readonly text: string;
}

/** A PORT, EPRT or LPRT waiting for its replacement endpoint. */
export interface HeldCommand extends HeldBase {
  readonly direction: 'client-to-server';
  readonly verb: ActiveVerb;
}

/** A passive reply line waiting for its replacement endpoint. */
export interface HeldReply extends HeldBase, ReplyPlace {
  readonly direction: 'server-to-client';
  readonly format: PassiveFormat;
  /** The text before and after the address. */
  readonly head: string;
  readonly tail: string;
}

export type HeldLine = HeldCommand | HeldReply;

export class DataChannelRequests {
  /** Mappings asked for and neither committed nor released (policy maxPendingDataChannels). */
  outstanding = 0;
  /** The latest committed mapping: the server's current data port setting (released by REIN). */
  current = 0;
  private nextId = 1;
  private heldC2S: HeldCommand | null = null;
  private heldS2C: HeldReply | null = null;

  constructor(private readonly o: ResolvedOptions) {}

  /** maxPendingDataChannels reached. */
  get full(): boolean {
    return this.outstanding >= this.o.policy.maxPendingDataChannels;
  }

  /** An active command naming `original`, whose server reads `family`. */
  command(verb: ActiveVerb, original: Endpoint, family: AddressFamily, text: string, place: LinePlace): HeldCommand {
    // (the place's fields written out: a spread into a literal costs more than the rest of it)
    const { lineStart, lineLength, eol } = place;
    return { request: this.request('active', verb, original, family), direction: 'client-to-server', text, lineStart, lineLength, eol, verb };
  }

  /** A passive reply (read in `format`) whose address is `found` in `text`. */
  reply(format: PassiveFormat, command: DataCommand, found: FoundAddress, family: AddressFamily, text: string, place: ReplyPlace): HeldReply {
    return {
      request: this.request('passive', command, found.endpoint, family),
      direction: 'server-to-client',
      text,
      lineStart: place.lineStart,
      lineLength: place.lineLength,
      eol: place.eol,
      first: place.first,
      last: place.last,
      code: place.code,
      format,
      head: text.slice(0, found.start),
      tail: text.slice(found.end),
    };
  }

  /** `h` waits for the embedding (its direction must consume nothing until then). */
  hold(h: HeldLine): void {
    if (h.direction === 'client-to-server') this.heldC2S = h;
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
   * The request for a data channel. Active: the server connects, to reach the client's endpoint.
   * Passive: the client connects, to reach the server's own address at the reply's port, unless
   * the policy lets a reply name another host (and it names a host at all: never the gateway,
   * loopback, a group or link-local), so that a server cannot steer the gateway at another host.
   */
  private request(mode: 'active' | 'passive', command: DataCommand, original: Endpoint, family: AddressFamily): FtpDataChannelRequest {
    const o = this.o;
    const active = mode === 'active';
    const trusted = o.policy.allowForeignDataAddress && (original.address === o.serverAddress || !namesNoRemoteHost(original.address));
    return {
      id: this.nextId++,
      mode,
      command,
      original,
      family,
      connector: active ? 'server' : 'client',
      acceptFrom: active ? o.serverAddress : o.clientAddress,
      target: active || trusted ? original : { family: o.serverFamily, address: o.serverAddress, port: original.port },
      oneShot: true,
      timeoutMs: null,
      label: command,
    };
  }
}

/**
 * The text and bytes replacing held line `h` with `replacement`. Pure: throws NatAlgError
 * (invalid-argument) for an unusable replacement before anything changes.
 */
export function rewriteHeld(h: HeldLine, replacement: Endpoint, ftp64Active: boolean): { after: string; out: Uint8Array } {
  const e = replacementEndpoint(replacement);
  const after = h.direction === 'client-to-server'
    ? rewriteCommand(h.verb, e, ftp64Active)
    : rewriteReply(h.format, h.head, h.tail, e, h.first && h.last);
  return { after, out: asciiLine(after, h.eol) };
}

/** `line-translated` keyword of a held line: the verb, or the reply code. */
export function keywordOf(h: HeldLine): string {
  return h.direction === 'client-to-server' ? h.verb : String(h.code);
}

/**
 * The line replacing a passive reply (`before`: its text) that will not be passed on. A whole
 * reply becomes a 425; a line inside a multi-line reply keeps its code prefix (renumbered 229
 * when read as `epsv-as-pasv`, FTP64) so that the structure stays valid.
 */
export function passiveRefusalLine(before: string, first: boolean, last: boolean, why: string, format: PassiveFormat | null): string {
  if (first && last) return passiveRefusal(why);
  let prefix = /^[0-9]{3}[ -]/.test(before) ? before.slice(0, 4) : ' ';
  if (format === 'epsv-as-pasv' && prefix.startsWith('227')) prefix = '229' + prefix.slice(3);
  return `${prefix}Cannot open data connection (${why}).`;
}

/** Length of the line ending of buf[from..to). */
export function eolLength(buf: Uint8Array, from: number, to: number): EolLength {
  if (to === from || buf[to - 1] !== 10) return 0;
  return to - from >= 2 && buf[to - 2] === 13 ? 2 : 1;
}

