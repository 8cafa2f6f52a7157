import { describe, expect, it } from 'vitest';
import { SeriesStore } from './store.ts';
import { serialize } from './serialize.ts';
import { toBaseUnit } from './units.ts';
import type { Metric, MetricsBatch } from '../../model/metrics.ts';

function batchOf(metrics: Metric[]): MetricsBatch {
  return { resourceMetrics: [{ resource: { attributes: {} }, scopeMetrics: [{ scope: { name: '', version: '', attributes: {} }, metrics }] }] };
}

function exposition(metrics: Metric[], convert: boolean): string {
  const store = new SeriesStore({ namespace: '', constLabels: {}, resourceToTelemetry: false, addMetricSuffixes: true, convertToBaseUnits: convert });
  store.ingest(batchOf(metrics), Date.now());
  return serialize(store, { format: 'text', sendTimestamps: false });
}

const latency: Metric = {
  name: 'http.latency',
  description: 'Latency.',
  unit: 'ms',
  type: 'histogram',
  temporality: 'cumulative',
  points: [{ attributes: {}, startTimeUnixNano: 1, timeUnixNano: 2, count: 3, sum: 75, explicitBounds: [10, 50], bucketCounts: [1, 1, 1] }],
};

describe('base unit conversion', () => {
  it('maps time and size units to seconds and bytes, keeping per-units', () => {
    expect(toBaseUnit('ms')).toEqual({ unit: 's', factor: 1e-3 });
    expect(toBaseUnit('KiBy/s')).toEqual({ unit: 'By/s', factor: 1024 });
    expect(toBaseUnit('s')).toBeUndefined();
    expect(toBaseUnit('{request}')).toBeUndefined();
  });

  it('exposes a millisecond histogram in seconds with scaled bounds and sum', () => {
    const text = exposition([latency], true);
    expect(text).toContain('http_latency_seconds_bucket{le="0.01"} 1');
    expect(text).toContain('http_latency_seconds_bucket{le="0.05"} 2');
    expect(text).toContain('http_latency_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('http_latency_seconds_sum 0.075');
  });

  it('keeps otelcol names and values when turned off', () => {
    const text = exposition([latency], false);
    expect(text).toContain('http_latency_milliseconds_bucket{le="10"} 1');
    expect(text).toContain('http_latency_milliseconds_sum 75');
  });

  it('scales gauges in KiBy to bytes', () => {
    const text = exposition([{ name: 'mem', description: 'm', unit: 'KiBy', type: 'gauge', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: 1, value: 2 }] }], true);
    expect(text).toContain('mem_bytes 2048');
  });
});
