/**
 * The settings every network exporter shares (CONTRACT §3): timeout, retry,
 * sending queue and circuit breaker. Exporter configs spread
 * `exporterHelperFields()` into their own schema.
 */
import { z, duration } from '../../config/types.ts';

export const retrySchema = () =>
  z
    .object({
      enabled: z.boolean().default(true),
      initial_interval: duration().default(1000),
      max_interval: duration().default(30_000),
      max_elapsed_time: duration().default(300_000),
      multiplier: z.number().min(1).default(1.5),
      randomization_factor: z.number().min(0).max(1).default(0.5),
    })
    .strict();

/** `numConsumers` lets an exporter pick another default (remote write sends in order with one). */
export const queueSchema = (defaults: { numConsumers?: number } = {}) =>
  z
    .object({
      enabled: z.boolean().default(true),
      /**
       * Capacity in data points (not requests, as otelcol's default sizer
       * counts): one batch from the batch processor is 8192 points, and a
       * sidecar must ride out a backend outage of a few minutes.
       */
      queue_size: z.number().int().min(1).default(100_000),
      num_consumers: z.number().int().min(1).max(256).default(defaults.numConsumers ?? 4),
      storage: z.enum(['memory', 'disk']).default('memory'),
      directory: z.string().optional(),
      when_full: z.enum(['drop_oldest', 'drop_newest', 'block']).default('drop_oldest'),
      /** How often the disk queue fsyncs; 0 = on every write. */
      sync_interval: duration().default(1000),
    })
    .strict()
    .refine((q) => q.storage !== 'disk' || !!q.directory, { message: 'storage: disk needs a directory', path: ['directory'] });

export const circuitBreakerSchema = () =>
  z
    .object({
      enabled: z.boolean().default(true),
      failure_threshold: z.number().int().min(1).default(5),
      open_duration: duration().default(30_000),
      half_open_requests: z.number().int().min(1).default(1),
    })
    .strict();

export const exporterHelperFields = (defaults: { numConsumers?: number } = {}) => ({
  timeout: duration().default(10_000),
  retry_on_failure: retrySchema().prefault({}),
  sending_queue: queueSchema(defaults).prefault({}),
  circuit_breaker: circuitBreakerSchema().prefault({}),
});

export interface ExporterHelperConfig {
  timeout: number;
  retry_on_failure: z.infer<ReturnType<typeof retrySchema>>;
  sending_queue: z.infer<ReturnType<typeof queueSchema>>;
  circuit_breaker: z.infer<ReturnType<typeof circuitBreakerSchema>>;
}
