import { describe, expect, it } from 'vitest';
import type { HistogramPoint, NumberPoint } from '../../model/metrics.ts';
import { batchOf, gauge, histogram, histogramPoint, metricsOf, numberPoint, recordingDrop, sum } from '../internal/testing.ts';
import { samplingConfigSchema, validateSamplingConfig } from './config.ts';
import { createRandom } from './random.ts';
import { Sampler } from './sampler.ts';

const config = (raw: unknown) => samplingConfigSchema.parse(raw);

/** Run `points` delta-sum values through point sampling at `rate`; returns the estimated total. */
function estimateSum(values: number[], rate: number, seed: number, isInt = false): { total: number; kept: NumberPoint[] } {
  const sampler = new Sampler(config({ default_rate: rate, default_method: 'point', seed }));
  const { drop } = recordingDrop();
  const out = sampler.process(batchOf([sum('bytes', values.map((v) => numberPoint(v, {}, isInt)))]), drop);
  const kept = (metricsOf(out)[0]?.points ?? []) as NumberPoint[];
  return { total: kept.reduce((a, p) => a + p.value, 0), kept };
}

describe('point sampling of delta sums', () => {
  const rng = createRandom(7);
  const values = Array.from({ length: 100_000 }, () => rng() * 100);
  const truth = values.reduce((a, b) => a + b, 0);
  // Horvitz–Thompson: Var = Σ v² (1 − r) / r.
  const sd = (rate: number) => Math.sqrt((values.reduce((a, v) => a + v * v, 0) * (1 - rate)) / rate);

  it('keeps the total within 4 standard deviations of the truth at rate 0.1 (fixed seed)', () => {
    const { total, kept } = estimateSum(values, 0.1, 42);
    expect(Math.abs(total - truth)).toBeLessThan(4 * sd(0.1));
    // ~10% of the points survive: Binomial(1e5, 0.1) has sd ≈ 95.
    expect(Math.abs(kept.length - 10_000)).toBeLessThan(4 * 95);
  });

  it('covers the truth at 2 sd in about 95% of seeds (19 of 20 here, at least 17 required)', () => {
    let within = 0;
    for (let seed = 1; seed <= 20; seed++) if (Math.abs(estimateSum(values, 0.1, seed).total - truth) < 2 * sd(0.1)) within++;
    expect(within).toBeGreaterThanOrEqual(17);
  });

  it('keeps integer counters integers with randomized rounding when 1/rate is not an integer, still unbiased', () => {
    const counts = Array.from({ length: 50_000 }, (_, i) => 1 + (i % 5));
    const countTruth = counts.reduce((a, b) => a + b, 0);
    const { total, kept } = estimateSum(counts, 0.3, 3, true);
    for (const p of kept) expect(Number.isInteger(p.value)).toBe(true);
    const varHT = (counts.reduce((a, v) => a + v * v, 0) * 0.7) / 0.3;
    // Rounding adds at most 1/4 per kept point to the variance.
    expect(Math.abs(total - countTruth)).toBeLessThan(4 * Math.sqrt(varHT + kept.length / 4));
  });

  it('is reproducible with the same seed', () => {
    expect(estimateSum(values.slice(0, 1000), 0.1, 9).total).toBe(estimateSum(values.slice(0, 1000), 0.1, 9).total);
  });
});

