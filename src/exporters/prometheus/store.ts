/**
 * The exporter's state between scrapes: metric families by Prometheus name,
 * each holding its series by rendered label body.
 *
 * Temporality (Prometheus only knows cumulative):
 * - delta sums (monotonic or not) and delta histograms are accumulated per
 *   series; the cumulative start is the first delta's start. A delta
 *   histogram whose bucket layout changed restarts the series from that point
 *   (a visible reset);
 * - cumulative points replace the previous value (a value that went down is
 *   a reset Prometheus sees as such); gauges and summaries keep the last value;
 * - a non-delta point older than the one held is refused as `out_of_order`.
 *
 * Series are identified by their final labels, so series from resources that
 * yield the same labels are one series (as they would be in Prometheus).
 * Series not updated for `metric_expiration` are removed by `expire`.
 */
import { toBaseUnit, scaleValue } from './units.ts';
import type { ExpHistogramMetric, HistogramMetric, Metric, MetricsBatch, NumberPoint, SummaryMetric } from '../../model/metrics.ts';
import { expStateFromPoint, expToClassic, mergeExpState, type ExpState } from './exphistogram.ts';
import { targetInfoBody } from './labels.ts';
import { LabelCache, type ContextLabels } from './label-cache.ts';
import { metricName, type PromKind } from './naming.ts';
import { sameBounds } from '../common/buckets.ts';

export interface SeriesBase {
  /** Rendered label body (`a="1",b="2"`), also the series key. */
  readonly labels: string;
  /** Wall-clock ms of the last update (expiration). */
  updatedAt: number;
  /** Point time (ns) of the last update. */
  timeNs: number;
  /** Start of the cumulative series (ns), 0 when unknown. */
  startNs: number;
  /** This series' exposition lines, encoded, for the variant `cacheKey`; cleared on every update. */
  cache?: Buffer;
  cacheKey?: number;
}

export interface NumberSeries extends SeriesBase {
  value: number;
}

export interface HistogramSeries extends SeriesBase {
  count: number;
  sum: number;
  /** Ascending upper bounds, without +Inf. */
  bounds: number[];
  /** Cumulative counts per bound. */
  cumulative: number[];
  /** Non-cumulative explicit bucket counts, kept for delta accumulation. */
  explicitCounts?: number[];
  /** Reduced exponential state, kept for delta accumulation. */
  exp?: ExpState;
  /** Rendered `le` values for text 0.0.4 and OpenMetrics; rebuilt when bounds change. */
  leText?: string[];
  leOpenMetrics?: string[];
}

export interface SummarySeries extends SeriesBase {
  count: number;
  sum: number;
  quantiles: Array<{ quantile: number; value: number }>;
}

export type Series = NumberSeries | HistogramSeries | SummarySeries;

export interface Family {
  name: string;
  kind: PromKind;
  help: string;
  series: Map<string, Series>;
  /** HELP/TYPE lines, encoded, for the variant `headerKey`. */
  header?: Buffer;
  headerKey?: number;
}

export interface StoreOptions {
  namespace: string;
  constLabels: Record<string, string>;
  resourceToTelemetry: boolean;
  addMetricSuffixes: boolean;
  /** Scale non-base units to seconds/bytes (see units.ts). Default false here; the exporter's config defaults it on. */
  convertToBaseUnits?: boolean;
}

export interface IngestResult {
  rejected: number;
  reason?: string;
}

const NO_RECORDED_VALUE = 1;

