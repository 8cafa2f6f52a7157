import { describe, expect, it } from 'vitest';
import { raceAbort, retryDelay, sleep } from './retry.ts';

const cfg = { enabled: true, initial_interval: 1000, max_interval: 30_000, max_elapsed_time: 300_000, multiplier: 2, randomization_factor: 0.5 };

describe('retryDelay', () => {
  it('grows exponentially and caps at max_interval (no jitter at the midpoint)', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => retryDelay(cfg, a, undefined, mid))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('spreads over ±randomization_factor', () => {
    expect(retryDelay(cfg, 1, undefined, () => 0)).toBe(1000);
    expect(retryDelay(cfg, 1, undefined, () => 0.999999)).toBe(3000);
  });

  it('takes Retry-After as a floor', () => {
    expect(retryDelay(cfg, 0, 7000, () => 0.5)).toBe(7000);
    expect(retryDelay(cfg, 3, 10, () => 0.5)).toBe(8000);
  });
});

describe('sleep and raceAbort', () => {
  it('sleep resolves false when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(await sleep(1)).toBe(true);
  });

  it('raceAbort rejects on abort even if the promise never settles', async () => {
    const ac = new AbortController();
    const p = raceAbort(new Promise(() => {}), ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(raceAbort(Promise.resolve(3), new AbortController().signal)).resolves.toBe(3);
  });
});
