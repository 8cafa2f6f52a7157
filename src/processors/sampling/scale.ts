/**
 * Unbiased re-weighting of a kept point: a delta point kept with probability r
 * stands for 1/r points, so its additive fields are multiplied by k = 1/r and
 * the expected totals over many points are unchanged (Horvitz–Thompson).
 *
 * OTLP counts and integer sums are integers, so k·x is rounded *randomly*:
 * up with probability equal to its fractional part, down otherwise. That
 * rounding is itself unbiased (E[round(y)] = y), so totals stay unbiased;
 * when k is an integer (r = 0.1, 0.25, 0.5 …) nothing is rounded at all.
 * A histogram's count is recomputed as the sum of its rounded buckets so the
 * point stays self-consistent. min/max are kept: they are observations, not
 * totals.
 */
import type { ExpHistogramPoint, HistogramPoint, NumberPoint } from '../../model/metrics.ts';
import type { Random } from './random.ts';

export function roundRandom(x: number, rng: Random): number {
  const f = Math.floor(x);
  const frac = x - f;
  return frac === 0 ? f : rng() < frac ? f + 1 : f;
}

export function scaleNumberPoint(p: NumberPoint, k: number, rng: Random): void {
  p.value = p.isInt ? roundRandom(p.value * k, rng) : p.value * k;
}

function scaleCounts(counts: number[], k: number, rng: Random): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = roundRandom(counts[i] * k, rng);
    counts[i] = c;
    total += c;
  }
  return total;
}

export function scaleHistogramPoint(p: HistogramPoint, k: number, rng: Random): void {
  p.count = p.bucketCounts.length > 0 ? scaleCounts(p.bucketCounts, k, rng) : roundRandom(p.count * k, rng);
  if (p.sum !== undefined) p.sum *= k;
}

export function scaleExpHistogramPoint(p: ExpHistogramPoint, k: number, rng: Random): void {
  const hasBuckets = p.positive.bucketCounts.length + p.negative.bucketCounts.length > 0 || p.zeroCount > 0;
  if (hasBuckets) {
    p.zeroCount = roundRandom(p.zeroCount * k, rng);
    p.count = p.zeroCount + scaleCounts(p.positive.bucketCounts, k, rng) + scaleCounts(p.negative.bucketCounts, k, rng);
  } else {
    p.count = roundRandom(p.count * k, rng);
  }
  if (p.sum !== undefined) p.sum *= k;
}
