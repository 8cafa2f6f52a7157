import { describe, expect, it } from 'vitest';
import { ExporterFanout, PipelineEntry, ReceiverFanout } from './fanout.ts';
import { CollectingConsumer, type MetricsConsumer } from '../consumer.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { refusedError } from '../errors.ts';
import { countPoints, type MetricsBatch } from '../model/metrics.ts';

function batch(points = 3): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: {} },
        scopeMetrics: [
          {
            scope: { name: '', version: '', attributes: {} },
            metrics: [{ name: 'g', description: '', unit: '', type: 'gauge', points: Array.from({ length: points }, (_, i) => ({ attributes: { i }, startTimeUnixNano: 0, timeUnixNano: 1, value: i })) }],
          },
        ],
      },
    ],
  };
}

describe('ExporterFanout', () => {
  it('delivers to every exporter while one hangs, and counts a throwing one as failed without failing the rest', async () => {
    const telemetry = new PipelineTelemetry();
    const fast = new CollectingConsumer();
    const contexts: unknown[] = [];
    const recording: MetricsConsumer = { consume: async (_b, ctx) => void contexts.push(ctx) };
    let release!: () => void;
    const slow: MetricsConsumer = { consume: () => new Promise<void>((r) => (release = r)) };
    const broken: MetricsConsumer = {
      consume: async () => {
        throw new Error('bug');
      },
    };
    const fanout = new ExporterFanout(
      'metrics/a',
      [
        { id: 'slow', consumer: slow },
        { id: 'broken', consumer: broken },
        { id: 'fast', consumer: fast },
        { id: 'recording', consumer: recording },
      ],
      telemetry,
      silentLogger(),
    );
    const done = fanout.consume(batch(3));
    // The fast exporter has the batch although the slow one has not answered.
    await new Promise((r) => setImmediate(r));
    expect(fast.batches).toHaveLength(1);
    release();
    await done;
    expect(telemetry.exporterFailed.get({ exporter: 'broken', pipeline: 'metrics/a', reason: 'internal' })).toBe(3);
    // Each exporter is told the pipeline, so a shared exporter can count per pipeline.
    expect(contexts).toEqual([{ pipeline: 'metrics/a' }]);
  });

  it('passes a refusal back as back-pressure', async () => {
    const fanout = new ExporterFanout(
      'metrics',
      [
        { id: 'full', consumer: { consume: async () => Promise.reject(refusedError('full', { reason: 'queue_full' })) } },
        { id: 'ok', consumer: new CollectingConsumer() },
      ],
      new PipelineTelemetry(),
      silentLogger(),
    );
    await expect(fanout.consume(batch())).rejects.toMatchObject({ reason: 'queue_full' });
  });
});

describe('ReceiverFanout', () => {
  it('gives mutating pipelines their own copy and counts accepted and refused points per pipeline', async () => {
    const telemetry = new PipelineTelemetry();
    const seen: MetricsBatch[] = [];
    const mutating: MetricsConsumer = {
      mutatesData: true,
      consume: async (b) => {
        b.resourceMetrics[0].resource.attributes.touched = true;
        seen.push(b);
      },
    };
    const reader = new CollectingConsumer();
    const refusing: MetricsConsumer = { consume: async () => Promise.reject(refusedError('memory', { reason: 'memory_limit' })) };
    const fanout = new ReceiverFanout('otlp', telemetry);
    fanout.setPipelines([new PipelineEntry('metrics/a', mutating), new PipelineEntry('metrics/b', reader)]);
    await fanout.consume(batch(4));
    expect(reader.batches[0].resourceMetrics[0].resource.attributes.touched).toBeUndefined();
    expect(seen[0]).not.toBe(reader.batches[0]);
    expect(telemetry.receiverAccepted.get({ receiver: 'otlp', pipeline: 'metrics/a' })).toBe(4);
    expect(telemetry.receiverAccepted.get({ receiver: 'otlp', pipeline: 'metrics/b' })).toBe(4);

    fanout.setPipelines([new PipelineEntry('metrics/a', reader), new PipelineEntry('metrics/c', refusing)]);
    await expect(fanout.consume(batch(2))).rejects.toMatchObject({ reason: 'memory_limit' });
    expect(telemetry.receiverRefused.get({ receiver: 'otlp', pipeline: 'metrics/c', reason: 'memory_limit' })).toBe(2);
    expect(countPoints(reader.batches[1])).toBe(2);
  });

  it('lets a reload wait for in-flight calls of a pipeline', async () => {
    let release!: () => void;
    const entry = new PipelineEntry('metrics', { consume: () => new Promise<void>((r) => (release = r)) });
    const call = entry.consume(batch());
    let idle = false;
    const waiting = entry.idle().then(() => (idle = true));
    await new Promise((r) => setImmediate(r));
    expect(idle).toBe(false);
    release();
    await call;
    await waiting;
    expect(idle).toBe(true);
  });
});
