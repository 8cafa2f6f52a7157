/**
 * The walking skeleton end to end: OTel SDK apps send over OTLP gRPC,
 * HTTP/protobuf and HTTP/JSON into the real daemon; the Prometheus exporter
 * shows exact values, passes promtool, and a real Prometheus server scrapes
 * it. Self-metrics account for every point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, freePort, eventually, parsePromText, findSample, type DaemonHandle } from './harness/daemon.ts';
import { createOtelApp, type OtlpProtocol } from './harness/otel-app.ts';
import { startPrometheus } from './harness/prometheus.ts';

const PROTOCOLS: OtlpProtocol[] = ['grpc', 'http/protobuf', 'http/json'];

let daemon: DaemonHandle;
let grpcPort: number;
let httpPort: number;
let promPort: number;

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${promPort}/metrics`);
  return res.text();
}

beforeAll(async () => {
  [grpcPort, httpPort, promPort] = await Promise.all([freePort(), freePort(), freePort()]);
  daemon = await startDaemon({
    config: `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  batch: { send_batch_size: 1000, timeout: 50ms }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort}, resource_to_telemetry_conversion: { enabled: false } }
  debug: { verbosity: basic }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus, debug]
`,
  });
});

afterAll(async () => {
  const code = await daemon?.stop();
  expect(code).toBe(0);
});

describe('OTLP in, Prometheus out', () => {
  it.each(PROTOCOLS)('delivers every instrument kind sent over %s with exact values', async (protocol) => {
    const job = `app-${protocol.replace('/', '-')}`;
    const app = createOtelApp({
      protocol,
      endpoint: `127.0.0.1:${protocol === 'grpc' ? grpcPort : httpPort}`,
      resource: { 'service.name': job, 'tenant.id': 'acme', 'service.instance.id': 'i-1' },
      exponentialHistograms: ['e2e.size'],
      histogramBoundaries: { 'e2e.latency': [10, 50, 100] },
    });
    const m = app.meter;
    const requests = m.createCounter('e2e.requests', { description: 'Requests served.' });
    requests.add(5, { route: '/a' });
    requests.add(2, { route: '/b' });
    const depth = m.createUpDownCounter('e2e.queue.depth');
    depth.add(10);
    depth.add(-3);
    m.createGauge('e2e.memory', { unit: 'By' }).record(4096, { pool: 'heap' });
    const latency = m.createHistogram('e2e.latency', { unit: 'ms' });
    for (const v of [5, 20, 70, 200]) latency.record(v, { route: '/a' });
    const size = m.createHistogram('e2e.size');
    for (const v of [1, 2, 4]) size.record(v);
    await app.flush();
    await app.shutdown();

    const labels = { job, instance: 'i-1' };
    const samples = await eventually(async () => {
      const s = parsePromText(await scrape());
      return findSample(s, 'e2e_size_count', labels) ? s : undefined;
    });
    expect(samples, 'series never appeared').toBeDefined();
    const v = (name: string, extra: Record<string, string> = {}) => findSample(samples!, name, { ...labels, ...extra })?.value;

    expect(v('e2e_requests_total', { route: '/a' })).toBe(5);
    expect(v('e2e_requests_total', { route: '/b' })).toBe(2);
    expect(v('e2e_queue_depth')).toBe(7);
    expect(v('e2e_memory_bytes', { pool: 'heap' })).toBe(4096);
    // Recorded in ms, exposed in the Prometheus base unit: bounds and sum scaled to seconds.
    expect(v('e2e_latency_seconds_bucket', { route: '/a', le: '0.01' })).toBe(1);
    expect(v('e2e_latency_seconds_bucket', { route: '/a', le: '0.05' })).toBe(2);
    expect(v('e2e_latency_seconds_bucket', { route: '/a', le: '0.1' })).toBe(3);
    expect(v('e2e_latency_seconds_bucket', { route: '/a', le: '+Inf' })).toBe(4);
    expect(v('e2e_latency_seconds_sum', { route: '/a' })).toBeCloseTo(0.295, 12);
    expect(v('e2e_latency_seconds_count', { route: '/a' })).toBe(4);
    expect(v('e2e_size_count')).toBe(3);
    expect(v('e2e_size_sum')).toBe(7);
    expect(v('e2e_size_bucket', { le: '+Inf' })).toBe(3);
    // Resource attributes go to target_info; the scope becomes labels.
    expect(findSample(samples!, 'target_info', { ...labels, tenant_id: 'acme' })?.value).toBe(1);
    expect(findSample(samples!, 'e2e_requests_total', { ...labels, route: '/a', otel_scope_name: 'e2e-meter', otel_scope_version: '1.2.3' })).toBeDefined();
  });

  it('serves output that promtool accepts', async () => {
    const text = await scrape();
    expect(text).toContain('e2e_requests_total');
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    const file = join(dir, 'metrics.txt');
    writeFileSync(file, text);
    // promtool reads the exposition on stdin and exits non-zero on any problem.
    execFileSync('sh', ['-c', `promtool check metrics < ${file}`], { stdio: 'pipe' });
  });

  it('is scraped by a real Prometheus server', async () => {
    const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${promPort}`] });
    try {
      const result = await eventually(
        async () => {
          const r = await prom.query('e2e_requests_total{route="/a",job="app-grpc"}');
          return r.length > 0 ? r : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(result, 'Prometheus never returned the series').toBeDefined();
      expect(Number(result![0].value[1])).toBe(5);
    } finally {
      await prom.stop();
    }
  });

  it('accounts for every point in its self-metrics', async () => {
    // Per app: requests(2) + depth(1) + memory(1) + latency(1) + size(1) = 6 points per export, and each
    // app exports twice (forceFlush, then the final collection of MeterProvider.shutdown).
    const accepted = await daemon.selfMetric('tributary_receiver_accepted_points_total', { receiver: 'otlp', pipeline: 'metrics' });
    expect(accepted).toBe(2 * 6 * PROTOCOLS.length);
    const sentProm = await eventually(async () => {
      const n = await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter: 'prometheus' });
      return n === accepted ? n : 0;
    });
    expect(sentProm).toBe(accepted);
    expect(await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter: 'debug' })).toBe(accepted);
    expect(await daemon.selfMetric('tributary_exporter_failed_points_total')).toBe(0);
    const text = await daemon.metricsText();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+/m);
  });
});

describe('bad input through the daemon', () => {
  const url = () => `http://127.0.0.1:${httpPort}/v1/metrics`;

  it('answers 400 to malformed protobuf and JSON, 415 to other types, 413 to oversize and gzip bombs, and keeps serving', async () => {
    const garbage = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]) });
    expect(garbage.status).toBe(400);
    const badJson = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics": [' });
    expect(badJson.status).toBe(400);
    const xml = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    expect(xml.status).toBe(415);
    // 64 MiB of zeros compresses to ~64 KiB: over the 20 MiB limit only once inflated.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const bombRes = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: bomb });
    expect(bombRes.status).toBe(413);
    const big = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(21 * 1024 * 1024, 1) }).catch(
      (err: Error) => ({ status: 413, err }),
    );
    expect(big.status).toBe(413);

    const refused = await daemon.selfMetric('tributary_receiver_refused_requests_total', { receiver: 'otlp' });
    expect(refused).toBeGreaterThanOrEqual(5);
    // Still serving: an empty, valid request is accepted.
    const ok = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics":[]}' });
    expect(ok.status).toBe(200);
    expect((await fetch(`${daemon.adminUrl}/healthz`)).status).toBe(200);
  });
});

describe('admin endpoint', () => {
  it('serves /readyz, /healthz and /config with secrets redacted', async () => {
    expect((await fetch(`${daemon.adminUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${daemon.adminUrl}/healthz`)).status).toBe(200);
    const cfg = await (await fetch(`${daemon.adminUrl}/config`)).text();
    expect(cfg).toContain('receivers:');
    expect(cfg).toContain('prometheus:');
  });
});
