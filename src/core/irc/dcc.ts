/**
 * DCC offers: the body of a `DCC` CTCP segment parsed into a typed offer with the spans of its
 * address and port (the verbs and their fields: dcc-layout.ts; writing offers: dcc-format.ts).
 * Any other verb (GET, RECV, RSEND, XMIT, VOICE, ...) is reported as kind 'other' with its verb,
 * unparsed: an ALG cannot translate what it does not understand and must decide what to do.
 * Passive (reverse) DCC is port 0 with a token; the answer carries an address, a port and the same
 * token. `passive` says so.
 *
 * Decisions:
 * - Words are separated by runs of spaces (WeeChat skips them too); only 0x20 separates.
 * - The CTCP tag `DCC` and the verb are matched ignoring ASCII case.
 * - A filename in double quotes runs to the next `"` (no escapes, as clients write it) and must be
 *   followed by a space. An unquoted filename is read from the right, as WeeChat does: the numeric
 *   fields are the last words, and the filename is everything before them, so `my file 3221225994
 *   5000 10` is "my file". When optional fields make more than one reading valid, the one with the
 *   most fields (the shortest filename) wins, so a one-word filename reads as clients that take
 *   the first word as the filename read it. A filename of several unquoted words (form 'spaced') is
 *   where clients disagree: one taking the first word as the filename reads other fields.
 * - Numbers are strict: digits only, no leading zeros, port 0-65535, size and position at most
 *   2^53-1. A token is 1-64 printable ASCII bytes other than `"`.
 * - The body is at most MAX_DCC_BODY_BYTES; it lives inside a 512-byte message.
 */

import { NatAlgError } from '../errors.js';
import { allLetters, equalsIgnoreCase, latin1, readDecimal, upperAscii, utf8 } from './bytes.js';
import { readDccAddress, type DccAddressForm } from './dcc-address.js';
import { dccLayoutOf, MAX_DCC_NUMBER, MAX_DCC_TOKEN_LENGTH, MAX_DCC_VERB_LENGTH, type DccLayout } from './dcc-layout.js';
import type { Span } from './span.js';

/** A DCC body lives in one message; twice the message bound leaves room for lenient servers. */
export const MAX_DCC_BODY_BYTES = 1024;

export type FilenameForm =
  | 'quoted' // "my file.bin"
  | 'plain' // one word
  | 'spaced'; // several words without quotes, read from the right

export type DccFault =
  | 'not-dcc' // the CTCP tag is not DCC
  | 'too-long'
  | 'no-verb'
  | 'bad-verb' // not 1-16 letters
  | 'missing-arguments'
  | 'too-many-arguments'
  | 'unterminated-quote'
  | 'bad-filename' // empty, or a closing quote not followed by a space
  | 'bad-protocol' // DCC CHAT's first argument quoted
  | 'bad-address'
  | 'bad-port'
  | 'bad-size'
  | 'bad-position'
  | 'bad-token';

interface DccCommon {
  /** The verb in upper case, e.g. 'SEND', 'TSEND'. */
  readonly verb: string;
  readonly verbSpan: Span;
}

export interface DccFilename {
  /** Decoded as UTF-8 (invalid bytes become U+FFFD); `filenameSpan` has the raw bytes. */
  readonly filename: string;
  /** Without the quotes. */
  readonly filenameSpan: Span;
  readonly filenameForm: FilenameForm;
}

export interface DccEndpointFields {
  /** Canonical text (an IPv4-mapped IPv6 address as IPv4). */
  readonly address: string;
  readonly addressForm: DccAddressForm;
  readonly addressSpan: Span;
  readonly port: number;
  readonly portSpan: Span;
}

export interface DccTokenField {
  readonly token?: string;
  readonly tokenSpan?: Span;
  /** Port 0 and a token: the receiver is asked to listen and answer. */
  readonly passive: boolean;
}

export interface DccSendOffer extends DccCommon, DccFilename, DccEndpointFields, DccTokenField {
  readonly kind: 'send';
  readonly size?: number;
}

export interface DccChatOffer extends DccCommon, DccEndpointFields, DccTokenField {
  readonly kind: 'chat';
  /** Usually `chat`. */
  readonly protocol: string;
  readonly protocolSpan: Span;
}

