/**
 * Folding over-the-cap points into the one overflow series of their metric
 * (attributes `{ "otel.metric.overflow": true }`, as the OpenTelemetry SDKs
 * spell their own cardinality overflow). Only what can be added up honestly
 * is folded:
 * - delta sums: values added;
 * - delta histograms with the same bounds: counts, buckets and sums added,
 *   min/max combined;
 * - delta exponential histograms: brought to the coarsest scale, then added;
 * - gauges: the latest value wins (the SDKs' last-value overflow).
 * Cumulative sums/histograms and summaries cannot be folded (a running total
 * of a changing set of series is meaningless), nor can histograms whose
 * bounds differ from the first folded one: those points are dropped.
 */
import type { Attributes, DataPoint, ExpBuckets, ExpHistogramPoint, HistogramPoint, Metric, NumberPoint } from '../../model/metrics.ts';

export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';

export function overflowAttributes(): Attributes {
  return { [OVERFLOW_ATTRIBUTE]: true };
}

export function canFold(m: Metric): boolean {
  if (m.type === 'gauge') return true;
  if (m.type === 'summary') return false;
  return m.temporality === 'delta';
}

/**
 * Fold `p` into `acc` (the overflow point built so far, or undefined for the
 * first); returns the new accumulator, or undefined when `p` cannot be folded
 * into `acc` (the caller drops it).
 */
export function foldPoint(m: Metric, acc: DataPoint | undefined, p: DataPoint): DataPoint | undefined {
  if (!acc) return startOverflow(m, p);
  acc.startTimeUnixNano = earliestStart(acc.startTimeUnixNano, p.startTimeUnixNano);
  switch (m.type) {
    case 'gauge': {
      const a = acc as NumberPoint;
      const q = p as NumberPoint;
      if (q.timeUnixNano >= a.timeUnixNano) {
        a.value = q.value;
        a.isInt = q.isInt;
        a.timeUnixNano = q.timeUnixNano;
      }
      return a;
    }
    case 'sum': {
      const a = acc as NumberPoint;
      const q = p as NumberPoint;
      a.value += q.value;
      a.isInt = a.isInt && q.isInt;
      a.timeUnixNano = Math.max(a.timeUnixNano, q.timeUnixNano);
      return a;
    }
    case 'histogram': {
      const a = acc as HistogramPoint;
      const q = p as HistogramPoint;
      if (!sameBounds(a.explicitBounds, q.explicitBounds) || a.bucketCounts.length !== q.bucketCounts.length) return undefined;
      for (let i = 0; i < q.bucketCounts.length; i++) a.bucketCounts[i] += q.bucketCounts[i];
      addSummaryFields(a, q);
      return a;
    }
    case 'exponential_histogram': {
      const a = acc as ExpHistogramPoint;
      const q = p as ExpHistogramPoint;
      const scale = Math.min(a.scale, q.scale);
      a.positive = mergeBuckets(a.positive, a.scale, q.positive, q.scale, scale);
      a.negative = mergeBuckets(a.negative, a.scale, q.negative, q.scale, scale);
      a.scale = scale;
      a.zeroCount += q.zeroCount;
      a.zeroThreshold = Math.max(a.zeroThreshold ?? 0, q.zeroThreshold ?? 0) || a.zeroThreshold;
      addSummaryFields(a, q);
      return a;
    }
    default:
      return undefined;
  }
}

function startOverflow(m: Metric, p: DataPoint): DataPoint {
  const attributes = overflowAttributes();
  switch (m.type) {
    case 'histogram': {
      const q = p as HistogramPoint;
      return { ...q, attributes, explicitBounds: q.explicitBounds.slice(), bucketCounts: q.bucketCounts.slice() };
    }
    case 'exponential_histogram': {
      const q = p as ExpHistogramPoint;
      return {
        ...q,
        attributes,
        positive: { offset: q.positive.offset, bucketCounts: q.positive.bucketCounts.slice() },
        negative: { offset: q.negative.offset, bucketCounts: q.negative.bucketCounts.slice() },
      };
    }
    default:
      return { ...(p as NumberPoint), attributes };
  }
}

/** The earlier of two start times, where 0 means unknown. */
function earliestStart(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addSummaryFields(a: HistogramPoint | ExpHistogramPoint, q: HistogramPoint | ExpHistogramPoint): void {
  a.count += q.count;
  a.sum = a.sum !== undefined && q.sum !== undefined ? a.sum + q.sum : undefined;
  a.min = a.min !== undefined && q.min !== undefined ? Math.min(a.min, q.min) : undefined;
  a.max = a.max !== undefined && q.max !== undefined ? Math.max(a.max, q.max) : undefined;
  a.timeUnixNano = Math.max(a.timeUnixNano, q.timeUnixNano);
}

/** Add two exponential bucket ranges after lowering both to `scale` (index i at scale s falls in i >> (s − scale)). */
function mergeBuckets(a: ExpBuckets, aScale: number, b: ExpBuckets, bScale: number, scale: number): ExpBuckets {
  const counts = new Map<number, number>();
  const add = (bk: ExpBuckets, s: number) => {
    const shift = s - scale;
    for (let i = 0; i < bk.bucketCounts.length; i++) {
      const c = bk.bucketCounts[i];
      if (c === 0) continue;
      const idx = (bk.offset + i) >> shift;
      counts.set(idx, (counts.get(idx) ?? 0) + c);
    }
  };
  add(a, aScale);
  add(b, bScale);
  if (counts.size === 0) return { offset: 0, bucketCounts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (const k of counts.keys()) {
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  const bucketCounts = new Array<number>(hi - lo + 1).fill(0);
  for (const [k, c] of counts) bucketCounts[k - lo] = c;
  return { offset: lo, bucketCounts };
}
