/**
 * Cumulative → delta conversion for exporters whose backends store deltas
 * (Datadog counts, CloudWatch sums), the way the Datadog Agent's OTLP mapper
 * does it: the first point of a series is kept as state and not emitted (there
 * is nothing to subtract it from); a reset (the start time moved, a value went
 * down, or the bucket layout changed) starts over from the new point; a point
 * older than the state is dropped.
 *
 * Values are vectors so one entry serves sums (one value), summaries (count,
 * sum) and histograms (count, sum, buckets…) alike.
 */
import type { ExpHistogramMetric, HistogramMetric, Metric, MetricsBatch, SumMetric, SummaryMetric } from '../../model/metrics.ts';
import { attributesKey } from '../../model/metrics.ts';

export type DeltaResult =
  | { kind: 'delta'; deltas: number[]; prevTimeUnixNano: number }
  /** First point of a series, or a reset: kept as the new baseline, nothing to emit. */
  | { kind: 'baseline' }
  /** Older than (or as old as) what the state already holds: emitting it would double count. */
  | { kind: 'out_of_order' };

interface Entry {
  start: number;
  time: number;
  values: number[];
  seenAt: number;
}

const BASELINE: DeltaResult = { kind: 'baseline' };
const OUT_OF_ORDER: DeltaResult = { kind: 'out_of_order' };

export class CumulativeToDelta {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private lastSweep = Date.now();

  /** `ttlMs`: series not seen for this long are forgotten (a later point is then a new baseline). */
  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * `values[0..monotonicCount)` must never decrease (a decrease means a reset);
   * the rest (e.g. a histogram's sum of possibly negative observations) may.
   */
  next(key: string, startUnixNano: number, timeUnixNano: number, values: number[], monotonicCount = values.length): DeltaResult {
    const now = Date.now();
    if (now - this.lastSweep > this.ttlMs) this.sweep(now);
    const prev = this.entries.get(key);
    if (prev === undefined) {
      this.entries.set(key, { start: startUnixNano, time: timeUnixNano, values: values.slice(), seenAt: now });
      return BASELINE;
    }
    if (timeUnixNano <= prev.time) return OUT_OF_ORDER;
    let reset = values.length !== prev.values.length || (startUnixNano !== 0 && prev.start !== 0 && startUnixNano !== prev.start);
    if (!reset) {
      for (let i = 0; i < monotonicCount; i++) {
        if (values[i] < prev.values[i]) {
          reset = true;
          break;
        }
      }
    }
    const prevTime = prev.time;
    const old = prev.values;
    prev.start = startUnixNano;
    prev.time = timeUnixNano;
    prev.values = values.slice();
    prev.seenAt = now;
    if (reset) return BASELINE;
    const deltas = new Array<number>(values.length);
    for (let i = 0; i < values.length; i++) deltas[i] = values[i] - old[i];
    return { kind: 'delta', deltas, prevTimeUnixNano: prevTime };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, e] of this.entries) if (now - e.seenAt > this.ttlMs) this.entries.delete(k);
  }
}

/**
 * Private data-point flag bits set by `DeltaConverter` (OTLP defines only bit
 * 0; these never leave the exporter that set them). They survive the disk
 * queue's OTLP encoding, so a batch reloaded after a restart still says which
 * points were baselines.
 */
/** The point only seeded the cumulative state: nothing to send; it is delivered through the next delta. */
export const FLAG_BASELINE = 1 << 30;
/** The point was older than the state: sending it would double count. */
export const FLAG_OUT_OF_ORDER = 1 << 29;
/** A summary whose count and sum were turned into deltas. */
export const FLAG_DELTA_SUMMARY = 1 << 28;

/** What `flagRefusal` says of a baseline: not an error, nothing to send. */
export const BASELINE_MARK = 'baseline';

/** Why a point's flags (OTLP's no-recorded-value bit, or those above) keep it from being sent; undefined when they do not. */
export function flagRefusal(flags: number | undefined): string | undefined {
  if (!flags) return undefined;
  if ((flags & 1) === 1) return 'no_recorded_value';
  if ((flags & FLAG_OUT_OF_ORDER) !== 0) return 'out_of_order';
  if ((flags & FLAG_BASELINE) !== 0) return BASELINE_MARK;
  return undefined;
}


/**
 * Turns a batch's cumulative monotonic sums, cumulative histograms and
 * summaries into deltas, once per batch at accept time (the helper's
 * `prepare`), so retries and concurrent queue consumers never advance the
 * state twice or out of order. Returns a new batch sharing every untouched
 * metric with the input (exporters must not mutate what fan-out shares).
 * Converted points start at the previous point's time, so `time - start` is
 * the interval the delta covers.
 */
export class DeltaConverter {
  private readonly state: CumulativeToDelta;

  constructor(ttlMs: number) {
    this.state = new CumulativeToDelta(ttlMs);
  }

