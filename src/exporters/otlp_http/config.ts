/** `otlp_http` (alias `otlphttp`) config, in otelcol's spelling. */
import { z, tlsSettings, url } from '../../config/types.ts';
import { exporterHelperFields } from '../helper/config.ts';

export const otlpHttpConfigSchema = z
  .object({
    /** Base URL; metrics go to `<endpoint>/v1/metrics` unless `metrics_endpoint` is set. */
    endpoint: url().optional(),
    metrics_endpoint: url().optional(),
    encoding: z.enum(['proto', 'json']).default('proto'),
    compression: z.enum(['gzip', 'none', '']).default('gzip'),
    headers: z.record(z.string(), z.string()).default({}),
    tls: tlsSettings().optional(),
    ...exporterHelperFields(),
  })
  .strict()
  .refine((c) => c.endpoint !== undefined || c.metrics_endpoint !== undefined, { message: 'endpoint or metrics_endpoint is required', path: ['endpoint'] });

export type OtlpHttpConfig = z.infer<typeof otlpHttpConfigSchema>;

export function createDefaultOtlpHttpConfig(): OtlpHttpConfig {
  return otlpHttpConfigSchema.parse({ endpoint: 'http://127.0.0.1:4318' });
}

/** The URL metrics are posted to. */
export function metricsUrl(cfg: OtlpHttpConfig): URL {
  if (cfg.metrics_endpoint) return new URL(cfg.metrics_endpoint);
  const base = cfg.endpoint!.replace(/\/+$/, '');
  return new URL(base + '/v1/metrics');
}
