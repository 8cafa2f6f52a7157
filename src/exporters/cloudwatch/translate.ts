/**
 * Model → CloudWatch `MetricDatum`s (the data is already through
 * `DeltaConverter`, so sums and histograms arrive as deltas):
 * - gauges and non-monotonic cumulative sums → `Value`;
 * - delta sums → `Value` (unit `Count` unless the metric has one);
 * - histograms → `Values`/`Counts` from bucket midpoints, merged to 150
 *   values at most, or `StatisticValues`;
 * - summaries → `StatisticValues` (min/max from the 0 and 1 quantiles when present).
 *
 * Dimensions follow the `dimensions` rules (at most 30); rollups add datums
 * with fewer dimensions. Points CloudWatch would refuse (NaN/±Inf, values
 * out of its range, timestamps older than two weeks or over two hours ahead)
 * are dropped and returned by reason.
 */
import type { Attributes, AttributeValue, ExpHistogramPoint, HistogramPoint, Metric, MetricsBatch } from '../../model/metrics.ts';
import { explicitRanges, exponentialRanges, type BucketRange } from '../common/buckets.ts';
import { attributeText } from '../common/attributes.ts';
import { BASELINE_MARK, FLAG_DELTA_SUMMARY, flagRefusal } from '../common/delta.ts';
import { cloudWatchUnit } from './units.ts';
import type { Rollup } from './config.ts';

export interface CwDimension {
  Name: string;
  Value: string;
}

export interface CwStatisticSet {
  SampleCount: number;
  Sum: number;
  Minimum: number;
  Maximum: number;
}

/** Field names and shapes are the SDK's `MetricDatum`, so datums go to the client as they are. */
export interface CwDatum {
  MetricName: string;
  Dimensions: CwDimension[];
  Timestamp: Date;
  Unit: string;
  StorageResolution: number;
  Value?: number;
  Values?: number[];
  Counts?: number[];
  StatisticValues?: CwStatisticSet;
}

export interface CwTranslation {
  datums: CwDatum[];
  /** Input points each datum accounts for (1 for the first datum of a point, else 0). */
  src: number[];
  dropped: Map<string, number>;
  /** Points whose attributes exceeded 30 dimensions (the rest were cut). */
  truncatedDimensions: number;
}

export interface CwTranslatorOptions {
  storageResolution: number;
  histogramMode: 'values' | 'statistic_set';
  include?: string[];
  exclude: string[];
  resourceAttributes: string[];
  rollup: Rollup;
}

export const MAX_DIMENSIONS = 30;
export const MAX_VALUES = 150;
const MAX_MAGNITUDE = 1.174271e108;
const MIN_MAGNITUDE = 8.51592e-109;
const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
const MAX_AHEAD_MS = 2 * 3600 * 1000;

export class CloudWatchTranslator {
  private readonly opts: CwTranslatorOptions;
  private readonly exclude: Set<string>;

  constructor(opts: CwTranslatorOptions) {
    this.opts = opts;
    this.exclude = new Set(opts.exclude);
  }