  get series(): number {
    return this.state.size;
  }

  convert(batch: MetricsBatch): MetricsBatch {
    let changed = false;
    const resourceMetrics = batch.resourceMetrics.map((rm) => {
      let resKey: string | undefined;
      const scopeMetrics = rm.scopeMetrics.map((sm) => {
        let touched = false;
        const metrics = sm.metrics.map((m) => {
          if (!needsConversion(m)) return m;
          touched = true;
          resKey ??= attributesKey(rm.resource.attributes);
          return this.convertMetric(m, resKey);
        });
        if (!touched) return sm;
        changed = true;
        return { ...sm, metrics };
      });
      return changed ? { ...rm, scopeMetrics } : rm;
    });
    return changed ? { resourceMetrics } : batch;
  }

  private convertMetric(m: SumMetric | HistogramMetric | ExpHistogramMetric | SummaryMetric, resKey: string): Metric {
    const prefix = m.type + '\u0000' + m.name + '\u0000' + resKey + '\u0000';
    switch (m.type) {
      case 'sum':
        return {
          ...m,
          temporality: 'delta',
          points: m.points.map((p) => {
            const r = this.state.next(prefix + attributesKey(p.attributes), p.startTimeUnixNano, p.timeUnixNano, [p.value]);
            if (r.kind !== 'delta') return { ...p, flags: flagFor(r, p.flags) };
            return { ...p, value: r.deltas[0], startTimeUnixNano: r.prevTimeUnixNano };
          }),
        };
      case 'histogram':
        return {
          ...m,
          temporality: 'delta',
          points: m.points.map((p) => {
            const key = prefix + attributesKey(p.attributes) + '\u0004' + p.explicitBounds.join(',');
            const nb = p.bucketCounts.length;
            const r = this.state.next(key, p.startTimeUnixNano, p.timeUnixNano, [p.count, ...p.bucketCounts, p.sum ?? 0], 1 + nb);
            if (r.kind !== 'delta') return { ...p, flags: flagFor(r, p.flags) };
            const d = r.deltas;
            // Lifetime min/max say nothing about the interval: left out.
            return { ...p, count: d[0], bucketCounts: d.slice(1, 1 + nb), sum: p.sum === undefined ? undefined : d[1 + nb], min: undefined, max: undefined, startTimeUnixNano: r.prevTimeUnixNano };
          }),
        };
      case 'exponential_histogram':
        return {
          ...m,
          temporality: 'delta',
          points: m.points.map((p) => {
            // The bucket layout is part of the key: a rescale or a moved offset starts a new baseline.
            const layout = `\u0004${p.scale}:${p.positive.offset}:${p.positive.bucketCounts.length}:${p.negative.offset}:${p.negative.bucketCounts.length}`;
            const np = p.positive.bucketCounts.length;
            const values = [p.count, p.zeroCount, ...p.positive.bucketCounts, ...p.negative.bucketCounts, p.sum ?? 0];
            const r = this.state.next(prefix + attributesKey(p.attributes) + layout, p.startTimeUnixNano, p.timeUnixNano, values, values.length - 1);
            if (r.kind !== 'delta') return { ...p, flags: flagFor(r, p.flags) };
            const d = r.deltas;
            return {
              ...p,
              count: d[0],
              zeroCount: d[1],
              positive: { offset: p.positive.offset, bucketCounts: d.slice(2, 2 + np) },
              negative: { offset: p.negative.offset, bucketCounts: d.slice(2 + np, d.length - 1) },
              sum: p.sum === undefined ? undefined : d[d.length - 1],
              min: undefined,
              max: undefined,
              startTimeUnixNano: r.prevTimeUnixNano,
            };
          }),
        };
      case 'summary':
        return {
          ...m,
          points: m.points.map((p) => {
            if (((p.flags ?? 0) & FLAG_DELTA_SUMMARY) !== 0) return p;
            const r = this.state.next(prefix + attributesKey(p.attributes), p.startTimeUnixNano, p.timeUnixNano, [p.count, p.sum], 1);
            if (r.kind !== 'delta') return { ...p, flags: flagFor(r, p.flags) };
            return { ...p, count: r.deltas[0], sum: r.deltas[1], startTimeUnixNano: r.prevTimeUnixNano, flags: (p.flags ?? 0) | FLAG_DELTA_SUMMARY };
          }),
        };
    }
  }
}

function needsConversion(m: Metric): m is SumMetric | HistogramMetric | ExpHistogramMetric | SummaryMetric {
  if (m.type === 'sum') return m.temporality === 'cumulative' && m.monotonic;
  if (m.type === 'histogram' || m.type === 'exponential_histogram') return m.temporality === 'cumulative';
  return m.type === 'summary';
}

function flagFor(r: DeltaResult, flags = 0): number {
  return flags | (r.kind === 'baseline' ? FLAG_BASELINE : FLAG_OUT_OF_ORDER);
}
