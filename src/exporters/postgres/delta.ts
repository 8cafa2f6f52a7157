/**
 * Cumulative → delta, for rollups only (raw points are stored as received).
 * A rollup period needs what happened *in* the period: for a cumulative
 * counter or histogram that is the difference from the previous point of the
 * same series (metric + resource + attributes).
 *
 * As otelcol's cumulativetodelta with `initial_value: auto`: the first point
 * of a series counts in full only when the series started after this
 * exporter did (its start time says so); otherwise it only sets the baseline,
 * since what it carries may have been counted before a restart. A point
 * older than the last one seen (a retry of a batch sent out of order) adds
 * nothing: its increase is already in the later point's delta. A drop in the
 * count or a new start time is a reset: the point counts in full.
 */
import type { Buckets } from './rollup.ts';
import { downscaleBuckets } from './rollup.ts';

export interface HistogramDelta {
  count: number;
  sum: number | null;
  /** Exact when the period set a new extreme; otherwise a bound from the buckets and the all-time extremes. */
  min: number | null;
  max: number | null;
}

interface SeriesState {
  start: number;
  time: number;
  value: number;
  sum: number | null;
  min: number | null;
  max: number | null;
  bounds: number[] | null;
  counts: number[] | null;
  scale: number;
  zeroCount: number;
  positive: Buckets | null;
  negative: Buckets | null;
  seenAt: number;
}

export interface CumulativeHistogram {
  startTimeUnixNano: number;
  timeUnixNano: number;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
}

export class DeltaTracker {
  private readonly state = new Map<string, SeriesState>();
  private readonly startedAtNs: number;

  constructor(startedAtNs: number) {
    this.startedAtNs = startedAtNs;
  }

  get size(): number {
    return this.state.size;
  }

  /** The increase of a cumulative monotonic sum since the last point, or undefined when it contributes nothing. */
  sum(key: string, start: number, time: number, value: number): number | undefined {
    const prev = this.state.get(key);
    if (prev === undefined) {
      this.state.set(key, this.fresh(start, time, value));
      return this.countsInFull(start) ? value : undefined;
    }
    if (time <= prev.time) return undefined;
    const reset = start !== prev.start || value < prev.value;
    const delta = reset ? value : value - prev.value;
    prev.start = start;
    prev.time = time;
    prev.value = value;
    prev.seenAt = Date.now();
    return delta;
  }

  /** Delta of a cumulative explicit-bucket histogram; `out` receives the bucket counts. */
  explicit(key: string, p: CumulativeHistogram & { explicitBounds: number[]; bucketCounts: number[] }, out: { counts: number[] }): HistogramDelta | undefined {
    const prev = this.state.get(key);
    if (prev === undefined) {
      const s = this.fresh(p.startTimeUnixNano, p.timeUnixNano, p.count);
      this.setHist(s, p);
      s.bounds = p.explicitBounds;
      s.counts = p.bucketCounts.slice();
      this.state.set(key, s);
      if (!this.countsInFull(p.startTimeUnixNano)) return undefined;
      out.counts = p.bucketCounts.slice();
      return { count: p.count, sum: p.sum ?? null, min: p.min ?? null, max: p.max ?? null };
    }
    if (p.timeUnixNano <= prev.time) return undefined;
    const sameShape = prev.bounds !== null && prev.counts !== null && sameArray(prev.bounds, p.explicitBounds);
    const reset = p.startTimeUnixNano !== prev.start || p.count < prev.value || !sameShape;
    let result: HistogramDelta;
    if (reset) {
      out.counts = p.bucketCounts.slice();
      result = { count: p.count, sum: p.sum ?? null, min: p.min ?? null, max: p.max ?? null };
    } else {
      const counts = new Array<number>(p.bucketCounts.length);
      for (let i = 0; i < counts.length; i++) counts[i] = Math.max(0, p.bucketCounts[i] - prev.counts![i]);
      out.counts = counts;
      result = this.diffHist(prev, p);
      boundFromExplicit(result, p.explicitBounds, counts, p.min, p.max);
    }
    this.setHist(prev, p);
    prev.bounds = p.explicitBounds;
    prev.counts = p.bucketCounts.slice();
    return result;
  }

