/**
 * One aggregated StatsD series (name + type + attribute set) for one
 * interval, and how it becomes a data point. A single class with every
 * instrument's fields keeps the hot path monomorphic: the aggregator switches
 * on `observer` instead of calling through several classes.
 */
import { ExpHistogram } from '../../model/exphisto.ts';
import type { Attributes, DataPoint } from '../../model/metrics.ts';

/** StatsD types, as sent. */
export const KIND_COUNTER = 0;
export const KIND_GAUGE = 1;
export const KIND_TIMING = 2;
export const KIND_HISTOGRAM = 3;
export const KIND_DISTRIBUTION = 4;
export const KIND_SET = 5;
export type Kind = 0 | 1 | 2 | 3 | 4 | 5;

export const KIND_NAMES = ['counter', 'gauge', 'timing', 'histogram', 'distribution', 'set'] as const;

/** How a series aggregates its samples. */
export const OBS_SUM = 0;
export const OBS_GAUGE = 1;
export const OBS_SET = 2;
export const OBS_EXP = 3;
export const OBS_EXPLICIT = 4;
export const OBS_SUMMARY = 5;
/** Timers/histograms mapped to `gauge`: last sample wins, no +/- delta semantics. */
export const OBS_LAST = 6;
export type Observer = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** Summaries keep raw samples up to this many per series per interval, then sample a reservoir. */
export const SUMMARY_MAX_SAMPLES = 8192;

export interface ObserverSettings {
  observer: Observer;
  /** Exponential histogram max size. */
  maxSize: number;
  /** Explicit bucket upper bounds. */
  bounds: number[];
  /** Summary quantiles, 0–1. */
  quantiles: number[];
}

export class Series {
  readonly key: string;
  readonly kind: Kind;
  readonly observer: Observer;
  readonly name: string;
  readonly attributes: Attributes;
  // Sum / gauge
  value = 0;
  hasValue = false;
  isInt = true;
  // Histogram-ish
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  set: Set<string> | null = null;
  exp: ExpHistogram | null = null;
  bounds: number[] | null = null;
  bucketCounts: Float64Array | null = null;
  samples: Float64Array | null = null;
  weights: Float64Array | null = null;
  nSamples = 0;
  /** Samples offered to the summary reservoir (for replacement probability). */
  seen = 0;
  /** Latest and earliest `|T` timestamps seen (ns), 0 when none. */
  timeNs = 0;
  firstTimeNs = 0;

  constructor(key: string, kind: Kind, name: string, attributes: Attributes, settings: ObserverSettings) {
    this.key = key;
    this.kind = kind;
    this.name = name;
    this.attributes = attributes;
    this.observer = settings.observer;
    switch (settings.observer) {
      case OBS_SET:
        this.set = new Set();
        break;
      case OBS_EXP:
        this.exp = new ExpHistogram(settings.maxSize);
        break;
      case OBS_EXPLICIT:
        this.bounds = settings.bounds;
        this.bucketCounts = new Float64Array(settings.bounds.length + 1);
        break;
      case OBS_SUMMARY:
        this.samples = new Float64Array(16);
        this.weights = new Float64Array(16);
        break;
    }
  }

  /** Record one histogram-ish sample with a weight of 1/sample-rate. */
  observe(v: number, weight: number): void {
    switch (this.observer) {
      case OBS_EXP:
        this.exp!.record(v, weight);
        return;
      case OBS_EXPLICIT:
        this.count += weight;
        this.sum += v * weight;
        if (v < this.min) this.min = v;
        if (v > this.max) this.max = v;
        this.bucketCounts![bucketFor(this.bounds!, v)] += weight;
        return;
      case OBS_SUMMARY:
        this.count += weight;
        this.sum += v * weight;
        this.addSample(v, weight);
        return;
      case OBS_LAST:
        this.value = v;
        this.hasValue = true;
        this.isInt = Number.isInteger(v);
        return;
    }
  }

  private addSample(v: number, weight: number): void {
    this.seen++;
    let i = this.nSamples;
    if (i >= SUMMARY_MAX_SAMPLES) {
      // Reservoir sampling keeps a uniform sample of a flood; count and sum stay exact.
      i = Math.floor(Math.random() * this.seen);
      if (i >= SUMMARY_MAX_SAMPLES) return;
    } else {
      if (i === this.samples!.length) {
        const s = new Float64Array(Math.min(SUMMARY_MAX_SAMPLES, i * 2));
        s.set(this.samples!);
        this.samples = s;
        const w = new Float64Array(s.length);
        w.set(this.weights!);
        this.weights = w;
      }
      this.nSamples++;
    }
    this.samples![i] = v;
    this.weights![i] = weight;
  }

  /** The interval's data point. */
  toPoint(startNs: number, nowNs: number, quantiles: number[]): DataPoint {
    const time = this.timeNs || nowNs;
    const start = this.firstTimeNs && this.firstTimeNs < startNs ? this.firstTimeNs : startNs;
    switch (this.observer) {
      case OBS_SUM:
        return { attributes: this.attributes, startTimeUnixNano: start, timeUnixNano: time, value: this.value, isInt: this.isInt };
      case OBS_GAUGE:
      case OBS_LAST:
        return { attributes: this.attributes, startTimeUnixNano: 0, timeUnixNano: time, value: this.value, isInt: this.isInt };
      case OBS_SET:
        return { attributes: this.attributes, startTimeUnixNano: 0, timeUnixNano: time, value: this.set!.size, isInt: true };
      case OBS_EXP:
        return this.exp!.toPoint(start, time, this.attributes);
      case OBS_EXPLICIT:
        return {
          attributes: this.attributes,
          startTimeUnixNano: start,
          timeUnixNano: time,
          count: this.count,
          sum: this.sum,
          min: this.count > 0 ? this.min : undefined,
          max: this.count > 0 ? this.max : undefined,
          explicitBounds: this.bounds!.slice(),
          bucketCounts: Array.from(this.bucketCounts!),
        };
      case OBS_SUMMARY:
        return {
          attributes: this.attributes,
          startTimeUnixNano: start,
          timeUnixNano: time,
          count: this.count,
          sum: this.sum,
          quantiles: weightedQuantiles(this.samples!.subarray(0, this.nSamples), this.weights!.subarray(0, this.nSamples), quantiles),
        };
    }
  }
}

/** Index of the bucket holding `v`: bucket i is (bounds[i-1], bounds[i]], the last one (bounds[n-1], +Inf). */
export function bucketFor(bounds: number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= bounds[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Quantiles of weighted samples: for q, the smallest sample whose cumulative
 * weight reaches q × total weight (q = 0 gives the minimum, q = 1 the maximum).
 */
export function weightedQuantiles(values: Float64Array, weights: Float64Array, quantiles: number[]): Array<{ quantile: number; value: number }> {
  const n = values.length;
  if (n === 0) return quantiles.map((q) => ({ quantile: q, value: 0 }));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  return quantiles.map((q) => {
    if (q <= 0) return { quantile: q, value: values[order[0]] };
    const target = q * total;
    let cum = 0;
    for (const i of order) {
      cum += weights[i];
      // A relative epsilon keeps 0.3 × 10 from missing a cumulative weight of 3 by an ulp.
      if (cum >= target * (1 - 1e-12)) return { quantile: q, value: values[i] };
    }
    return { quantile: q, value: values[order[n - 1]] };
  });
}
