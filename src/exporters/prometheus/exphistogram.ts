/**
 * Exponential histograms as classic Prometheus buckets.
 *
 * The choice: points are first brought down to scale 0 (or kept at their own
 * scale when it is coarser), so classic boundaries are powers of two
 * (…, 0.25, 0.5, 1, 2, 4, …). That keeps `le` values short and exact, gives
 * the resolution of Prometheus' own default buckets (a factor of 2–2.5), and
 * — most importantly — keeps the boundaries stable from scrape to scrape, so
 * `rate()` over `_bucket` series works. When the populated range of one sign
 * spans more than MAX_BUCKETS buckets, the scale is lowered further (factor 4,
 * 16, …) to bound the number of series; at scale 0 that happens only for data
 * spanning more than 2^64, e.g. nanoseconds to centuries.
 *
 * Only the populated index range is exposed (from its lower edge to its
 * upper edge), plus the zero bucket's threshold when there is a zero bucket
 * or negative values. Counts are cumulative; `+Inf` is the point's count.
 * Merging at power-of-two boundaries is exact: no interpolation anywhere.
 */
import type { ExpHistogramPoint } from '../../model/metrics.ts';

export const TARGET_SCALE = 0;
export const MAX_BUCKETS = 64;

/** An exponential histogram reduced for exposition and accumulation. */
export interface ExpState {
  scale: number;
  count: number;
  sum: number;
  zeroCount: number;
  zeroThreshold: number;
  posOffset: number;
  pos: number[];
  negOffset: number;
  neg: number[];
}

/** Merge pairs of buckets `by` times: index i becomes i >> by (floor division, also for negative indexes). */
function downscaleBuckets(offset: number, counts: number[], by: number): [number, number[]] {
  if (by <= 0 || counts.length === 0) return [offset, counts];
  const newOffset = offset >> by;
  const last = (offset + counts.length - 1) >> by;
  const out = new Array<number>(last - newOffset + 1).fill(0);
  for (let i = 0; i < counts.length; i++) out[((offset + i) >> by) - newOffset] += counts[i];
  return [newOffset, out];
}

/** Drop empty buckets at both ends. */
function trim(offset: number, counts: number[]): [number, number[]] {
  let lo = 0;
  let hi = counts.length;
  while (lo < hi && !(counts[lo] > 0)) lo++;
  while (hi > lo && !(counts[hi - 1] > 0)) hi--;
  if (lo === 0 && hi === counts.length) return [offset, counts];
  return [offset + lo, counts.slice(lo, hi)];
}

function downscale(s: ExpState, by: number): void {
  if (by <= 0) return;
  [s.posOffset, s.pos] = downscaleBuckets(s.posOffset, s.pos, by);
  [s.negOffset, s.neg] = downscaleBuckets(s.negOffset, s.neg, by);
  s.scale -= by;
}

/** Lower the scale until each sign spans at most MAX_BUCKETS buckets. */
function capBuckets(s: ExpState): void {
  let by = 0;
  const span = (offset: number, n: number, d: number) => (n === 0 ? 0 : ((offset + n - 1) >> d) - (offset >> d) + 1);
  while (span(s.posOffset, s.pos.length, by) > MAX_BUCKETS || span(s.negOffset, s.neg.length, by) > MAX_BUCKETS) by++;
  downscale(s, by);
}

/** A point as a reduced state (a copy: the point is not retained). */
export function expStateFromPoint(p: ExpHistogramPoint): ExpState {
  const [posOffset, pos] = trim(p.positive.offset, p.positive.bucketCounts);
  const [negOffset, neg] = trim(p.negative.offset, p.negative.bucketCounts);
  const s: ExpState = {
    scale: p.scale,
    count: p.count,
    sum: p.sum ?? 0,
    zeroCount: p.zeroCount,
    zeroThreshold: p.zeroThreshold ?? 0,
    posOffset,
    pos: pos.slice(),
    negOffset,
    neg: neg.slice(),
  };
  downscale(s, s.scale - TARGET_SCALE);
  capBuckets(s);
  return s;
}

function addBuckets(aOff: number, a: number[], bOff: number, b: number[]): [number, number[]] {
  if (b.length === 0) return [aOff, a];
  if (a.length === 0) return [bOff, b.slice()];
  const lo = Math.min(aOff, bOff);
  const hi = Math.max(aOff + a.length, bOff + b.length);
  const out = new Array<number>(hi - lo).fill(0);
  for (let i = 0; i < a.length; i++) out[aOff - lo + i] += a[i];
  for (let i = 0; i < b.length; i++) out[bOff - lo + i] += b[i];
  return [lo, out];
}

/** Add `delta` into `acc` (delta → cumulative), both brought to the coarser scale. */
export function mergeExpState(acc: ExpState, delta: ExpState): void {
  const d: ExpState = { ...delta, pos: delta.pos, neg: delta.neg };
  if (acc.scale > d.scale) downscale(acc, acc.scale - d.scale);
  else if (d.scale > acc.scale) downscale(d, d.scale - acc.scale);
  [acc.posOffset, acc.pos] = addBuckets(acc.posOffset, acc.pos, d.posOffset, d.pos);
  [acc.negOffset, acc.neg] = addBuckets(acc.negOffset, acc.neg, d.negOffset, d.neg);
  acc.count += d.count;
  acc.sum += d.sum;
  acc.zeroCount += d.zeroCount;
  acc.zeroThreshold = Math.max(acc.zeroThreshold, d.zeroThreshold);
  capBuckets(acc);
}

/** Boundary base^index at a scale ≤ 0: an exact power of two. */
function boundary(index: number, scale: number): number {
  return 2 ** (index * 2 ** -scale);
}

/**
 * Classic buckets: ascending upper bounds and the cumulative count at each;
 * the `+Inf` bucket (the point's count) is not included.
 */
export function expToClassic(s: ExpState): { bounds: number[]; cumulative: number[] } {
  const bounds: number[] = [];
  const cumulative: number[] = [];
  let acc = 0;
  const push = (bound: number) => {
    // Malformed input (bucket sum above count) must not make +Inf smaller than a finite bucket.
    const c = Math.min(acc, s.count);
    // Extreme scales/indexes overflow a double: those counts are carried to the next finite bound or +Inf.
    if (!Number.isFinite(bound)) return;
    // …or underflow onto the previous bound: fold into it.
    if (bounds.length > 0 && bound <= bounds[bounds.length - 1]) {
      cumulative[cumulative.length - 1] = c;
      return;
    }
    bounds.push(bound);
    cumulative.push(c);
  };
  // Negative bucket i holds values in [-base^(i+1), -base^i): most negative first.
  for (let i = s.neg.length - 1; i >= 0; i--) {
    acc += s.neg[i];
    push(-boundary(s.negOffset + i, s.scale));
  }
  const firstPosLower = s.pos.length > 0 ? boundary(s.posOffset, s.scale) : Infinity;
  acc += s.zeroCount;
  if ((s.zeroCount > 0 || s.neg.length > 0) && s.zeroThreshold < firstPosLower) push(s.zeroThreshold);
  if (s.pos.length > 0) {
    // The lower edge of the first populated bucket, so quantile interpolation starts there, not at 0.
    push(firstPosLower);
    for (let i = 0; i < s.pos.length; i++) {
      acc += s.pos[i];
      push(boundary(s.posOffset + i + 1, s.scale));
    }
  }
  return { bounds, cumulative };
}
