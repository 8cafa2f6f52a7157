/**
 * Histogram geometry shared by the vendor exporters: explicit and exponential
 * histograms become one list of populated `[lower, upper]` ranges with finite
 * edges, from which quantiles (Datadog aggregates), midpoints (CloudWatch
 * Values/Counts) and sketches (Datadog distributions) are derived.
 */
import type { ExpHistogramPoint } from '../../model/metrics.ts';

export interface BucketRange {
  lower: number;
  upper: number;
  count: number;
}

/**
 * Populated buckets of an explicit-bounds histogram. The open-ended first and
 * last buckets are closed with the point's min/max when known, else collapsed
 * onto their finite bound (as the Datadog Agent does); known min/max also
 * narrow the populated edge buckets.
 */
export function explicitRanges(bounds: number[], counts: number[], min?: number, max?: number): BucketRange[] {
  const out: BucketRange[] = [];
  const last = counts.length - 1;
  for (let i = 0; i <= last; i++) {
    const count = counts[i];
    if (!(count > 0)) continue;
    let lower = i === 0 ? -Infinity : bounds[i - 1];
    let upper = i === last ? Infinity : bounds[i];
    if (bounds.length === 0) {
      lower = -Infinity;
      upper = Infinity;
    }
    if (min !== undefined && Number.isFinite(min) && min > lower) lower = Math.min(min, upper);
    if (max !== undefined && Number.isFinite(max) && max < upper) upper = Math.max(max, lower);
    if (lower === -Infinity) lower = Number.isFinite(upper) ? upper : 0;
    if (upper === Infinity) upper = lower;
    out.push({ lower, upper, count });
  }
  return out;
}

/** Populated buckets of an exponential histogram, ascending (negatives, zero, positives). */
export function exponentialRanges(p: ExpHistogramPoint): BucketRange[] {
  const base = Math.pow(2, Math.pow(2, -p.scale));
  const out: BucketRange[] = [];
  const neg = p.negative.bucketCounts;
  for (let j = neg.length - 1; j >= 0; j--) {
    if (!(neg[j] > 0)) continue;
    const idx = p.negative.offset + j;
    out.push({ lower: -Math.pow(base, idx + 1), upper: -Math.pow(base, idx), count: neg[j] });
  }
  if (p.zeroCount > 0) out.push({ lower: 0, upper: 0, count: p.zeroCount });
  const pos = p.positive.bucketCounts;
  for (let j = 0; j < pos.length; j++) {
    if (!(pos[j] > 0)) continue;
    const idx = p.positive.offset + j;
    out.push({ lower: Math.pow(base, idx), upper: Math.pow(base, idx + 1), count: pos[j] });
  }
  clampEdges(out, p.min, p.max);
  return out;
}

function clampEdges(ranges: BucketRange[], min?: number, max?: number): void {
  if (ranges.length === 0) return;
  if (min !== undefined && Number.isFinite(min)) {
    const first = ranges[0];
    if (min > first.lower && min <= first.upper) first.lower = min;
  }
  if (max !== undefined && Number.isFinite(max)) {
    const lastRange = ranges[ranges.length - 1];
    if (max < lastRange.upper && max >= lastRange.lower) lastRange.upper = max;
  }
}

/** The q-quantile (0..1) by linear interpolation inside the bucket that holds rank q·total. */
export function quantileOf(ranges: BucketRange[], q: number, min?: number, max?: number): number {
  let total = 0;
  for (const r of ranges) total += r.count;
  if (total === 0) return NaN;
  const rank = q * total;
  let seen = 0;
  let value = ranges[ranges.length - 1].upper;
  for (const r of ranges) {
    if (seen + r.count >= rank) {
      value = r.lower + ((r.upper - r.lower) * (rank - seen)) / r.count;
      break;
    }
    seen += r.count;
  }
  if (min !== undefined && value < min) value = min;
  if (max !== undefined && value > max) value = max;
  return value;
}

/** Whether two explicit-bounds layouts are the same (a changed layout resets a series). */
export function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