describe('point sampling of histograms', () => {
  it('keeps count, sum and every bucket total unbiased, and each point self-consistent', () => {
    const rng = createRandom(11);
    const bounds = [1, 10, 100];
    const points: HistogramPoint[] = [];
    for (let i = 0; i < 40_000; i++) {
      const buckets = [Math.floor(rng() * 5), Math.floor(rng() * 5), Math.floor(rng() * 5), Math.floor(rng() * 5)];
      points.push(histogramPoint(buckets, bounds, buckets[1] * 5 + buckets[2] * 50 + buckets[3] * 200));
    }
    const truthBuckets = [0, 0, 0, 0];
    let truthSum = 0;
    for (const p of points) {
      p.bucketCounts.forEach((c, i) => (truthBuckets[i] += c));
      truthSum += p.sum!;
    }
    const truthCount = truthBuckets.reduce((a, b) => a + b, 0);
    const sampler = new Sampler(config({ default_rate: 0.1, default_method: 'point', seed: 5 }));
    const { drop, dropped } = recordingDrop();
    const out = metricsOf(sampler.process(batchOf([histogram('latency', points)]), drop))[0].points as HistogramPoint[];
    expect(dropped.sampled + out.length).toBe(40_000);
    const gotBuckets = [0, 0, 0, 0];
    let gotSum = 0;
    let gotCount = 0;
    for (const p of out) {
      expect(p.count).toBe(p.bucketCounts.reduce((a, b) => a + b, 0));
      p.bucketCounts.forEach((c, i) => (gotBuckets[i] += c));
      gotSum += p.sum!;
      gotCount += p.count;
    }
    // Per-point bucket count is uniform on 0..4 (variance 2, mean 2 → E[c²] = 6): sd of a bucket total = sqrt(40000·6·9) ≈ 1470.
    for (let i = 0; i < 4; i++) expect(Math.abs(gotBuckets[i] - truthBuckets[i])).toBeLessThan(4 * 1470);
    expect(Math.abs(gotCount - truthCount) / truthCount).toBeLessThan(0.03);
    expect(Math.abs(gotSum - truthSum) / truthSum).toBeLessThan(0.03);
  });
});

describe('what is never scaled', () => {
  it('thins gauges and cumulative sums without changing any value', () => {
    const sampler = new Sampler(config({ default_rate: 0.5, default_method: 'point', seed: 1 }));
    const { drop, dropped } = recordingDrop();
    // Values end in .5: a point scaled by 2 would become an integer and be caught.
    const g = Array.from({ length: 2000 }, (_, i) => numberPoint(i + 0.5, { i }));
    const c = Array.from({ length: 2000 }, (_, i) => numberPoint(1000 + i + 0.5, { i }));
    const out = metricsOf(sampler.process(batchOf([gauge('temp', g), sum('total', c, 'cumulative')]), drop));
    const temps = out.find((m) => m.name === 'temp')!.points as NumberPoint[];
    const totals = out.find((m) => m.name === 'total')!.points as NumberPoint[];
    for (const p of temps) expect(p.value).toBe((p.attributes.i as number) + 0.5);
    for (const p of totals) expect(p.value).toBe(1000 + (p.attributes.i as number) + 0.5);
    expect(dropped.sampled).toBe(4000 - temps.length - totals.length);
    // Binomial(2000, 0.5): sd ≈ 22.
    expect(Math.abs(temps.length - 1000)).toBeLessThan(4 * 23);
  });
});

describe('per-series sampling', () => {
  const seriesBatch = (n: number, reverse = false) => {
    const pts = Array.from({ length: n }, (_, i) => numberPoint(1, { user: `u${i}`, region: i % 3 === 0 ? 'eu' : 'us' }));
    if (reverse) pts.reverse();
    return batchOf([sum('logins', pts)]);
  };
  const keptUsers = (rate: number, seed: number, reverse = false) => {
    const s = new Sampler(config({ default_rate: rate, seed }));
    return new Set((metricsOf(s.process(seriesBatch(10_000, reverse), recordingDrop().drop))[0].points as NumberPoint[]).map((p) => p.attributes.user));
  };

  it('keeps the stated fraction of series, and the same ones on a second run', () => {
    const first = keptUsers(0.25, 1);
    // Binomial(10000, 0.25): sd ≈ 43.
    expect(Math.abs(first.size - 2500)).toBeLessThan(4 * 43);
    const second = keptUsers(0.25, 999, true);
    expect([...second].sort()).toEqual([...first].sort());
  });

  it('nests: the series kept at 0.1 are a subset of those kept at 0.25', () => {
    const low = keptUsers(0.1, 1);
    const high = keptUsers(0.25, 2);
    for (const u of low) expect(high.has(u)).toBe(true);
  });

  it('leaves kept values exact unless scale is set', () => {
    const s = new Sampler(config({ default_rate: 0.5, default_scale: true }));
    const out = metricsOf(s.process(seriesBatch(100), recordingDrop().drop))[0].points as NumberPoint[];
    for (const p of out) expect(p.value).toBe(2);
    const plain = new Sampler(config({ default_rate: 0.5 }));
    for (const p of metricsOf(plain.process(seriesBatch(100), recordingDrop().drop))[0].points as NumberPoint[]) expect(p.value).toBe(1);
  });
});

