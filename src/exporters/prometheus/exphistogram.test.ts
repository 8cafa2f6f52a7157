import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ExpHistogramPoint } from '../../model/metrics.ts';
import { expStateFromPoint, expToClassic, MAX_BUCKETS, mergeExpState } from './exphistogram.ts';

function point(p: Partial<ExpHistogramPoint>): ExpHistogramPoint {
  return {
    attributes: {},
    startTimeUnixNano: 0,
    timeUnixNano: 0,
    count: 0,
    scale: 0,
    zeroCount: 0,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
    ...p,
  };
}

describe('exponential → classic buckets', () => {
  it('downscales to powers of two and exposes the populated range with its lower edge', () => {
    // Scale 2: base 2^(1/4); indexes 0..7 cover (1, 4]; at scale 0 they are (1,2] and (2,4].
    const s = expStateFromPoint(point({ count: 8, sum: 20, scale: 2, positive: { offset: 0, bucketCounts: [1, 1, 1, 1, 1, 1, 1, 1] } }));
    expect(s.scale).toBe(0);
    expect(expToClassic(s)).toEqual({ bounds: [1, 2, 4], cumulative: [0, 4, 8] });
  });

  it('keeps a coarser source scale and handles negative offsets', () => {
    // Scale -1: base 4; index -1 is (0.25, 1], index 0 is (1, 4].
    const s = expStateFromPoint(point({ count: 3, scale: -1, positive: { offset: -1, bucketCounts: [1, 2] } }));
    expect(expToClassic(s)).toEqual({ bounds: [0.25, 1, 4], cumulative: [0, 1, 3] });
  });

  it('places negatives, then the zero bucket, then positives', () => {
    const s = expStateFromPoint(
      point({ count: 7, scale: 0, zeroCount: 2, zeroThreshold: 0.001, positive: { offset: 0, bucketCounts: [3] }, negative: { offset: 1, bucketCounts: [1, 1] } }),
    );
    // negative index 2: [-8,-4), index 1: [-4,-2); zero [-0.001, 0.001]; positive (1,2].
    expect(expToClassic(s)).toEqual({ bounds: [-4, -2, 0.001, 1, 2], cumulative: [1, 2, 4, 4, 7] });
  });

  it('caps the number of buckets by lowering the scale', () => {
    const counts = new Array(300).fill(1);
    const s = expStateFromPoint(point({ count: 300, scale: 0, positive: { offset: -150, bucketCounts: counts } }));
    expect(s.pos.length).toBeLessThanOrEqual(MAX_BUCKETS);
    const { cumulative } = expToClassic(s);
    expect(cumulative[cumulative.length - 1]).toBe(300);
  });

  it('merges deltas at different scales exactly', () => {
    const acc = expStateFromPoint(point({ count: 2, sum: 3, scale: 0, positive: { offset: 0, bucketCounts: [1, 1] } }));
    mergeExpState(acc, expStateFromPoint(point({ count: 1, sum: 1.5, scale: -1, positive: { offset: 0, bucketCounts: [1] } })));
    expect(acc.scale).toBe(-1);
    expect(acc.count).toBe(3);
    expect(acc.sum).toBe(4.5);
    // Scale -1, index 0 is (1, 4]: all three values.
    expect(expToClassic(acc)).toEqual({ bounds: [1, 4], cumulative: [0, 3] });
  });

  it('yields non-decreasing cumulative counts that end at the point count (property)', () => {
    const buckets = fc.array(fc.nat({ max: 1000 }), { maxLength: 200 });
    fc.assert(
      fc.property(fc.integer({ min: -4, max: 8 }), fc.integer({ min: -300, max: 300 }), buckets, buckets, fc.nat({ max: 50 }), (scale, offset, pos, neg, zero) => {
        const total = pos.reduce((a, b) => a + b, 0) + neg.reduce((a, b) => a + b, 0) + zero;
        const s = expStateFromPoint(point({ count: total, scale, zeroCount: zero, positive: { offset, bucketCounts: pos }, negative: { offset: -offset, bucketCounts: neg } }));
        const { bounds, cumulative } = expToClassic(s);
        for (let i = 1; i < bounds.length; i++) {
          expect(bounds[i]).toBeGreaterThan(bounds[i - 1]);
          expect(cumulative[i]).toBeGreaterThanOrEqual(cumulative[i - 1]);
        }
        // The last finite bucket holds everything (no value lies above the populated range),
        // unless that range's upper edge overflows a double and only +Inf can hold it.
        const last = cumulative.length > 0 ? cumulative[cumulative.length - 1] : 0;
        expect(last).toBeLessThanOrEqual(total);
        if (Number.isFinite(2 ** ((offset + pos.length) * 2 ** -Math.min(scale, 0))) && Number.isFinite(2 ** ((-offset + neg.length) * 2 ** -Math.min(scale, 0)))) {
          if (cumulative.length > 0) expect(last).toBe(total);
        }
        expect(s.pos.length).toBeLessThanOrEqual(MAX_BUCKETS);
        expect(s.neg.length).toBeLessThanOrEqual(MAX_BUCKETS);
      }),
      { numRuns: 300 },
    );
  });
});
