/**
 * An OpenTelemetry base-2 exponential histogram aggregator (the "exponential
 * bucket histogram" of the OTel metrics SDK spec), generic so any component
 * can record into one and emit an `ExpHistogramPoint`.
 *
 * Bucket `i` at scale `s` covers (base^i, base^(i+1)] with base = 2^(2^-s).
 * Recording starts at the finest scale (20) and, when a value would make the
 * populated index range wider than `maxSize` buckets, halves the resolution
 * (scale - 1 merges pairs of buckets) as often as needed. Counts are weights
 * (floats), so sampled data (StatsD `@rate`) can be recorded with weight 1/rate
 * without truncation.
 */
import type { ExpBuckets, ExpHistogramPoint } from './metrics.ts';

export const MAX_SCALE = 20;
export const MIN_SCALE = -10;
export const DEFAULT_MAX_SIZE = 160;
/** Smallest useful size: two buckets can always hold any pair of values after enough downscaling. */
export const MIN_MAX_SIZE = 2;
const INITIAL_SLOTS = 16;
const EMPTY = new Float64Array(0);

// Scratch views to read a double's exponent and mantissa bits without allocation.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // index of the high word (little endian → 1)

/**
 * The bucket index for a positive finite `value` at `scale` (exact at powers of two,
 * which sit at the upper, inclusive edge of their bucket).
 */
export function mapToIndex(value: number, scale: number): number {
  f64[0] = value;
  const hi = u32[HI];
  const lo = u32[1 - HI];
  const biasedExp = (hi >>> 20) & 0x7ff;
  const mantissaIsZero = (hi & 0xfffff) === 0 && lo === 0;
  if (biasedExp === 0) {
    // Subnormals are rare enough for the slow, generic path.
    const idx = Math.ceil(Math.log2(value) * 2 ** scale) - 1;
    return idx;
  }
  const exp = biasedExp - 1023;
  if (scale <= 0) {
    // Exact power of two: it is the inclusive upper edge of bucket exp-1.
    const e = mantissaIsZero ? exp - 1 : exp;
    return e >> -scale;
  }
  if (mantissaIsZero) return (exp << scale) - 1;
  // log2 is accurate to within an ulp; near bucket edges the result can be off
  // by one, which the OTel spec tolerates (values land in a neighbouring bucket).
  return Math.ceil(Math.log2(value) * 2 ** scale) - 1;
}

/** Lower edge of bucket `index` at `scale` (the bucket is (lower, upper]). */
export function lowerBoundary(index: number, scale: number): number {
  if (scale <= 0) return 2 ** (index * 2 ** -scale);
  return 2 ** (index / 2 ** scale);
}

/**
 * One sign's buckets: a window of slots holding indexes [start, start + capacity).
 * The window starts small and grows (up to maxSize) only as the populated range
 * widens, so a histogram that sees few distinct values stays small in memory.
 */
class BucketWindow {
  private readonly maxSize: number;
  counts: Float64Array = EMPTY;
  /** Index held in slot 0. */
  start = 0;
  /** Populated range; min > max when empty. */
  min = 1;
  max = 0;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  get empty(): boolean {
    return this.min > this.max;
  }

  /** Add weight at `index`; the caller guarantees the new populated range spans at most maxSize buckets. */
  add(index: number, weight: number): void {
    if (this.empty) {
      if (this.counts.length === 0) this.counts = new Float64Array(Math.min(INITIAL_SLOTS, this.maxSize));
      else this.counts.fill(0);
      // Centre the first value so the window can widen either way before relayout.
      this.start = index - (this.counts.length >> 1);
      this.min = this.max = index;
      this.counts[index - this.start] = weight;
      return;
    }
    if (index < this.start || index >= this.start + this.counts.length) this.relayout(index);
    this.counts[index - this.start] += weight;
    if (index < this.min) this.min = index;
    if (index > this.max) this.max = index;
  }

