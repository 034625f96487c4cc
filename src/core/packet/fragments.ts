/**
 * IP fragment reassembly, sans-I/O: `handleFragment(bytes, nowMs)` for each fragment; the
 * caller's clock drives `pollTimeout()` / `handleTimeout(nowMs)`; events (a datagram timed out,
 * with its first fragment for an ICMP Time Exceeded) wait in `pollEvent()`.
 *
 * Datagrams are keyed by (source, destination, protocol, identification) for IPv4 (RFC 791) and
 * (source, destination, identification) for IPv6 (RFC 8200 section 4.5).
 *
 * Fragments come from strangers, so every resource is bounded:
 * - bytes buffered in all (`maxBufferedBytes`, default 4 MiB) and datagrams under reassembly
 *   (`maxDatagrams`, default 1024). Reaching a bound drops the oldest datagram first: a flood of
 *   incomplete datagrams then has to outpace real datagrams, which complete in milliseconds, to
 *   push them out, where refusing newcomers would let it block all reassembly for a timeout;
 * - fragments per datagram (`maxFragmentsPerDatagram`, default 128; 64 KiB in 576-byte fragments
 *   is 120), which also bounds the work of an insertion;
 * - time: a datagram not complete `ipv4TimeoutMs` (default 30 s) or `ipv6TimeoutMs` (default
 *   60 s, RFC 8200) after its first fragment arrived is dropped. Later fragments do not extend it;
 * - size: a reassembled IPv4 datagram is at most 65535 bytes, an IPv6 payload at most 65535.
 *
 * Overlaps (the ground of teardrop attacks and of inspection evasion, where two readers of the
 * same fragments assemble different bytes):
 * - IPv6: any overlap discards the whole datagram, and later fragments of it until its timeout
 *   (RFC 5722); an exact duplicate (same range, same bytes) is ignored;
 * - IPv4: overlapping bytes must be identical; then the new fragment only fills the gaps (a
 *   retransmission or a re-fragmentation along another path is harmless). Any difference discards
 *   the whole datagram, as in IPv6: no reader can be shown bytes that another reader did not see.
 * Other inconsistencies discard the datagram too: two last fragments that disagree, data past
 * the end a last fragment set.
 *
 * The reassembled packet is built from the offset-0 fragment's header: IPv4 with Total Length
 * set, MF and offset cleared, checksum recomputed (the reserved and DF bits are kept); IPv6 with
 * the Fragment header removed, the Next Header that named it set to the Fragment header's Next
 * Header, and Payload Length set. It is a fresh Uint8Array owned by the caller.
 *
 * Assumes a non-decreasing clock. Fragments are copied in, so the caller may reuse its buffers.
 */

import { NatAlgError } from '../errors.js';
import { EventQueue } from '../mapping/event-queue.js';
import { internetChecksum } from './checksum.js';
import { Ipv4Field, Ipv4Packet, type Ipv4DropReason } from './ipv4.js';
import { IPV6_HEADER_LENGTH, Ipv6Field, Ipv6Packet, type Ipv6DropReason } from './ipv6.js';
import { ipv6Limits, type Ipv6Limits } from './ipv6-extensions.js';
import { assertRange } from './range.js';
import { dropTable } from './verdict.js';

export interface ReassemblerOptions extends Partial<Ipv6Limits> {
  /** Bytes buffered over all datagrams (fragment data and first headers). Default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** Datagrams under reassembly (or discarded and remembered) at once. Default 1024. */
  readonly maxDatagrams?: number;
  /** Distinct pieces per datagram. Default 128. */
  readonly maxFragmentsPerDatagram?: number;
  /** Default 30,000 ms. */
  readonly ipv4TimeoutMs?: number;
  /** Default 60,000 ms (RFC 8200 section 4.5). */
  readonly ipv6TimeoutMs?: number;
  /** Verify IPv4 header checksums of fragments. Default false. */
  readonly verifyChecksums?: boolean;
  /** Events held for `pollEvent` before further ones are counted and dropped. Default 256. */
  readonly maxEvents?: number;
}

