/**
 * The queue pairing client commands with the server's final replies, in order. Each entry is
 * a command forwarded to the server (answered by the next final reply), a command held while the
 * embedding is asked for a mapping, or a reply the gateway itself owes the client (a refusal):
 * such a local reply is sent when it reaches the head, i.e. after the replies to every command
 * forwarded before it. A ring of small integers with sparse payloads: a command costs no
 * allocation once the ring has grown to the connection's pipelining depth.
 */

export const Q_OTHER = 0;
export const Q_GREETING = 1;
export const Q_ACTIVE = 2; // PORT/EPRT/LPRT forwarded; payload: request id
export const Q_PASV = 3; // expects 227
export const Q_EPSV = 4; // expects 229
export const Q_LPSV = 5; // expects 228
export const Q_EPSV_AS_PASV = 6; // FTP64: client sent EPSV, server got PASV; expects 227, answered as 229
export const Q_AUTH = 7;
export const Q_EPSV_ALL = 8;
export const Q_REIN = 9;
export const Q_HELD = 10; // not forwarded yet (mapping asked); payload: request id
export const Q_LOCAL = 11; // payload: LocalReply

export interface LocalReply {
  readonly bytes: Uint8Array;
}

/** Reply code a passive command's answer must carry to be acted on, by queue kind. */
export function expectedPassiveCode(kind: number): number {
  switch (kind) {
    case Q_PASV:
    case Q_EPSV_AS_PASV:
      return 227;
    case Q_EPSV:
      return 229;
    case Q_LPSV:
      return 228;
    default:
      return 0;
  }
}

/**
 * The queue kind in whose reply format a reply is read for a data address, or 0 when it is not
 * read. `code` is the reply's code, `head` the kind of the command it answers. Every 227, 228 and
 * 229 is read, whatever it answers: a server that answers EPSV with a 227, PASV with a 229 or
 * NOOP with a 227 must not get an address of its own past the gateway (the client may well use
 * it). Any other positive reply to a passive command is read too, in the format the command
 * expects, for clients that take the numbers from any 2xx answer to PASV.
 */
export function passiveFormat(code: number, head: number): number {
  if (code === 227) return head === Q_EPSV_AS_PASV ? Q_EPSV_AS_PASV : Q_PASV;
  if (code === 229) return Q_EPSV;
  if (code === 228) return Q_LPSV;
  if (code >= 200 && code < 300 && expectedPassiveCode(head) !== 0) return head;
  return 0;
}

export class PendingQueue {
  private kinds = new Int32Array(16);
  private payloads: unknown[] = new Array<unknown>(16).fill(undefined);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(kind: number, payload?: unknown): void {
    if (this.size === this.kinds.length) this.grow();
    const at = (this.head + this.size) & (this.kinds.length - 1);
    this.kinds[at] = kind;
    if (payload !== undefined) this.payloads[at] = payload;
    this.size++;
  }

  /** Kind at the head, or -1 when empty. */
  headKind(): number {
    return this.size > 0 ? this.kinds[this.head]! : -1;
  }

  /** push() of an entry without payload. */
  pushPlain(kind: number): void {
    if (this.size === this.kinds.length) this.grow();
    this.kinds[(this.head + this.size) & (this.kinds.length - 1)] = kind;
    this.size++;
  }

  /**
   * Pair a final reply with the head entry when that only removes it: its kind is one `plain`
   * marks (indexed by kind) and no local reply comes next (it must go out right after this
   * reply). Nothing pending: nothing to pair, done too. False: nothing changed.
   */
  answerPlain(plain: Uint8Array): boolean {
    const size = this.size;
    if (size === 0) return true;
    const kinds = this.kinds;
    const head = this.head;
    if (plain[kinds[head]!] === 0) return false;
    const next = (head + 1) & (kinds.length - 1);
    if (size > 1 && kinds[next] === Q_LOCAL) return false;
    this.head = next;
    this.size = size - 1;
    return true;
  }

  headPayload(): unknown {
    return this.payloads[this.head];
  }

  /** Kind of the newest entry, or -1. */
  tailKind(): number {
    return this.size > 0 ? this.kinds[(this.head + this.size - 1) & (this.kinds.length - 1)]! : -1;
  }

  /** Replace the newest entry (a held command becomes forwarded or local). */
  replaceTail(kind: number, payload?: unknown): void {
    const at = (this.head + this.size - 1) & (this.kinds.length - 1);
    this.kinds[at] = kind;
    this.payloads[at] = payload;
  }

  shift(): void {
    if (this.size === 0) return;
    if (this.payloads[this.head] !== undefined) this.payloads[this.head] = undefined;
    this.head = (this.head + 1) & (this.kinds.length - 1);
    this.size--;
  }

  clear(): void {
    while (this.size > 0) this.shift();
  }

  private grow(): void {
    const n = this.kinds.length;
    const kinds = new Int32Array(n * 2);
    const payloads = new Array<unknown>(n * 2).fill(undefined);
    for (let k = 0; k < this.size; k++) {
      kinds[k] = this.kinds[(this.head + k) & (n - 1)]!;
      payloads[k] = this.payloads[(this.head + k) & (n - 1)];
    }
    this.kinds = kinds;
    this.payloads = payloads;
    this.head = 0;
  }
}