  /** Move (and if needed grow) the window so it holds both the populated range and `index`. */
  private relayout(index: number): void {
    const lo = Math.min(this.min, index);
    const hi = Math.max(this.max, index);
    const span = hi - lo + 1;
    let cap = this.counts.length;
    if (span > cap) cap = Math.min(this.maxSize, Math.max(span, cap * 2));
    // Leave the spare room on the side the range is growing towards.
    const newStart = index < this.min ? hi - cap + 1 : lo;
    const next = new Float64Array(cap);
    for (let i = this.min; i <= this.max; i++) next[i - newStart] = this.counts[i - this.start];
    this.counts = next;
    this.start = newStart;
  }

  /** Merge buckets pairwise `change` times (index → index >> change). */
  downscale(change: number): void {
    if (change <= 0 || this.empty) return;
    const old = this.counts;
    const oldStart = this.start;
    const oldMin = this.min;
    const oldMax = this.max;
    this.counts = new Float64Array(old.length);
    this.min = oldMin >> change;
    this.max = oldMax >> change;
    this.start = this.min;
    for (let i = oldMin; i <= oldMax; i++) {
      const c = old[i - oldStart];
      if (c !== 0) this.counts[(i >> change) - this.start] += c;
    }
  }

  toBuckets(): ExpBuckets {
    if (this.empty) return { offset: 0, bucketCounts: [] };
    const from = this.min - this.start;
    return { offset: this.min, bucketCounts: Array.from(this.counts.subarray(from, from + this.max - this.min + 1)) };
  }

  reset(): void {
    this.min = 1;
    this.max = 0;
  }
}

export class ExpHistogram {
  readonly maxSize: number;
  scale: number;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  zeroCount = 0;
  private readonly positive: BucketWindow;
  private readonly negative: BucketWindow;

  constructor(maxSize = DEFAULT_MAX_SIZE, maxScale = MAX_SCALE) {
    if (!Number.isInteger(maxSize) || maxSize < MIN_MAX_SIZE) throw new RangeError(`exponential histogram max size must be an integer >= ${MIN_MAX_SIZE}`);
    this.maxSize = maxSize;
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, maxScale));
    this.positive = new BucketWindow(maxSize);
    this.negative = new BucketWindow(maxSize);
  }

  /** Record `value` with `weight` (default 1). Non-finite values and non-positive weights are ignored; returns false then. */
  record(value: number, weight = 1): boolean {
    if (!Number.isFinite(value) || !(weight > 0) || !Number.isFinite(weight)) return false;
    this.count += weight;
    this.sum += value * weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value === 0) {
      this.zeroCount += weight;
      return true;
    }
    const window = value > 0 ? this.positive : this.negative;
    const abs = value > 0 ? value : -value;
    let index = mapToIndex(abs, this.scale);
    if (!window.empty && (index < window.min || index > window.max)) {
      const lo = Math.min(index, window.min);
      const hi = Math.max(index, window.max);
      const change = this.scaleChangeFor(lo, hi);
      if (change > 0) {
        this.downscale(change);
        index = mapToIndex(abs, this.scale);
      }
    }
    window.add(index, weight);
    return true;
  }

  /** How many halvings make [lo, hi] fit in maxSize buckets. */
  private scaleChangeFor(lo: number, hi: number): number {
    let change = 0;
    while (hi - lo + 1 > this.maxSize && this.scale - change > MIN_SCALE) {
      lo >>= 1;
      hi >>= 1;
      change++;
    }
    return change;
  }

  private downscale(change: number): void {
    // The other sign's window must follow the same scale, and may itself need it.
    this.positive.downscale(change);
    this.negative.downscale(change);
    this.scale -= change;
  }

  toPoint(startTimeUnixNano: number, timeUnixNano: number, attributes: ExpHistogramPoint['attributes']): ExpHistogramPoint {
    const empty = this.count === 0;
    return {
      attributes,
      startTimeUnixNano,
      timeUnixNano,
      count: this.count,
      sum: this.sum,
      min: empty ? undefined : this.min,
      max: empty ? undefined : this.max,
      scale: this.scale,
      zeroCount: this.zeroCount,
      zeroThreshold: 0,
      positive: this.positive.toBuckets(),
      negative: this.negative.toBuckets(),
    };
  }

  reset(maxScale = MAX_SCALE): void {
    this.scale = maxScale;
    this.count = this.sum = this.zeroCount = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.positive.reset();
    this.negative.reset();
  }
}