export interface DccResumeOffer extends DccCommon, DccFilename, DccTokenField {
  readonly kind: 'resume' | 'accept';
  /** The port of the offer being resumed. */
  readonly port: number;
  readonly portSpan: Span;
  readonly position: number;
}

export interface DccOtherOffer extends DccCommon {
  readonly kind: 'other';
  /** Everything after the verb. */
  readonly args: Span;
}

export type DccOffer = DccSendOffer | DccChatOffer | DccResumeOffer | DccOtherOffer;

export type DccResult = { readonly ok: true; readonly offer: DccOffer } | { readonly ok: false; readonly reason: DccFault };

/** What one field position read: a value or the fault that field gives. */
interface ReadFields {
  address?: { address: string; form: DccAddressForm; span: Span };
  port?: { value: number; span: Span };
  size?: number;
  position?: number;
  token?: { value: string; span: Span };
}

function validToken(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 1 || end - start > MAX_DCC_TOKEN_LENGTH) return false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x21 || c > 0x7e || c === 0x22) return false;
  }
  return true;
}

/** Read `spans` as the first fields of `layout`; a fault names the first field that fails. */
function readFields(buf: Uint8Array, layout: DccLayout, spans: readonly Span[]): ReadFields | DccFault {
  const out: ReadFields = {};
  for (let k = 0; k < spans.length; k++) {
    const { start, end } = spans[k]!;
    const field = layout.fields[k]!;
    switch (field) {
      case 'address': {
        const a = readDccAddress(buf, start, end);
        if (!a) return 'bad-address';
        out.address = { address: a.address, form: a.form, span: spans[k]! };
        break;
      }
      case 'port': {
        const v = readDecimal(buf, start, end, 65535);
        if (v < 0) return 'bad-port';
        out.port = { value: v, span: spans[k]! };
        break;
      }
      case 'size': {
        const v = readDecimal(buf, start, end, MAX_DCC_NUMBER);
        if (v < 0) return 'bad-size';
        out.size = v;
        break;
      }
      case 'position': {
        const v = readDecimal(buf, start, end, MAX_DCC_NUMBER);
        if (v < 0) return 'bad-position';
        out.position = v;
        break;
      }
      case 'token':
        if (!validToken(buf, start, end)) return 'bad-token';
        out.token = { value: latin1(buf, start, end), span: spans[k]! };
        break;
    }
  }
  return out;
}

/** Word spans of `buf[from, to)`, separated by runs of spaces. */
function words(buf: Uint8Array, from: number, to: number): Span[] {
  const out: Span[] = [];
  let p = from;
  for (;;) {
    while (p < to && buf[p] === 0x20) p++;
    if (p >= to) return out;
    const start = p;
    while (p < to && buf[p] !== 0x20) p++;
    out.push({ start, end: p });
  }
}

interface Head {
  readonly span: Span;
  readonly form: FilenameForm;
}

/**
 * Split the arguments into the head (filename or protocol) and the fields. Quoted: the fields are
 * the words after the quotes. Unquoted: the longest valid run of fields at the end (see the file
 * comment); the head must then be one word when `oneWordHead`.
 */
function split(
  buf: Uint8Array,
  layout: DccLayout,
  from: number,
  to: number,
  oneWordHead: boolean,
): { head: Head; fields: ReadFields } | DccFault {
  while (from < to && buf[from] === 0x20) from++;
  if (from >= to) return 'missing-arguments';
  const min = layout.required;
  const max = layout.fields.length;
  if (buf[from] === 0x22) {
    if (oneWordHead) return 'bad-protocol';
    let close = from + 1;
    while (close < to && buf[close] !== 0x22) close++;
    if (close >= to) return 'unterminated-quote';
    if (close === from + 1 || (close + 1 < to && buf[close + 1] !== 0x20)) return 'bad-filename';
    const rest = words(buf, close + 1, to);
    if (rest.length < min) return 'missing-arguments';
    if (rest.length > max) return 'too-many-arguments';
    const fields = readFields(buf, layout, rest);
    if (typeof fields === 'string') return fields;
    return { head: { span: { start: from + 1, end: close }, form: 'quoted' }, fields };
  }
  const all = words(buf, from, to);
  const available = all.length - 1;
  if (available < min) return 'missing-arguments';
  if (oneWordHead && available > max) return 'too-many-arguments';
  let firstFault: DccFault | null = null;
  for (let f = Math.min(available, max); f >= min; f--) {
    if (oneWordHead && f !== available) break;
    const fields = readFields(buf, layout, all.slice(all.length - f));
    if (typeof fields === 'string') {
      firstFault ??= fields;
      continue;
    }
    const headWords = all.length - f;
    return { head: { span: { start: all[0]!.start, end: all[headWords - 1]!.end }, form: headWords === 1 ? 'plain' : 'spaced' }, fields };
  }
  return firstFault ?? 'missing-arguments';
}

