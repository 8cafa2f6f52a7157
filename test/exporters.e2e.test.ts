/**
 * Exporters end to end, with real peers and backends we control:
 * - two Tributary daemons chained over OTLP gRPC and OTLP HTTP (JSON);
 * - one dead OTLP backend next to remote write into a real Prometheus and the
 *   Prometheus pull exporter in the same pipeline: the others keep updating,
 *   and once the backend is back (answering 500, then 429 with Retry-After,
 *   then OK) it receives every point exactly once;
 * - `kill -9` of a daemon holding a disk queue, a restart, and every point
 *   delivered after the restart, none twice.
 * Assertions are made from the backends' side.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, freePort, eventually, parsePromText, type DaemonHandle } from './harness/daemon.ts';
import { createOtelApp } from './harness/otel-app.ts';
import { prometheusAvailable, startPrometheus } from './harness/prometheus.ts';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import { decodeExportRequest } from '../src/otlp/decode.ts';
import { gaugeBatch, valuesOf } from '../src/exporters/helper/testing.ts';
import { TestBackend } from '../src/exporters/otlp_common/test-backend.ts';

const daemons: DaemonHandle[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const c of cleanups) await c();
});

async function daemon(config: string, configPath?: string): Promise<DaemonHandle> {
  const d = await startDaemon({ config, configPath });
  daemons.push(d);
  return d;
}

/** POST a gauge batch with values first..first+n-1 to a daemon's OTLP/HTTP receiver; resolves with the status. */
async function sendGauges(httpPort: number, n: number, first: number, name = 'app.seq'): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/metrics`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf' },
    body: Buffer.from(encodeExportRequest(nowStamped(gaugeBatch(n, first, name)))),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Points stamped now: Prometheus refuses samples far in the past. */
function nowStamped<T extends ReturnType<typeof gaugeBatch>>(batch: T): T {
  const now = Date.now() * 1e6;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points) p.timeUnixNano = now;
  return batch;
}

/** Every gauge value an OTLP/HTTP test backend accepted, sorted, duplicates kept. */
function storedValues(backend: TestBackend): number[] {
  return backend.accepted
    .flatMap((r) => valuesOf(decodeExportRequest(r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body)))
    .sort((a, b) => a - b);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function promValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = parsePromText(text).find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

describe('two daemons chained over OTLP', () => {
  it('delivers exact values over otlp (gRPC) and otlphttp (JSON)', async () => {
    const [aHttp, b1Grpc, b1Prom, b2Http, b2Prom] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const promExporter = (port: number) => `prometheus: { endpoint: 127.0.0.1:${port} }`;
    await daemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${b1Grpc} } } }
exporters:
  ${promExporter(b1Prom)}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [prometheus] } } }
`);
    await daemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${b2Http} } } }
exporters:
  ${promExporter(b2Prom)}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [prometheus] } } }
`);
    await daemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${aHttp} } } }
exporters:
  otlp: { endpoint: 127.0.0.1:${b1Grpc}, tls: { insecure: true } }
  otlphttp: { endpoint: http://127.0.0.1:${b2Http}, encoding: json }
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlp, otlphttp] } } }
`);
    const app = createOtelApp({ protocol: 'http/protobuf', endpoint: `127.0.0.1:${aHttp}`, resource: { 'service.name': 'chained' } });
    cleanups.push(() => app.shutdown());
    const orders = app.meter.createCounter('orders');
    orders.add(40, { region: 'eu' });
    orders.add(2, { region: 'eu' });
    app.meter.createHistogram('latency', { unit: 's' }).record(0.3);
    await app.flush();
    for (const port of [b1Prom, b2Prom]) {
      const text = await eventually(async () => {
        const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return promValue(t, 'orders_total', { region: 'eu' }) === 42 ? t : undefined;
      });
      expect(text, `daemon on :${port}`).toBeDefined();
      expect(promValue(text!, 'orders_total', { job: 'chained', region: 'eu' })).toBe(42);
      expect(promValue(text!, 'latency_seconds_count')).toBe(1);
      expect(promValue(text!, 'latency_seconds_sum')).toBe(0.3);
    }
  }, 60_000);
});

