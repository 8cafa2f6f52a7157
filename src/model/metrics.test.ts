import { describe, expect, it } from 'vitest';
import { attributesKey, cloneBatch, countPoints, splitBatch, type MetricsBatch } from './metrics.ts';

function batchWith(points: number): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'a' } },
        scopeMetrics: [
          {
            scope: { name: 's', version: '1', attributes: {} },
            metrics: [
              {
                name: 'c',
                description: '',
                unit: '1',
                type: 'sum',
                temporality: 'delta',
                monotonic: true,
                points: Array.from({ length: points }, (_, i) => ({ attributes: { i }, startTimeUnixNano: 0, timeUnixNano: 1, value: i })),
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('metrics model', () => {
  it('counts points', () => {
    expect(countPoints(batchWith(7))).toBe(7);
  });

  it('splits a batch inside a metric without losing or duplicating points', () => {
    const parts = splitBatch(batchWith(10), 3);
    expect(parts.map(countPoints)).toEqual([3, 3, 3, 1]);
    const values = parts.flatMap((p) => p.resourceMetrics[0].scopeMetrics[0].metrics[0].points.map((pt) => (pt as { value: number }).value));
    expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('clones deeply', () => {
    const a = batchWith(1);
    const b = cloneBatch(a);
    b.resourceMetrics[0].scopeMetrics[0].metrics[0].points[0].attributes.i = 99;
    expect(a.resourceMetrics[0].scopeMetrics[0].metrics[0].points[0].attributes.i).toBe(0);
  });

  it('keys attribute sets independently of key order', () => {
    expect(attributesKey({ a: 1, b: 'x' })).toBe(attributesKey({ b: 'x', a: 1 }));
    expect(attributesKey({ a: 1 })).not.toBe(attributesKey({ a: '1' }));
  });
});
