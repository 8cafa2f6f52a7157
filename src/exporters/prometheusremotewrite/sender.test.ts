/**
 * Remote write against a local backend we control: the required headers,
 * and the fault cases (down at start, down mid-stream, hanging, 500, 429
 * with Retry-After, 400), each checked from the backend's side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestBackend } from '../otlp_common/test-backend.ts';
import { gaugeBatch, startExporter, until } from '../helper/testing.ts';
import { prometheusRemoteWriteExporterFactory as factory } from './factory.ts';
import { decodeWriteRequest } from './proto.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Record<string, unknown> = {}) {
  const backend = new TestBackend();
  await backend.start();
  cleanups.push(() => backend.stop());
  const { exporter, telemetry, labels, stats } = await startExporter(factory, 'prometheusremotewrite', {
    endpoint: `${backend.url}/api/v1/write`,
    target_info: { enabled: false },
    retry_on_failure: { initial_interval: '10ms', max_interval: '50ms', randomization_factor: 0 },
    ...extra,
  });
  cleanups.push(() => exporter.shutdown());
  /** Every gauge value the backend stored, counting duplicates. */
  const stored = () => backend.accepted.flatMap((r) => decodeWriteRequest(r.body).timeseries.flatMap((ts) => ts.samples.map((s) => s.value))).sort((a, b) => a - b);
  return { backend, exporter, telemetry, labels, stats, stored };
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('prometheusremotewrite sender', () => {
  it('sends snappy protobuf with the remote write 1.0 headers', async () => {
    const { backend, exporter, stats, stored } = await setup({ headers: { 'X-Scope-OrgID': 'tenant-a' } });
    await exporter.consume(gaugeBatch(3));
    await until(() => stats().sent === 3);
    const h = backend.requests[0].headers;
    expect(backend.requests[0].path).toBe('/api/v1/write');
    expect([h['content-encoding'], h['content-type'], h['x-prometheus-remote-write-version'], h['x-scope-orgid']]).toEqual(['snappy', 'application/x-protobuf', '0.1.0', 'tenant-a']);
    expect(stored()).toEqual([0, 1, 2]);
  });

  it('retries 500 and 429 (after Retry-After), then delivers every point once', async () => {
    const { backend, exporter, stats, stored, telemetry, labels } = await setup();
    backend.script = [{ status: 500 }, { status: 429, headers: { 'Retry-After': '0' } }, { status: 503 }];
    await exporter.consume(gaugeBatch(4));
    await until(() => stats().sent === 4);
    expect(stored()).toEqual(range(4));
    expect(telemetry.exporterRetries.get(labels)).toBe(3);
    expect(stats()).toEqual({ sent: 4, failed: 0, queued: 0 });
  });

  it('drops a 400 without retrying, counted as failed(http_400)', async () => {
    const { backend, exporter, stats, telemetry, labels } = await setup();
    backend.script = [{ status: 400, body: 'out of order sample' }];
    await exporter.consume(gaugeBatch(2));
    await until(() => stats().failed === 2);
    expect(backend.requests).toHaveLength(1);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'http_400' })).toBe(2);
  });

  it('treats 408 as permanent, as the remote write spec asks', async () => {
    const { backend, exporter, stats } = await setup();
    backend.script = [{ status: 408 }];
    await exporter.consume(gaugeBatch(2));
    await until(() => stats().failed === 2);
    expect(backend.requests).toHaveLength(1);
  });

  it('times out a hanging backend and delivers on the retry', async () => {
    const { backend, exporter, stats, stored } = await setup({ timeout: '100ms' });
    backend.script = ['hang'];
    await exporter.consume(gaugeBatch(3));
    await until(() => stats().sent === 3);
    expect(stored()).toEqual(range(3));
  });

  it('loses nothing when the backend is down at start and mid-stream', async () => {
    const { backend, exporter, stats, stored } = await setup();
    const port = backend.port;
    await backend.stop();
    await exporter.consume(gaugeBatch(5, 0));
    await exporter.consume(gaugeBatch(5, 5));
    await backend.start(port);
    await until(() => stats().sent === 10);
    await exporter.consume(gaugeBatch(5, 10));
    await until(() => stats().sent === 15);
    await backend.stop();
    await exporter.consume(gaugeBatch(5, 15));
    await new Promise((r) => setTimeout(r, 50));
    await backend.start(port);
    await until(() => stats().sent === 20);
    expect(stored()).toEqual(range(20));
    expect(stats()).toEqual({ sent: 20, failed: 0, queued: 0 });
  });
});