export const REASSEMBLY_DEFAULTS = Object.freeze({
  maxBufferedBytes: 4 * 1024 * 1024,
  maxDatagrams: 1024,
  maxFragmentsPerDatagram: 128,
  ipv4TimeoutMs: 30_000,
  ipv6TimeoutMs: 60_000,
  maxEvents: 256,
});

/**
 * Besides the network-layer reasons (the fragment is not a valid packet):
 * - not-a-fragment: a whole packet (IPv4 without MF and offset; IPv6 without a Fragment header,
 *   or an atomic fragment, RFC 6946): process it as such;
 * - bad-fragment-length: a fragment other than the last whose data is empty or not a multiple of 8;
 * - oversize: the fragment ends beyond what a datagram can hold (65535);
 * - overlap: it overlaps another fragment (IPv6) or differs from it where they overlap (IPv4);
 *   the datagram is discarded;
 * - inconsistent-length: it disagrees with the end a last fragment set; the datagram is discarded;
 * - too-many-fragments: the datagram would hold more pieces than allowed; it is discarded;
 * - memory-limit: the datagram alone would exceed maxBufferedBytes; it is discarded;
 * - datagram-discarded: a fragment of a datagram discarded earlier (until that one's timeout).
 */
export type FragmentDropReason =
  | Ipv4DropReason
  | Ipv6DropReason
  | 'not-a-fragment'
  | 'bad-fragment-length'
  | 'oversize'
  | 'overlap'
  | 'inconsistent-length'
  | 'too-many-fragments'
  | 'memory-limit'
  | 'datagram-discarded';

const DROP = dropTable<FragmentDropReason>([
  'truncated',
  'bad-version',
  'bad-header-length',
  'bad-total-length',
  'bad-header-checksum',
  'jumbogram',
  'too-many-extension-headers',
  'extension-headers-too-long',
  'bad-extension-header',
  'not-a-fragment',
  'bad-fragment-length',
  'oversize',
  'overlap',
  'inconsistent-length',
  'too-many-fragments',
  'memory-limit',
  'datagram-discarded',
]);

export type FragmentVerdict =
  | { readonly ok: true; readonly status: 'pending' }
  | { readonly ok: true; readonly status: 'complete'; readonly packet: Uint8Array }
  | { readonly ok: false; readonly reason: FragmentDropReason };

const PENDING: FragmentVerdict = Object.freeze({ ok: true, status: 'pending' });

/** Largest IPv4 Total Length, and largest IPv6 Payload Length without a jumbogram. */
const MAX_LENGTH = 65535;
const FRAGMENT_HEADER_LENGTH = 8;
/**
 * Data of the first fragment kept in a timeout event: what an ICMP error can quote after the
 * fragment's header within 576 bytes (IPv4, RFC 1812 section 4.3.2.3) or 1280 (IPv6, RFC 4443
 * section 2.4(c)), counting the outer IP and ICMP headers.
 */
const QUOTE_DATA_V4 = 576 - 20 - 8;
const QUOTE_DATA_V6 = 1280 - 40 - 8;

export type ReassemblyEvent = {
  readonly type: 'reassembly-timeout';
  readonly version: 4 | 6;
  /**
   * The offset-0 fragment as received (its header and up to 548 bytes of IPv4 data, or 1232
   * bytes of IPv6 data after the Fragment header), for an ICMP Time Exceeded (code 1), which
   * RFC 792 and RFC 8200 send only when that fragment arrived. Events come only then.
   */
  readonly firstFragment: Uint8Array;
};

export interface ReassemblyStats {
  /** Datagrams under reassembly or remembered as discarded. */
  readonly datagrams: number;
  readonly bufferedBytes: number;
  readonly completed: number;
  readonly timedOut: number;
  /** Datagrams dropped to make room under maxBufferedBytes or maxDatagrams. */
  readonly evicted: number;
  /** Datagrams discarded for an overlap or inconsistency. */
  readonly discarded: number;
  readonly duplicates: number;
  readonly droppedEvents: number;
}

