/**
 * The queue pairing client commands with the server's final replies, in order. Each entry is a
 * command forwarded to the server (answered by the next final reply), a command held while the
 * embedding is asked for a mapping, or a reply the gateway itself owes the client (a refusal):
 * such a local reply is sent when it reaches the head, i.e. after the replies to every command
 * forwarded before it. A ring of entries; the entries without data are shared constants, so a
 * plain command costs no allocation once the ring has grown to the connection's pipelining depth.
 */

/**
 * What an entry waits for (what its final reply does is in rules.ts, FINAL_REPLIES):
 * - `greeting`: the server's greeting (the first entry).
 * - `other`: any command whose reply changes nothing for the gateway.
 * - `active`: a PORT/EPRT/LPRT forwarded with its mapping (`id`), committed or released by the reply.
 * - `pasv`, `epsv`, `lpsv`: a passive command, whose reply is read for an address.
 * - `epsv-as-pasv`: FTP64, the client's EPSV sent on as PASV: the 227 is answered as a 229.
 * - `auth`: AUTH; 234 starts TLS.
 * - `epsv-all`: EPSV ALL; a positive reply allows only EPSV from then on.
 * - `rein`: REIN; a positive reply starts the session over.
 * - `held`: a command not forwarded yet, waiting for the embedding's mapping (`id`).
 * - `local`: a reply of the gateway's own (`bytes`, line ending included).
 */
export type PendingKind = 'greeting' | 'other' | 'active' | 'pasv' | 'epsv' | 'lpsv' | 'epsv-as-pasv' | 'auth' | 'epsv-all' | 'rein' | 'held' | 'local';

export type PendingEntry =
  | { readonly kind: 'greeting' | 'other' | 'pasv' | 'epsv' | 'lpsv' | 'epsv-as-pasv' | 'auth' | 'epsv-all' | 'rein' }
  | { readonly kind: 'active' | 'held'; readonly id: number }
  | { readonly kind: 'local'; readonly bytes: Uint8Array };

export type PlainKind = Exclude<PendingKind, 'active' | 'held' | 'local'>;

/** The entries without data, one of each. */
export const PLAIN: Readonly<Record<PlainKind, PendingEntry>> = Object.freeze({
  greeting: Object.freeze({ kind: 'greeting' }),
  other: Object.freeze({ kind: 'other' }),
  pasv: Object.freeze({ kind: 'pasv' }),
  epsv: Object.freeze({ kind: 'epsv' }),
  lpsv: Object.freeze({ kind: 'lpsv' }),
  'epsv-as-pasv': Object.freeze({ kind: 'epsv-as-pasv' }),
  auth: Object.freeze({ kind: 'auth' }),
  'epsv-all': Object.freeze({ kind: 'epsv-all' }),
  rein: Object.freeze({ kind: 'rein' }),
});

/** PLAIN[kind], looked up with a switch (once per command; see rules.ts commandRule). */
export function plainEntry(kind: PlainKind): PendingEntry {
  switch (kind) {
    case 'greeting': return PLAIN.greeting;
    case 'other': return PLAIN.other;
    case 'pasv': return PLAIN.pasv;
    case 'epsv': return PLAIN.epsv;
    case 'lpsv': return PLAIN.lpsv;
    case 'epsv-as-pasv': return PLAIN['epsv-as-pasv'];
    case 'auth': return PLAIN.auth;
    case 'epsv-all': return PLAIN['epsv-all'];
    case 'rein': return PLAIN.rein;
  }
}

export class PendingQueue {
  private entries: (PendingEntry | undefined)[] = new Array<PendingEntry | undefined>(16).fill(undefined);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(entry: PendingEntry): void {
    if (this.size === this.entries.length) this.grow();
    this.entries[(this.head + this.size) & (this.entries.length - 1)] = entry;
    this.size++;
  }

  /** The oldest entry, or null. */
  peek(): PendingEntry | null {
    return this.size > 0 ? this.entries[this.head]! : null;
  }

  /** Kind of the oldest entry, or null. */
  headKind(): PendingKind | null {
    return this.size > 0 ? this.entries[this.head]!.kind : null;
  }

  /** Replace the newest entry (a held command becomes forwarded, or refused). */
  replaceNewest(entry: PendingEntry): void {
    this.entries[(this.head + this.size - 1) & (this.entries.length - 1)] = entry;
  }

  shift(): void {
    if (this.size === 0) return;
    this.entries[this.head] = undefined;
    this.head = (this.head + 1) & (this.entries.length - 1);
    this.size--;
  }

  private grow(): void {
    const n = this.entries.length;
    const next = new Array<PendingEntry | undefined>(n * 2).fill(undefined);
    for (let k = 0; k < this.size; k++) next[k] = this.entries[(this.head + k) & (n - 1)];
    this.entries = next;
    this.head = 0;
  }
}
