import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Metric, MetricsBatch } from '../../model/metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { startFakeDatadog, type FakeDatadog, DD_MAX_COMPRESSED, DD_MAX_RAW } from '../../../test/fakes/datadog.ts';
import { datadogExporterFactory } from './factory.ts';
import { datadogConfigSchema } from './config.ts';
import { sketchBins, sketchKey, keyLowerBound } from './sketch.ts';

const NOW_NS = Date.now() * 1e6;
const S = 1e9;

function batch(metrics: Metric[], resource: Record<string, string> = { 'host.name': 'web-1', 'service.name': 'checkout', 'deployment.environment.name': 'prod', 'service.version': '1.2.3' }): MetricsBatch {
  return {
    resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 's', version: '', attributes: {} }, metrics }] }],
  };
}

function exporter(fake: FakeDatadog, extra: Record<string, unknown> = {}) {
  const settings = testSettings('exporter', 'datadog');
  // No queue, no retry: consume() returns once the batch is delivered or refused, so counters can be read right after.
  const config = datadogConfigSchema.parse({ api: { key: 'test-api-key' }, endpoint: fake.url, sending_queue: { enabled: false }, retry_on_failure: { enabled: false }, ...extra });
  const exp = datadogExporterFactory.create(settings, config);
  const failed = (reason: string) => settings.telemetry.exporterFailed.get({ exporter: 'datadog', reason });
  const sent = () => settings.telemetry.exporterSent.get({ exporter: 'datadog' });
  return { exp, settings, failed, sent };
}