describe('rules', () => {
  it('picks the first matching rule by name (strict, glob, regexp) and attributes, else the default', () => {
    const s = new Sampler(
      config({
        default_rate: 1,
        rules: [
          { name: 'dev', match_type: 'glob', metric_names: ['http.*'], attributes: [{ key: 'env', value: 'dev*' }], rate: 0 },
          { name: 'http', match_type: 'glob', metric_names: ['http.*'], rate: 0.5, method: 'point' },
          { name: 'debug', match_type: 'regexp', metric_names: ['^debug_'], rate: 0 },
          { name: 'exact', metric_names: ['queue.depth'], resource_attributes: [{ key: 'tier', value: 'batch' }], rate: 0 },
        ],
        seed: 1,
      }),
    );
    const { drop, dropped } = recordingDrop();
    const http = Array.from({ length: 1000 }, (_, i) => numberPoint(1, { env: i < 500 ? 'dev-3' : 'prod' }));
    const out = s.process(
      batchOf([sum('http.requests', http), gauge('debug_x', [numberPoint(1)]), gauge('queue.depth', [numberPoint(1)]), gauge('other', [numberPoint(1)])], { tier: 'batch' }),
      drop,
    );
    const byName = Object.fromEntries(metricsOf(out).map((m) => [m.name, m.points as NumberPoint[]]));
    expect(byName['debug_x']).toBeUndefined();
    expect(byName['queue.depth']).toBeUndefined();
    expect(byName['other']).toHaveLength(1);
    // All dev points dropped; prod points sampled at 0.5 and scaled ×2.
    for (const p of byName['http.requests']) {
      expect(p.attributes.env).toBe('prod');
      expect(p.value).toBe(2);
    }
    expect(Math.abs(byName['http.requests'].length - 250)).toBeLessThan(4 * 16);
    expect(dropped.sampled).toBe(1000 - byName['http.requests'].length + 2);
    expect(s.rules.map((r) => r.name)).toEqual(['dev', 'http', 'debug', 'exact', 'default']);
  });

  it('stamps rate_attribute on unscaled kept points only', () => {
    const s = new Sampler(config({ default_rate: 0.5, rate_attribute: 'sampling.rate', seed: 2, rules: [{ metric_names: ['c'], rate: 0.5, method: 'point' }] }));
    const out = metricsOf(s.process(batchOf([gauge('g', Array.from({ length: 200 }, (_, i) => numberPoint(1, { i }))), sum('c', Array.from({ length: 200 }, () => numberPoint(1)))]), recordingDrop().drop));
    for (const p of out.find((m) => m.name === 'g')!.points) expect(p.attributes['sampling.rate']).toBe(0.5);
    for (const p of out.find((m) => m.name === 'c')!.points) expect(p.attributes['sampling.rate']).toBeUndefined();
  });

  it('validates patterns and names', () => {
    expect(validateSamplingConfig(config({ rules: [{ match_type: 'regexp', metric_names: ['('], rate: 1 }, { name: 'default', rate: 1 }] })).map((i) => i[0])).toEqual([
      'rules[0].metric_names[0]',
      'rules[1].name',
    ]);
    expect(() => config({ default_rate: 1.5 })).toThrow();
    expect(() => config({ rules: [{ rate: 0.5, bogus: 1 }] })).toThrow();
  });
});
