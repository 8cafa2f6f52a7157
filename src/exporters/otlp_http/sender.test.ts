import { afterEach, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { decodeExportRequest, decodeExportRequestJson } from '../../otlp/decode.ts';
import { encodeExportResponse } from '../../otlp/encode.ts';
import { TestBackend } from '../otlp_common/test-backend.ts';
import { gaugeBatch, startExporter, until, valuesOf } from '../helper/testing.ts';
import { otlpHttpExporterFactory as factory } from './factory.ts';
import { metricsUrl } from './config.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Record<string, unknown> = {}) {
  const backend = new TestBackend();
  await backend.start();
  cleanups.push(() => backend.stop());
  const { exporter, telemetry, labels, stats } = await startExporter(factory, 'otlp_http/up', { endpoint: backend.url, retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' }, ...extra });
  cleanups.push(() => exporter.shutdown());
  const decode = (body: Buffer, headers: Record<string, unknown>) => {
    const raw = headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    return String(headers['content-type']).includes('json') ? decodeExportRequestJson(raw.toString('utf8')) : decodeExportRequest(raw);
  };
  const stored = () => backend.accepted.flatMap((r) => valuesOf(decode(r.body, r.headers))).sort((a, b) => a - b);
  return { backend, exporter, telemetry, labels, stats, stored };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('otlp_http exporter', () => {
  it('builds the metrics URL from endpoint or metrics_endpoint', () => {
    expect(metricsUrl(factory.configSchema.parse({ endpoint: 'http://c:4318/' })).href).toBe('http://c:4318/v1/metrics');
    expect(metricsUrl(factory.configSchema.parse({ endpoint: 'http://c:4318', metrics_endpoint: 'http://d/custom' })).href).toBe('http://d/custom');
  });

  it('posts gzipped protobuf with the configured headers', async () => {
    const { backend, exporter, stats, stored } = await setup({ headers: { authorization: 'Bearer s3cret' } });
    await exporter.consume(gaugeBatch(3));
    await until(() => stats().sent === 3);
    const r = backend.requests[0];
    expect([r.path, r.headers['content-type'], r.headers['content-encoding'], r.headers.authorization]).toEqual(['/v1/metrics', 'application/x-protobuf', 'gzip', 'Bearer s3cret']);
    expect(stored()).toEqual(range(3));
  });

  it('posts uncompressed JSON', async () => {
    const { backend, exporter, stats, stored } = await setup({ encoding: 'json', compression: 'none' });
    await exporter.consume(gaugeBatch(2));
    await until(() => stats().sent === 2);
    expect(backend.requests[0].headers['content-type']).toBe('application/json');
    expect(backend.requests[0].headers['content-encoding']).toBeUndefined();
    expect(stored()).toEqual(range(2));
  });

  it('counts a partial success as failed points, without retrying', async () => {
    const { backend, exporter, stats, telemetry, labels } = await setup();
    backend.script = [{ status: 200, headers: { 'Content-Type': 'application/x-protobuf' }, body: encodeExportResponse({ rejectedDataPoints: 2, errorMessage: 'bad' }) }];
    await exporter.consume(gaugeBatch(5));
    await until(() => stats().sent + stats().failed === 5);
    expect(stats()).toEqual({ sent: 3, failed: 2, queued: 0 });
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'partial_success' })).toBe(2);
    expect(backend.requests).toHaveLength(1);
  });

  it('retries 503/429 with Retry-After and 500, drops 400', async () => {
    const { backend, exporter, stats, stored, telemetry, labels } = await setup();
    backend.script = [{ status: 503, headers: { 'Retry-After': '0' } }, { status: 429, headers: { 'Retry-After': '0' } }, { status: 500 }];
    await exporter.consume(gaugeBatch(4));
    await until(() => stats().sent === 4);
    expect(stored()).toEqual(range(4));
    backend.script = [{ status: 400, headers: { 'Content-Type': 'application/json' }, body: '{"code":3,"message":"bad data"}' }];
    await exporter.consume(gaugeBatch(2, 100));
    await until(() => stats().failed === 2);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'http_400' })).toBe(2);
    expect(backend.requests).toHaveLength(5);
  });

  it('delivers everything across a backend that is down at start and hangs once', async () => {
    const { backend, exporter, stats, stored } = await setup({ timeout: '100ms' });
    const port = backend.port;
    await backend.stop();
    await exporter.consume(gaugeBatch(3));
    await backend.start(port);
    backend.script = ['hang'];
    await until(() => stats().sent === 3);
    expect(stored()).toEqual(range(3));
  });
});