describe('datadog exporter against the fake intake', () => {
  let fake: FakeDatadog;
  beforeEach(async () => {
    fake = await startFakeDatadog();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('maps gauges, delta and cumulative sums with tags, host and intervals', async () => {
    const { exp, sent } = exporter(fake);
    await exp.start(testHost());
    const t0 = NOW_NS - 30 * S;
    const cumul = (v: number, t: number): Metric => ({
      type: 'sum', name: 'requests', description: '', unit: '1', temporality: 'cumulative', monotonic: true,
      points: [{ attributes: { route: '/a' }, startTimeUnixNano: t0 - 60 * S, timeUnixNano: t, value: v }],
    });
    await exp.consume(batch([
      { type: 'gauge', name: 'queue.depth', description: '', unit: '1', points: [{ attributes: { queue: 'q1' }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 7.5 }] },
      { type: 'sum', name: 'jobs.done', description: '', unit: '1', temporality: 'delta', monotonic: true, points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, value: 4, isInt: true }] },
      { type: 'sum', name: 'inflight', description: '', unit: '1', temporality: 'cumulative', monotonic: false, points: [{ attributes: {}, startTimeUnixNano: t0, timeUnixNano: NOW_NS, value: -3 }] },
      cumul(100, t0),
    ]));
    await exp.consume(batch([cumul(130, t0 + 15 * S)]));
    await exp.consume(batch([cumul(5, t0 + 30 * S)])); // value went down: a reset, new baseline
    await exp.consume(batch([cumul(12, t0 + 40 * S)]));
    expect(fake.violations).toEqual([]);

    const [gauge] = fake.find('queue.depth');
    expect(gauge.type).toBe(3);
    expect(gauge.points).toEqual([{ timestamp: Math.floor(NOW_NS / S), value: 7.5 }]);
    expect(gauge.resources).toEqual([{ name: 'web-1', type: 'host' }]);
    expect(gauge.tags).toEqual(['service:checkout', 'env:prod', 'version:1.2.3', 'queue:q1']);
    expect(gauge.interval).toBeUndefined();

    const [delta] = fake.find('jobs.done');
    expect(delta.type).toBe(1);
    expect(delta.interval).toBe(10);
    expect(delta.points[0].value).toBe(4);

    expect(fake.find('inflight')[0].type).toBe(3);
    expect(fake.find('inflight')[0].points[0].value).toBe(-3);

    const reqs = fake.find('requests');
    expect(reqs.map((s) => [s.type, s.points[0].value, s.interval])).toEqual([[1, 30, 15], [1, 7, 10]]);
    expect(reqs[0].points[0].timestamp).toBe(Math.floor((t0 + 15 * S) / S));
    // Every point accepted is accounted as sent (baselines are delivered through the deltas after them).
    expect(sent()).toBe(7);
  });

  it('sends histograms as DogStatsD aggregates and summaries as count/sum/quantiles', async () => {
    const { exp } = exporter(fake);
    await exp.start(testHost());
    await exp.consume(batch([
      {
        type: 'histogram', name: 'latency', description: '', unit: 'ms', temporality: 'delta',
        points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, count: 10, sum: 250, min: 2, max: 90, explicitBounds: [10, 50, 100], bucketCounts: [4, 4, 2, 0] }],
      },
      { type: 'summary', name: 'rpc', description: '', unit: 's', points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 20 * S, timeUnixNano: NOW_NS - 10 * S, count: 5, sum: 2, quantiles: [{ quantile: 0.5, value: 0.3 }, { quantile: 0.99, value: 0.9 }] }] },
    ]));
    await exp.consume(batch([
      { type: 'summary', name: 'rpc', description: '', unit: 's', points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 20 * S, timeUnixNano: NOW_NS, count: 8, sum: 3.5, quantiles: [{ quantile: 0.5, value: 0.4 }] }] },
    ]));
    expect(fake.violations).toEqual([]);
    const v = (name: string) => fake.find(name).map((s) => s.points[0].value);
    expect(v('latency.count')).toEqual([10]);
    expect(fake.find('latency.count')[0]).toMatchObject({ type: 1, interval: 10 });
    expect(v('latency.sum')).toEqual([250]);
    expect(v('latency.avg')).toEqual([25]);
    expect(v('latency.min')).toEqual([2]);
    expect(v('latency.max')).toEqual([90]);
    // p50: rank 5 falls in (10,50] one of 4 → 10 + 40·(1/4) = 20; p95: rank 9.5 in (50,90] (max closes it) → 50 + 40·(1.5/2) = 80.
    expect(v('latency.p50')).toEqual([20]);
    expect(v('latency.p95')).toEqual([80]);
    expect(v('latency.p99')[0]).toBeCloseTo(88, 6);
    expect(fake.find('latency.p95')[0].type).toBe(3);

    expect(v('rpc.count')).toEqual([3]);
    expect(v('rpc.sum')).toEqual([1.5]);
    expect(fake.find('rpc.count')[0].interval).toBe(10);
    expect(fake.find('rpc.quantile', 'quantile:0.99').map((s) => s.points[0].value)).toEqual([0.9]);
    expect(fake.find('rpc.quantile', 'quantile:0.5').map((s) => s.points[0].value)).toEqual([0.3, 0.4]);
  });

  it('sends distributions as sketches whose bins add up to the count', async () => {
    const { exp } = exporter(fake, { metrics: { histograms: { mode: 'distributions' } } });
    await exp.start(testHost());
    await exp.consume(batch([
      {
        type: 'histogram', name: 'latency', description: '', unit: 'ms', temporality: 'delta',
        points: [{ attributes: { route: '/a' }, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, count: 10, sum: 250, min: 2, max: 90, explicitBounds: [10, 50, 100], bucketCounts: [4, 4, 2, 0] }],
      },
      {
        type: 'exponential_histogram', name: 'size', description: '', unit: 'By', temporality: 'delta',
        points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, count: 6, sum: 21, scale: 0, zeroCount: 1, positive: { offset: 0, bucketCounts: [2, 3] }, negative: { offset: 0, bucketCounts: [] } }],
      },
    ]));
    expect(fake.violations).toEqual([]);
    expect(fake.series).toEqual([]);
    const lat = fake.sketches.find((s) => s.metric === 'latency')!;
    expect(lat).toMatchObject({ host: 'web-1', cnt: 10, min: 2, max: 90, sum: 250, avg: 25, ts: Math.floor(NOW_NS / S) });
    expect(lat.tags).toContain('route:/a');
    // The 4 values in [2,10] spread over the keys of that range, the last 2 over [50,90].
    expect(lat.k[0]).toBeGreaterThanOrEqual(sketchKey(2));
    expect(lat.k[lat.k.length - 1]).toBeLessThanOrEqual(sketchKey(90));
    const inRange = (lo: number, hi: number) => lat.k.reduce((n, k, i) => (k >= sketchKey(lo) && k <= sketchKey(hi) ? n + lat.n[i] : n), 0);
    expect([inRange(2, 10), inRange(10.01, 50), inRange(50.01, 90)]).toEqual([4, 4, 2]);
    const size = fake.sketches.find((s) => s.metric === 'size')!;
    expect(size.cnt).toBe(6);
    expect(size.k[0]).toBe(0); // the zero bucket
    expect(size.n[0]).toBe(1);
  });

  it('drops and counts points Datadog would refuse', async () => {
    const { exp, failed, sent } = exporter(fake);
    await exp.start(testHost());
    await exp.consume(batch([
      { type: 'gauge', name: 'g', description: '', unit: '', points: [
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS - 2 * 3600 * S, value: 1 },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS + 3600 * S, value: 1 },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: NaN },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS - 2 * 3600 * S, value: 1 },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 2 },
      ] },
    ]));
    expect(fake.violations).toEqual([]);
    expect(fake.find('g').map((s) => s.points[0].value)).toEqual([2]);
    expect(sent()).toBe(1);
    // One reason names the batch's drops (the largest group); the total is exact.
    expect(failed('too_old')).toBe(4);
  });

  it('keeps every request under the intake limits', async () => {
    const { exp, sent } = exporter(fake);
    await exp.start(testHost());
    const points = [];
    // Random-ish tags compress poorly, forcing several requests.
    for (let i = 0; i < 30_000; i++) points.push({ attributes: { id: `${i}-${(i * 2654435761) % 1e9}`, pod: `pod-${(i * 7919) % 9973}` }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: i * 1.5 });
    await exp.consume(batch([{ type: 'gauge', name: 'wide', description: '', unit: '', points }]));
    expect(fake.violations).toEqual([]);
    expect(fake.requests.length).toBeGreaterThan(1);
    for (const r of fake.requests) {
      expect(r.status).toBe(202);
      expect(r.wireBytes).toBeLessThanOrEqual(DD_MAX_COMPRESSED);
      expect(r.rawBytes).toBeLessThanOrEqual(DD_MAX_RAW);
    }
    expect(fake.series.length).toBe(30_000);
    expect(sent()).toBe(30_000);
  });

  it('classifies answers: 403 permanent, 429 and 5xx retryable with the wait asked for', async () => {
    const { exp, failed } = exporter(fake, { api: { key: 'wrong' } });
    await exp.start(testHost());
    const g: Metric = { type: 'gauge', name: 'g', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1 }] };
    await exp.consume(batch([g]));
    expect(failed('forbidden')).toBe(1);

    const { DatadogSender } = await import('./factory.ts');
    const settings = testSettings('exporter', 'datadog');
    const sender = new DatadogSender(settings, datadogConfigSchema.parse({ api: { key: 'test-api-key' }, endpoint: fake.url }));
    const b = batch([structuredClone(g)]);
    fake.cue({ status: 429, headers: { 'x-ratelimit-reset': '7' } });
    await expect(sender.send(b, new AbortController().signal)).rejects.toMatchObject({ code: 'TRIB_RETRYABLE', reason: 'throttled', retryAfterMs: 7000 });
    fake.cue({ status: 503, headers: { 'retry-after': '2' } });
    await expect(sender.send(b, new AbortController().signal)).rejects.toMatchObject({ code: 'TRIB_RETRYABLE', reason: 'http_503', retryAfterMs: 2000 });
    // The retry of the same batch goes through, once.
    await sender.send(b, new AbortController().signal);
    expect(fake.find('g').length).toBe(1);
    fake.cue({ status: 400 });
    const outcome = await sender.send(batch([structuredClone(g)]), new AbortController().signal);
    expect(outcome).toMatchObject({ rejectedPoints: 1, reason: 'http_400' });
  });

  it('resumes a cumulative series after a retry without double counting', async () => {
    const { DatadogSender } = await import('./factory.ts');
    const sender = new DatadogSender(testSettings('exporter', 'datadog'), datadogConfigSchema.parse({ api: { key: 'test-api-key' }, endpoint: fake.url }));
    const c = (v: number, t: number): MetricsBatch =>
      batch([{ type: 'sum', name: 'c', description: '', unit: '', temporality: 'cumulative', monotonic: true, points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 100 * S, timeUnixNano: t, value: v }] }]);
    const signal = new AbortController().signal;
    await sender.send(sender.prepare(c(10, NOW_NS - 20 * S)), signal);
    const second = sender.prepare(c(25, NOW_NS - 10 * S));
    fake.cue({ status: 502 });
    await expect(sender.send(second, signal)).rejects.toMatchObject({ reason: 'http_502' });
    await sender.send(second, signal);
    await sender.send(sender.prepare(c(26, NOW_NS)), signal);
    expect(fake.find('c').map((s) => s.points[0].value)).toEqual([15, 1]);
  });
});

