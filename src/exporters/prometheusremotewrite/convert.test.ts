import { describe, expect, it } from 'vitest';
import type { MetricsBatch } from '../../model/metrics.ts';
import { RemoteWriteConverter } from './convert.ts';
import { DeltaToCumulative } from './cumulative.ts';
import { decodeWriteRequest, encodeWriteRequest } from './proto.ts';

const T = 1_700_000_000_000 * 1e6;

function batch(metrics: MetricsBatch['resourceMetrics'][0]['scopeMetrics'][0]['metrics'], resource: Record<string, string> = { 'service.name': 'shop', 'service.instance.id': 'pod-1', 'k8s.namespace.name': 'prod' }): MetricsBatch {
  return { resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: '', version: '', attributes: {} }, metrics }] }] };
}

const converter = (over = {}) =>
  new RemoteWriteConverter({ namespace: '', addMetricSuffixes: true, resourceToTelemetry: false, externalLabels: { cluster: 'eu-1' }, targetInfo: true, convertToBaseUnits: false, ...over });

function flat(b: MetricsBatch, c = converter()) {
  const series = c.convert(b).series();
  return series.map((s) => ({ labels: Object.fromEntries(s.labels.map((l) => [l.name, l.value])), order: s.labels.map((l) => l.name), samples: s.samples }));
}

describe('RemoteWriteConverter', () => {
  it('names counters with unit and _total, sorts labels, adds job/instance and external labels', () => {
    const out = flat(batch([{ type: 'sum', name: 'http.server.requests', unit: 'ms', description: '', temporality: 'cumulative', monotonic: true, points: [{ attributes: { 'http.method': 'GET' }, startTimeUnixNano: T, timeUnixNano: T + 1e9, value: 42 }] }]));
    const counter = out.find((s) => s.labels.__name__ === 'http_server_requests_milliseconds_total')!;
    expect(counter.labels).toEqual({ __name__: 'http_server_requests_milliseconds_total', cluster: 'eu-1', http_method: 'GET', instance: 'pod-1', job: 'shop' });
    expect(counter.order).toEqual([...counter.order].sort());
    expect(counter.samples).toEqual([{ value: 42, timestamp: 1_700_000_001_000 }]);
    const info = out.find((s) => s.labels.__name__ === 'target_info')!;
    expect(info.labels).toEqual({ __name__: 'target_info', cluster: 'eu-1', instance: 'pod-1', job: 'shop', k8s_namespace_name: 'prod' });
  });

  it('converts to base units like the prometheus exporter: ms → _seconds, values and bounds scaled', () => {
    const out = flat(
      batch([{ type: 'histogram', name: 'rpc.duration', unit: 'ms', description: '', temporality: 'cumulative', points: [{ attributes: {}, startTimeUnixNano: T, timeUnixNano: T, count: 3, sum: 750, explicitBounds: [100, 500], bucketCounts: [1, 1, 1] }] }]),
      converter({ targetInfo: false, convertToBaseUnits: true }),
    );
    expect(out.filter((s) => s.labels.__name__ === 'rpc_duration_seconds_bucket').map((s) => s.labels.le)).toEqual(['0.1', '0.5', '+Inf']);
    expect(out.find((s) => s.labels.__name__ === 'rpc_duration_seconds_sum')!.samples[0].value).toBe(0.75);
  });

  it('writes histograms as cumulative _bucket/_sum/_count series', () => {
    const out = flat(batch([{ type: 'histogram', name: 'latency', unit: 's', description: '', temporality: 'cumulative', points: [{ attributes: {}, startTimeUnixNano: T, timeUnixNano: T, count: 6, sum: 9.5, explicitBounds: [0.1, 1], bucketCounts: [1, 2, 3] }] }]), converter({ targetInfo: false }));
    const byName = (n: string) => out.filter((s) => s.labels.__name__ === n);
    expect(byName('latency_seconds_bucket').map((s) => [s.labels.le, s.samples[0].value])).toEqual([['0.1', 1], ['1', 3], ['+Inf', 6]]);
    expect(byName('latency_seconds_sum')[0].samples[0].value).toBe(9.5);
    expect(byName('latency_seconds_count')[0].samples[0].value).toBe(6);
  });

  it('orders several points of one series oldest first', () => {
    const pts = [2, 1, 3].map((i) => ({ attributes: {}, startTimeUnixNano: 0, timeUnixNano: T + i * 1e9, value: i }));
    const out = flat(batch([{ type: 'gauge', name: 'temp', unit: '', description: '', points: pts }], {}), converter({ externalLabels: {} }));
    expect(out.map((s) => s.samples.map((x) => x.value))).toEqual([[1], [2], [3]]);
  });

  it('round-trips through protobuf and snappy', () => {
    const c = converter();
    const series = c.convert(batch([{ type: 'gauge', name: 'g', unit: '1', description: '', points: [{ attributes: { a: 'x' }, startTimeUnixNano: 0, timeUnixNano: T, value: 0.25 }] }])).series();
    expect(decodeWriteRequest(encodeWriteRequest(series)).timeseries).toEqual(series);
  });
});

