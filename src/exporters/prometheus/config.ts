/**
 * Config of the `prometheus` pull exporter, spelled as otelcol-contrib's
 * prometheusexporter so its configs load unchanged.
 */
import { z, duration, hostPort } from '../../config/types.ts';

export const prometheusConfigSchema = z
  .object({
    endpoint: hostPort().default('0.0.0.0:9464'),
    /** Path the exposition is served on. */
    path: z.string().regex(/^\//, { message: 'must start with /' }).default('/metrics'),
    /** Prefix of every metric name (`namespace_name`). */
    namespace: z.string().default(''),
    /** Labels added to every series (series attributes win on collision). */
    const_labels: z.record(z.string(), z.string()).default({}),
    /** Append each sample's own timestamp (ms) to its line. */
    send_timestamps: z.boolean().default(false),
    /** Series not updated for this long are dropped (ms). */
    metric_expiration: duration().default(300_000),
    resource_to_telemetry_conversion: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .prefault({}),
    /** Serve OpenMetrics 1.0 to scrapers that ask for it in `Accept`. */
    enable_open_metrics: z.boolean().default(false),
    /** Unit and type suffixes (`_seconds`, `_total`, `_ratio`) on metric names. */
    add_metric_suffixes: z.boolean().default(true),
    /** Expose time in seconds and sizes in bytes (values scaled), as Prometheus conventions and promtool want. */
    convert_to_base_units: z.boolean().default(true),
  })
  .strict()
  .refine((c) => c.metric_expiration > 0, { message: 'must be greater than 0', path: ['metric_expiration'] });

export type PrometheusConfig = z.infer<typeof prometheusConfigSchema>;

export function createDefaultPrometheusConfig(): PrometheusConfig {
  return prometheusConfigSchema.parse({});
}
