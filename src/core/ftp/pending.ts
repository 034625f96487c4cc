/**
 * The queue pairing client commands with the server's final replies, in order. Each entry is
 * a command forwarded to the server (answered by the next final reply), a command held while the
 * embedding is asked for a mapping, or a reply the gateway itself owes the client (a refusal):
 * such a local reply is sent when it reaches the head, i.e. after the replies to every command
 * forwarded before it. Kinds are small integers and payloads sparse, so a command costs no
 * allocation beyond the arrays' amortised growth.
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

export class PendingQueue {
  private kinds: number[] = [];
  private payloads: unknown[] = [];
  private head = 0;

  get length(): number {
    return this.kinds.length - this.head;
  }

  push(kind: number, payload?: unknown): void {
    this.kinds.push(kind);
    this.payloads.push(payload);
  }

  /** Kind at the head, or -1 when empty. */
  headKind(): number {
    return this.head < this.kinds.length ? this.kinds[this.head]! : -1;
  }

  headPayload(): unknown {
    return this.payloads[this.head];
  }

  /** Kind of the newest entry, or -1. */
  tailKind(): number {
    return this.kinds.length > this.head ? this.kinds[this.kinds.length - 1]! : -1;
  }

  /** Replace the newest entry (a held command becomes forwarded or local). */
  replaceTail(kind: number, payload?: unknown): void {
    const t = this.kinds.length - 1;
    this.kinds[t] = kind;
    this.payloads[t] = payload;
  }

  shift(): void {
    this.payloads[this.head] = undefined;
    this.head++;
    if (this.head === this.kinds.length) {
      this.kinds.length = 0;
      this.payloads.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.kinds.length) {
      this.kinds = this.kinds.slice(this.head);
      this.payloads = this.payloads.slice(this.head);
      this.head = 0;
    }
  }

  /** Every entry's kind and payload, oldest first (for a reset). */
  entries(): Array<[number, unknown]> {
    const out: Array<[number, unknown]> = [];
    for (let i = this.head; i < this.kinds.length; i++) out.push([this.kinds[i]!, this.payloads[i]]);
    return out;
  }

  clear(): void {
    this.kinds.length = 0;
    this.payloads.length = 0;
    this.head = 0;
  }
}
