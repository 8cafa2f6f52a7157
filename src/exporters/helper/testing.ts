/** Fixtures for exporter tests: batches with known point values and a helper config with short timings. */
import type { Exporter, ExporterFactory } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import type { ExporterHelperConfig } from './config.ts';
import type { BatchCodec } from './disk-queue.ts';

/** A batch of one gauge `name` with `n` points whose values are `first`, `first+1`, … (so tests can check which arrived). */
export function gaugeBatch(n: number, first = 0, name = 'test.gauge'): MetricsBatch {
  const points = [];
  for (let i = 0; i < n; i++) points.push({ attributes: { seq: first + i }, startTimeUnixNano: 0, timeUnixNano: 1_700_000_000_000_000_000 + (first + i) * 1e6, value: first + i });
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'test' } },
        scopeMetrics: [{ scope: { name: 'test', version: '', attributes: {} }, metrics: [{ type: 'gauge', name, description: '', unit: '', points }] }],
      },
    ],
  };
}

/** Every gauge value in a batch, in order. */
export function valuesOf(batch: MetricsBatch): number[] {
  const out: number[] = [];
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points) out.push((p as { value: number }).value);
  return out;
}

export function helperConfig(over: Partial<{ [K in keyof ExporterHelperConfig]: Partial<ExporterHelperConfig[K]> }> & { timeout?: number } = {}): ExporterHelperConfig {
  return {
    timeout: over.timeout ?? 1000,
    retry_on_failure: { enabled: true, initial_interval: 5, max_interval: 20, max_elapsed_time: 10_000, multiplier: 2, randomization_factor: 0, ...over.retry_on_failure },
    sending_queue: { enabled: true, queue_size: 1000, num_consumers: 2, storage: 'memory', when_full: 'drop_oldest', sync_interval: 0, ...over.sending_queue },
    circuit_breaker: { enabled: false, failure_threshold: 3, open_duration: 50, half_open_requests: 1, ...over.circuit_breaker },
  };
}

/** JSON codec for disk-queue tests (the daemon uses the OTLP protobuf codec). */
export const jsonCodec: BatchCodec = {
  encode: (b) => Buffer.from(JSON.stringify(b)),
  decode: (buf) => JSON.parse(Buffer.from(buf).toString('utf8')) as MetricsBatch,
};

/** Poll until `fn` is true, failing after `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Exporter `id`'s accounting as tests check it: points sent, failed (all reasons) and queued. */
export function exporterStats(telemetry: PipelineTelemetry, id: string) {
  const labels = { exporter: id };
  const stats = () => ({ sent: telemetry.exporterSent.get(labels), failed: telemetry.exporterFailed.sum(labels), queued: telemetry.exporterQueueSize.get(labels) ?? 0 });
  return { labels, stats };
}

/** An exporter built by `factory` from raw config (outside any pipeline) and started; the caller shuts it down. */
export async function startExporter(factory: ExporterFactory, id: string, raw: Record<string, unknown>) {
  const telemetry = new PipelineTelemetry();
  const exporter: Exporter = factory.create(testSettings('exporter', id, '', telemetry), factory.configSchema.parse(raw));
  await exporter.start(testHost());
  return { exporter, telemetry, ...exporterStats(telemetry, id) };
}