export class SeriesStore {
  readonly families = new Map<string, Family>();
  /** target_info series by label body → last update (ms). */
  readonly targetInfo = new Map<string, number>();
  private readonly opts: StoreOptions;
  private readonly labels: LabelCache;

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.labels = new LabelCache(opts.resourceToTelemetry, Object.entries(opts.constLabels));
  }

  /** Number of series held (target_info included). */
  get size(): number {
    let n = this.targetInfo.size;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }

  ingest(batch: MetricsBatch, nowMs: number): IngestResult {
    const result: IngestResult = { rejected: 0 };
    for (const rm of batch.resourceMetrics) {
      const info = targetInfoBody(rm.resource);
      if (info !== undefined) this.targetInfo.set(info, nowMs);
      for (const sm of rm.scopeMetrics) {
        const ctx = this.labels.context(rm.resource, sm.scope);
        for (const m of sm.metrics) this.ingestMetric(m, ctx, nowMs, result);
      }
    }
    return result;
  }

  /** Remove series (and emptied families) not updated since `nowMs - maxAgeMs`. */
  expire(nowMs: number, maxAgeMs: number): number {
    const cutoff = nowMs - maxAgeMs;
    let removed = 0;
    for (const [name, f] of this.families) {
      for (const [key, s] of f.series) {
        if (s.updatedAt < cutoff) {
          f.series.delete(key);
          removed++;
        }
      }
      if (f.series.size === 0) this.families.delete(name);
    }
    for (const [key, at] of this.targetInfo) {
      if (at < cutoff) {
        this.targetInfo.delete(key);
        removed++;
      }
    }
    return removed;
  }

  private family(m: Metric, kind: PromKind, monotonic: boolean, result: IngestResult): Family | undefined {
    const name = metricName(m.name, m.unit, kind, monotonic, this.opts.namespace, this.opts.addMetricSuffixes);
    if (name === '' || name === 'target_info') {
      reject(result, m.points.length, 'invalid_name');
      return undefined;
    }
    let f = this.families.get(name);
    if (!f) {
      // HELP is required by linters; the OTel name is the most useful fallback.
      f = { name, kind, help: m.description !== '' ? m.description : m.name, series: new Map() };
      this.families.set(name, f);
    } else if (f.kind !== kind) {
      // One name, two types cannot be exposed; the family in place wins until it expires.
      reject(result, m.points.length, 'type_conflict');
      return undefined;
    }
    return f;
  }

  private ingestMetric(m: Metric, ctx: ContextLabels, nowMs: number, result: IngestResult): void {
    if (m.points.length === 0) return;
    const base = this.opts.convertToBaseUnits ? toBaseUnit(m.unit) : undefined;
    if (base) {
      // Exponential histograms keep their base-2 state unscaled; their classic bounds are scaled on conversion.
      if (m.type === 'exponential_histogram') return this.ingestExpHistogram({ ...m, unit: base.unit }, ctx, nowMs, result, base.factor);
      m = scaleMetric(m, base.unit, base.factor);
    }
    switch (m.type) {
      case 'gauge': {
        const f = this.family(m, 'gauge', false, result);
        if (f) this.ingestNumbers(f, m.points, false, ctx, nowMs, result);
        return;
      }
      case 'sum': {
        const f = this.family(m, m.monotonic ? 'counter' : 'gauge', m.monotonic, result);
        if (f) this.ingestNumbers(f, m.points, m.temporality === 'delta', ctx, nowMs, result);
        return;
      }
      case 'histogram':
        return this.ingestHistogram(m, ctx, nowMs, result);
      case 'exponential_histogram':
        return this.ingestExpHistogram(m, ctx, nowMs, result);
      case 'summary':
        return this.ingestSummary(m, ctx, nowMs, result);
    }
  }

  private ingestNumbers(f: Family, points: NumberPoint[], delta: boolean, ctx: ContextLabels, nowMs: number, result: IngestResult): void {
    for (const p of points) {
      if (p.flags !== undefined && (p.flags & NO_RECORDED_VALUE) !== 0) continue;
      const labels = ctx.body(p.attributes);
      const s = f.series.get(labels) as NumberSeries | undefined;
      if (!s) {
        f.series.set(labels, { labels, updatedAt: nowMs, timeNs: p.timeUnixNano, startNs: p.startTimeUnixNano, value: p.value });
        continue;
      }
      if (delta) {
        s.value += p.value;
        if (p.startTimeUnixNano > 0 && (s.startNs === 0 || p.startTimeUnixNano < s.startNs)) s.startNs = p.startTimeUnixNano;
        if (p.timeUnixNano > s.timeNs) s.timeNs = p.timeUnixNano;
      } else {
        if (p.timeUnixNano < s.timeNs) {
          reject(result, 1, 'out_of_order');
          continue;
        }
        s.value = p.value;
        s.timeNs = p.timeUnixNano;
        s.startNs = p.startTimeUnixNano;
      }
      s.updatedAt = nowMs;
      s.cache = undefined;
    }
  }

  private ingestHistogram(m: HistogramMetric, ctx: ContextLabels, nowMs: number, result: IngestResult): void {
    const f = this.family(m, 'histogram', false, result);
    if (!f) return;
    const delta = m.temporality === 'delta';
    for (const p of m.points) {
      if (p.flags !== undefined && (p.flags & NO_RECORDED_VALUE) !== 0) continue;
      if (p.bucketCounts.length !== p.explicitBounds.length + 1 && !(p.explicitBounds.length === 0 && p.bucketCounts.length === 0)) {
        reject(result, 1, 'malformed');
        continue;
      }
      const labels = ctx.body(p.attributes, 'le');
      const s = f.series.get(labels) as HistogramSeries | undefined;
      const bounds = p.explicitBounds;
      if (s && delta && s.explicitCounts && sameBounds(s.bounds, bounds)) {
        for (let i = 0; i < p.bucketCounts.length; i++) s.explicitCounts[i] += p.bucketCounts[i];
        s.count += p.count;
        s.sum += p.sum ?? 0;
        s.cumulative = cumulate(s.explicitCounts, s.count);
        if (p.startTimeUnixNano > 0 && (s.startNs === 0 || p.startTimeUnixNano < s.startNs)) s.startNs = p.startTimeUnixNano;
        if (p.timeUnixNano > s.timeNs) s.timeNs = p.timeUnixNano;
        s.updatedAt = nowMs;
        s.cache = undefined;
        continue;
      }
      if (s && !delta && p.timeUnixNano < s.timeNs) {
        reject(result, 1, 'out_of_order');
        continue;
      }
      // First point, cumulative replacement, or a delta with a new bucket layout (a reset).
      const counts = p.bucketCounts.slice();
      const fresh: HistogramSeries = {
        labels,
        updatedAt: nowMs,
        timeNs: p.timeUnixNano,
        startNs: p.startTimeUnixNano,
        count: p.count,
        sum: p.sum ?? 0,
        bounds: bounds.slice(),
        cumulative: cumulate(counts, p.count),
        explicitCounts: delta ? counts : undefined,
      };
      if (s && sameBounds(s.bounds, bounds)) {
        fresh.leText = s.leText;
        fresh.leOpenMetrics = s.leOpenMetrics;
      }
      f.series.set(labels, fresh);
    }
  }

  private ingestExpHistogram(m: ExpHistogramMetric, ctx: ContextLabels, nowMs: number, result: IngestResult, unitFactor = 1): void {
    const f = this.family(m, 'histogram', false, result);
    if (!f) return;
    const delta = m.temporality === 'delta';
    for (const p of m.points) {
      if (p.flags !== undefined && (p.flags & NO_RECORDED_VALUE) !== 0) continue;
      const labels = ctx.body(p.attributes, 'le');
      const s = f.series.get(labels) as HistogramSeries | undefined;
      if (s && !delta && p.timeUnixNano < s.timeNs) {
        reject(result, 1, 'out_of_order');
        continue;
      }
      const state = expStateFromPoint(p);
      let series: HistogramSeries;
      if (s && delta && s.exp) {
        mergeExpState(s.exp, state);
        series = s;
        if (p.startTimeUnixNano > 0 && (s.startNs === 0 || p.startTimeUnixNano < s.startNs)) s.startNs = p.startTimeUnixNano;
        if (p.timeUnixNano > s.timeNs) s.timeNs = p.timeUnixNano;
        s.updatedAt = nowMs;
      } else {
        series = { labels, updatedAt: nowMs, timeNs: p.timeUnixNano, startNs: p.startTimeUnixNano, count: 0, sum: 0, bounds: [], cumulative: [], exp: state };
        f.series.set(labels, series);
      }
      const exp = series.exp!;
      const classic = expToClassic(exp);
      const bounds = unitFactor === 1 ? classic.bounds : classic.bounds.map((b) => scaleValue(b, unitFactor));
      const cumulative = classic.cumulative;
      if (s && sameBounds(s.bounds, bounds)) {
        series.leText = s.leText;
        series.leOpenMetrics = s.leOpenMetrics;
      } else {
        series.leText = undefined;
        series.leOpenMetrics = undefined;
      }
      series.cache = undefined;
      series.bounds = bounds;
      series.cumulative = cumulative;
      series.count = exp.count;
      series.sum = scaleValue(exp.sum, unitFactor);
    }
  }

  private ingestSummary(m: SummaryMetric, ctx: ContextLabels, nowMs: number, result: IngestResult): void {
    const f = this.family(m, 'summary', false, result);
    if (!f) return;
    for (const p of m.points) {
      if (p.flags !== undefined && (p.flags & NO_RECORDED_VALUE) !== 0) continue;
      const labels = ctx.body(p.attributes, 'quantile');
      const s = f.series.get(labels);
      if (s && p.timeUnixNano < s.timeNs) {
        reject(result, 1, 'out_of_order');
        continue;
      }
      const quantiles = p.quantiles.map((q) => ({ quantile: q.quantile, value: q.value })).sort((a, b) => a.quantile - b.quantile);
      f.series.set(labels, { labels, updatedAt: nowMs, timeNs: p.timeUnixNano, startNs: p.startTimeUnixNano, count: p.count, sum: p.sum, quantiles });
    }
  }
}

