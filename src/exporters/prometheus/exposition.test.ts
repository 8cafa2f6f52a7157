import { describe, expect, it } from 'vitest';
import type { Metric, MetricsBatch } from '../../model/metrics.ts';
import { batchOf, counter, gauge, richBatch, T0 } from './fixtures.ts';
import { serialize } from './serialize.ts';
import { SeriesStore, type StoreOptions } from './store.ts';

const DEFAULTS: StoreOptions = { namespace: '', constLabels: {}, resourceToTelemetry: false, addMetricSuffixes: true };

function render(batches: MetricsBatch[], opts: Partial<StoreOptions> = {}, format: 'text' | 'openmetrics' = 'text', sendTimestamps = false): string {
  const store = new SeriesStore({ ...DEFAULTS, ...opts });
  for (const b of batches) store.ingest(b, Date.now());
  return serialize(store, { format, sendTimestamps });
}

const SVC = { 'service.name': 'api' };
const L = 'job="api",otel_scope_name="test.lib",otel_scope_version="1.2.3"';

describe('text exposition 0.0.4', () => {
  it('renders every metric type with units, _total, target_info and scope labels', () => {
    const S = 'instance="pod-1",job="shop/checkout",otel_scope_name="test.lib",otel_scope_version="1.2.3"';
    expect(render([richBatch()])).toBe(
      [
        '# HELP target_info Target metadata',
        '# TYPE target_info gauge',
        'target_info{instance="pod-1",job="shop/checkout",k8s_pod_name="checkout-7d9"} 1',
        '# HELP http_server_requests_total HTTP requests served',
        '# TYPE http_server_requests_total counter',
        `http_server_requests_total{http_method="GET",http_status_code="200",${S}} 42`,
        '# HELP process_cpu_time_seconds_total CPU time',
        '# TYPE process_cpu_time_seconds_total counter',
        `process_cpu_time_seconds_total{${S}} 1.5`,
        '# HELP process_memory_usage_bytes Resident memory',
        '# TYPE process_memory_usage_bytes gauge',
        `process_memory_usage_bytes{${S}} 1048576`,
        '# HELP cpu_utilization_ratio CPU utilisation',
        '# TYPE cpu_utilization_ratio gauge',
        `cpu_utilization_ratio{${S}} 0.25`,
        '# HELP queue_depth Items waiting "now"\\nper queue',
        '# TYPE queue_depth gauge',
        `queue_depth{${S},queue="a\\\\b\\"c"} -3`,
        '# HELP http_server_duration_seconds Request duration',
        '# TYPE http_server_duration_seconds histogram',
        `http_server_duration_seconds_bucket{${S},route="/cart",le="0.1"} 4`,
        `http_server_duration_seconds_bucket{${S},route="/cart",le="0.5"} 7`,
        `http_server_duration_seconds_bucket{${S},route="/cart",le="1"} 9`,
        `http_server_duration_seconds_bucket{${S},route="/cart",le="+Inf"} 10`,
        `http_server_duration_seconds_sum{${S},route="/cart"} 2.5`,
        `http_server_duration_seconds_count{${S},route="/cart"} 10`,
        '# HELP rpc_payload_size_bytes Payload size',
        '# TYPE rpc_payload_size_bytes histogram',
        // scale 1 → 0: negative [-2,-1) ×2, zero ×1, (16,32] ×3, (32,64] ×3.
        `rpc_payload_size_bytes_bucket{${S},le="-1"} 2`,
        `rpc_payload_size_bytes_bucket{${S},le="0"} 3`,
        `rpc_payload_size_bytes_bucket{${S},le="16"} 3`,
        `rpc_payload_size_bytes_bucket{${S},le="32"} 6`,
        `rpc_payload_size_bytes_bucket{${S},le="64"} 9`,
        `rpc_payload_size_bytes_bucket{${S},le="+Inf"} 9`,
        `rpc_payload_size_bytes_sum{${S}} 300`,
        `rpc_payload_size_bytes_count{${S}} 9`,
        '# HELP gc_pause_seconds GC pauses',
        '# TYPE gc_pause_seconds summary',
        `gc_pause_seconds{${S},quantile="0.5"} 0.01`,
        `gc_pause_seconds{${S},quantile="0.99"} 0.02`,
        `gc_pause_seconds_sum{${S}} 0.05`,
        `gc_pause_seconds_count{${S}} 5`,
        '',
      ].join('\n'),
    );
  });

  it('spells out milliseconds and per-second units', () => {
    const text = render([batchOf(SVC, [gauge('latency', 5, { unit: 'ms' }), gauge('net.io', 7, { unit: 'By/s' })])]);
    expect(text).toContain(`latency_milliseconds{${L}} 5\n`);
    expect(text).toContain(`net_io_bytes_per_second{${L}} 7\n`);
  });

  it('prefixes the namespace, adds const labels and leaves suffixes off on request', () => {
    const text = render([batchOf(SVC, [counter('hits', 3, { unit: 'ms' })])], { namespace: 'app', constLabels: { region: 'eu' }, addMetricSuffixes: false });
    expect(text).toBe(`# HELP app_hits hits help\n# TYPE app_hits counter\napp_hits{${L},region="eu"} 3\n`);
  });

  it('merges attributes that sanitise to the same label with ";"', () => {
    const text = render([batchOf(SVC, [gauge('g', 1, { attrs: { 'a.b': 'x', a_b: 'y', 'a-b': 'z' } })])]);
    // Original keys sorted: a-b, a.b, a_b.
    expect(text).toContain(`g{a_b="z;x;y",${L}} 1\n`);
  });

  it('derives job and instance from the service attributes and gives every series both', () => {
    const res = { 'service.name': 'cart', 'service.namespace': 'shop', 'service.instance.id': 'i-1' };
    const text = render([batchOf(res, [gauge('g', 1)], { name: '', version: '' })]);
    expect(text).toBe('# HELP g g help\n# TYPE g gauge\ng{instance="i-1",job="shop/cart"} 1\n');
  });

  it('turns resource attributes into labels with resource_to_telemetry_conversion', () => {
    const res = { 'service.name': 'cart', 'host.name': 'node-1', region: 'eu' };
    const batch = () => batchOf(res, [gauge('g', 1, { attrs: { region: 'us' } })], { name: '', version: '' });
    expect(render([batch()], { resourceToTelemetry: true })).toContain('g{host_name="node-1",job="cart",region="us",service_name="cart"} 1\n');
    expect(render([batch()], { resourceToTelemetry: false })).toContain('g{job="cart",region="us"} 1\n');
  });

  it('merges the same family from several resources under one HELP/TYPE', () => {
    const b1 = batchOf({ 'service.name': 'a' }, [counter('reqs', 1)], { name: '', version: '' });
    const b2 = batchOf({ 'service.name': 'b' }, [counter('reqs', 2)], { name: '', version: '' });
    expect(render([{ resourceMetrics: [...b1.resourceMetrics, ...b2.resourceMetrics] }])).toBe(
      '# HELP reqs_total reqs help\n# TYPE reqs_total counter\nreqs_total{job="a"} 1\nreqs_total{job="b"} 2\n',
    );
  });

  it('appends timestamps in milliseconds when asked', () => {
    const text = render([batchOf(SVC, [gauge('g', 1, { time: T0 + 1_500_000_000 })])], {}, 'text', true);
    expect(text).toContain(`g{${L}} 1 1700000001500\n`);
  });

  it('writes NaN and infinities the Prometheus way', () => {
    const text = render([batchOf(SVC, [gauge('a', NaN), gauge('b', Infinity), gauge('c', -Infinity)])]);
    expect(text).toContain(`a{${L}} NaN\n`);
    expect(text).toContain(`b{${L}} +Inf\n`);
    expect(text).toContain(`c{${L}} -Inf\n`);
  });

  it('falls back to the OTel name as HELP when there is no description', () => {
    expect(render([batchOf(SVC, [gauge('disk.free', 1, { description: '' })])])).toContain('# HELP disk_free disk.free\n');
  });
});

