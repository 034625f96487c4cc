/**
 * FTP64 (RFC 6384): the gateway's own answers for an IPv6 client behind an IPv6-to-IPv4
 * translator. The client may ask the gateway (not the server) what it translates with
 * `ALGS STATUS64` and switch the translation on or off with `ALGS ENABLE64` / `ALGS DISABLE64`;
 * the answer is a 216 reply naming what is translated: `NONE`, or `EPSVEPRT` (this gateway
 * always translates both EPSV and EPRT when it translates at all).
 */

export interface AlgsAnswer {
  /** Reply line without line ending. */
  readonly reply: string;
  /** Whether FTP64 translation is on after the command. */
  readonly active: boolean;
}

export function algsReply(argument: string | null, active: boolean): AlgsAnswer {
  const arg = (argument ?? '').trim().toUpperCase();
  if (arg === 'STATUS64') return { reply: status(active), active };
  if (arg === 'ENABLE64') return { reply: status(true), active: true };
  if (arg === 'DISABLE64') return { reply: status(false), active: false };
  return { reply: '501 ALGS takes STATUS64, ENABLE64 or DISABLE64.', active };
}

function status(active: boolean): string {
  return active ? '216 EPSVEPRT' : '216 NONE';
}

/** Local answer to `EPSV ALL` under FTP64: the IPv4 server cannot be held to EPSV only. */
export const EPSV_ALL_REPLY = '504 EPSV ALL is not supported through this gateway.';
