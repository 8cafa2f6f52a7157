/**
 * Rollup accumulators: what one `metric_rollups` row holds for one series in
 * one period, mergeable so that a late point for a closed period can be folded
 * into the stored row and the percentiles recomputed.
 *
 * An accumulator keeps count/sum/min/max and, for distributions, a mergeable
 * sketch of the values:
 * - `explicit`: the histogram's own bucket bounds and summed counts;
 * - `exponential`: an OTel base-2 exponential histogram (from exponential
 *   histogram points, and from gauge samples, which are recorded into one
 *   starting at the finest scale and coarsened to at most 160 buckets).
 *
 * Percentiles are read from the sketch by linear interpolation inside the
 * bucket holding the rank, with the bucket's edges clamped by min/max. Error
 * bound: the true percentile lies in that same bucket, so the estimate is off
 * by at most the bucket's width (explicit), or by a relative
 * 2^(2^-scale) - 1 of the value (exponential: 1.1% at scale 6).
 */
import { sameBounds } from '../common/buckets.ts';

export type SketchKind = 'none' | 'explicit' | 'exponential';

export interface Buckets {
  offset: number;
  bucketCounts: number[];
}

export interface RollupAcc {
  count: number;
  /** Null when no contribution carried a sum (e.g. a histogram without sum). */
  sum: number | null;
  min: number | null;
  max: number | null;
  kind: SketchKind;
  /** explicit */
  bounds: number[] | null;
  bucketCounts: number[] | null;
  /** exponential */
  scale: number;
  zeroCount: number;
  positive: Buckets;
  negative: Buckets;
}

export const MAX_EXP_SCALE = 20;
export const MAX_EXP_BUCKETS = 160;

export function newAcc(): RollupAcc {
  return {
    count: 0,
    sum: null,
    min: null,
    max: null,
    kind: 'none',
    bounds: null,
    bucketCounts: null,
    scale: MAX_EXP_SCALE,
    zeroCount: 0,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
  };
}

function addSum(acc: RollupAcc, s: number | null | undefined): void {
  if (s === undefined || s === null) return;
  acc.sum = acc.sum === null ? s : acc.sum + s;
}

function addMinMax(acc: RollupAcc, min: number | null | undefined, max: number | null | undefined): void {
  if (min !== undefined && min !== null && !Number.isNaN(min) && (acc.min === null || min < acc.min)) acc.min = min;
  if (max !== undefined && max !== null && !Number.isNaN(max) && (acc.max === null || max > acc.max)) acc.max = max;
}

/** A counter delta or a sum point: count, sum, min, max; no percentiles. */
export function addValue(acc: RollupAcc, v: number): void {
  acc.count += 1;
  addSum(acc, v);
  addMinMax(acc, v, v);
}

/** A gauge sample: also recorded in an exponential sketch for percentiles. */
export function addSample(acc: RollupAcc, v: number): void {
  addValue(acc, v);
  if (!Number.isFinite(v)) return;
  if (acc.kind === 'none') acc.kind = 'exponential';
  recordValue(acc, v, 1);
}

export interface ExplicitInput {
  count: number;
  sum?: number | null;
  min?: number | null;
  max?: number | null;
  bounds: number[];
  counts: number[];
}

export function addExplicit(acc: RollupAcc, h: ExplicitInput): void {
  acc.count += h.count;
  addSum(acc, h.sum);
  addMinMax(acc, h.min, h.max);
  if (acc.kind === 'none') {
    acc.kind = 'explicit';
    acc.bounds = h.bounds.slice();
    acc.bucketCounts = h.counts.slice();
    return;
  }
  if (acc.kind === 'explicit' && sameBounds(acc.bounds!, h.bounds)) {
    const c = acc.bucketCounts!;
    for (let i = 0; i < h.counts.length; i++) c[i] += h.counts[i];
    return;
  }
  // Different bounds or kind: re-bucket each incoming bucket at a representative value.
  for (let i = 0; i < h.counts.length; i++) {
    if (h.counts[i] === 0) continue;
    recordValue(acc, explicitRepresentative(h.bounds, i, h.min, h.max), h.counts[i]);
  }
}

export interface ExponentialInput {
  count: number;
  sum?: number | null;
  min?: number | null;
  max?: number | null;
  scale: number;
  zeroCount: number;
  positive: Buckets;
  negative: Buckets;
}

export function addExponential(acc: RollupAcc, h: ExponentialInput): void {
  acc.count += h.count;
  addSum(acc, h.sum);
  addMinMax(acc, h.min, h.max);
  if (acc.kind === 'explicit') {
    // Foreign kind: fold each bucket in at its midpoint.
    if (h.zeroCount > 0) recordValue(acc, 0, h.zeroCount);
    forEachExpBucket(h.scale, h.positive, 1, (lo, hi, n) => recordValue(acc, (lo + hi) / 2, n));
    forEachExpBucket(h.scale, h.negative, -1, (lo, hi, n) => recordValue(acc, (lo + hi) / 2, n));
    return;
  }
  acc.kind = 'exponential';
  mergeExp(acc, h.scale, h.zeroCount, h.positive, h.negative);
}

