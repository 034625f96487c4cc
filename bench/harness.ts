/**
 * Shared benchmark plumbing. A benchmark module exports `run(): Promise<BenchResult[]>`;
 * `bench/run.ts` runs every module and writes `bench/results.json`. Figures are medians over
 * several timed rounds after a warm-up, because these machines are noisy; a ratio always
 * compares with a baseline measured in the same process, in interleaved rounds.
 */

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly ratio?: number;
  /** Free-form context: the goal, the input size, rounds. */
  readonly note?: string;
  /** Why nothing was measured (value is then 0): a prerequisite missing here, such as root. */
  readonly skipped?: string;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds, high resolution. */
export function nowMs(): number {
  return performance.now();
}

/**
 * Time `fn` (which does `work` units per call) over `rounds` rounds of at least `minMs` each and
 * return the median rate in units per second.
 */
export function measureRate(fn: () => void, work: number, rounds = 9, minMs = 150): number {
  // Warm-up: let the JIT settle.
  const warmEnd = nowMs() + minMs;
  while (nowMs() < warmEnd) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = nowMs();
    let elapsed = 0;
    do {
      fn();
      calls++;
      elapsed = nowMs() - start;
    } while (elapsed < minMs);
    rates.push((calls * work) / (elapsed / 1000));
  }
  return median(rates);
}

/**
 * candidate/baseline as the median of the ratios of rounds run back to back: a machine whose speed
 * drifts over the run (a neighbour's load, the clock) moves both of a pair alike, which a ratio
 * of the two overall medians does not cancel when the medians fall in different rounds.
 */
export function pairedRatio(candidate: readonly number[], baseline: readonly number[]): number {
  return median(candidate.map((c, i) => c / baseline[i]!));
}

/**
 * Measure a candidate against a baseline in interleaved rounds (so that noise hits both alike),
 * returning both median rates and the median of the per-round ratios (pairedRatio).
 */
export function compareRates(
  candidate: () => void,
  baseline: () => void,
  work: number,
  rounds = 9,
  minMs = 150,
): { value: number; baseline: number; ratio: number } {
  const c: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    c.push(measureRate(candidate, work, 1, minMs));
    b.push(measureRate(baseline, work, 1, minMs));
  }
  return { value: median(c), baseline: median(b), ratio: pairedRatio(c, b) };
}
