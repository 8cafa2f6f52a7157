/** Batch builders for the processors' unit tests and benchmarks. */
import type { Attributes, HistogramPoint, Metric, MetricsBatch, NumberPoint, Temporality } from '../../model/metrics.ts';

const T0 = 1_700_000_000_000_000_000;

export function numberPoint(value: number, attributes: Attributes = {}, isInt = false): NumberPoint {
  return { attributes, startTimeUnixNano: T0, timeUnixNano: T0 + 10e9, value, isInt };
}

export function histogramPoint(bucketCounts: number[], explicitBounds: number[], sum: number, attributes: Attributes = {}): HistogramPoint {
  return {
    attributes,
    startTimeUnixNano: T0,
    timeUnixNano: T0 + 10e9,
    count: bucketCounts.reduce((a, b) => a + b, 0),
    sum,
    explicitBounds,
    bucketCounts,
  };
}

export function gauge(name: string, points: NumberPoint[]): Metric {
  return { type: 'gauge', name, description: '', unit: '', points };
}

export function sum(name: string, points: NumberPoint[], temporality: Temporality = 'delta', monotonic = true): Metric {
  return { type: 'sum', name, description: '', unit: '', temporality, monotonic, points };
}

export function histogram(name: string, points: HistogramPoint[], temporality: Temporality = 'delta'): Metric {
  return { type: 'histogram', name, description: '', unit: '', temporality, points };
}

export function batchOf(metrics: Metric[], resource: Attributes = {}): MetricsBatch {
  return {
    resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 'test', version: '', attributes: {} }, metrics }] }],
  };
}

/** Every metric of a batch, flattened. */
export function metricsOf(batch: MetricsBatch | undefined): Metric[] {
  if (!batch) return [];
  return batch.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
}

/** A drop function that records totals per reason. */
export function recordingDrop(): { drop: (reason: string, n: number) => void; dropped: Record<string, number> } {
  const dropped: Record<string, number> = {};
  // Like the helper's drop: zero counts record nothing.
  return { dropped, drop: (reason, n) => void (n > 0 && (dropped[reason] = (dropped[reason] ?? 0) + n)) };
}
