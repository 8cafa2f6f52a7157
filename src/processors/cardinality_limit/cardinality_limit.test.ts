import { describe, expect, it } from 'vitest';
import { CollectingConsumer } from '../../consumer.ts';
import type { ExpHistogramPoint, Metric, NumberPoint } from '../../model/metrics.ts';
import { countPoints } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { batchOf, gauge, histogram, histogramPoint, metricsOf, numberPoint, recordingDrop, sum } from '../internal/testing.ts';
import { cardinalityLimitConfigSchema } from './config.ts';
import { cardinalityLimitProcessorFactory } from './factory.ts';
import { foldPoint } from './fold.ts';
import { CardinalityLimiter } from './limiter.ts';

const cfg = (raw: unknown) => cardinalityLimitConfigSchema.parse(raw);
const users = (from: number, to: number, value = 1) => Array.from({ length: to - from }, (_, i) => numberPoint(value, { user: `u${from + i}` }, true));

describe('cardinality_limit', () => {
  it('folds a flood of unique series into one overflow point, keeping the delta total, with bounded memory', () => {
    let now = 0;
    const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 100 }), () => now);
    const { drop, dropped } = recordingDrop();
    let total = 0;
    for (let round = 0; round < 50; round++) {
      const out = lim.process(batchOf([sum('logins', users(round * 1000, round * 1000 + 1000))]), drop).batch;
      const pts = metricsOf(out)[0].points as NumberPoint[];
      total += pts.reduce((a, p) => a + p.value, 0);
      now += 1000;
    }
    expect(total).toBe(50_000);
    expect(lim.tracker.size()).toEqual({ metrics: 1, series: 100 });
    // 49,900 over-cap points folded into one overflow point per batch (50 batches).
    expect(dropped.cardinality_overflow).toBe(49_900 - 50);
    expect(dropped.cardinality_limit).toBeUndefined();
  });

  it('lets the first series through, known series keep flowing, and new ones overflow', () => {
    const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 3 }));
    const { drop } = recordingDrop();
    lim.process(batchOf([sum('c', users(0, 3))]), drop);
    const out = metricsOf(lim.process(batchOf([sum('c', [...users(0, 3, 2), ...users(10, 15, 5)])]), drop).batch)[0].points as NumberPoint[];
    expect(out.map((p) => [p.attributes, p.value])).toEqual([
      [{ user: 'u0' }, 2],
      [{ user: 'u1' }, 2],
      [{ user: 'u2' }, 2],
      [{ 'otel.metric.overflow': true }, 25],
    ]);
  });

  it('drops instead of folding with action drop, and always for cumulative sums', () => {
    for (const [action, temporality] of [['drop', 'delta'], ['overflow', 'cumulative']] as const) {
      const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 10, action }));
      const { drop, dropped } = recordingDrop();
      const out = lim.process(batchOf([sum('c', users(0, 100), temporality)]), drop).batch;
      expect(countPoints(out)).toBe(10);
      expect(dropped.cardinality_limit).toBe(90);
    }
  });

  it('frees slots of series not seen for the window', () => {
    let now = 0;
    const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 10, window: '1m', action: 'drop' }), () => now);
    const { drop, dropped } = recordingDrop();
    lim.process(batchOf([gauge('g', users(0, 10))]), drop);
    now += 30_000;
    expect(countPoints(lim.process(batchOf([gauge('g', users(10, 20))]), drop).batch)).toBe(0);
    now += 31_000;
    expect(countPoints(lim.process(batchOf([gauge('g', users(10, 20))]), drop).batch)).toBe(10);
    expect(dropped.cardinality_limit).toBe(10);
  });

  it('caps distinct values of one attribute key, and tracks resource as part of identity', () => {
    const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 1000, max_series_per_attribute: { user: 5 }, action: 'drop' }));
    const { drop } = recordingDrop();
    const pts = Array.from({ length: 40 }, (_, i) => numberPoint(1, { user: `u${i % 8}`, path: `/p${i}` }));
    const out = metricsOf(lim.process(batchOf([gauge('g', pts)]), drop).batch)[0].points;
    expect(new Set(out.map((p) => p.attributes.user))).toEqual(new Set(['u0', 'u1', 'u2', 'u3', 'u4']));
    expect(out).toHaveLength(25);
    const byRes = new CardinalityLimiter(cfg({ max_series_per_metric: 2, action: 'drop' }));
    expect(countPoints(byRes.process(batchOf([gauge('g', [numberPoint(1)])], { pod: 'a' }), drop).batch)).toBe(1);
    expect(countPoints(byRes.process(batchOf([gauge('g', [numberPoint(1)])], { pod: 'b' }), drop).batch)).toBe(1);
    expect(countPoints(byRes.process(batchOf([gauge('g', [numberPoint(1)])], { pod: 'c' }), drop).batch)).toBe(0);
  });

  it('bounds the number of tracked metric names', () => {
    const lim = new CardinalityLimiter(cfg({ max_metrics: 3, action: 'drop' }));
    const { drop, dropped } = recordingDrop();
    const out = lim.process(batchOf(Array.from({ length: 10 }, (_, i) => gauge(`m${i}`, [numberPoint(1)]))), drop).batch;
    expect(metricsOf(out).map((m) => m.name)).toEqual(['m0', 'm1', 'm2']);
    expect(dropped.cardinality_limit).toBe(7);
    expect(lim.tracker.size().metrics).toBe(3);
  });

  it('folds histograms with the same bounds and drops ones that differ', () => {
    const lim = new CardinalityLimiter(cfg({ max_series_per_metric: 1 }));
    const { drop, dropped } = recordingDrop();
    const pts = [
      histogramPoint([1, 1], [10], 12, { u: 'a' }),
      histogramPoint([2, 0], [10], 4, { u: 'b' }),
      histogramPoint([0, 3], [10], 60, { u: 'c' }),
      histogramPoint([1, 1, 1], [10, 20], 40, { u: 'd' }),
    ];
    const out = metricsOf(lim.process(batchOf([histogram('h', pts)]), drop).batch)[0].points;
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ attributes: { 'otel.metric.overflow': true }, count: 5, sum: 64, bucketCounts: [2, 3] });
    expect(dropped).toEqual({ cardinality_limit: 1, cardinality_overflow: 1 });
  });

  it('merges exponential histograms at the coarser scale', () => {
    const m: Metric = { type: 'exponential_histogram', name: 'e', description: '', unit: '', temporality: 'delta', points: [] };
    const base = { startTimeUnixNano: 0, timeUnixNano: 1, zeroCount: 1, negative: { offset: 0, bucketCounts: [] } };
    const a: ExpHistogramPoint = { ...base, attributes: {}, count: 4, sum: 10, scale: 1, positive: { offset: 2, bucketCounts: [1, 1, 1] } };
    const b: ExpHistogramPoint = { ...base, attributes: {}, count: 3, sum: 5, scale: 0, positive: { offset: 1, bucketCounts: [2] } };
    const acc = foldPoint(m, foldPoint(m, undefined, a), b) as ExpHistogramPoint;
    // a at scale 1: indexes 2,3,4 → scale 0: 1,1,2. Plus b's 2 at index 1.
    expect(acc).toMatchObject({ scale: 0, count: 7, sum: 15, zeroCount: 2, positive: { offset: 1, bucketCounts: [4, 1] } });
  });

  it('counts limited points by action in its own self-metric', async () => {
    const telemetry = new PipelineTelemetry();
    const next = new CollectingConsumer();
    const p = cardinalityLimitProcessorFactory.create(testSettings('processor', 'cardinality_limit', 'metrics', telemetry), cfg({ max_series_per_metric: 5 }), next);
    await p.consume(batchOf([sum('c', users(0, 20))]));
    expect(countPoints(next.batches[0])).toBe(6);
    expect(telemetry.registry.counter('tributary_cardinality_limited_points_total', '').get({ processor: 'cardinality_limit', pipeline: 'metrics', action: 'overflow' })).toBe(15);
    expect(telemetry.processorDropped.get({ processor: 'cardinality_limit', pipeline: 'metrics', reason: 'cardinality_overflow' })).toBe(14);
  });
});
