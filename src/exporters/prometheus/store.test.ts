import { describe, expect, it } from 'vitest';
import type { ExpHistogramMetric, HistogramMetric } from '../../model/metrics.ts';
import { batchOf, counter, gauge, T0 } from './fixtures.ts';
import { serialize } from './serialize.ts';
import { SeriesStore } from './store.ts';

const SCOPE = { name: '', version: '' };
const RES = { 'service.name': 'api' };

function newStore() {
  return new SeriesStore({ namespace: '', constLabels: {}, resourceToTelemetry: false, addMetricSuffixes: true });
}
const text = (s: SeriesStore) => serialize(s, { format: 'text', sendTimestamps: false });
const S = 1e9; // one second in ns

function deltaHistogram(bounds: number[], counts: number[], start: number, time: number): HistogramMetric {
  const count = counts.reduce((a, b) => a + b, 0);
  return {
    type: 'histogram',
    name: 'lat',
    description: 'd',
    unit: 's',
    temporality: 'delta',
    points: [{ attributes: {}, startTimeUnixNano: start, timeUnixNano: time, count, sum: count, explicitBounds: bounds, bucketCounts: counts }],
  };
}

function deltaExp(scale: number, offset: number, counts: number[], zero: number, start: number, time: number): ExpHistogramMetric {
  const count = counts.reduce((a, b) => a + b, 0) + zero;
  return {
    type: 'exponential_histogram',
    name: 'size',
    description: 'd',
    unit: 'By',
    temporality: 'delta',
    points: [{ attributes: {}, startTimeUnixNano: start, timeUnixNano: time, count, sum: 10 * count, scale, zeroCount: zero, positive: { offset, bucketCounts: counts }, negative: { offset: 0, bucketCounts: [] } }],
  };
}

describe('delta → cumulative', () => {
  it('accumulates delta sums across batches per series, keeping the first start', () => {
    const s = newStore();
    for (let i = 0; i < 5; i++) {
      s.ingest(batchOf(RES, [counter('reqs', i + 1, { temporality: 'delta', start: T0 + i * S, time: T0 + (i + 1) * S, attrs: { code: '200' } })], SCOPE), Date.now());
      s.ingest(batchOf(RES, [counter('reqs', 10, { temporality: 'delta', start: T0 + i * S, time: T0 + (i + 1) * S, attrs: { code: '500' } })], SCOPE), Date.now());
    }
    expect(text(s)).toBe('# HELP reqs_total reqs help\n# TYPE reqs_total counter\nreqs_total{code="200",job="api"} 15\nreqs_total{code="500",job="api"} 50\n');
    const series = s.families.get('reqs_total')!.series.get('code="200",job="api"')!;
    expect(series.startNs).toBe(T0);
    expect(series.timeNs).toBe(T0 + 5 * S);
  });

  it('accumulates non-monotonic delta sums into a gauge', () => {
    const s = newStore();
    const upDown = (v: number, i: number) => ({ ...counter('inflight', v, { temporality: 'delta', start: T0 + i * S, time: T0 + (i + 1) * S }), monotonic: false });
    s.ingest(batchOf(RES, [upDown(5, 0)], SCOPE), Date.now());
    s.ingest(batchOf(RES, [upDown(-2, 1)], SCOPE), Date.now());
    expect(text(s)).toBe('# HELP inflight inflight help\n# TYPE inflight gauge\ninflight{job="api"} 3\n');
  });

  it('accumulates delta histograms bucket by bucket and restarts on a new bucket layout', () => {
    const s = newStore();
    s.ingest(batchOf(RES, [deltaHistogram([1, 2], [1, 2, 3], T0, T0 + S)], SCOPE), Date.now());
    s.ingest(batchOf(RES, [deltaHistogram([1, 2], [4, 0, 1], T0 + S, T0 + 2 * S)], SCOPE), Date.now());
    expect(text(s)).toContain(
      [
        'lat_seconds_bucket{job="api",le="1"} 5',
        'lat_seconds_bucket{job="api",le="2"} 7',
        'lat_seconds_bucket{job="api",le="+Inf"} 11',
        'lat_seconds_sum{job="api"} 11',
        'lat_seconds_count{job="api"} 11',
      ].join('\n'),
    );
    // A different layout cannot be added to the old one: the series restarts (a visible reset).
    s.ingest(batchOf(RES, [deltaHistogram([5], [1, 1], T0 + 2 * S, T0 + 3 * S)], SCOPE), Date.now());
    expect(text(s)).toContain('lat_seconds_bucket{job="api",le="5"} 1\nlat_seconds_bucket{job="api",le="+Inf"} 2\nlat_seconds_sum{job="api"} 2\nlat_seconds_count{job="api"} 2\n');
    expect(s.families.get('lat_seconds')!.series.get('job="api"')!.startNs).toBe(T0 + 2 * S);
  });

  it('accumulates delta exponential histograms into consistent classic buckets', () => {
    const s = newStore();
    // Scale 0: index 0 = (1,2], index 1 = (2,4]; then scale 1 indexes 2..3 = (2, 4].
    s.ingest(batchOf(RES, [deltaExp(0, 0, [2, 1], 1, T0, T0 + S)], SCOPE), Date.now());
    s.ingest(batchOf(RES, [deltaExp(1, 2, [3, 4], 0, T0 + S, T0 + 2 * S)], SCOPE), Date.now());
    expect(text(s)).toBe(
      [
        '# HELP size_bytes d',
        '# TYPE size_bytes histogram',
        'size_bytes_bucket{job="api",le="0"} 1',
        'size_bytes_bucket{job="api",le="1"} 1',
        'size_bytes_bucket{job="api",le="2"} 3',
        'size_bytes_bucket{job="api",le="4"} 11',
        'size_bytes_bucket{job="api",le="+Inf"} 11',
        'size_bytes_sum{job="api"} 110',
        'size_bytes_count{job="api"} 11',
        '',
      ].join('\n'),
    );
  });
});

