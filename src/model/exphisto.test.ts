import { describe, expect, it } from 'vitest';
import { ExpHistogram, lowerBoundary, mapToIndex } from './exphisto.ts';

/** Reference mapping straight from the definition: the i with base^i < v <= base^(i+1). */
function refIndex(v: number, scale: number): number {
  let i = Math.floor(Math.log2(v) * 2 ** scale);
  while (lowerBoundary(i, scale) >= v) i--;
  while (lowerBoundary(i + 1, scale) < v) i++;
  return i;
}

describe('mapToIndex', () => {
  it('puts powers of two at the inclusive upper edge of their bucket, at every scale', () => {
    for (const scale of [-3, -1, 0, 1, 3, 8, 20]) {
      for (const e of [-20, -1, 0, 1, 2, 10, 50]) {
        expect(mapToIndex(2 ** e, scale)).toBe(refIndex(2 ** e, scale));
      }
    }
    expect(mapToIndex(1, 0)).toBe(-1);
    expect(mapToIndex(2, 0)).toBe(0);
    expect(mapToIndex(3, 0)).toBe(1);
    expect(mapToIndex(4, 0)).toBe(1);
    expect(mapToIndex(5, 0)).toBe(2);
  });

  it('agrees with the definition for arbitrary values', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 2000; k++) {
      const v = rnd() * 10 ** Math.floor(rnd() * 12 - 4);
      if (v === 0) continue;
      for (const scale of [-2, 0, 2, 5]) expect(mapToIndex(v, scale)).toBe(refIndex(v, scale));
    }
  });

  it('maps subnormals', () => {
    expect(mapToIndex(Number.MIN_VALUE, 0)).toBe(-1075);
  });
});

describe('ExpHistogram', () => {
  it('keeps count, sum, min, max and zero count, with float weights', () => {
    const h = new ExpHistogram();
    h.record(0, 1);
    h.record(10, 2.5);
    h.record(-4, 1);
    const p = h.toPoint(1, 2, { a: 'b' });
    expect(p.count).toBe(4.5);
    expect(p.sum).toBe(21);
    expect(p.min).toBe(-4);
    expect(p.max).toBe(10);
    expect(p.zeroCount).toBe(1);
    expect(p.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(2.5);
    expect(p.negative.bucketCounts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(p.attributes).toEqual({ a: 'b' });
  });

  it('a single value sits at the finest scale, in the bucket that holds it', () => {
    const h = new ExpHistogram();
    h.record(3);
    const p = h.toPoint(0, 0, {});
    expect(p.scale).toBe(20);
    expect(p.positive.bucketCounts).toEqual([1]);
    expect(lowerBoundary(p.positive.offset, p.scale)).toBeLessThan(3);
    expect(lowerBoundary(p.positive.offset + 1, p.scale)).toBeGreaterThanOrEqual(3);
  });

  it('downscales to stay within max size, and every value stays in its bucket', () => {
    const h = new ExpHistogram(20);
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) values.push(i * 0.37);
    for (const v of values) h.record(v);
    const p = h.toPoint(0, 0, {});
    expect(p.positive.bucketCounts.length).toBeLessThanOrEqual(20);
    expect(p.count).toBe(1000);
    // Recount by the final scale's mapping: the buckets must match exactly.
    const expected = new Map<number, number>();
    for (const v of values) {
      const i = mapToIndex(v, p.scale);
      expected.set(i, (expected.get(i) ?? 0) + 1);
    }
    p.positive.bucketCounts.forEach((c, k) => expect(c).toBe(expected.get(p.positive.offset + k) ?? 0));
    // 0.37..370 is indexes -3..17 at scale 1 (21 buckets, one too many): scale 0 it is.
    expect(p.scale).toBe(0);
  });

  it('downscales both signs together', () => {
    const h = new ExpHistogram(4);
    h.record(-1);
    h.record(1);
    h.record(1000);
    const p = h.toPoint(0, 0, {});
    expect(p.positive.bucketCounts.length).toBeLessThanOrEqual(4);
    expect(mapToIndex(1, p.scale)).toBe(p.positive.offset);
    expect(p.negative.offset).toBe(mapToIndex(1, p.scale));
    expect(p.negative.bucketCounts).toEqual([1]);
  });

  it('grows its window in both directions without losing counts', () => {
    const h = new ExpHistogram(160);
    for (let i = 0; i < 200; i++) h.record(1000 / (i + 1));
    for (let i = 0; i < 200; i++) h.record(1000 * (i + 1));
    const p = h.toPoint(0, 0, {});
    expect(p.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(400);
    expect(p.positive.bucketCounts.length).toBeLessThanOrEqual(160);
  });

  it('ignores non-finite values and non-positive weights', () => {
    const h = new ExpHistogram();
    expect(h.record(NaN)).toBe(false);
    expect(h.record(Infinity)).toBe(false);
    expect(h.record(1, 0)).toBe(false);
    expect(h.toPoint(0, 0, {}).count).toBe(0);
  });

  it('resets to empty', () => {
    const h = new ExpHistogram(4);
    h.record(1);
    h.record(1e6);
    h.reset();
    h.record(5);
    const p = h.toPoint(0, 0, {});
    expect(p.scale).toBe(20);
    expect(p.count).toBe(1);
    expect(p.positive.bucketCounts).toEqual([1]);
  });
});