  /** Delta of a cumulative exponential histogram at the point's scale; `out` receives the buckets. */
  exponential(
    key: string,
    p: CumulativeHistogram & { scale: number; zeroCount: number; positive: Buckets; negative: Buckets },
    out: { zeroCount: number; positive: Buckets; negative: Buckets },
  ): HistogramDelta | undefined {
    const prev = this.state.get(key);
    const full = (): HistogramDelta => {
      out.zeroCount = p.zeroCount;
      out.positive = { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.slice() };
      out.negative = { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.slice() };
      return { count: p.count, sum: p.sum ?? null, min: p.min ?? null, max: p.max ?? null };
    };
    if (prev === undefined) {
      const s = this.fresh(p.startTimeUnixNano, p.timeUnixNano, p.count);
      this.setExp(s, p);
      this.state.set(key, s);
      return this.countsInFull(p.startTimeUnixNano) ? full() : undefined;
    }
    if (p.timeUnixNano <= prev.time) return undefined;
    // An SDK only ever coarsens a cumulative exponential histogram, so the previous one is brought to the new scale.
    const reset = p.startTimeUnixNano !== prev.start || p.count < prev.value || prev.scale < p.scale;
    let result: HistogramDelta;
    if (reset) result = full();
    else {
      const prevPos = { offset: prev.positive!.offset, bucketCounts: prev.positive!.bucketCounts.slice() };
      const prevNeg = { offset: prev.negative!.offset, bucketCounts: prev.negative!.bucketCounts.slice() };
      downscaleBuckets(prevPos, prev.scale - p.scale);
      downscaleBuckets(prevNeg, prev.scale - p.scale);
      out.zeroCount = Math.max(0, p.zeroCount - prev.zeroCount);
      out.positive = subtractBuckets(p.positive, prevPos);
      out.negative = subtractBuckets(p.negative, prevNeg);
      result = this.diffHist(prev, p);
    }
    this.setExp(prev, p);
    return result;
  }

  /** Forget series not seen since `beforeMs` (Date.now() scale), so state stays bounded. */
  sweep(beforeMs: number): void {
    for (const [k, s] of this.state) if (s.seenAt < beforeMs) this.state.delete(k);
  }

  private countsInFull(start: number): boolean {
    return start > 0 && start >= this.startedAtNs;
  }

  private fresh(start: number, time: number, value: number): SeriesState {
    return {
      start,
      time,
      value,
      sum: null,
      min: null,
      max: null,
      bounds: null,
      counts: null,
      scale: 0,
      zeroCount: 0,
      positive: null,
      negative: null,
      seenAt: Date.now(),
    };
  }

  private diffHist(prev: SeriesState, p: CumulativeHistogram): HistogramDelta {
    const sum = p.sum !== undefined && prev.sum !== null ? p.sum - prev.sum : null;
    // A new all-time extreme must have been observed in this period: then it is exact.
    const min = p.min !== undefined && (prev.min === null || p.min < prev.min) ? p.min : null;
    const max = p.max !== undefined && (prev.max === null || p.max > prev.max) ? p.max : null;
    return { count: p.count - prev.value, sum, min, max };
  }

  private setHist(s: SeriesState, p: CumulativeHistogram): void {
    s.start = p.startTimeUnixNano;
    s.time = p.timeUnixNano;
    s.value = p.count;
    s.sum = p.sum ?? null;
    s.min = p.min ?? null;
    s.max = p.max ?? null;
    s.seenAt = Date.now();
  }

  private setExp(s: SeriesState, p: CumulativeHistogram & { scale: number; zeroCount: number; positive: Buckets; negative: Buckets }): void {
    this.setHist(s, p);
    s.scale = p.scale;
    s.zeroCount = p.zeroCount;
    s.positive = { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.slice() };
    s.negative = { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.slice() };
  }
}

/** Where min/max of the period are unknown, bound them by the populated buckets and the all-time extremes. */
function boundFromExplicit(d: HistogramDelta, bounds: number[], counts: number[], allMin?: number, allMax?: number): void {
  let first = -1;
  let last = -1;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return;
  if (d.min === null) {
    const lo = first === 0 ? -Infinity : bounds[first - 1];
    const v = allMin !== undefined ? Math.max(lo, allMin) : lo;
    d.min = Number.isFinite(v) ? v : null;
  }
  if (d.max === null) {
    const hi = last === bounds.length ? Infinity : bounds[last];
    const v = allMax !== undefined ? Math.min(hi, allMax) : hi;
    d.max = Number.isFinite(v) ? v : null;
  }
}

function subtractBuckets(cur: Buckets, prev: Buckets): Buckets {
  const counts = cur.bucketCounts.slice();
  for (let i = 0; i < prev.bucketCounts.length; i++) {
    const at = prev.offset + i - cur.offset;
    if (at >= 0 && at < counts.length) counts[at] = Math.max(0, counts[at] - prev.bucketCounts[i]);
  }
  return { offset: cur.offset, bucketCounts: counts };
}

function sameArray(a: number[], b: number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
