/**
 * A real OpenTelemetry JS SDK app exporting to the receiver over OTLP/gRPC,
 * OTLP/HTTP protobuf and OTLP/HTTP JSON; the exact values must arrive at the
 * pipeline consumer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { CollectingConsumer } from '../../consumer.ts';
import type { Metric } from '../../model/metrics.ts';
import { startReceiver, type Started } from './testing.ts';

let started: Started | undefined;
afterEach(async () => {
  await started?.receiver.shutdown();
  started = undefined;
});

/** Record a fixed set of measurements through every instrument kind and flush them through `exporter`. */
async function sendWithSdk(exporter: PushMetricExporter): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'sdk-app', 'deployment.environment': 'test', 'host.cpus': 4 }),
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('sdk.test.meter', '0.9.1');
  const requests = meter.createCounter('requests', { description: 'Requests served', unit: '{request}', valueType: ValueType.INT });
  requests.add(5, { route: '/a', 'http.status_code': 200 });
  requests.add(3, { route: '/a', 'http.status_code': 200 });
  requests.add(2, { route: '/b', 'http.status_code': 500 });
  const inflight = meter.createUpDownCounter('inflight', { valueType: ValueType.INT });
  inflight.add(10);
  inflight.add(-3);
  const temperature = meter.createGauge('temperature', { unit: 'Cel' });
  temperature.record(21.5, { room: 'lab', ok: true });
  const latency = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [1, 5, 50, 500]) latency.record(v, { route: '/a' });
  const size = meter.createHistogram('payload.size', { unit: 'By' });
  for (const v of [1, 2, 4]) size.record(v);
  await provider.forceFlush();
  await provider.shutdown();
}

function byName(consumer: CollectingConsumer): Map<string, Metric> {
  const out = new Map<string, Metric>();
  for (const b of consumer.batches) {
    for (const rm of b.resourceMetrics) {
      expect(rm.resource.attributes).toMatchObject({ 'service.name': 'sdk-app', 'deployment.environment': 'test', 'host.cpus': 4 });
      for (const sm of rm.scopeMetrics) {
        expect(sm.scope).toMatchObject({ name: 'sdk.test.meter', version: '0.9.1' });
        for (const m of sm.metrics) out.set(m.name, m);
      }
    }
  }
  return out;
}

function assertMetrics(metrics: Map<string, Metric>, temporality: 'delta' | 'cumulative'): void {
  const nowNs = Date.now() * 1e6;
  const requests = metrics.get('requests')!;
  expect(requests).toMatchObject({ type: 'sum', temporality, monotonic: true, description: 'Requests served', unit: '{request}' });
  const points = [...requests.points].sort((a, b) => String(a.attributes.route).localeCompare(String(b.attributes.route)));
  expect(points.map((p) => [p.attributes, 'value' in p ? p.value : undefined, 'isInt' in p ? p.isInt : undefined])).toEqual([
    [{ route: '/a', 'http.status_code': 200 }, 8, true],
    [{ route: '/b', 'http.status_code': 500 }, 2, true],
  ]);
  // Timestamps are nanoseconds since the epoch, as plain numbers.
  expect(Math.abs(points[0].timeUnixNano - nowNs)).toBeLessThan(600e9);
  expect(points[0].startTimeUnixNano).toBeGreaterThan(0);
  expect(points[0].startTimeUnixNano).toBeLessThanOrEqual(points[0].timeUnixNano);

  // The SDK's delta preference keeps up-down counters cumulative (OTel spec).
  expect(metrics.get('inflight')).toMatchObject({ type: 'sum', temporality: 'cumulative', monotonic: false, points: [{ attributes: {}, value: 7, isInt: true }] });
  expect(metrics.get('temperature')).toMatchObject({ type: 'gauge', unit: 'Cel', points: [{ attributes: { room: 'lab', ok: true }, value: 21.5, isInt: false }] });
  expect(metrics.get('latency')).toMatchObject({
    type: 'histogram',
    temporality,
    unit: 'ms',
    points: [{ attributes: { route: '/a' }, count: 4, sum: 556, min: 1, max: 500, explicitBounds: [10, 100], bucketCounts: [2, 1, 1] }],
  });
  const size = metrics.get('payload.size')!;
  expect(size).toMatchObject({ type: 'exponential_histogram', temporality, unit: 'By' });
  const p = size.points[0] as Extract<Metric, { type: 'exponential_histogram' }>['points'][number];
  expect(p).toMatchObject({ count: 3, sum: 7, min: 1, max: 4, zeroCount: 0 });
  expect(p.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(3);
  expect(p.negative.bucketCounts).toEqual([]);
  // Each of 1, 2, 4 falls in its own bucket: index = ceil(log2(v) * 2^scale) - 1.
  const index = (v: number) => Math.ceil(Math.log2(v) * 2 ** p.scale) - 1;
  for (const v of [1, 2, 4]) expect(p.positive.bucketCounts[index(v) - p.positive.offset]).toBe(1);
}

describe('otlp receiver with the OpenTelemetry JS SDK', () => {
  it('receives OTLP/gRPC (gzip) exactly', async () => {
    const consumer = new CollectingConsumer();
    started = await startReceiver(consumer);
    await sendWithSdk(new GrpcExporter({ url: `http://127.0.0.1:${started.grpcPort}`, compression: 'gzip' as never }));
    assertMetrics(byName(consumer), 'cumulative');
  });

  it('receives OTLP/HTTP protobuf (gzip) exactly', async () => {
    const consumer = new CollectingConsumer();
    started = await startReceiver(consumer);
    await sendWithSdk(new ProtoExporter({ url: `http://127.0.0.1:${started.httpPort}/v1/metrics`, compression: 'gzip' as never }));
    assertMetrics(byName(consumer), 'cumulative');
  });

  it('receives OTLP/HTTP JSON exactly, delta temporality', async () => {
    const consumer = new CollectingConsumer();
    started = await startReceiver(consumer);
    await sendWithSdk(
      new JsonExporter({ url: `http://127.0.0.1:${started.httpPort}/v1/metrics`, temporalityPreference: AggregationTemporality.DELTA }),
    );
    assertMetrics(byName(consumer), 'delta');
  });

  it('passes the bearer token check when the SDK sends it', async () => {
    const consumer = new CollectingConsumer();
    started = await startReceiver(consumer, { auth: { bearer_token: 's3cret-token' } });
    await sendWithSdk(new ProtoExporter({ url: `http://127.0.0.1:${started.httpPort}/v1/metrics`, headers: { Authorization: 'Bearer s3cret-token' } }));
    expect(byName(consumer).get('requests')?.points).toHaveLength(2);
    expect(started.refusedRequests('unauthenticated')).toBe(0);
  });
});
