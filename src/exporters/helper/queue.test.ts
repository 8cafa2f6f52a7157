import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../errors.ts';
import { BatchQueue, pointsByPipeline, type WhenFull } from './queue.ts';
import { gaugeBatch, valuesOf } from './testing.ts';

function queue(whenFull: WhenFull, capacity = 10) {
  const drops: Array<[string, number]> = [];
  const q = new BatchQueue({ capacity, whenFull, onDrop: (r, n) => drops.push([r, n]) });
  return { q, drops };
}

async function drainValues(q: BatchQueue): Promise<number[]> {
  q.close();
  const out: number[] = [];
  for (let e = await q.take(); e; e = await q.take()) {
    out.push(...valuesOf(e.batch!));
    q.complete(e);
  }
  return out;
}

describe('BatchQueue', () => {
  it('drop_oldest evicts the oldest waiting batches and counts them', async () => {
    const { q, drops } = queue('drop_oldest');
    await q.offer(gaugeBatch(4, 0), 4, 'metrics');
    await q.offer(gaugeBatch(4, 4), 4, 'metrics');
    await q.offer(gaugeBatch(4, 8), 4, 'metrics');
    expect(drops).toEqual([['queue_full', 4]]);
    expect(q.size).toBe(8);
    expect(await drainValues(q)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(q.size).toBe(0);
  });

  it('drop_newest drops the incoming batch', async () => {
    const { q, drops } = queue('drop_newest');
    await q.offer(gaugeBatch(6, 0), 6, 'metrics');
    await q.offer(gaugeBatch(6, 6), 6, 'metrics');
    expect(drops).toEqual([['queue_full', 6]]);
    expect(await drainValues(q)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('block refuses with TRIB_REFUSED, reason queue_full and a Retry-After', async () => {
    const { q, drops } = queue('block');
    await q.offer(gaugeBatch(6, 0), 6, 'metrics');
    const err = await q.offer(gaugeBatch(6, 6), 6, 'metrics').catch((e) => e);
    expect(err).toBeInstanceOf(TributaryError);
    expect(err.code).toBe('TRIB_REFUSED');
    expect(err.reason).toBe('queue_full');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(drops).toEqual([]);
    expect(q.size).toBe(6);
  });

  it('splits a batch larger than the queue and keeps its newest part under drop_oldest', async () => {
    const { q, drops } = queue('drop_oldest', 4);
    await q.offer(gaugeBatch(10, 0), 10, 'metrics');
    expect(drops).toEqual([['queue_full', 4], ['queue_full', 4]]);
    expect(await drainValues(q)).toEqual([8, 9]);
  });

  it('counts in-flight entries in size until completed, and never evicts them', async () => {
    const { q, drops } = queue('drop_oldest', 10);
    await q.offer(gaugeBatch(8, 0), 8, 'metrics');
    const e = (await q.take())!;
    await q.offer(gaugeBatch(5, 8), 5, 'metrics');
    expect(drops).toEqual([['queue_full', 5]]);
    expect(q.size).toBe(8);
    q.complete(e);
    expect(q.size).toBe(0);
  });

  it('take waits for an offer; close wakes takers with undefined', async () => {
    const { q } = queue('drop_oldest');
    const t = q.take();
    await q.offer(gaugeBatch(2, 0), 2, 'metrics');
    expect(valuesOf((await t)!.batch!)).toEqual([0, 1]);
    const t2 = q.take();
    q.close();
    expect(await t2).toBeUndefined();
  });

  it('release hands back waiting and in-flight entries, oldest first, with their pipelines', async () => {
    const { q } = queue('drop_oldest');
    await q.offer(gaugeBatch(3, 0), 3, 'metrics');
    await q.offer(gaugeBatch(2, 3), 2, 'metrics/b');
    await q.offer(gaugeBatch(1, 5), 1, 'metrics');
    await q.take();
    const left = await q.release();
    expect(left.map((e) => [e.points, e.pipeline])).toEqual([[3, 'metrics'], [2, 'metrics/b'], [1, 'metrics']]);
    expect(pointsByPipeline(left)).toEqual(new Map([['metrics', 4], ['metrics/b', 2]]));
    expect(q.size).toBe(0);
  });

  it('counts evicted points in the pipeline each batch came in through', async () => {
    const drops: Array<[string, number, string]> = [];
    const q = new BatchQueue({ capacity: 10, whenFull: 'drop_oldest', onDrop: (r, n, p) => drops.push([r, n, p]) });
    await q.offer(gaugeBatch(3, 0), 3, 'a');
    await q.offer(gaugeBatch(4, 3), 4, 'b');
    await q.offer(gaugeBatch(2, 7), 2, 'a');
    await q.offer(gaugeBatch(9, 9), 9, 'c');
    expect(drops).toEqual([['queue_full', 5, 'a'], ['queue_full', 4, 'b']]);
    const e = (await q.take())!;
    expect([e.points, e.pipeline]).toEqual([9, 'c']);
    // Nothing waiting is left to evict (the in-flight entry never is): the new batch is dropped, in its own pipeline.
    await q.offer(gaugeBatch(3, 17), 3, 'b');
    expect(drops.at(-1)).toEqual(['queue_full', 3, 'b']);
  });
});
