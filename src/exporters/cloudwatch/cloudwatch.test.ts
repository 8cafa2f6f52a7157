import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Metric, MetricsBatch } from '../../model/metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { startFakeCloudWatch, TEST_CREDENTIALS, THROTTLING, CW_MAX_BYTES, type FakeCloudWatch } from '../../../test/fakes/cloudwatch.ts';
import { cloudwatchExporterFactory, CloudWatchSender } from './factory.ts';
import { cloudwatchConfigSchema } from './config.ts';
import { cloudWatchUnit } from './units.ts';
import { valuesAndCounts } from './translate.ts';

const NOW_NS = Date.now() * 1e6;
const S = 1e9;
const savedEnv = { ...process.env };
/** What the JSON protocol carries: the Date's milliseconds as epoch seconds. */
const epochSeconds = (ns: number) => new Date(ns / 1e6).getTime() / 1000;

function batch(metrics: Metric[], resource: Record<string, string> = { 'service.name': 'checkout' }): MetricsBatch {
  return { resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 's', version: '', attributes: {} }, metrics }] }] };
}

function exporter(fake: FakeCloudWatch, extra: Record<string, unknown> = {}) {
  const settings = testSettings('exporter', 'cloudwatch');
  const config = cloudwatchConfigSchema.parse({
    namespace: 'Tributary/Test',
    region: 'eu-west-1',
    endpoint: fake.url,
    sending_queue: { enabled: false },
    retry_on_failure: { enabled: true, initial_interval: '5ms', max_interval: '20ms', max_elapsed_time: '10s' },
    ...extra,
  });
  const exp = cloudwatchExporterFactory.create(settings, config);
  const failed = (reason: string) => settings.telemetry.exporterFailed.get({ exporter: 'cloudwatch', reason });
  const sent = () => settings.telemetry.exporterSent.get({ exporter: 'cloudwatch' });
  return { exp, settings, failed, sent };
}