describe('one backend down, the others keep flowing', () => {
  it.skipIf(!prometheusAvailable())('keeps remote write and the pull exporter updating while an OTLP backend is dead, then delivers everything to it once', async () => {
    const backend = new TestBackend();
    await backend.start();
    const backendPort = backend.port;
    await backend.stop(); // down at start
    cleanups.push(() => backend.stop());
    const prom = await startPrometheus({ remoteWriteReceiver: true });
    cleanups.push(() => prom.stop());
    const [httpPort, promPort] = await Promise.all([freePort(), freePort()]);
    const d = await daemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
exporters:
  otlp_http/dead:
    endpoint: http://127.0.0.1:${backendPort}
    retry_on_failure: { initial_interval: 20ms, max_interval: 200ms, max_elapsed_time: 0 }
    circuit_breaker: { failure_threshold: 3, open_duration: 300ms }
  prometheusremotewrite: { endpoint: "${prom.remoteWriteUrl}" }
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlp_http/dead, prometheusremotewrite, prometheus] } } }
`);
    const N = 10;
    for (let i = 0; i < N; i++) {
      expect(await sendGauges(httpPort, 5, i * 5)).toBe(200);
      // The live exporters show each batch while the dead one holds it.
      const last = i * 5 + 4;
      const text = await eventually(async () => {
        const t = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
        return promValue(t, 'app_seq', { seq: String(last) }) === last ? t : undefined;
      });
      expect(text).toBeDefined();
      expect(await prom.waitForValue(`app_seq{seq="${last}"}`, (v) => v === last)).toBe(last);
    }
    expect(await d.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http/dead' })).toBe(N * 5);
    expect(await d.selfMetric('tributary_exporter_sent_points_total', { exporter: 'prometheusremotewrite' })).toBe(N * 5);
    const state = await d.selfMetric('tributary_exporter_circuit_state', { exporter: 'otlp_http/dead' });
    expect([1, 2]).toContain(state);

    // Back, but unwell for three requests first.
    backend.script = [{ status: 500 }, { status: 429, headers: { 'Retry-After': '1' } }];
    await backend.start(backendPort);
    await eventually(async () => (await d.selfMetric('tributary_exporter_sent_points_total', { exporter: 'otlp_http/dead' })) === N * 5, { timeoutMs: 30_000 });
    expect(storedValues(backend)).toEqual(range(N * 5));
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/dead' })).toBe(0);
    expect(await d.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http/dead' })).toBe(0);
    expect(await d.selfMetric('tributary_exporter_retries_total', { exporter: 'otlp_http/dead' })).toBeGreaterThan(0);

    // A 400 is dropped and counted, not retried.
    backend.script = [{ status: 400 }];
    expect(await sendGauges(httpPort, 3, 1000)).toBe(200);
    await eventually(async () => (await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/dead', reason: 'http_400' })) === 3);
    expect(storedValues(backend)).toEqual(range(N * 5));
    expect(await d.stop()).toBe(0);
  }, 120_000);
});

describe('when_full: block', () => {
  it('pushes back on the app with 429 and Retry-After while the queue is full, and loses nothing', async () => {
    const backend = new TestBackend();
    await backend.start();
    const backendPort = backend.port;
    await backend.stop();
    cleanups.push(() => backend.stop());
    const httpPort = await freePort();
    const d = await daemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:${backendPort}
    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms, max_elapsed_time: 0 }
    sending_queue: { queue_size: 10, when_full: block }
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlp_http] } } }
`);
    expect(await sendGauges(httpPort, 10, 0)).toBe(200);
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/metrics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: Buffer.from(encodeExportRequest(gaugeBatch(5, 10))),
    });
    await res.arrayBuffer();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    await backend.start(backendPort);
    await eventually(() => storedValues(backend).length === 10, { timeoutMs: 30_000 });
    // The app retries what was refused; now it fits.
    expect(await sendGauges(httpPort, 5, 10)).toBe(200);
    await eventually(() => storedValues(backend).length === 15);
    expect(storedValues(backend)).toEqual(range(15));
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http' })).toBe(0);
    expect(await d.stop()).toBe(0);
  }, 60_000);
});

describe('disk queue across kill -9', () => {
  it('delivers every accepted point after a restart, none twice', async () => {
    const backend = new TestBackend();
    await backend.start();
    const backendPort = backend.port;
    await backend.stop();
    cleanups.push(() => backend.stop());
    const dir = mkdtempSync(join(tmpdir(), 'trib-e2e-dq-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const httpPort = await freePort();
    const config = `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:${backendPort}
    retry_on_failure: { initial_interval: 20ms, max_interval: 200ms, max_elapsed_time: 0 }
    circuit_breaker: { failure_threshold: 3, open_duration: 200ms }
    sending_queue: { storage: disk, directory: ${dir}, sync_interval: 100ms }
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlp_http] } } }
`;
    const first = await daemon(config);
    const N = 20;
    for (let i = 0; i < N; i++) expect(await sendGauges(httpPort, 10, i * 10)).toBe(200);
    expect(await first.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http' })).toBe(N * 10);
    await first.kill(); // SIGKILL: no drain, no clean close

    await backend.start(backendPort);
    const second = await daemon(config, first.configPath);
    await eventually(() => storedValues(backend).length >= N * 10, { timeoutMs: 30_000 });
    expect(storedValues(backend)).toEqual(range(N * 10));
    expect(await second.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http' })).toBe(0);
    // Points accepted after the restart flow too, and a clean stop leaves nothing behind.
    expect(await sendGauges(httpPort, 5, 10_000)).toBe(200);
    await eventually(() => storedValues(backend).length === N * 10 + 5);
    expect(await second.stop()).toBe(0);
    const third = await daemon(config, first.configPath);
    expect(await third.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http' })).toBe(0);
    expect(await third.stop()).toBe(0);
    expect(storedValues(backend)).toEqual([...range(N * 10), 10_000, 10_001, 10_002, 10_003, 10_004]);
  }, 120_000);
});