/** A copy of `m` in `unit` with every value, bound and sum multiplied by `factor` (counts unchanged). */
function scaleMetric(m: Metric, unit: string, factor: number): Metric {
  const f = (v: number) => scaleValue(v, factor);
  switch (m.type) {
    case 'gauge':
    case 'sum':
      return { ...m, unit, points: m.points.map((p) => ({ ...p, value: f(p.value) })) };
    case 'histogram':
      return {
        ...m,
        unit,
        points: m.points.map((p) => ({
          ...p,
          explicitBounds: p.explicitBounds.map(f),
          sum: p.sum === undefined ? undefined : f(p.sum),
          min: p.min === undefined ? undefined : f(p.min),
          max: p.max === undefined ? undefined : f(p.max),
        })),
      };
    case 'summary':
      return { ...m, unit, points: m.points.map((p) => ({ ...p, sum: f(p.sum), quantiles: p.quantiles.map((q) => ({ quantile: q.quantile, value: f(q.value) })) })) };
    case 'exponential_histogram':
      return { ...m, unit };
  }
}

function reject(result: IngestResult, n: number, reason: string): void {
  result.rejected += n;
  result.reason ??= reason;
}

/** Per-bucket counts → cumulative counts per finite bound, capped at `count` so `+Inf` stays the largest. */
function cumulate(counts: number[], count: number): number[] {
  const out = new Array<number>(Math.max(0, counts.length - 1));
  let acc = 0;
  for (let i = 0; i < out.length; i++) {
    acc += counts[i];
    out[i] = acc < count ? acc : count;
  }
  return out;
}

