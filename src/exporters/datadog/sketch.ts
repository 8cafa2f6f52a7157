/**
 * Datadog distributions: histogram buckets re-binned into the Agent's DDSketch
 * layout (relative accuracy 1/128, smallest magnitude 1e-9, int16 keys), which
 * is what the sketches intake accepts. Constants follow the Agent's
 * `quantile` package defaults; the re-binning spreads each bucket's count over
 * the sketch bins it overlaps, proportionally to the overlap.
 */
import type { BucketRange } from '../common/buckets.ts';

const EPS = 1 / 128;
const GAMMA = 1 + 2 * EPS;
const LN_GAMMA = Math.log1p(2 * EPS);
const BIAS = -Math.floor(Math.log(1e-9) / LN_GAMMA) + 1;
const MAX_KEY = 32767;
/** Smallest magnitude with a non-zero key (values below it land in key 0). */
const NORM_MIN = Math.pow(GAMMA, 1 - BIAS);

/** Sketch key of a value: γ^(k-bias) ≈ |v|, negative keys for negative values, 0 around zero. */
export function sketchKey(v: number): number {
  if (v < 0) return -sketchKey(-v);
  if (v < NORM_MIN) return 0;
  // Round-to-even on the log keeps key(lowerBound(k)) === k.
  const k = roundHalfEven(Math.log(v) / LN_GAMMA) + BIAS;
  if (k > MAX_KEY) return MAX_KEY;
  return k < 1 ? 1 : k;
}

/** Lower bound of the values a key holds. */
export function keyLowerBound(k: number): number {
  if (k === 0) return 0;
  if (k < 0) return -keyLowerBound(-k);
  return Math.pow(GAMMA, k - BIAS);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface SketchBins {
  keys: number[];
  counts: number[];
}

/** Re-bin populated ranges into sketch bins; integer counts whose total equals the input total. */
export function sketchBins(ranges: BucketRange[]): SketchBins {
  const bins = new Map<number, number>();
  for (const r of ranges) addRange(bins, r.lower, r.upper, r.count);
  const keys = [...bins.keys()].sort((a, b) => a - b);
  const counts = keys.map((k) => bins.get(k)!);
  return { keys, counts };
}

function add(bins: Map<number, number>, key: number, n: number): void {
  if (n > 0) bins.set(key, (bins.get(key) ?? 0) + n);
}

function addRange(bins: Map<number, number>, lower: number, upper: number, count: number): void {
  if (count <= 0) return;
  if (lower < 0 && upper > 0) {
    // Split a range that straddles zero in proportion to each side's width.
    const neg = Math.round((count * -lower) / (upper - lower));
    addRange(bins, lower, 0, neg);
    addRange(bins, 0, upper, count - neg);
    return;
  }
  const kLo = sketchKey(lower);
  const kHi = sketchKey(upper);
  if (kLo === kHi || upper <= lower) {
    add(bins, kLo, count);
    return;
  }
  // Walk the bins from kLo to kHi, giving each the share of `count` its overlap
  // with [lower, upper] represents; carry the rounding so the total is exact.
  const width = upper - lower;
  let given = 0;
  let covered = 0;
  for (let k = kLo; k <= kHi; k++) {
    const binLo = k === kLo ? lower : upperEdge(k - 1);
    const binHi = k === kHi ? upper : upperEdge(k);
    covered += Math.max(0, binHi - binLo);
    const target = k === kHi ? count : Math.round((count * covered) / width);
    add(bins, k, target - given);
    given = target;
  }
}

/**
 * The value where key k ends, walking upward. Key k ≥ 1 holds values whose
 * rounded log is k-bias, i.e. [γ^(k-bias-½), γ^(k-bias+½)); key 1 also takes
 * everything down to the smallest magnitude; negative keys mirror that.
 * (Ranges never straddle zero here, so key 0 is only ever walked through upward on the positive side.)
 */
function upperEdge(k: number): number {
  if (k >= 1) return halfStep(k + 1);
  if (k === 0) return NORM_MIN;
  if (k === -1) return -NORM_MIN;
  return -halfStep(-k);
}

function halfStep(k: number): number {
  return Math.pow(GAMMA, k - BIAS - 0.5);
}
