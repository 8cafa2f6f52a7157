import { describe, expect, it } from 'vitest';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { CollectingConsumer } from '../../consumer.ts';
import { countPoints } from '../../model/metrics.ts';
import { batchOf, numberPoint, recordingDrop, sum } from '../internal/testing.ts';
import { samplingConfigSchema } from './config.ts';
import { samplingProcessorFactory } from './factory.ts';
import { Sampler } from './sampler.ts';

/**
 * Drive a sampler with a load that steps 5k → 50k → 100k → 2k points/s on a
 * fake clock, batches every 10 ms, and record kept points per second.
 */
function runSteps(method: 'point' | 'series') {
  let now = 0;
  const sampler = new Sampler(
    samplingConfigSchema.parse({ default_method: method, adaptive: { max_points_per_second: 10_000 }, seed: 17 }),
    { now: () => now },
  );
  const phases = [
    { pps: 5_000, seconds: 5 },
    { pps: 50_000, seconds: 10 },
    { pps: 100_000, seconds: 10 },
    { pps: 2_000, seconds: 10 },
  ];
  const keptPerSecond: number[] = [];
  const factorAtSecondEnd: number[] = [];
  let seriesId = 0;
  for (const phase of phases) {
    const perBatch = phase.pps / 100;
    for (let s = 0; s < phase.seconds; s++) {
      let kept = 0;
      for (let b = 0; b < 100; b++) {
        // Fresh series every point so series sampling has many distinct hashes to choose from.
        const points = Array.from({ length: perBatch }, () => numberPoint(1, { id: seriesId++ }));
        kept += countPoints(sampler.process(batchOf([sum('events', points)]), recordingDrop().drop));
        now += 10;
      }
      keptPerSecond.push(kept);
      factorAtSecondEnd.push(sampler.factor());
    }
  }
  return { keptPerSecond, factorAtSecondEnd };
}

describe('adaptive sampling', () => {
  for (const method of ['point', 'series'] as const) {
    it(`holds a 10k points/s budget within 5% under a load that steps up and down (${method})`, () => {
      const { keptPerSecond, factorAtSecondEnd } = runSteps(method);
      // Below the budget: nothing is sampled.
      for (let s = 0; s < 5; s++) expect(keptPerSecond[s]).toBe(5_000);
      // Over the budget: after the first second of each step up, every second is within ±5% of 10k.
      for (const s of [...range(6, 15), ...range(16, 25)]) expect(Math.abs(keptPerSecond[s] - 10_000)).toBeLessThan(500);
      // The first second of a step up overshoots by at most about one interval's budget (early recompute).
      expect(keptPerSecond[5]).toBeLessThan(21_000);
      expect(keptPerSecond[15]).toBeLessThan(21_000);
      // When traffic falls, the rate climbs back to 1 (×2 per interval from 0.1 → four intervals) and everything is kept.
      expect(factorAtSecondEnd[34]).toBe(1);
      for (const s of range(30, 35)) expect(keptPerSecond[s]).toBe(2_000);
      // Never more than the budget while recovering.
      for (const s of range(25, 35)) expect(keptPerSecond[s]).toBeLessThanOrEqual(10_000);
    });
  }

  it('returns to 1 after silence without any new traffic (read lazily, as the gauge does)', () => {
    let now = 0;
    const sampler = new Sampler(samplingConfigSchema.parse({ default_method: 'point', adaptive: { max_points_per_second: 100, min_rate: 0.01 }, seed: 1 }), { now: () => now });
    for (let i = 0; i < 50; i++) {
      sampler.process(batchOf([sum('x', Array.from({ length: 1000 }, () => numberPoint(1)))]), recordingDrop().drop);
      now += 100;
    }
    expect(sampler.factor()).toBeLessThanOrEqual(0.02);
    expect(sampler.factor()).toBeGreaterThanOrEqual(0.01);
    now += 60_000;
    expect(sampler.factor()).toBe(1);
  });
});

describe('tributary_sampling_rate', () => {
  it('is exported per rule with processor and pipeline labels, and removed on shutdown', async () => {
    const telemetry = new PipelineTelemetry();
    const settings = testSettings('processor', 'sampling/fleet', 'metrics/main', telemetry);
    const cfg = samplingProcessorFactory.configSchema.parse({ default_rate: 0.5, rules: [{ name: 'http', metric_names: ['http'], rate: 0.1 }] });
    const next = new CollectingConsumer();
    const proc = samplingProcessorFactory.create(settings, cfg, next);
    const labels = { processor: 'sampling/fleet', pipeline: 'metrics/main' };
    expect(telemetry.samplingRate.get({ ...labels, rule: 'http' })).toBe(0.1);
    expect(telemetry.samplingRate.get({ ...labels, rule: 'default' })).toBe(0.5);
    expect(telemetry.registry.render()).toContain('tributary_sampling_rate{processor="sampling/fleet",pipeline="metrics/main",rule="http"} 0.1');
    await proc.consume(batchOf([sum('http', Array.from({ length: 100 }, (_, i) => numberPoint(1, { i })))]));
    const passed = next.batches.reduce((a, b) => a + countPoints(b), 0);
    expect(passed + telemetry.processorDropped.get({ ...labels, reason: 'sampled' })).toBe(100);
    await proc.shutdown();
    expect(telemetry.samplingRate.get({ ...labels, rule: 'http' })).toBeUndefined();
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