/** One run of fragment data [start, end) of the fragmentable part, with its own copy of the bytes. */
interface Piece {
  readonly start: number;
  readonly end: number;
  readonly data: Uint8Array;
}

class Datagram {
  pieces: Piece[] = [];
  /** Bytes of data held (the pieces are disjoint). */
  received = 0;
  /** Length of the fragmentable part, once a last fragment came; else -1. */
  total = -1;
  /**
   * IPv4: the offset-0 fragment's header. IPv6: its bytes up to the end of the Fragment header
   * (unfragmentable part plus Fragment header).
   */
  header: Uint8Array | null = null;
  /** IPv6: where, in `header`, the Next Header byte naming the Fragment header is. */
  linkAt = 0;
  /** Bytes counted against maxBufferedBytes. */
  bytes = 0;
  discarded = false;
  constructor(
    readonly key: string,
    readonly version: 4 | 6,
    readonly created: number,
    readonly deadline: number,
  ) {}
}

/** A fragment's facts, read by the version-specific front half of handleFragment. */
interface FragmentFacts {
  key: string;
  version: 4 | 6;
  /** Offset of the fragment's data in the datagram, and its end. */
  start: number;
  end: number;
  last: boolean;
  /** Where its data lies in the input buffer. */
  dataAt: number;
  /** The bytes that become `Datagram.header` when start is 0: input[headerFrom, headerTo). */
  headerFrom: number;
  headerTo: number;
  linkAt: number;
  /** Largest fragmentable-part end this datagram may reach, by this fragment's headers. */
  limit: number;
}

export class Reassembler {
  private readonly maxBytes: number;
  private readonly maxDatagrams: number;
  private readonly maxPieces: number;
  private readonly timeout4: number;
  private readonly timeout6: number;
  private readonly verify: boolean;
  private readonly limits: Ipv6Limits;
  // Insertion order is creation order; with a non-decreasing clock, deadline order too.
  private readonly v4 = new Map<string, Datagram>();
  private readonly v6 = new Map<string, Datagram>();
  private readonly events: EventQueue<ReassemblyEvent>;
  private readonly ip4 = new Ipv4Packet();
  private readonly ip6 = new Ipv6Packet();
  private readonly facts: FragmentFacts = { key: '', version: 4, start: 0, end: 0, last: false, dataAt: 0, headerFrom: 0, headerTo: 0, linkAt: 0, limit: 0 };
  private buffered = 0;
  private completed = 0;
  private timedOut = 0;
  private evicted = 0;
  private discarded = 0;
  private duplicates = 0;