describe('DeltaToCumulative', () => {
  it('accumulates delta sums per series and keeps the first start time', () => {
    const d = new DeltaToCumulative();
    const sum = (v: number, t: number, attrs = {}) => batch([{ type: 'sum', name: 'c', unit: '', description: '', temporality: 'delta', monotonic: true, points: [{ attributes: attrs, startTimeUnixNano: t - 1e9, timeUnixNano: t, value: v }] }]);
    const values = [d.apply(sum(5, T + 1e9)), d.apply(sum(3, T + 2e9)), d.apply(sum(1, T + 3e9, { other: 'series' }))].map((b) => {
      const m = b.resourceMetrics[0].scopeMetrics[0].metrics[0];
      expect(m.type === 'sum' && m.temporality).toBe('cumulative');
      const p = m.points[0] as { value: number; startTimeUnixNano: number };
      return [p.value, p.startTimeUnixNano];
    });
    expect(values).toEqual([[5, T], [8, T], [1, T + 2e9]]);
  });

  it('accumulates delta histograms and moves a stale timestamp after the last one', () => {
    const d = new DeltaToCumulative();
    const h = (counts: number[], t: number) =>
      batch([{ type: 'histogram', name: 'h', unit: '', description: '', temporality: 'delta', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: t, count: counts.reduce((a, b) => a + b), sum: 1, explicitBounds: [1], bucketCounts: counts }] }]);
    d.apply(h([1, 2], T + 5e9));
    const p = d.apply(h([3, 4], T + 5e9)).resourceMetrics[0].scopeMetrics[0].metrics[0].points[0] as { bucketCounts: number[]; count: number; timeUnixNano: number };
    expect(p.bucketCounts).toEqual([4, 6]);
    expect(p.count).toBe(10);
    expect(p.timeUnixNano).toBe(T + 5e9 + 1e6);
  });

  it('merges delta exponential histograms', () => {
    const d = new DeltaToCumulative();
    const e = (t: number) =>
      batch([{ type: 'exponential_histogram', name: 'e', unit: '', description: '', temporality: 'delta', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: t, count: 3, sum: 6, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1, 2] }, negative: { offset: 0, bucketCounts: [] } }] }]);
    d.apply(e(T + 1e9));
    const p = d.apply(e(T + 2e9)).resourceMetrics[0].scopeMetrics[0].metrics[0].points[0] as { count: number; sum: number; positive: { bucketCounts: number[] } };
    expect([p.count, p.sum, p.positive.bucketCounts]).toEqual([6, 12, [2, 4]]);
  });
});

describe('encodeSeries (hand-written encoder)', () => {
  it('produces what the protobufjs schema decodes, including non-ASCII, NaN and large timestamps', async () => {
    const { encodeSeries } = await import('./wire.ts');
    const { WriteRequest } = await import('./proto.ts');
    const entries = [
      { pairs: [['__name__', 'a'], ['city', 'Zürich']] as Array<[string, string]>, value: 1.5, timestampMs: 1_700_000_000_123 },
      { pairs: [['__name__', 'b'], ['long', 'x'.repeat(300)]] as Array<[string, string]>, value: NaN, timestampMs: 1 },
      { pairs: [['__name__', 'c']] as Array<[string, string]>, value: -0.25, timestampMs: 2 ** 52 },
    ];
    const decoded = WriteRequest.toObject(WriteRequest.decode(encodeSeries(entries)), { longs: Number }) as { timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }> }> };
    expect(decoded.timeseries.map((ts) => [ts.labels.map((l) => [l.name, l.value]), ts.samples[0].value, ts.samples[0].timestamp])).toEqual(entries.map((e) => [e.pairs, e.value, e.timestampMs]));
  });
});
