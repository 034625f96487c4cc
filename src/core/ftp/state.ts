/**
 * Everything the FTP translator knows about its session, in one record. Only the rules change it
 * (session.ts for what replies do to it, command-lines.ts and reply-lines.ts for what lines do);
 * the framer (stream/line-framer.ts) keeps the bytes and knows nothing of this.
 */

import { DataChannelRequests } from './data-channel-requests.js';
import { PendingQueue, PLAIN } from './pending.js';
import type { ReplyLine } from './reply-start.js';
import type { PassiveFormat } from './rules.js';
import type { DataCommand } from './types.js';
import type { Verb } from './verb.js';
import type { ResolvedOptions } from './policy.js';

/** The reply the server is sending (set at its first line). */
export interface ReplyInProgress {
  /** Its code (continuation lines carry none of their own). */
  code: number;
  /** The code of a multi-line reply still open (`ddd-` seen, no `ddd ` yet), or -1. */
  openCode: number;
  /** The format it is read in for a data address (rules.ts passiveFormat), or null: not read. */
  format: PassiveFormat | null;
  /** The passive command a data channel it asks for belongs to. */
  command: DataCommand;
  /** Its code is the one the passive command at the queue head expects. */
  expected: boolean;
  /** An address was found (and handled) in it already. */
  found: boolean;
}

export interface FtpState {
  /** Commands awaiting their final reply, and local replies awaiting their turn. */
  readonly pending: PendingQueue;
  /** Mappings asked of the embedding and the lines waiting for them. */
  readonly requests: DataChannelRequests;
  /** The server accepted EPSV ALL: only EPSV from now on (RFC 2428), until REIN. */
  epsvAll: boolean;
  /** FTP64 translation on now (RFC 6384; ALGS can switch it). */
  ftp64: boolean;
  /** The client direction waits for the reply to AUTH (it may turn to TLS). */
  authWait: boolean;
  /** The control channel is (partly) encrypted. */
  tls: boolean;
  /** Since TLS started: an application-data record has gone client-to-server / server-to-client. */
  readonly tlsData: { 'client-to-server': boolean; 'server-to-client': boolean };
  /** A final 230 or 232 has been seen. */
  loggedIn: boolean;
  /** The command line being read: its verb. */
  verb: Verb;
  /** The server line being read: how it began, and whether it is its reply's first / last line. */
  line: ReplyLine;
  lineIsFirst: boolean;
  lineIsLast: boolean;
  readonly reply: ReplyInProgress;
}

export function initialState(o: ResolvedOptions): FtpState {
  const pending = new PendingQueue();
  pending.push(PLAIN.greeting);
  return {
    pending,
    requests: new DataChannelRequests(o),
    epsvAll: false,
    ftp64: o.ftp64,
    authWait: false,
    tls: false,
    tlsData: { 'client-to-server': false, 'server-to-client': false },
    loggedIn: false,
    verb: 'OTHER',
    line: 'text',
    lineIsFirst: false,
    lineIsLast: false,
    reply: { code: 0, openCode: -1, format: null, command: 'PASV', expected: false, found: false },
  };
}