  constructor(o: ReassemblerOptions = {}) {
    const positive = (v: number | undefined, d: number, name: string): number => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < 1) throw new NatAlgError('invalid-argument', `${name} must be a positive integer`);
      return x;
    };
    this.maxBytes = positive(o.maxBufferedBytes, REASSEMBLY_DEFAULTS.maxBufferedBytes, 'maxBufferedBytes');
    this.maxDatagrams = positive(o.maxDatagrams, REASSEMBLY_DEFAULTS.maxDatagrams, 'maxDatagrams');
    this.maxPieces = positive(o.maxFragmentsPerDatagram, REASSEMBLY_DEFAULTS.maxFragmentsPerDatagram, 'maxFragmentsPerDatagram');
    this.timeout4 = positive(o.ipv4TimeoutMs, REASSEMBLY_DEFAULTS.ipv4TimeoutMs, 'ipv4TimeoutMs');
    this.timeout6 = positive(o.ipv6TimeoutMs, REASSEMBLY_DEFAULTS.ipv6TimeoutMs, 'ipv6TimeoutMs');
    this.events = new EventQueue(positive(o.maxEvents, REASSEMBLY_DEFAULTS.maxEvents, 'maxEvents'));
    this.verify = o.verifyChecksums ?? false;
    this.limits = ipv6Limits(o);
  }

  /**
   * Take one fragment (a whole IP packet in bytes[start, end)). Returns pending, the reassembled
   * packet when this fragment completed it, or why the fragment was dropped.
   */
  handleFragment(bytes: Uint8Array, nowMs: number, start = 0, end = bytes.length): FragmentVerdict {
    assertRange(bytes, start, end);
    const f = this.facts;
    const why = end > start && bytes[start]! >> 4 === 6 ? this.read6(bytes, start, end) : this.read4(bytes, start, end);
    if (why !== null) return DROP[why];
    if (f.end > f.limit) return DROP.oversize;

    const map = f.version === 4 ? this.v4 : this.v6;
    let d = map.get(f.key);
    if (d !== undefined && d.deadline <= nowMs) {
      this.expire(d); // its time passed before handleTimeout was called: it is gone all the same
      d = undefined;
    }
    if (d === undefined) {
      while (this.v4.size + this.v6.size >= this.maxDatagrams) this.evictOldest(null);
      d = new Datagram(f.key, f.version, nowMs, nowMs + (f.version === 4 ? this.timeout4 : this.timeout6));
      map.set(f.key, d);
    }
    if (d.discarded) return DROP['datagram-discarded'];
    return this.insert(d, bytes, f);
  }

  private read4(bytes: Uint8Array, start: number, end: number): FragmentDropReason | null {
    const r = this.ip4.check(bytes, start, end, this.verify);
    if (!r.ok) return r.reason;
    const ip = this.ip4;
    if (!ip.isFragment()) return 'not-a-fragment';
    const f = this.facts;
    const length = ip.payloadLength;
    f.version = 4;
    f.key = `${ip.sourceAddress()}|${ip.destinationAddress()}|${ip.protocol()}|${ip.identification()}`;
    f.start = ip.fragmentOffset();
    f.end = f.start + length;
    f.last = !ip.moreFragments();
    if (!f.last && (length === 0 || length % 8 !== 0)) return 'bad-fragment-length';
    f.dataAt = ip.payloadOffset;
    f.headerFrom = ip.start;
    f.headerTo = ip.payloadOffset;
    f.linkAt = 0;
    f.limit = MAX_LENGTH - ip.headerLength;
    return null;
  }

  private read6(bytes: Uint8Array, start: number, end: number): FragmentDropReason | null {
    const r = this.ip6.check(bytes, start, end, this.limits);
    if (!r.ok) return r.reason;
    const ip = this.ip6;
    if (!ip.isFragment()) return 'not-a-fragment';
    const f = this.facts;
    const length = ip.end - ip.upperOffset;
    f.version = 6;
    let key = ''; // source and destination are contiguous: 32 bytes from the source
    for (let k = 0; k < 32; k += 2) key += String.fromCharCode((bytes[ip.sourceOffset + k]! << 8) | bytes[ip.sourceOffset + k + 1]!);
    f.key = `${key}|${ip.fragmentIdentification()}`;
    f.start = ip.fragmentOffset();
    f.end = f.start + length;
    f.last = !ip.moreFragments();
    if (!f.last && (length === 0 || length % 8 !== 0)) return 'bad-fragment-length';
    f.dataAt = ip.upperOffset;
    f.headerFrom = ip.start;
    f.headerTo = ip.upperOffset; // through the Fragment header
    f.linkAt = ip.fragmentLinkOffset - ip.start;
    // Payload Length of the result: extension headers before the Fragment header, plus the data.
    f.limit = MAX_LENGTH - (ip.fragmentHeaderOffset - ip.start - IPV6_HEADER_LENGTH);
    return null;
  }

  private insert(d: Datagram, bytes: Uint8Array, f: FragmentFacts): FragmentVerdict {
    const { start, end } = f;
    // The end of the datagram, as last fragments say and as the data already held implies.
    if (f.last) {
      if ((d.total >= 0 && d.total !== end) || (d.pieces.length > 0 && d.pieces[d.pieces.length - 1]!.end > end)) return this.discard(d, 'inconsistent-length');
    } else if (d.total >= 0 && end > d.total) {
      return this.discard(d, 'inconsistent-length');
    }

    // Pieces overlapping [start, end), and the gaps between them that this fragment fills.
    const pieces = d.pieces;
    let i = 0;
    while (i < pieces.length && pieces[i]!.end <= start) i++;
    const firstOverlap = i;
    const gaps: number[] = [];
    let cursor = start;
    for (; i < pieces.length && pieces[i]!.start < end; i++) {
      const p = pieces[i]!;
      if (d.version === 6) {
        // RFC 5722: only an exact duplicate is tolerated.
        const duplicate = p.start === start && p.end === end && sameBytes(p.data, 0, bytes, f.dataAt, end - start);
        if (!duplicate) return this.discard(d, 'overlap');
      } else {
        const from = Math.max(start, p.start);
        const to = Math.min(end, p.end);
        if (!sameBytes(p.data, from - p.start, bytes, f.dataAt + (from - start), to - from)) return this.discard(d, 'overlap');
      }
      if (p.start > cursor) gaps.push(cursor, p.start);
      cursor = Math.max(cursor, p.end);
    }
    const lastOverlap = i;
    if (cursor < end) gaps.push(cursor, end);
    if (f.last) d.total = end;

    if (gaps.length === 0 && !(start === 0 && d.header === null)) {
      if (end > start) this.duplicates++;
      return this.finishIfComplete(d);
    }
    if (pieces.length + gaps.length / 2 > this.maxPieces) return this.discard(d, 'too-many-fragments');

    let needed = 0;
    for (let g = 0; g < gaps.length; g += 2) needed += gaps[g + 1]! - gaps[g]!;
    const takeHeader = start === 0 && d.header === null;
    if (takeHeader) needed += f.headerTo - f.headerFrom;
    while (this.buffered + needed > this.maxBytes) {
      if (!this.evictOldest(d)) return this.discard(d, 'memory-limit');
    }

    const added: Piece[] = [];
    for (let g = 0; g < gaps.length; g += 2) {
      const from = gaps[g]!;
      const to = gaps[g + 1]!;
      if (to > from) added.push({ start: from, end: to, data: bytes.slice(f.dataAt + (from - start), f.dataAt + (to - start)) });
    }
    // The new pieces fill exactly the gaps among pieces[firstOverlap, lastOverlap): merge in order.
    const merged = mergeSorted(pieces.slice(firstOverlap, lastOverlap), added);
    pieces.splice(firstOverlap, lastOverlap - firstOverlap, ...merged);
    if (takeHeader) {
      d.header = bytes.slice(f.headerFrom, f.headerTo);
      d.linkAt = f.linkAt;
    }
    d.received += needed - (takeHeader ? f.headerTo - f.headerFrom : 0);
    d.bytes += needed;
    this.buffered += needed;
    return this.finishIfComplete(d);
  }

  private finishIfComplete(d: Datagram): FragmentVerdict {
    if (d.total < 0 || d.received !== d.total || d.header === null) return PENDING;
    const packet = d.version === 4 ? this.assemble4(d, d.header) : this.assemble6(d, d.header);
    if (packet === null) return this.discard(d, 'oversize');
    this.remove(d);
    this.completed++;
    return { ok: true, status: 'complete', packet };
  }

  private assemble4(d: Datagram, header: Uint8Array): Uint8Array | null {
    const hl = header.length;
    if (hl + d.total > MAX_LENGTH) return null;
    const out = new Uint8Array(hl + d.total);
    out.set(header, 0);
    for (const p of d.pieces) out.set(p.data, hl + p.start);
    const tl = hl + d.total;
    out[Ipv4Field.TotalLength] = tl >>> 8;
    out[Ipv4Field.TotalLength + 1] = tl & 0xff;
    out[Ipv4Field.FlagsFragmentOffset] = header[Ipv4Field.FlagsFragmentOffset]! & 0xc0; // keep reserved and DF; clear MF and the offset
    out[Ipv4Field.FlagsFragmentOffset + 1] = 0;
    out[Ipv4Field.Checksum] = 0;
    out[Ipv4Field.Checksum + 1] = 0;
    const c = internetChecksum(out, 0, hl);
    out[Ipv4Field.Checksum] = c >>> 8;
    out[Ipv4Field.Checksum + 1] = c & 0xff;
    return out;
  }

  private assemble6(d: Datagram, header: Uint8Array): Uint8Array | null {
    const unfragmentable = header.length - FRAGMENT_HEADER_LENGTH; // the Fragment header goes
    const payloadLength = unfragmentable - IPV6_HEADER_LENGTH + d.total;
    if (payloadLength > MAX_LENGTH) return null;
    const out = new Uint8Array(unfragmentable + d.total);
    out.set(header.subarray(0, unfragmentable), 0);
    for (const p of d.pieces) out.set(p.data, unfragmentable + p.start);
    out[d.linkAt] = header[unfragmentable]!; // the Fragment header's Next Header
    out[Ipv6Field.PayloadLength] = payloadLength >>> 8;
    out[Ipv6Field.PayloadLength + 1] = payloadLength & 0xff;
    return out;
  }

  /** Forget the data of a datagram but remember its key until its deadline, so later fragments of it are refused too. */
  private discard(d: Datagram, reason: FragmentDropReason): FragmentVerdict {
    this.release(d);
    d.discarded = true;
    this.discarded++;
    return DROP[reason];
  }

  private release(d: Datagram): void {
    this.buffered -= d.bytes;
    d.bytes = 0;
    d.pieces = [];
    d.header = null;
    d.received = 0;
  }

  private remove(d: Datagram): void {
    this.release(d);
    (d.version === 4 ? this.v4 : this.v6).delete(d.key);
  }

  /** Drop the oldest datagram other than `keep`; false when there is none. */
  private evictOldest(keep: Datagram | null): boolean {
    const a = oldestExcept(this.v4, keep);
    const b = oldestExcept(this.v6, keep);
    const victim = a === null ? b : b === null ? a : a.created <= b.created ? a : b;
    if (victim === null) return false;
    this.remove(victim);
    this.evicted++;
    return true;
  }

  private expire(d: Datagram): void {
    if (!d.discarded && d.header !== null) {
      const first = d.pieces[0];
      const cap = d.version === 4 ? QUOTE_DATA_V4 : QUOTE_DATA_V6;
      const data = first !== undefined && first.start === 0 ? first.data.subarray(0, Math.min(first.data.length, cap)) : new Uint8Array(0);
      const out = new Uint8Array(d.header.length + data.length);
      out.set(d.header, 0);
      out.set(data, d.header.length);
      this.events.push({ type: 'reassembly-timeout', version: d.version, firstFragment: out });
    }
    this.remove(d);
    this.timedOut++;
  }

  /** The earliest deadline of a datagram under reassembly, or null. */
  pollTimeout(): number | null {
    let t = Infinity;
    for (const map of [this.v4, this.v6]) {
      for (const d of map.values()) {
        t = Math.min(t, d.deadline);
        break; // the first is the earliest
      }
    }
    return t === Infinity ? null : t;
  }

  /** Drop every datagram whose deadline is at or before nowMs; events wait in pollEvent. */
  handleTimeout(nowMs: number): void {
    for (const map of [this.v4, this.v6]) {
      for (const d of map.values()) {
        if (d.deadline > nowMs) break;
        this.expire(d);
      }
    }
  }

  pollEvent(): ReassemblyEvent | null {
    return this.events.poll();
  }

  stats(): ReassemblyStats {
    return {
      datagrams: this.v4.size + this.v6.size,
      bufferedBytes: this.buffered,
      completed: this.completed,
      timedOut: this.timedOut,
      evicted: this.evicted,
      discarded: this.discarded,
      duplicates: this.duplicates,
      droppedEvents: this.events.dropped,
    };
  }
}

function sameBytes(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[aAt + k] !== b[bAt + k]) return false;
  return true;
}

function mergeSorted(a: Piece[], b: Piece[]): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.start < b[j]!.start)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

function oldestExcept(map: Map<string, Datagram>, keep: Datagram | null): Datagram | null {
  for (const d of map.values()) if (d !== keep) return d;
  return null;
}
