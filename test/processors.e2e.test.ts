/**
 * Processors through the real daemon: OTLP/HTTP in, Prometheus out.
 * - attributes, resource, filter and cardinality_limit on their own pipelines;
 * - sampling: totals of point-sampled delta sums stay within a stated bound,
 *   and the rate is a self-metric;
 * - memory_limiter under a flood with a small limit: refuses with a retry
 *   code and Retry-After, counts every refused point, stays under the hard
 *   limit, and serves again when the load stops.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, freePort, eventually, parsePromText, type DaemonHandle } from './harness/daemon.ts';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import type { Attributes, Metric, MetricsBatch, NumberPoint } from '../src/model/metrics.ts';

const T0 = Date.now() * 1e6;

function batch(metrics: Metric[], resource: Attributes = { 'service.name': 'e2e' }): MetricsBatch {
  return { resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 'e2e', version: '1', attributes: {} }, metrics }] }] };
}

function point(value: number, attributes: Attributes = {}, i = 0): NumberPoint {
  return { attributes, startTimeUnixNano: T0 + i, timeUnixNano: T0 + i + 1, value, isInt: true };
}

function deltaSum(name: string, points: NumberPoint[]): Metric {
  return { type: 'sum', name, description: '', unit: '', temporality: 'delta', monotonic: true, points };
}

function gaugeOf(name: string, points: NumberPoint[]): Metric {
  return { type: 'gauge', name, description: '', unit: '', points };
}

async function post(port: number, b: MetricsBatch): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeExportRequest(b) });
}

async function scrape(port: number) {
  return parsePromText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

describe('attributes, resource, filter, cardinality_limit and sampling through the daemon', () => {
  let daemon: DaemonHandle;
  let httpPort: number;
  let promA: number;
  let promB: number;
  let promC: number;

  beforeAll(async () => {
    [httpPort, promA, promB, promC] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    daemon = await startDaemon({
      config: `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  resource:
    attributes:
      - { key: deployment.environment, value: prod, action: upsert }
      - { key: k8s.pod.uid, action: delete }
  attributes/tenant:
    actions:
      - { key: tenant.id, from_context: resource.tenant.id, action: insert }
      - { key: user.email, action: hash }
      - { key: http.target, pattern: "^/api/(?<api_version>v[0-9]+)/", action: extract }
      - { key: http.target, action: delete }
      - { key: code, action: convert, converted_type: string }
      - { key: region, value: eu, action: update }
    include: { match_type: regexp, metric_names: ["^app\\\\."] }
  filter/app:
    metrics:
      include: { match_type: regexp, metric_names: ["^app\\\\."] }
      exclude: { match_type: strict, record_attributes: [{ key: env, value: dev }] }
  filter/flood:
    metrics:
      include: { match_type: strict, metric_names: [flood.requests] }
  cardinality_limit:
    max_series_per_metric: 50
    action: overflow
  filter/sampled:
    metrics:
      include: { match_type: strict, metric_names: [sampled.events] }
  sampling:
    default_rate: 0.1
    default_method: point
    seed: 7
exporters:
  prometheus/a: { endpoint: 127.0.0.1:${promA}, resource_to_telemetry_conversion: { enabled: true } }
  prometheus/b: { endpoint: 127.0.0.1:${promB} }
  prometheus/c: { endpoint: 127.0.0.1:${promC} }
service:
  pipelines:
    metrics/app:
      receivers: [otlp]
      processors: [resource, attributes/tenant, filter/app]
      exporters: [prometheus/a]
    metrics/flood:
      receivers: [otlp]
      processors: [filter/flood, cardinality_limit]
      exporters: [prometheus/b]
    metrics/sampled:
      receivers: [otlp]
      processors: [filter/sampled, sampling]
      exporters: [prometheus/c]
`,
    });
  });

  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
  });

  it('applies every resource and attributes action, and filters by name and attribute', async () => {
    const res = await post(
      httpPort,
      batch(
        [
          gaugeOf('app.sessions', [
            point(3, { 'user.email': 'a@example.com', 'http.target': '/api/v2/cart', code: 200, region: 'us', env: 'prod' }),
            point(9, { env: 'dev' }),
          ]),
          gaugeOf('other.thing', [point(1)]),
        ],
        { 'service.name': 'checkout', 'tenant.id': 'acme', 'k8s.pod.uid': 'u-123' },
      ),
    );
    expect(res.status).toBe(200);
    const samples = await eventually(async () => {
      const s = (await scrape(promA)).filter((x) => x.name === 'app_sessions');
      return s.length > 0 ? s : undefined;
    });
    expect(samples).toHaveLength(1);
    const labels = samples![0].labels;
    expect(samples![0].value).toBe(3);
    expect(labels.tenant_id).toBe('acme');
    expect(labels.user_email).toBe(createHash('sha256').update('a@example.com').digest('hex'));
    expect(labels.api_version).toBe('v2');
    expect(labels.http_target).toBeUndefined();
    expect(labels.code).toBe('200');
    expect(labels.region).toBe('eu');
    expect(labels.deployment_environment).toBe('prod');
    expect(labels.k8s_pod_uid).toBeUndefined();
    expect((await scrape(promA)).some((x) => x.name.startsWith('other_thing'))).toBe(false);
    // 1 dev point + 1 other.thing point filtered in metrics/app.
    expect(await daemon.selfMetric('tributary_processor_dropped_points_total', { processor: 'filter/app', pipeline: 'metrics/app', reason: 'filtered' })).toBe(2);
  });

  it('caps a flood of unique series and folds the rest into the overflow series, every point counted', async () => {
    for (let r = 0; r < 5; r++) {
      const points = Array.from({ length: 200 }, (_, i) => point(1, { user: `u${r * 200 + i}` }, i));
      expect((await post(httpPort, batch([deltaSum('flood.requests', points)]))).status).toBe(200);
    }
    const samples = await eventually(async () => {
      const s = (await scrape(promB)).filter((x) => x.name === 'flood_requests_total');
      const total = s.reduce((a, x) => a + x.value, 0);
      return total === 1000 ? s : undefined;
    });
    expect(samples).toBeDefined();
    // 50 admitted series + one overflow series holding the other 950 increments.
    expect(samples!.length).toBe(51);
    const overflow = samples!.find((x) => x.labels.otel_metric_overflow === 'true');
    expect(overflow?.value).toBe(950);
    expect(await daemon.selfMetric('tributary_cardinality_limited_points_total', { processor: 'cardinality_limit', action: 'overflow' })).toBe(950);
    // 950 points folded into 5 overflow points (one per request): 945 left the stream, counted.
    expect(await daemon.selfMetric('tributary_processor_dropped_points_total', { processor: 'cardinality_limit', reason: 'cardinality_overflow' })).toBe(945);
  });

  it('keeps the total of point-sampled delta sums within 4 sd of the truth, counts drops, exports the rate', async () => {
    const N = 5000;
    const points = Array.from({ length: N }, (_, i) => point(1, { job: 'x' }, i * 10));
    expect((await post(httpPort, batch([deltaSum('sampled.events', points)]))).status).toBe(200);
    const total = await eventually(async () => (await scrape(promC)).find((x) => x.name === 'sampled_events_total')?.value);
    // Each kept point counts 10: Var = N · (1 − r) / r · 1² = 45,000, sd ≈ 212.
    expect(Math.abs(total! - N)).toBeLessThan(4 * 212);
    const kept = total! / 10;
    expect(await daemon.selfMetric('tributary_processor_dropped_points_total', { processor: 'sampling', reason: 'sampled' })).toBe(N - kept);
    expect(await daemon.selfMetric('tributary_sampling_rate', { processor: 'sampling', pipeline: 'metrics/sampled', rule: 'default' })).toBe(0.1);
  });
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('memory_limiter under load', () => {
  it('refuses with a retry status and Retry-After, counts every refused point, stays under the hard limit, then serves again', async () => {
    const [httpPort, promPort] = await Promise.all([freePort(), freePort()]);
    // Soft limit 100 MiB of live memory (heap + buffers); hard limit 320 MiB, which RSS (~135 MiB idle) must never reach.
    const limitMib = 320;
    const spikeMib = 220;
    const daemon = await startDaemon({
      config: `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  memory_limiter: { check_interval: 50ms, limit_mib: ${limitMib}, spike_limit_mib: ${spikeMib}, min_gc_interval_when_soft_limited: 200ms }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort}, metric_expiration: 1s }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [prometheus]
`,
      // The recommended V8 heap size for this limit (midway between soft and hard), as the daemon's warning says.
      env: { NODE_OPTIONS: `--max-old-space-size=${limitMib - spikeMib / 2}` },
    });
    try {
      const baseline = rssBytes(daemon.pid);
      expect(baseline).toBeLessThan(limitMib * 1024 * 1024);
      let refusedPoints = 0;
      let acceptedPoints = 0;
      let maxRss = baseline;
      const statuses = new Set<number>();
      let retryAfter: string | null = null;
      const POINTS = 5000;
      // Unique series each request: the Prometheus exporter keeps them all in memory until they expire.
      for (let r = 0; r < 400 && refusedPoints < 20 * POINTS; r++) {
        const points = Array.from({ length: POINTS }, (_, i) => point(i, { series: `r${r}-s${i}`, padding: 'x'.repeat(64) }, i));
        const res = await post(httpPort, batch([gaugeOf('load.gauge', points)]));
        await res.arrayBuffer();
        statuses.add(res.status);
        if (res.status === 200) acceptedPoints += POINTS;
        else {
          refusedPoints += POINTS;
          retryAfter = res.headers.get('retry-after');
        }
        maxRss = Math.max(maxRss, rssBytes(daemon.pid));
      }
      // The OTLP receiver answers a memory_limit refusal with 429 (RESOURCE_EXHAUSTED over gRPC) and Retry-After.
      expect([...statuses].filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
      expect(refusedPoints).toBeGreaterThan(0);
      expect(retryAfter).toBe('1');
      expect(await daemon.selfMetric('tributary_receiver_refused_points_total', { reason: 'memory_limit' })).toBe(refusedPoints);
      expect(await daemon.selfMetric('tributary_receiver_accepted_points_total')).toBe(acceptedPoints);
      expect(maxRss).toBeLessThan(limitMib * 1024 * 1024);
      expect(daemon.logs()).toContain('memory usage above the soft limit: refusing data');

      // Load stops: series expire (a scrape, as Prometheus would make, lets the exporter drop them), the limiter collects, and data is accepted again.
      const ok = await eventually(
        async () => {
          await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
          return (await post(httpPort, batch([gaugeOf('after.load', [point(1)])]))).status === 200;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(ok).toBe(true);
      expect(daemon.logs()).toContain('memory usage below the soft limit again: accepting data');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
