/**
 * The processor helper (otelcol's processorhelper): a processor is a function
 * from batch to batch. Returning `undefined` (or an empty batch) drops the
 * data, which is not an error. Every dropped point is counted with a reason
 * through `drop(reason, n)`, so processors cannot lose data silently.
 */
import type { CreateSettings, Host, Processor } from '../component.ts';
import type { MetricsConsumer } from '../consumer.ts';
import type { MetricsBatch } from '../model/metrics.ts';
import { handlePerValue } from '../telemetry/self-metrics.ts';

export type DropFn = (reason: string, points: number) => void;

export type ProcessFn = (batch: MetricsBatch, drop: DropFn) => MetricsBatch | undefined | Promise<MetricsBatch | undefined>;

export interface ProcessorOptions {
  /** Whether `process` changes the batch in place (fan-out copies for mutating consumers). Default true. */
  mutatesData?: boolean;
  start?(host: Host): Promise<void>;
  shutdown?(): Promise<void>;
}

export function createProcessor(settings: CreateSettings, next: MetricsConsumer, process: ProcessFn, opts: ProcessorOptions = {}): Processor {
  const drop = dropCounter(settings);
  return {
    mutatesData: opts.mutatesData ?? true,
    async start(host) {
      await opts.start?.(host);
    },
    async shutdown() {
      await opts.shutdown?.();
    },
    async consume(batch) {
      const out = await process(batch, drop);
      if (out && out.resourceMetrics.length > 0) await next.consume(out);
    },
  };
}

/** Drop accounting by reason (handles bound once per reason); `createProcessor` uses it, and so do processors that do not fit it (batching, stateful ones). */
export function dropCounter(settings: CreateSettings): DropFn {
  const handle = handlePerValue((reason) => settings.telemetry.processorDropped.bind({ processor: settings.id.id, pipeline: settings.pipeline, reason }));
  return (reason, points) => {
    if (points > 0) handle(reason).add(points);
  };
}