describe('cloudwatch exporter against the fake PutMetricData', () => {
  let fake: FakeCloudWatch;
  beforeAll(() => {
    // The SDK's default chain finds these, as it would in a pod with env credentials.
    process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterAll(() => {
    process.env = savedEnv;
  });
  beforeEach(async () => {
    fake = await startFakeCloudWatch();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends gauges as values and sums as deltas, signed, with units and dimensions', async () => {
    const { exp, sent } = exporter(fake, { dimensions: { resource_attributes: ['service.name'] }, storage_resolution: 1 });
    await exp.start(testHost());
    const cumul = (v: number, t: number): Metric => ({
      type: 'sum', name: 'requests', description: '', unit: '{request}', temporality: 'cumulative', monotonic: true,
      points: [{ attributes: { route: '/a' }, startTimeUnixNano: NOW_NS - 100 * S, timeUnixNano: t, value: v }],
    });
    await exp.consume(batch([
      { type: 'gauge', name: 'heap', description: '', unit: 'By', points: [{ attributes: { pool: 'old' }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1024 }] },
      { type: 'sum', name: 'sent', description: '', unit: '1', temporality: 'delta', monotonic: true, points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, value: 3 }] },
      cumul(100, NOW_NS - 20 * S),
    ]));
    await exp.consume(batch([cumul(142, NOW_NS - 10 * S)]));
    expect(fake.violations).toEqual([]);
    expect(fake.requests.every((r) => r.status === 200 && r.region === 'eu-west-1')).toBe(true);
    expect(fake.find('heap', { pool: 'old', 'service.name': 'checkout' })).toEqual([
      { Namespace: 'Tributary/Test', MetricName: 'heap', Dimensions: [{ Name: 'pool', Value: 'old' }, { Name: 'service.name', Value: 'checkout' }], Timestamp: epochSeconds(NOW_NS), Value: 1024, Unit: 'Bytes', StorageResolution: 1 },
    ]);
    expect(fake.find('sent')[0]).toMatchObject({ Value: 3, Unit: 'Count' });
    expect(fake.find('requests').map((d) => [d.Value, d.Unit, d.Timestamp])).toEqual([[42, 'Count', epochSeconds(NOW_NS - 10 * S)]]);
    expect(sent()).toBe(4);
  });

  it('maps histograms to Values/Counts (at most 150) or StatisticValues', async () => {
    const bounds = Array.from({ length: 299 }, (_, i) => i + 1);
    const counts = Array.from({ length: 300 }, () => 1);
    const hist = (name: string): Metric => ({
      type: 'histogram', name, description: '', unit: 'ms', temporality: 'delta',
      points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, count: 10, sum: 250, min: 2, max: 90, explicitBounds: [10, 50, 100], bucketCounts: [4, 4, 2, 0] }],
    });
    const wide: Metric = { type: 'histogram', name: 'wide', description: '', unit: 's', temporality: 'delta', points: [{ attributes: {}, startTimeUnixNano: NOW_NS - 10 * S, timeUnixNano: NOW_NS, count: 300, sum: 45000, min: 0.5, max: 299.5, explicitBounds: bounds, bucketCounts: counts }] };
    const a = exporter(fake);
    await a.exp.start(testHost());
    await a.exp.consume(batch([hist('lat'), wide]));
    const b = exporter(fake, { histograms: { mode: 'statistic_set' } });
    await b.exp.start(testHost());
    await b.exp.consume(batch([hist('lat_stats')]));
    expect(fake.violations).toEqual([]);
    // Midpoints: [2,10] → 6, (10,50] → 30, (50,90] (max closes it) → 70.
    expect(fake.find('lat')[0]).toMatchObject({ Values: [6, 30, 70], Counts: [4, 4, 2], Unit: 'Milliseconds', StorageResolution: 60 });
    const w = fake.find('wide')[0];
    expect(w.Values!.length).toBe(150);
    expect(w.Counts!.reduce((x, y) => x + y, 0)).toBe(300);
    expect(w.Values![0]).toBeCloseTo(1.125, 9); // buckets [0.5,1] and (1,2] merged: midpoints 0.75 and 1.5, one count each
    expect(fake.find('lat_stats')[0]).toMatchObject({ StatisticValues: { SampleCount: 10, Sum: 250, Minimum: 2, Maximum: 90 } });
  });

  it('drops and counts NaN, infinities and values out of range', async () => {
    const { exp, failed, sent } = exporter(fake);
    await exp.start(testHost());
    await exp.consume(batch([
      { type: 'gauge', name: 'g', description: '', unit: '', points: [
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: NaN },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: Infinity },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: -Infinity },
        { attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1e300 },
        { attributes: { ok: 'yes' }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 5 },
      ] },
    ]));
    expect(fake.violations).toEqual([]);
    expect(fake.find('g').map((d) => d.Value)).toEqual([5]);
    expect(sent()).toBe(1);
    expect(failed('non_finite')).toBe(4);
  });

  it('respects the per-request limits: 1000 datums, 1 MB, 30 dimensions', async () => {
    const { exp, sent } = exporter(fake);
    await exp.start(testHost());
    const points = [];
    for (let i = 0; i < 2500; i++) {
      const attributes: Record<string, string> = {};
      for (let d = 0; d < 35; d++) attributes[`dim${String(d).padStart(2, '0')}`] = `value-${i}-${d}-${'x'.repeat(20)}`;
      points.push({ attributes, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: i });
    }
    await exp.consume(batch([{ type: 'gauge', name: 'wide', description: '', unit: '', points }]));
    expect(fake.violations).toEqual([]);
    expect(fake.datums.length).toBe(2500);
    expect(fake.requests.length).toBeGreaterThanOrEqual(3);
    for (const r of fake.requests) {
      expect(r.datums).toBeLessThanOrEqual(1000);
      expect(r.rawBytes).toBeLessThanOrEqual(CW_MAX_BYTES);
    }
    expect(fake.datums[0].Dimensions!.length).toBe(30);
    expect(fake.requests.some((r) => r.encoding === 'gzip')).toBe(true);
    expect(sent()).toBe(2500);
  });

  it('retries Throttling with backoff and never drops it', async () => {
    const { exp, sent, failed, settings } = exporter(fake);
    await exp.start(testHost());
    fake.cue(THROTTLING, 3);
    await exp.consume(batch([{ type: 'gauge', name: 'g', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1 }] }]));
    expect(fake.requests.map((r) => r.status)).toEqual([400, 400, 400, 200]);
    expect(fake.find('g').length).toBe(1);
    expect(sent()).toBe(1);
    expect(failed('throttled')).toBe(0);
    expect(settings.telemetry.exporterRetries.get({ exporter: 'cloudwatch' })).toBe(3);
  });

  it('classifies refused signatures as permanent and invalid parameters as permanent', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret';
    try {
      const { exp, failed } = exporter(fake);
      await exp.start(testHost());
      await exp.consume(batch([{ type: 'gauge', name: 'g', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1 }] }]));
      expect(failed('forbidden')).toBe(1);
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    }
    const sender = new CloudWatchSender(testSettings('exporter', 'cloudwatch'), cloudwatchConfigSchema.parse({ namespace: 'T', region: 'us-east-1', endpoint: fake.url }));
    fake.cue({ status: 400, code: 'InvalidParameterValue', message: 'bad' });
    const b = batch([{ type: 'gauge', name: 'g', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1 }] }]);
    expect(await sender.send(b, new AbortController().signal)).toMatchObject({ rejectedPoints: 1, reason: 'invalid_parameter' });
    fake.cue({ status: 500, code: 'InternalServiceError' });
    await expect(sender.send(batch([{ type: 'gauge', name: 'h', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 1 }] }]), new AbortController().signal)).rejects.toMatchObject({ code: 'TRIB_RETRYABLE', reason: 'http_500' });
  });

  it('applies dimension include lists and awsemf-style rollups', async () => {
    const { exp } = exporter(fake, { dimensions: { include: ['route', 'service.name'], rollup: 'ZeroAndSingleDimensionRollup' } });
    await exp.start(testHost());
    await exp.consume(batch([{ type: 'gauge', name: 'g', description: '', unit: '', points: [{ attributes: { route: '/a', pod: 'p1' }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 2 }] }]));
    expect(fake.violations).toEqual([]);
    expect(fake.find('g').map((d) => (d.Dimensions ?? []).map((x) => `${x.Name}=${x.Value}`).join(','))).toEqual(['route=/a,service.name=checkout', '', 'route=/a', 'service.name=checkout']);
  });
});

