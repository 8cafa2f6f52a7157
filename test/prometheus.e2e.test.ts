/**
 * The `prometheus` and `debug` exporters inside the real daemon: OTLP in,
 * the exposition served on the exporter's own port (scraped directly and by a
 * real Prometheus), delta counters accumulated across requests, the debug
 * summary on stderr, and the exporter self-metrics accounting for every point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, freePort, eventually, parsePromText, findSample, type DaemonHandle } from './harness/daemon.ts';
import { prometheusAvailable, startPrometheus } from './harness/prometheus.ts';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import { countPoints } from '../src/model/metrics.ts';
import { batchOf, counter, richBatch, T0 } from '../src/exporters/prometheus/fixtures.ts';

let daemon: DaemonHandle;
let httpPort: number;
let promPort: number;

async function sendOtlp(body: Uint8Array): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  await res.arrayBuffer();
  return res.status;
}

const deltaJobs = (value: number, i: number) =>
  batchOf({ 'service.name': 'worker', 'service.instance.id': 'w-1' }, [counter('jobs.done', value, { temporality: 'delta', start: T0 + i * 1e9, time: T0 + (i + 1) * 1e9 })]);

beforeAll(async () => {
  [httpPort, promPort] = await Promise.all([freePort(), freePort()]);
  const grpcPort = await freePort();
  daemon = await startDaemon({
    config: `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${promPort}
    namespace: e2e
    const_labels: { cluster: test }
    enable_open_metrics: true
    metric_expiration: 10m
  debug:
    verbosity: basic
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus, debug]
`,
  });
});

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
});

describe('prometheus and debug exporters in the daemon', () => {
  it('serves what arrives over OTLP, accumulating delta counters', async () => {
    expect(await sendOtlp(encodeExportRequest(richBatch()))).toBe(200);
    for (let i = 0; i < 3; i++) expect(await sendOtlp(encodeExportRequest(deltaJobs(i + 1, i)))).toBe(200);

    const url = `http://127.0.0.1:${promPort}/metrics`;
    const text = await eventually(async () => {
      const t = await (await fetch(url)).text();
      // 1 + 2 + 3, once the last delta has gone through the pipeline.
      return t.includes('e2e_jobs_done_total{cluster="test",instance="w-1",job="worker",otel_scope_name="test.lib",otel_scope_version="1.2.3"} 6\n') ? t : '';
    });
    expect(text).not.toBe('');
    const samples = parsePromText(text);
    expect(findSample(samples, 'e2e_http_server_requests_total', { job: 'shop/checkout', http_method: 'GET' })?.value).toBe(42);
    expect(findSample(samples, 'e2e_rpc_payload_size_bytes_bucket', { le: '+Inf' })?.value).toBe(9);
    expect(findSample(samples, 'target_info', { job: 'shop/checkout', k8s_pod_name: 'checkout-7d9' })?.value).toBe(1);

    const om = await fetch(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect((await om.text()).endsWith('# EOF\n')).toBe(true);
  });

  it('accounts for every point as sent, for both exporters', async () => {
    const expected = countPoints(richBatch()) + 3;
    for (const exporter of ['prometheus', 'debug']) {
      const sent = await eventually(async () => ((await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter })) === expected ? expected : 0));
      expect(sent).toBe(expected);
    }
    expect(await daemon.selfMetric('tributary_exporter_failed_points_total', { exporter: 'prometheus' })).toBe(0);
  });

  it('prints the debug summary to stderr', async () => {
    const line = await eventually(() => daemon.logs().split('\n').find((l) => l.includes('"exporter":"debug"') && l.includes('"data points":8')) ?? '');
    expect(line).toMatch(/\tinfo\tMetrics\t\{"exporter":"debug","resource metrics":1,"metrics":8,"data points":8\}$/);
  });

  it.skipIf(!prometheusAvailable())('is scraped by a real Prometheus', async () => {
    const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${promPort}`] });
    try {
      expect(await prom.waitForValue('e2e_jobs_done_total{job="worker",instance="w-1",cluster="test"}', (v) => v === 6)).toBe(6);
      expect(await prom.waitForValue('e2e_process_cpu_time_seconds_total{job="shop/checkout"}')).toBe(1.5);
    } finally {
      await prom.stop();
    }
  });
});
