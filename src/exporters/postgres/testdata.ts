/** Batch builders for the postgres exporter's tests and benchmark. */
import type { Attributes, Metric, MetricsBatch } from '../../model/metrics.ts';

export function batchOf(resource: Attributes, metrics: Metric[]): MetricsBatch {
  return { resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 'test', version: '1', attributes: {} }, metrics }] }] };
}

export function deltaSum(name: string, points: Array<{ attrs: Attributes; value: number; timeMs: number }>, unit = '1'): Metric {
  return {
    type: 'sum',
    name,
    description: '',
    unit,
    temporality: 'delta',
    monotonic: true,
    points: points.map((p) => ({ attributes: p.attrs, value: p.value, startTimeUnixNano: (p.timeMs - 10_000) * 1e6, timeUnixNano: p.timeMs * 1e6 })),
  };
}

export function gauge(name: string, points: Array<{ attrs: Attributes; value: number; timeMs: number }>): Metric {
  return {
    type: 'gauge',
    name,
    description: '',
    unit: 'By',
    points: points.map((p) => ({ attributes: p.attrs, value: p.value, startTimeUnixNano: 0, timeUnixNano: p.timeMs * 1e6 })),
  };
}

/** A delta explicit-bucket histogram point holding exactly `values`. */
export function histogramOf(name: string, bounds: number[], series: Array<{ attrs: Attributes; values: number[]; timeMs: number }>): Metric {
  return {
    type: 'histogram',
    name,
    description: '',
    unit: 'ms',
    temporality: 'delta',
    points: series.map((s) => {
      const counts = new Array<number>(bounds.length + 1).fill(0);
      for (const v of s.values) {
        let i = 0;
        while (i < bounds.length && v > bounds[i]) i++;
        counts[i]++;
      }
      return {
        attributes: s.attrs,
        startTimeUnixNano: (s.timeMs - 10_000) * 1e6,
        timeUnixNano: s.timeMs * 1e6,
        count: s.values.length,
        sum: s.values.reduce((a, b) => a + b, 0),
        min: Math.min(...s.values),
        max: Math.max(...s.values),
        explicitBounds: bounds,
        bucketCounts: counts,
      };
    }),
  };
}

/** The q-quantile of raw values, nearest-rank. */
export function exactQuantile(values: number[], q: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}
