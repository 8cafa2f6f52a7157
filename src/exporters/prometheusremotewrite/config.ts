/**
 * `prometheusremotewrite` config, in otelcol-contrib's spelling. One sending
 * consumer by default: Prometheus refuses samples older than the newest it
 * holds for a series, so batches must arrive in order (raise `num_consumers`
 * only for backends that accept out-of-order samples).
 */
import { z, size, tlsSettings, url } from '../../config/types.ts';
import { exporterHelperFields, type ExporterHelperConfig } from '../helper/config.ts';

export const remoteWriteConfigSchema = z
  .object({
    endpoint: url(),
    headers: z.record(z.string(), z.string()).default({}),
    tls: tlsSettings().optional(),
    /** Labels added to every series (lowest precedence: a series' own labels win). */
    external_labels: z.record(z.string(), z.string()).default({}),
    namespace: z.string().default(''),
    add_metric_suffixes: z.boolean().default(true),
    /** `ms` → `_seconds` with values scaled, as the `prometheus` exporter does; false keeps otelcol's names. */
    convert_to_base_units: z.boolean().default(true),
    resource_to_telemetry_conversion: z.object({ enabled: z.boolean().default(false) }).strict().prefault({}),
    target_info: z.object({ enabled: z.boolean().default(true) }).strict().prefault({}),
    /** Requests above this (uncompressed) are split. */
    max_batch_size_bytes: size().default(3_000_000),
    /** otelcol's older queue block; when given it sets `sending_queue`'s size, consumers and enabled flag. */
    remote_write_queue: z
      .object({
        enabled: z.boolean().default(true),
        queue_size: z.number().int().min(1).optional(),
        num_consumers: z.number().int().min(1).max(256).optional(),
      })
      .strict()
      .optional(),
    ...exporterHelperFields({ numConsumers: 1 }),
  })
  .strict();

export type RemoteWriteConfig = z.infer<typeof remoteWriteConfigSchema>;

export function createDefaultRemoteWriteConfig(): RemoteWriteConfig {
  return remoteWriteConfigSchema.parse({ endpoint: 'http://127.0.0.1:9090/api/v1/write' });
}

/** The helper settings, with `remote_write_queue` folded in. */
export function helperSettings(cfg: RemoteWriteConfig): ExporterHelperConfig {
  const q = cfg.remote_write_queue;
  if (!q) return cfg;
  return {
    ...cfg,
    sending_queue: {
      ...cfg.sending_queue,
      enabled: q.enabled && cfg.sending_queue.enabled,
      queue_size: q.queue_size ?? cfg.sending_queue.queue_size,
      num_consumers: q.num_consumers ?? cfg.sending_queue.num_consumers,
    },
  };
}