describe('cumulative and gauges', () => {
  it('replaces cumulative values, shows a reset, and refuses older points', () => {
    const s = newStore();
    s.ingest(batchOf(RES, [counter('reqs', 10, { start: T0, time: T0 + S })], SCOPE), Date.now());
    s.ingest(batchOf(RES, [counter('reqs', 25, { start: T0, time: T0 + 2 * S })], SCOPE), Date.now());
    expect(text(s)).toContain('reqs_total{job="api"} 25\n');
    // The producer restarted: new start time, lower value — exposed as is, Prometheus sees the reset.
    s.ingest(batchOf(RES, [counter('reqs', 3, { start: T0 + 3 * S, time: T0 + 4 * S })], SCOPE), Date.now());
    expect(text(s)).toContain('reqs_total{job="api"} 3\n');
    expect(s.families.get('reqs_total')!.series.get('job="api"')!.startNs).toBe(T0 + 3 * S);
    const late = s.ingest(batchOf(RES, [counter('reqs', 99, { start: T0, time: T0 + 2 * S })], SCOPE), Date.now());
    expect(late).toEqual({ rejected: 1, reason: 'out_of_order' });
    expect(text(s)).toContain('reqs_total{job="api"} 3\n');
  });

  it('keeps the last gauge value', () => {
    const s = newStore();
    s.ingest(batchOf(RES, [gauge('temp', 20, { time: T0 + S })], SCOPE), Date.now());
    s.ingest(batchOf(RES, [gauge('temp', 18, { time: T0 + 2 * S })], SCOPE), Date.now());
    expect(text(s)).toBe('# HELP temp temp help\n# TYPE temp gauge\ntemp{job="api"} 18\n');
  });

  it('refuses a metric whose name is taken by another type', () => {
    const s = newStore();
    s.ingest(batchOf(RES, [gauge('x', 1)], SCOPE), Date.now());
    const r = s.ingest(batchOf(RES, [{ ...gauge('x', 1), type: 'summary', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: T0, count: 1, sum: 1, quantiles: [] }] }], SCOPE), Date.now());
    expect(r).toEqual({ rejected: 1, reason: 'type_conflict' });
  });
});

describe('expiration', () => {
  it('drops series, emptied families and target_info not updated within the window', () => {
    const s = newStore();
    s.ingest(batchOf({ ...RES, host: 'h' }, [gauge('old', 1)], SCOPE), 1_000);
    s.ingest(batchOf(RES, [gauge('fresh', 1)], SCOPE), 5_000);
    expect(s.size).toBe(3);
    expect(s.expire(6_000, 2_000)).toBe(2);
    expect(text(s)).toBe('# HELP fresh fresh help\n# TYPE fresh gauge\nfresh{job="api"} 1\n');
    expect([...s.families.keys()]).toEqual(['fresh']);
  });
});
