/**
 * The text of a rewritten line, from the held line and the replacement endpoint the embedding
 * chose. Pure: the translator decides when, this decides what. Only the address span found in a
 * reply is replaced, so the server's wording and punctuation survive.
 */

import { NatAlgError } from '../errors.js';
import { endpoint as makeEndpoint, type Endpoint } from '../net/ip.js';
import { formatPort, formatEprt, formatLprt, formatSextet, formatLongAddress } from './commands.js';
import type { PassiveFormat } from './rules.js';

/** The commands that carry a data address. */
export type ActiveVerb = 'PORT' | 'EPRT' | 'LPRT';

/**
 * A client command (`verb` PORT/EPRT/LPRT) with replacement `e`. PORT cannot carry IPv6, so an
 * IPv6 replacement turns it into EPRT; under FTP64 an EPRT with an IPv4 replacement becomes PORT.
 */
export function rewriteCommand(verb: ActiveVerb, e: Endpoint, ftp64: boolean): string {
  switch (verb) {
    case 'PORT':
      return e.family === 4 ? formatPort(e) : formatEprt(e);
    case 'EPRT':
      return e.family === 4 && ftp64 ? formatPort(e) : formatEprt(e);
    case 'LPRT':
      return formatLprt(e);
  }
}

/**
 * A passive reply line, read in `format`, whose address text lies between `head` and `tail`.
 * `whole`: the line is a complete single-line reply (FTP64 then answers a full 229). Throws
 * NatAlgError when the replacement cannot be expressed (IPv6 in a 227).
 */
export function rewriteReply(format: PassiveFormat, head: string, tail: string, e: Endpoint, whole: boolean): string {
  switch (format) {
    case 'pasv':
      if (e.family !== 4) throw new NatAlgError('invalid-argument', 'a 227 reply can carry only an IPv4 endpoint');
      return head + formatSextet(e) + tail;
    case 'epsv-as-pasv': {
      // The client asked EPSV: it gets a 229 (in a multi-line reply every 227 code line is renumbered).
      if (whole) return `229 Entering Extended Passive Mode (|||${e.port}|)`;
      const code = /^227[ -]/.test(head) ? '229' + head.slice(3) : head;
      const inParens = head.endsWith('(') && tail.startsWith(')');
      return inParens ? `${code}|||${e.port}|${tail}` : `${code}(|||${e.port}|)${tail}`;
    }
    case 'epsv':
      return head + String(e.port) + tail;
    case 'lpsv':
      return head + formatLongAddress(e) + tail;
  }
}

/** Validate a replacement endpoint from the embedding (NatAlgError when unusable). */
export function replacementEndpoint(r: Endpoint): Endpoint {
  if (typeof r !== 'object' || r === null) throw new NatAlgError('invalid-argument', 'replacement endpoint must be an object');
  const port = r.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new NatAlgError('invalid-argument', `replacement port must be an integer 1-65535, not ${String(port)}`);
  }
  try {
    return makeEndpoint(r.address, port);
  } catch (err) {
    throw new NatAlgError('invalid-argument', `replacement endpoint: ${(err as Error).message}`);
  }
}
