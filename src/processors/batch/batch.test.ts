import { describe, expect, it } from 'vitest';
import { CollectingConsumer } from '../../consumer.ts';
import { countPoints, type MetricsBatch } from '../../model/metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { refusedError } from '../../errors.ts';
import { batchProcessorFactory } from './factory.ts';

function gaugeBatch(points: number, name = 'g'): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: {} },
        scopeMetrics: [
          {
            scope: { name: 't', version: '', attributes: {} },
            metrics: [{ name, description: '', unit: '', type: 'gauge', points: Array.from({ length: points }, (_, i) => ({ attributes: { i }, startTimeUnixNano: 0, timeUnixNano: 1, value: i })) }],
          },
        ],
      },
    ],
  };
}

const config = (over: Record<string, unknown>) => batchProcessorFactory.configSchema.parse(over);

describe('batch processor', () => {
  it('sends once send_batch_size points are buffered', async () => {
    const sink = new CollectingConsumer();
    const p = batchProcessorFactory.create(testSettings('processor', 'batch', 'metrics'), config({ send_batch_size: 10, timeout: '1h' }), sink);
    await p.consume(gaugeBatch(4));
    await p.consume(gaugeBatch(4));
    expect(sink.batches).toHaveLength(0);
    await p.consume(gaugeBatch(4));
    await new Promise((r) => setImmediate(r));
    expect(sink.batches.map(countPoints)).toEqual([12]);
  });

  it('splits at send_batch_max_size', async () => {
    const sink = new CollectingConsumer();
    const p = batchProcessorFactory.create(testSettings('processor', 'batch', 'metrics'), config({ send_batch_size: 5, send_batch_max_size: 5, timeout: '1h' }), sink);
    await p.consume(gaugeBatch(12));
    await p.shutdown();
    expect(sink.batches.map(countPoints)).toEqual([5, 5, 2]);
  });

  it('sends a partial batch after the timeout', async () => {
    const sink = new CollectingConsumer();
    const p = batchProcessorFactory.create(testSettings('processor', 'batch', 'metrics'), config({ send_batch_size: 1000, timeout: '20ms' }), sink);
    await p.consume(gaugeBatch(3));
    await new Promise((r) => setTimeout(r, 80));
    expect(sink.batches.map(countPoints)).toEqual([3]);
    await p.shutdown();
  });

  it('flushes on shutdown and passes data straight through afterwards', async () => {
    const sink = new CollectingConsumer();
    const p = batchProcessorFactory.create(testSettings('processor', 'batch', 'metrics'), config({ send_batch_size: 1000, timeout: '1h' }), sink);
    await p.consume(gaugeBatch(3));
    await p.shutdown();
    await p.shutdown();
    expect(sink.batches.map(countPoints)).toEqual([3]);
    await p.consume(gaugeBatch(2));
    await new Promise((r) => setImmediate(r));
    expect(sink.batches.map(countPoints)).toEqual([3, 2]);
  });

  it('counts points refused downstream as dropped, with the reason', async () => {
    const settings = testSettings('processor', 'batch', 'metrics');
    const p = batchProcessorFactory.create(settings, config({ send_batch_size: 2, timeout: '1h' }), {
      consume: async () => {
        throw refusedError('full', { reason: 'queue_full' });
      },
    });
    await p.consume(gaugeBatch(5));
    await p.shutdown();
    expect(settings.telemetry.processorDropped.get({ processor: 'batch', pipeline: 'metrics', reason: 'queue_full' })).toBe(5);
  });

  it('rejects send_batch_max_size below send_batch_size', () => {
    expect(batchProcessorFactory.validate!(config({ send_batch_size: 10, send_batch_max_size: 5 }))).toEqual([
      ['send_batch_max_size', 'must be greater than or equal to send_batch_size'],
    ]);
  });
});
