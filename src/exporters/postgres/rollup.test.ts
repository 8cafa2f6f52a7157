import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addExplicit, addExponential, addSample, expIndex, mergeAcc, newAcc, quantile, quantileBucket } from './rollup.ts';
import { DeltaTracker } from './delta.ts';
import { expToExplicit, canonicalJson, timestampText } from './encode.ts';
import { parseDays, postgresConfigSchema, validateConfig } from './config.ts';
import { classifyPgError } from './classify.ts';
import { isPermanent } from '../../errors.ts';

const BOUNDS = [1, 2, 5, 10, 20, 50, 100];

function histogram(values: number[], bounds = BOUNDS) {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    counts[i]++;
  }
  return { count: values.length, sum: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values), bounds, counts };
}

function exact(values: number[], q: number): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

describe('rollup percentiles', () => {
  it('interpolate inside the bucket holding the rank, clamped by min and max', () => {
    const acc = newAcc();
    addExplicit(acc, histogram([3, 4, 4, 4, 6, 7, 8, 9, 9, 30]));
    // 10 values; rank 5 falls in (2,5] holding 4 values after 0 before: 2 + 3 * 5/4 would pass 5, so check by bucket.
    expect(quantile(acc, 0.5)).toBeCloseTo(5 + (5 * 1) / 5, 9); // (5,10] holds 5 values, rank 5 is its 1st
    expect(quantile(acc, 1)).toBe(30); // last bucket (20,50] clamped to max 30
    expect(quantile(acc, 0.1)).toBeCloseTo(3 + ((5 - 3) * 1) / 4, 9); // (2,5] with lower edge clamped to min 3
  });

  it('always lie in the bucket of the exact percentile (explicit, property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 200, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.95, 0.99), (values, q) => {
        const acc = newAcc();
        // Split across two points, as two batches would be.
        const half = Math.ceil(values.length / 2);
        addExplicit(acc, histogram(values.slice(0, half)));
        if (values.length > half) {
          const other = newAcc();
          addExplicit(other, histogram(values.slice(half)));
          mergeAcc(acc, other);
        }
        const est = quantile(acc, q)!;
        const [lo, hi] = quantileBucket(acc, q)!;
        const truth = exact(values, q);
        expect(truth).toBeGreaterThanOrEqual(Math.max(lo, acc.min!) - 1e-9);
        expect(truth).toBeLessThanOrEqual(Math.min(hi, acc.max!) + 1e-9);
        expect(est).toBeGreaterThanOrEqual(Math.max(lo, acc.min!) - 1e-9);
        expect(est).toBeLessThanOrEqual(Math.min(hi, acc.max!) + 1e-9);
      }),
    );
  });

  it('of gauge samples stay within the exponential bucket width', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.001, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), (values) => {
        const acc = newAcc();
        for (const v of values) addSample(acc, v);
        const width = 2 ** (2 ** -acc.scale) - 1;
        for (const q of [0.5, 0.95, 0.99]) {
          const truth = exact(values, q);
          expect(Math.abs(quantile(acc, q)! - truth)).toBeLessThanOrEqual(truth * width * 1.0001 + 1e-12);
        }
        expect(acc.positive.bucketCounts.length).toBeLessThanOrEqual(160);
      }),
    );
  });

  it('merge exponential histograms of different scales', () => {
    const a = newAcc();
    addExponential(a, { count: 2, sum: 3, min: 1, max: 2, scale: 3, zeroCount: 0, positive: { offset: expIndex(1.5, 3), bucketCounts: [2] }, negative: { offset: 0, bucketCounts: [] } });
    addExponential(a, { count: 1, sum: 100, min: 100, max: 100, scale: 1, zeroCount: 0, positive: { offset: expIndex(100, 1), bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] } });
    expect(a.scale).toBe(1);
    expect(a.count).toBe(3);
    expect(a.positive.bucketCounts.reduce((x, y) => x + y, 0)).toBe(3);
    expect(quantile(a, 1)).toBe(100);
  });

  it('exponential buckets become explicit bounds with exact edges', () => {
    const ex = expToExplicit(0, 1, 0, { offset: 1, bucketCounts: [2, 3] }, { offset: 0, bucketCounts: [4] });
    // negative bucket 0 is [-2,-1), zero, then (2,4], (4,8]
    expect(ex.bounds).toEqual([-2, -1, 0, 2, 4, 8]);
    expect(ex.counts).toEqual([0, 4, 1, 0, 2, 3, 0]);
  });
});

