import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { TestGrpcBackend } from '../otlp_common/test-grpc-backend.ts';
import { gaugeBatch, startExporter, until, valuesOf } from '../helper/testing.ts';
import { otlpGrpcExporterFactory as factory } from './factory.ts';
import { parseGrpcEndpoint, usesTls } from './config.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Record<string, unknown> = {}) {
  const backend = new TestGrpcBackend();
  await backend.start();
  cleanups.push(() => backend.stop());
  const { exporter, telemetry, labels, stats } = await startExporter(factory, 'otlp', {
    endpoint: `127.0.0.1:${backend.port}`,
    tls: { insecure: true },
    retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' },
    circuit_breaker: { open_duration: '100ms' },
    ...extra,
  });
  cleanups.push(() => exporter.shutdown());
  const stored = () => backend.received.flatMap(valuesOf).sort((a, b) => a - b);
  return { backend, exporter, telemetry, labels, stats, stored };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('otlp_grpc config', () => {
  it('parses endpoints and decides TLS as otelcol does', () => {
    expect(parseGrpcEndpoint('collector:4317')).toEqual({ target: 'collector:4317', scheme: undefined });
    expect(parseGrpcEndpoint('https://collector')).toEqual({ target: 'collector:443', scheme: 'https' });
    expect(parseGrpcEndpoint('collector')).toBeUndefined();
    expect(usesTls(factory.configSchema.parse({ endpoint: 'c:4317' }))).toBe(true);
    expect(usesTls(factory.configSchema.parse({ endpoint: 'c:4317', tls: { insecure: true } }))).toBe(false);
    expect(usesTls(factory.configSchema.parse({ endpoint: 'http://c:4317' }))).toBe(false);
  });
});

describe('otlp_grpc exporter', () => {
  it('exports with headers as metadata', async () => {
    const { backend, exporter, stats, stored } = await setup({ headers: { 'X-Tenant': 'a' } });
    await exporter.consume(gaugeBatch(3));
    await until(() => stats().sent === 3);
    expect(stored()).toEqual(range(3));
    expect(backend.metadata[0].get('x-tenant')).toEqual(['a']);
  });

  it('counts partial success as failed points', async () => {
    const { backend, exporter, stats, telemetry, labels } = await setup();
    backend.script = [{ ok: true, rejected: 1 }];
    await exporter.consume(gaugeBatch(4));
    await until(() => stats().sent + stats().failed === 4);
    expect(stats()).toEqual({ sent: 3, failed: 1, queued: 0 });
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'partial_success' })).toBe(1);
  });

  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED with RetryInfo; drops INVALID_ARGUMENT and RESOURCE_EXHAUSTED without it', async () => {
    const { backend, exporter, stats, stored, telemetry, labels } = await setup();
    backend.script = [{ code: grpc.status.UNAVAILABLE }, { code: grpc.status.RESOURCE_EXHAUSTED, retryAfterMs: 20 }];
    await exporter.consume(gaugeBatch(2));
    await until(() => stats().sent === 2);
    expect(stored()).toEqual(range(2));
    expect(backend.attempts).toBe(3);
    backend.script = [{ code: grpc.status.INVALID_ARGUMENT }, { code: grpc.status.RESOURCE_EXHAUSTED }];
    await exporter.consume(gaugeBatch(1, 10));
    await until(() => stats().failed === 1);
    await exporter.consume(gaugeBatch(1, 11));
    await until(() => stats().failed === 2);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'grpc_invalid_argument' })).toBe(1);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'grpc_resource_exhausted' })).toBe(1);
    expect(backend.attempts).toBe(5);
  });

  it('delivers what was sent while the backend was down once it is back', async () => {
    const { backend, exporter, stats, stored } = await setup();
    const port = backend.port;
    await backend.stop();
    await exporter.consume(gaugeBatch(3));
    await new Promise((r) => setTimeout(r, 50));
    await backend.start(port);
    await until(() => stats().sent === 3, 10_000);
    expect(stored()).toEqual(range(3));
  });
});
