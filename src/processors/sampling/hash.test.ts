import { describe, expect, it } from 'vitest';
import { seriesHash, seriesUnit } from './hash.ts';

describe('seriesHash', () => {
  it('is pinned: these values must never change, or every fleet re-picks its series', () => {
    expect(seriesHash('http.server.requests', { method: 'GET', status: 200 })).toBe(1469054297);
    expect(seriesHash('a', {})).toBe(2448022055);
    expect(seriesHash('cpu', { host: 'h1', x: true, y: null, z: 1.5 })).toBe(927005267);
  });

  it('ignores attribute order and tells types apart', () => {
    expect(seriesHash('m', { a: '1', b: 'x' })).toBe(seriesHash('m', { b: 'x', a: '1' }));
    expect(seriesHash('m', { a: '1' })).not.toBe(seriesHash('m', { a: 1 }));
    expect(seriesHash('m', { a: 'b' })).not.toBe(seriesHash('ma', { '': 'b' }));
  });

  it('spreads series that differ only in a trailing digit evenly over [0, 1)', () => {
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) bins[Math.floor(seriesUnit('requests', { host: `host-${i}` }) * 10)]++;
    // Binomial(20000, 0.1): sd ≈ 42; 5 sd either side.
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(212);
  });
});