describe('cumulative to delta', () => {
  it('counts the first point in full only for series that started after the exporter', () => {
    const t = new DeltaTracker(1000);
    expect(t.sum('old', 500, 2000, 10)).toBeUndefined();
    expect(t.sum('old', 500, 3000, 14)).toBe(4);
    expect(t.sum('new', 1500, 2000, 10)).toBe(10);
    expect(t.sum('new', 1500, 2000, 10)).toBeUndefined(); // same point again adds nothing
    expect(t.sum('new', 1500, 2500, 3)).toBe(3); // reset
    expect(t.sum('new', 2600, 2700, 5)).toBe(5); // new start time
  });

  it('subtracts histogram buckets', () => {
    const t = new DeltaTracker(0);
    const out = { counts: [] as number[] };
    const p1 = { startTimeUnixNano: 1, timeUnixNano: 10, count: 3, sum: 6, min: 1, max: 3, explicitBounds: [2], bucketCounts: [2, 1] };
    expect(t.explicit('h', p1, out)).toMatchObject({ count: 3, sum: 6 });
    const p2 = { ...p1, timeUnixNano: 20, count: 5, sum: 16, max: 6, bucketCounts: [2, 3] };
    expect(t.explicit('h', p2, out)).toEqual({ count: 2, sum: 10, min: 2, max: 6 });
    expect(out.counts).toEqual([0, 2]);
  });
});

describe('config and helpers', () => {
  it('parses days and defaults', () => {
    expect(parseDays('30d')).toBe(30 * 86_400_000);
    expect(parseDays('1d12h')).toBe(36 * 3_600_000);
    expect(parseDays('90m')).toBe(5_400_000);
    expect(parseDays('3w')).toBeUndefined();
    const c = postgresConfigSchema.parse({});
    expect(c).toMatchObject({ schema: 'tributary', tenant_attribute: 'tenant.id', retention: 30 * 86_400_000, rollup_intervals: [60_000, 3_600_000] });
    expect(validateConfig(c)).toEqual([]);
    expect(validateConfig(postgresConfigSchema.parse({ dsn: 'postgres://x', host: 'y', rollup_intervals: ['1500ms'] }))).toEqual([
      ['dsn', 'give either dsn or host/port/database/user, not both'],
      ['rollup_intervals.0', 'must be a whole number of seconds, at least 1s'],
    ]);
    expect(postgresConfigSchema.safeParse({ schema: 'Bad-Name' }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ nope: 1 }).success).toBe(false);
  });

  it('classifies pg errors', () => {
    const pgErr = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of ['57P01', '25006', '40001', '40P01', '53300', '08006', 'ECONNREFUSED']) expect(isPermanent(classifyPgError(pgErr(code)))).toBe(false);
    for (const code of ['22P02', '23505', '54000']) expect(isPermanent(classifyPgError(pgErr(code)))).toBe(true);
    expect(isPermanent(classifyPgError(new Error('Connection terminated unexpectedly')))).toBe(false);
  });

  it('formats timestamps with microseconds and canonical JSON', () => {
    // Rounded to the microsecond (the double holding the nanoseconds is 1700000000123456768).
    expect(timestampText(1_700_000_000_123_456_789)).toBe('2023-11-14T22:13:20.123457Z');
    expect(timestampText(1_700_000_000_123e6)).toBe('2023-11-14T22:13:20.123000Z');
    expect(canonicalJson({ b: 1, a: { d: 2, c: new Uint8Array([1]) } })).toBe('{"a":{"c":"AQ==","d":2},"b":1}');
  });
});