function tokenFields(fields: ReadFields, port: number): DccTokenField {
  return fields.token
    ? { token: fields.token.value, tokenSpan: fields.token.span, passive: port === 0 }
    : { passive: false };
}

/**
 * Parse the body of a CTCP segment (`buf[body.start, body.end)`, the bytes between the \x01s,
 * starting with the tag) as a DCC offer. Never throws on the bytes; spans must lie in `buf`.
 */
export function parseDcc(buf: Uint8Array, body: Span): DccResult {
  const { start, end } = body;
  if (!(start >= 0 && start <= end && end <= buf.length)) {
    throw new NatAlgError('invalid-argument', `body span [${start}, ${end}) is outside ${buf.length} bytes`);
  }
  let p = start;
  while (p < end && buf[p] !== 0x20) p++;
  if (!equalsIgnoreCase(buf, start, p, 'DCC')) return { ok: false, reason: 'not-dcc' };
  if (end - start > MAX_DCC_BODY_BYTES) return { ok: false, reason: 'too-long' };
  while (p < end && buf[p] === 0x20) p++;
  const verbStart = p;
  while (p < end && buf[p] !== 0x20) p++;
  if (p === verbStart) return { ok: false, reason: 'no-verb' };
  if (p - verbStart > MAX_DCC_VERB_LENGTH || !allLetters(buf, verbStart, p)) return { ok: false, reason: 'bad-verb' };
  const verb = upperAscii(buf, verbStart, p);
  const verbSpan: Span = { start: verbStart, end: p };
  const layout = dccLayoutOf(verb);
  if (!layout) {
    while (p < end && buf[p] === 0x20) p++;
    return { ok: true, offer: { kind: 'other', verb, verbSpan, args: { start: p, end } } };
  }

  const parts = split(buf, layout, p, end, layout.kind === 'chat');
  if (typeof parts === 'string') return { ok: false, reason: parts };
  const { head, fields } = parts;
  // split() read at least the required fields, which every layout puts first.
  switch (layout.kind) {
    case 'send':
    case 'chat': {
      const a = fields.address!;
      const port = fields.port!;
      const endpoint: DccEndpointFields = { address: a.address, addressForm: a.form, addressSpan: a.span, port: port.value, portSpan: port.span };
      if (layout.kind === 'chat') {
        return {
          ok: true,
          offer: { kind: 'chat', verb, verbSpan, protocol: latin1(buf, head.span.start, head.span.end), protocolSpan: head.span, ...endpoint, ...tokenFields(fields, port.value) },
        };
      }
      return {
        ok: true,
        offer: {
          kind: 'send', verb, verbSpan,
          filename: utf8(buf, head.span.start, head.span.end), filenameSpan: head.span, filenameForm: head.form,
          ...endpoint,
          ...(fields.size !== undefined ? { size: fields.size } : {}),
          ...tokenFields(fields, port.value),
        },
      };
    }
    case 'resume':
    case 'accept': {
      const port = fields.port!;
      return {
        ok: true,
        offer: {
          kind: layout.kind, verb, verbSpan,
          filename: utf8(buf, head.span.start, head.span.end), filenameSpan: head.span, filenameForm: head.form,
          port: port.value, portSpan: port.span, position: fields.position!,
          ...tokenFields(fields, port.value),
        },
      };
    }
  }
}
