/**
 * The numbers of each NAT session that the IPv4 fast path needs, in one 64-byte row per session
 * slot of a typed array: a packet of an established flow then reads its flow-index entry and one
 * row, and no object (an object of a session or leg among thousands is one more memory load to
 * wait for, after the load of the reference to it).
 *
 * The row is where `checkAt` and `lastSeen` live (NatSession reads and writes them here), and
 * where each leg's precomputed rewrite (a copy of Leg.rewrite4, which never changes) and flags
 * are. The FAST flag is derived: NatSession sets it whenever its TCP state or ALG changes, from
 * one rule (`NatSession.takesFastPath`). Row layout, in 32-bit words (the times are float64):
 *
 *   0-1  checkAt (ms)     2-3  lastSeen (ms)
 *   4-8  leg a: Rewrite4 words (leg.ts), then its flags
 *   9-13 leg b: the same
 *   14-15 unused (a row is a whole 64-byte cache line)
 */

import { REWRITE4_WORDS, type Leg } from './leg.js';

const ROW_WORDS = 16;
/** Float64 index of a row's times, from the row's first float64. */
const CHECK_AT = 0;
const LAST_SEEN = 1;
const LEG_A = 4;
const LEG_WORDS = REWRITE4_WORDS + 1;
/** A leg's flags word, after its rewrite words. */
const FLAGS = REWRITE4_WORDS;

/** Leg flags. */
export const LegFlag = {
  /** The session's packets on this leg may take the fast path (Leg.fast4 and NatSession.takesFastPath). */
  Fast: 1,
  /** Leg.refreshes. */
  Refreshes: 2,
  /** Leg.to is 'inside'. */
  ToInside: 4,
} as const;

const INITIAL_ROWS = 256;

export class SessionRows {
  /** The rows as 32-bit words (replaced when they grow: read it per use). */
  words: Uint32Array;
  /** The same memory as float64 (two words each). */
  times: Float64Array;

  constructor() {
    this.words = new Uint32Array(INITIAL_ROWS * ROW_WORDS);
    this.times = new Float64Array(this.words.buffer);
  }

  /** Make room for `slot`. */
  private reserve(slot: number): void {
    let rows = this.words.length / ROW_WORDS;
    if (slot < rows) return;
    while (rows <= slot) rows *= 2;
    const words = new Uint32Array(rows * ROW_WORDS);
    words.set(this.words);
    this.words = words;
    this.times = new Float64Array(words.buffer);
  }

  /** Write a new session's legs into its row (flags without Fast: the session sets it). */
  open(slot: number, a: Leg, b: Leg): void {
    this.reserve(slot);
    const base = slot * ROW_WORDS + LEG_A;
    this.words.set(a.rewrite4, base);
    this.words[base + FLAGS] = staticFlags(a);
    this.words.set(b.rewrite4, base + LEG_WORDS);
    this.words[base + LEG_WORDS + FLAGS] = staticFlags(b);
  }

  /** Set or clear Fast on the legs of a slot. */
  setFast(slot: number, a: boolean, b: boolean): void {
    const at = slot * ROW_WORDS + LEG_A + FLAGS;
    const w = this.words;
    w[at] = a ? w[at]! | LegFlag.Fast : w[at]! & ~LegFlag.Fast;
    w[at + LEG_WORDS] = b ? w[at + LEG_WORDS]! | LegFlag.Fast : w[at + LEG_WORDS]! & ~LegFlag.Fast;
  }

  checkAt(slot: number): number {
    return this.times[slot * (ROW_WORDS / 2) + CHECK_AT]!;
  }
  setCheckAt(slot: number, t: number): void {
    this.times[slot * (ROW_WORDS / 2) + CHECK_AT] = t;
  }
  lastSeen(slot: number): number {
    return this.times[slot * (ROW_WORDS / 2) + LAST_SEEN]!;
  }
  setLastSeen(slot: number, t: number): void {
    this.times[slot * (ROW_WORDS / 2) + LAST_SEEN] = t;
  }
}

/** The word where the leg of flow value `v` (slot * 2 + 0 for a, + 1 for b) starts. */
export function legAt(v: number): number {
  return (v >> 1) * ROW_WORDS + LEG_A + (v & 1) * LEG_WORDS;
}

/** The flags word of the leg starting at word `at`. */
export function flagsAt(at: number): number {
  return at + FLAGS;
}

/** The float64 index of the checkAt / lastSeen of the slot of flow value `v`. */
export function checkAtOf(v: number): number {
  return (v >> 1) * (ROW_WORDS / 2) + CHECK_AT;
}
export function lastSeenOf(v: number): number {
  return (v >> 1) * (ROW_WORDS / 2) + LAST_SEEN;
}

function staticFlags(leg: Leg): number {
  return (leg.refreshes ? LegFlag.Refreshes : 0) | (leg.to === 'inside' ? LegFlag.ToInside : 0);
}