describe('cloudwatch EMF format', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-emf-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes Embedded Metric Format lines with dimension sets', async () => {
    const file = path.join(dir, 'emf.log');
    const settings = testSettings('exporter', 'cloudwatch/emf');
    const config = cloudwatchConfigSchema.parse({ namespace: 'App', format: 'emf', emf: { output: file }, dimensions: { rollup: 'SingleDimensionRollupOnly' }, sending_queue: { enabled: false } });
    const exp = cloudwatchExporterFactory.create(settings, config);
    await exp.start(testHost());
    await exp.consume(batch([
      { type: 'gauge', name: 'g', description: '', unit: 'ms', points: [{ attributes: { a: '1', b: '2' }, startTimeUnixNano: 0, timeUnixNano: NOW_NS, value: 3 }] },
      { type: 'histogram', name: 'h', description: '', unit: 's', temporality: 'delta', points: [{ attributes: { a: '1', b: '2' }, startTimeUnixNano: NOW_NS - S, timeUnixNano: NOW_NS, count: 3, sum: 6, min: 1, max: 3, explicitBounds: [2], bucketCounts: [1, 2] }] },
    ]));
    await exp.shutdown();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        _aws: { Timestamp: Math.floor(NOW_NS / 1e6), CloudWatchMetrics: [{ Namespace: 'App', Dimensions: [['a', 'b'], ['a'], ['b']], Metrics: [{ Name: 'g', Unit: 'Milliseconds' }, { Name: 'h', Unit: 'Seconds' }] }] },
        a: '1',
        b: '2',
        g: 3,
        h: { Values: [1.5, 2.5], Counts: [1, 2], Count: 3, Sum: 6.5, Min: 1.5, Max: 2.5 },
      },
    ]);
    expect(settings.telemetry.exporterSent.get({ exporter: 'cloudwatch/emf' })).toBe(2);
  });
});

describe('cloudwatch units and values', () => {
  it('maps UCUM units', () => {
    expect(cloudWatchUnit('ms', false)).toBe('Milliseconds');
    expect(cloudWatchUnit('By', false)).toBe('Bytes');
    expect(cloudWatchUnit('By/s', false)).toBe('Bytes/Second');
    expect(cloudWatchUnit('%', false)).toBe('Percent');
    expect(cloudWatchUnit('{request}', true)).toBe('Count');
    expect(cloudWatchUnit('1', true)).toBe('Count');
    expect(cloudWatchUnit('1', false)).toBe('None');
    expect(cloudWatchUnit('furlong', false)).toBe('None');
  });
  it('merges equal midpoints', () => {
    expect(valuesAndCounts([{ lower: 1, upper: 1, count: 2 }, { lower: 1, upper: 1, count: 3 }])).toEqual({ values: [1], counts: [5] });
  });
  it('requires a namespace outside AWS/', () => {
    expect(cloudwatchExporterFactory.validate!(cloudwatchConfigSchema.parse({}))).toEqual([['namespace', expect.any(String)]]);
    expect(cloudwatchExporterFactory.validate!(cloudwatchConfigSchema.parse({ namespace: 'AWS/EC2' }))).toEqual([['namespace', expect.stringContaining('AWS/')]]);
  });
});