describe('datadog config', () => {
  it('requires api.key and builds the site URL', async () => {
    const cfg = datadogConfigSchema.parse({ api: { site: 'datadoghq.eu' } });
    expect(datadogExporterFactory.validate!(cfg)).toEqual([['api.key', expect.stringContaining('required')]]);
    const { intakeBaseUrl } = await import('./config.ts');
    expect(intakeBaseUrl(cfg)).toBe('https://api.datadoghq.eu');
    expect(() => datadogConfigSchema.parse({ api: { key: 'k' }, bogus: 1 })).toThrow();
  });
});

describe('sketch bins', () => {
  it('keys bracket their values and bins conserve counts', () => {
    for (const v of [1e-6, 0.5, 1, 3.7, 1000, 1e9]) {
      const k = sketchKey(v);
      expect(keyLowerBound(k) / v).toBeGreaterThan(0.99);
      expect(keyLowerBound(k) / v).toBeLessThan(1.01);
      expect(sketchKey(-v)).toBe(-k);
    }
    const bins = sketchBins([{ lower: -5, upper: 5, count: 101 }, { lower: 10, upper: 1000, count: 999 }]);
    expect(bins.counts.reduce((a, b) => a + b, 0)).toBe(1100);
    expect(bins.keys).toEqual([...bins.keys].sort((a, b) => a - b));
  });
});