/** Merge a whole accumulator (e.g. the stored row) into another. */
export function mergeAcc(into: RollupAcc, from: RollupAcc): void {
  if (from.kind === 'explicit') {
    addExplicit(into, { count: from.count, sum: from.sum, min: from.min, max: from.max, bounds: from.bounds!, counts: from.bucketCounts! });
  } else if (from.kind === 'exponential') {
    addExponential(into, from);
  } else {
    into.count += from.count;
    addSum(into, from.sum);
    addMinMax(into, from.min, from.max);
  }
}

function explicitRepresentative(bounds: number[], i: number, min?: number | null, max?: number | null): number {
  const lo = i === 0 ? (min ?? bounds[0] ?? 0) : bounds[i - 1];
  const hi = i === bounds.length ? (max ?? bounds[bounds.length - 1] ?? 0) : bounds[i];
  return (lo + hi) / 2;
}

/** Add `n` observations of `v` to the accumulator's sketch (not to count/sum). */
function recordValue(acc: RollupAcc, v: number, n: number): void {
  if (acc.kind === 'explicit') {
    const b = acc.bounds!;
    // First bucket whose upper bound is >= v (buckets are (prev, bound]).
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    acc.bucketCounts![lo] += n;
    return;
  }
  acc.kind = 'exponential';
  if (v === 0) {
    acc.zeroCount += n;
    return;
  }
  const buckets = v > 0 ? acc.positive : acc.negative;
  const abs = Math.abs(v);
  let idx = expIndex(abs, acc.scale);
  const lo = buckets.bucketCounts.length === 0 ? idx : Math.min(buckets.offset, idx);
  const hi = buckets.bucketCounts.length === 0 ? idx : Math.max(buckets.offset + buckets.bucketCounts.length - 1, idx);
  const shift = shiftToFit(lo, hi);
  if (shift > 0) {
    downscale(acc, shift);
    idx = expIndex(abs, acc.scale);
  }
  addToBuckets(buckets, idx, n);
}

/** Bucket index of a positive value: bucket i covers (base^i, base^(i+1)], base = 2^(2^-scale). */
export function expIndex(v: number, scale: number): number {
  return Math.ceil(Math.log2(v) * 2 ** scale) - 1;
}

function shiftToFit(lo: number, hi: number): number {
  let shift = 0;
  while ((hi >> shift) - (lo >> shift) + 1 > MAX_EXP_BUCKETS) shift++;
  return shift;
}

export function downscaleBuckets(b: Buckets, shift: number): void {
  if (shift === 0 || b.bucketCounts.length === 0) return;
  const newOffset = b.offset >> shift;
  const last = (b.offset + b.bucketCounts.length - 1) >> shift;
  const out = new Array<number>(last - newOffset + 1).fill(0);
  for (let i = 0; i < b.bucketCounts.length; i++) out[((b.offset + i) >> shift) - newOffset] += b.bucketCounts[i];
  b.offset = newOffset;
  b.bucketCounts = out;
}

function downscale(acc: RollupAcc, shift: number): void {
  downscaleBuckets(acc.positive, shift);
  downscaleBuckets(acc.negative, shift);
  acc.scale -= shift;
}

function addToBuckets(b: Buckets, idx: number, n: number): void {
  const c = b.bucketCounts;
  if (c.length === 0) {
    b.offset = idx;
    c.push(n);
    return;
  }
  if (idx < b.offset) {
    const grow = b.offset - idx;
    b.bucketCounts = new Array<number>(grow).fill(0).concat(c);
    b.offset = idx;
    b.bucketCounts[0] += n;
    return;
  }
  const at = idx - b.offset;
  while (c.length <= at) c.push(0);
  c[at] += n;
}

function mergeExp(acc: RollupAcc, scale: number, zeroCount: number, positive: Buckets, negative: Buckets): void {
  acc.zeroCount += zeroCount;
  // Bring both to the coarser scale, then coarsen further until the union fits.
  const pos = { offset: positive.offset, bucketCounts: positive.bucketCounts.slice() };
  const neg = { offset: negative.offset, bucketCounts: negative.bucketCounts.slice() };
  if (scale > acc.scale) {
    downscaleBuckets(pos, scale - acc.scale);
    downscaleBuckets(neg, scale - acc.scale);
  } else if (scale < acc.scale) {
    downscale(acc, acc.scale - scale);
  }
  const shift = Math.max(unionShift(acc.positive, pos), unionShift(acc.negative, neg));
  if (shift > 0) {
    downscale(acc, shift);
    downscaleBuckets(pos, shift);
    downscaleBuckets(neg, shift);
  }
  for (let i = 0; i < pos.bucketCounts.length; i++) if (pos.bucketCounts[i]) addToBuckets(acc.positive, pos.offset + i, pos.bucketCounts[i]);
  for (let i = 0; i < neg.bucketCounts.length; i++) if (neg.bucketCounts[i]) addToBuckets(acc.negative, neg.offset + i, neg.bucketCounts[i]);
}