describe('OpenMetrics exposition', () => {
  it('names counter families without _total, types target as info, floats le and ends with # EOF', () => {
    const hist: Metric = {
      type: 'histogram',
      name: 'lat',
      description: 'd',
      unit: 's',
      temporality: 'cumulative',
      points: [{ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + 2e9, count: 2, sum: 3, explicitBounds: [1, 2.5], bucketCounts: [1, 1, 0] }],
    };
    const res = { 'service.name': 'api', 'host.name': 'h' };
    const text = render([batchOf(res, [counter('reqs', 5), hist], { name: '', version: '' })], {}, 'openmetrics', true);
    expect(text).toBe(
      [
        '# TYPE target info',
        '# HELP target Target metadata',
        'target_info{host_name="h",job="api"} 1',
        '# HELP reqs reqs help',
        '# TYPE reqs counter',
        'reqs_total{job="api"} 5 1700000001',
        '# HELP lat_seconds d',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{job="api",le="1.0"} 1 1700000002',
        'lat_seconds_bucket{job="api",le="2.5"} 2 1700000002',
        'lat_seconds_bucket{job="api",le="+Inf"} 2 1700000002',
        'lat_seconds_sum{job="api"} 3 1700000002',
        'lat_seconds_count{job="api"} 2 1700000002',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('adds _total to counter samples even when suffixes are off', () => {
    const text = render([batchOf(SVC, [counter('reqs', 5)], { name: '', version: '' })], { addMetricSuffixes: false }, 'openmetrics');
    expect(text).toBe('# HELP reqs reqs help\n# TYPE reqs counter\nreqs_total{job="api"} 5\n# EOF\n');
  });
});

describe('reserved labels', () => {
  it('renames an le attribute on histograms and a quantile attribute on summaries', () => {
    const hist: Metric = {
      type: 'histogram',
      name: 'h',
      description: 'd',
      unit: '',
      temporality: 'cumulative',
      points: [{ attributes: { le: 'x' }, startTimeUnixNano: 0, timeUnixNano: T0, count: 1, sum: 1, explicitBounds: [], bucketCounts: [1] }],
    };
    const summary: Metric = {
      type: 'summary',
      name: 's',
      description: 'd',
      unit: '',
      points: [{ attributes: { quantile: 'y' }, startTimeUnixNano: 0, timeUnixNano: T0, count: 1, sum: 1, quantiles: [{ quantile: 0.5, value: 1 }] }],
    };
    const text = render([batchOf({}, [hist, summary, gauge('g', 1, { attrs: { le: 'kept' } })], { name: '', version: '' })]);
    expect(text).toContain('h_bucket{exported_le="x",le="+Inf"} 1\n');
    expect(text).toContain('s{exported_quantile="y",quantile="0.5"} 1\n');
    expect(text).toContain('g{le="kept"} 1\n');
  });
});