  translate(batch: MetricsBatch, nowMs = Date.now()): CwTranslation {
    const out: CwTranslation = { datums: [], src: [], dropped: new Map(), truncatedDimensions: 0 };
    for (const rm of batch.resourceMetrics) {
      const res = rm.resource.attributes;
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) this.translateMetric(m, res, nowMs, out);
    }
    return out;
  }

  private translateMetric(m: Metric, res: Attributes, nowMs: number, out: CwTranslation): void {
    const res_ = this.opts.storageResolution;
    switch (m.type) {
      case 'gauge':
      case 'sum': {
        const unit = cloudWatchUnit(m.unit, m.type === 'sum' && m.temporality === 'delta');
        for (const p of m.points) {
          const ms = p.timeUnixNano / 1e6;
          const bad = refusal(ms, nowMs, p.flags);
          if (bad !== undefined) {
            if (bad !== BASELINE_MARK) drop(out, bad);
            continue;
          }
          const v = checkValue(p.value);
          if (typeof v === 'string') {
            drop(out, v);
            continue;
          }
          this.push(out, p.attributes, res, { MetricName: m.name, Dimensions: [], Timestamp: new Date(ms), Unit: unit, StorageResolution: res_, Value: v });
        }
        return;
      }
      case 'histogram':
      case 'exponential_histogram': {
        const unit = cloudWatchUnit(m.unit, false);
        for (const p of m.points) {
          const ms = p.timeUnixNano / 1e6;
          const bad = refusal(ms, nowMs, p.flags) ?? (Number.isFinite(p.count) && (p.sum === undefined || Number.isFinite(p.sum)) ? undefined : 'non_finite');
          if (bad !== undefined) {
            if (bad !== BASELINE_MARK) drop(out, bad);
            continue;
          }
          // An interval without observations has nothing to plot; it is delivered as "nothing happened".
          if (!(p.count > 0)) continue;
          const min = finite(p.min);
          const max = finite(p.max);
          const ranges = m.type === 'histogram' ? explicitRanges((p as HistogramPoint).explicitBounds, (p as HistogramPoint).bucketCounts, min, max) : exponentialRanges(p as ExpHistogramPoint);
          const datum: CwDatum = { MetricName: m.name, Dimensions: [], Timestamp: new Date(ms), Unit: unit, StorageResolution: res_ };
          if (this.opts.histogramMode === 'values' && ranges.length > 0) {
            const { values, counts } = valuesAndCounts(ranges);
            if (values.some((v) => typeof checkValue(v) === 'string')) {
              drop(out, 'out_of_range');
              continue;
            }
            datum.Values = values.map((v) => checkValue(v) as number);
            datum.Counts = counts;
          } else {
            const sum = p.sum ?? ranges.reduce((s, r) => s + ((r.lower + r.upper) / 2) * r.count, 0);
            const stats = statisticSet(p.count, sum, min ?? ranges[0]?.lower ?? sum / p.count, max ?? ranges[ranges.length - 1]?.upper ?? sum / p.count);
            if (stats === undefined) {
              drop(out, 'out_of_range');
              continue;
            }
            datum.StatisticValues = stats;
          }
          this.push(out, p.attributes, res, datum);
        }
        return;
      }
      case 'summary': {
        const unit = cloudWatchUnit(m.unit, false);
        for (const p of m.points) {
          const ms = p.timeUnixNano / 1e6;
          const bad = refusal(ms, nowMs, p.flags) ?? (Number.isFinite(p.count) && Number.isFinite(p.sum) ? undefined : 'non_finite');
          if (bad !== undefined) {
            if (bad !== BASELINE_MARK) drop(out, bad);
            continue;
          }
          if (((p.flags ?? 0) & FLAG_DELTA_SUMMARY) === 0 || !(p.count > 0)) continue;
          const avg = p.sum / p.count;
          const q0 = p.quantiles.find((q) => q.quantile === 0)?.value;
          const q1 = p.quantiles.find((q) => q.quantile === 1)?.value;
          const stats = statisticSet(p.count, p.sum, finite(q0) ?? avg, finite(q1) ?? avg);
          if (stats === undefined) {
            drop(out, 'out_of_range');
            continue;
          }
          this.push(out, p.attributes, res, { MetricName: m.name, Dimensions: [], Timestamp: new Date(ms), Unit: unit, StorageResolution: res_, StatisticValues: stats });
        }
        return;
      }
    }
  }

  /** Adds the datum with its dimensions, and its rollups. */
  private push(out: CwTranslation, attrs: Attributes, res: Attributes, datum: CwDatum): void {
    const dims = this.dimensions(attrs, res, out);
    datum.Dimensions = dims;
    out.datums.push(datum);
    out.src.push(1);
    const rollup = this.opts.rollup;
    if (rollup === 'NoDimensionRollup') return;
    if (rollup === 'ZeroAndSingleDimensionRollup' && dims.length > 0) {
      out.datums.push({ ...datum, Dimensions: [] });
      out.src.push(0);
    }
    if (dims.length > 1) {
      for (const d of dims) {
        out.datums.push({ ...datum, Dimensions: [d] });
        out.src.push(0);
      }
    }
  }

  private dimensions(attrs: Attributes, res: Attributes, out: CwTranslation): CwDimension[] {
    const dims: CwDimension[] = [];
    const include = this.opts.include;
    if (include !== undefined) {
      for (const key of include) addDimension(dims, key, key in attrs ? attrs[key] : res[key]);
    } else {
      for (const key in attrs) if (!this.exclude.has(key)) addDimension(dims, key, attrs[key]);
    }
    for (const key of this.opts.resourceAttributes) if (!dims.some((d) => d.Name === key)) addDimension(dims, key, res[key]);
    if (dims.length > 1) dims.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    if (dims.length > MAX_DIMENSIONS) {
      out.truncatedDimensions++;
      dims.length = MAX_DIMENSIONS;
    }
    return dims;
  }
}

/** CloudWatch refuses empty names/values and caps them at 255/1024 characters. */
function addDimension(dims: CwDimension[], key: string, v: AttributeValue | undefined): void {
  if (v === undefined || v === null || key === '') return;
  let value = attributeText(v);
  if (value === '') return;
  if (value.length > 1024) value = value.slice(0, 1024);
  dims.push({ Name: key.length > 255 ? key.slice(0, 255) : key, Value: value });
}

/**
 * One value per populated bucket (its midpoint), weighted by its count. Over
 * 150 buckets, neighbours are merged into count-weighted means; equal values
 * are merged too (CloudWatch wants distinct values).
 */
export function valuesAndCounts(ranges: BucketRange[]): { values: number[]; counts: number[] } {
  const group = Math.ceil(ranges.length / MAX_VALUES);
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < ranges.length; i += group) {
    let n = 0;
    let weighted = 0;
    for (let j = i; j < Math.min(ranges.length, i + group); j++) {
      const r = ranges[j];
      n += r.count;
      weighted += ((r.lower + r.upper) / 2) * r.count;
    }
    const v = weighted / n;
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1] += n;
    else {
      values.push(v);
      counts.push(n);
    }
  }
  return { values, counts };
}

function statisticSet(count: number, sum: number, min: number, max: number): CwStatisticSet | undefined {
  const s = checkValue(sum);
  const lo = checkValue(Math.min(min, max));
  const hi = checkValue(Math.max(min, max));
  if (typeof s === 'string' || typeof lo === 'string' || typeof hi === 'string') return undefined;
  return { SampleCount: count, Sum: s, Minimum: lo, Maximum: hi };
}

/** A value CloudWatch takes, or the reason it would refuse it; magnitudes below its smallest are sent as 0. */
function checkValue(v: number): number | string {
  if (!Number.isFinite(v)) return 'non_finite';
  const a = Math.abs(v);
  if (a > MAX_MAGNITUDE) return 'out_of_range';
  if (a !== 0 && a < MIN_MAGNITUDE) return 0;
  return v;
}

function finite(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

function refusal(ms: number, nowMs: number, flags: number | undefined): string | undefined {
  const flagged = flagRefusal(flags);
  if (flagged !== undefined) return flagged;
  if (ms < nowMs - MAX_AGE_MS) return 'too_old';
  if (ms > nowMs + MAX_AHEAD_MS) return 'too_far_ahead';
  return undefined;
}

function drop(out: CwTranslation, reason: string): void {
  out.dropped.set(reason, (out.dropped.get(reason) ?? 0) + 1);
}