function unionShift(a: Buckets, b: Buckets): number {
  if (a.bucketCounts.length === 0 && b.bucketCounts.length === 0) return 0;
  const ranges: Array<[number, number]> = [];
  if (a.bucketCounts.length) ranges.push([a.offset, a.offset + a.bucketCounts.length - 1]);
  if (b.bucketCounts.length) ranges.push([b.offset, b.offset + b.bucketCounts.length - 1]);
  const lo = Math.min(...ranges.map((r) => r[0]));
  const hi = Math.max(...ranges.map((r) => r[1]));
  return shiftToFit(lo, hi);
}

/** Visit exponential buckets as [lo, hi] value ranges (sign -1 for the negative side). */
function forEachExpBucket(scale: number, b: Buckets, sign: 1 | -1, fn: (lo: number, hi: number, n: number) => void): void {
  const f = 2 ** -scale;
  for (let i = 0; i < b.bucketCounts.length; i++) {
    const n = b.bucketCounts[i];
    if (!n) continue;
    const idx = b.offset + i;
    const a = 2 ** (idx * f);
    const c = 2 ** ((idx + 1) * f);
    if (sign === 1) fn(a, c, n);
    else fn(-c, -a, n);
  }
}

/** The value ranges of the sketch in ascending order with their counts. */
function sketchRanges(acc: RollupAcc): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  if (acc.kind === 'explicit') {
    const b = acc.bounds!;
    const c = acc.bucketCounts!;
    for (let i = 0; i < c.length; i++) {
      if (!c[i]) continue;
      out.push([i === 0 ? -Infinity : b[i - 1], i === b.length ? Infinity : b[i], c[i]]);
    }
    return out;
  }
  if (acc.kind !== 'exponential') return out;
  const neg: Array<[number, number, number]> = [];
  forEachExpBucket(acc.scale, acc.negative, -1, (lo, hi, n) => neg.push([lo, hi, n]));
  for (let i = neg.length - 1; i >= 0; i--) out.push(neg[i]);
  if (acc.zeroCount) out.push([0, 0, acc.zeroCount]);
  forEachExpBucket(acc.scale, acc.positive, 1, (lo, hi, n) => out.push([lo, hi, n]));
  return out;
}

/**
 * The q-quantile (0 < q ≤ 1) of the sketch, or null when there is no sketch.
 * Linear interpolation inside the bucket holding rank q·N; the bucket's
 * edges are clamped by min/max (and an unbounded edge replaced by them).
 */
export function quantile(acc: RollupAcc, q: number): number | null {
  return quantileOf(acc, sketchRanges(acc), q);
}

/** Several quantiles of one sketch, its bucket ranges listed once. */
export function quantiles(acc: RollupAcc, qs: readonly number[]): Array<number | null> {
  const ranges = sketchRanges(acc);
  return qs.map((q) => quantileOf(acc, ranges, q));
}

function quantileOf(acc: RollupAcc, ranges: Array<[number, number, number]>, q: number): number | null {
  let total = 0;
  for (const r of ranges) total += r[2];
  if (total <= 0) return null;
  const rank = q * total;
  let before = 0;
  for (const [lo0, hi0, n] of ranges) {
    if (before + n >= rank) {
      let lo = lo0;
      let hi = hi0;
      if (acc.min !== null && lo < acc.min) lo = acc.min;
      if (acc.max !== null && hi > acc.max) hi = acc.max;
      if (lo === -Infinity) return hi === Infinity ? null : hi;
      if (hi === Infinity) return lo;
      if (hi < lo) return acc.max !== null && lo > acc.max ? acc.max : lo;
      return lo + ((hi - lo) * (rank - before)) / n;
    }
    before += n;
  }
  return acc.max;
}

/** The bucket (value range) a quantile estimate came from: its width is the error bound. Exported for tests and docs. */
export function quantileBucket(acc: RollupAcc, q: number): [number, number] | null {
  const ranges = sketchRanges(acc);
  let total = 0;
  for (const r of ranges) total += r[2];
  if (total <= 0) return null;
  const rank = q * total;
  let before = 0;
  for (const [lo, hi, n] of ranges) {
    if (before + n >= rank) return [lo, hi];
    before += n;
  }
  return null;
}
