/**
 * `datadog` exporter config: otelcol-contrib's datadog exporter spelling for
 * the keys both share (`api.key`, `api.site`, `hostname`,
 * `metrics.resource_attributes_as_tags`, `metrics.histograms.mode`), so a
 * metrics-only otelcol config loads unchanged for those keys.
 */
import { z, duration, url } from '../../config/types.ts';
import { exporterHelperFields } from '../helper/config.ts';

export const HISTOGRAM_AGGREGATES = ['count', 'sum', 'avg', 'min', 'max'] as const;
export type HistogramAggregate = (typeof HISTOGRAM_AGGREGATES)[number];

const histogramsSchema = () =>
  z
    .object({
      /** `aggregates`: DogStatsD-style `.count .sum .avg .min .max .pNN` series; `distributions`: sketches (percentiles computed by Datadog). */
      mode: z.enum(['aggregates', 'distributions']).default('aggregates'),
      aggregates: z.array(z.enum(HISTOGRAM_AGGREGATES)).default(['count', 'sum', 'avg', 'min', 'max']),
      percentiles: z.array(z.number().gt(0).lt(1)).default([0.5, 0.95, 0.99]),
    })
    .strict();

export const datadogConfigSchema = z
  .object({
    api: z
      .object({
        key: z.string().default(''),
        site: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'must be a Datadog site such as datadoghq.com or datadoghq.eu')
          .default('datadoghq.com'),
      })
      .strict()
      .prefault({}),
    /** Base URL replacing `https://api.<site>` (a proxy, a test backend). */
    endpoint: url().optional(),
    /** Host reported when a resource has no `host.name`; the machine's hostname when unset. */
    hostname: z.string().optional(),
    compression: z.enum(['gzip', 'zstd', 'deflate', 'none']).default('gzip'),
    metrics: z
      .object({
        /** All resource attributes as tags; otherwise only unified service tags and well-known k8s/container/cloud ones. */
        resource_attributes_as_tags: z.boolean().default(false),
        histograms: histogramsSchema().prefault({}),
        /** How long the cumulative→delta state remembers a series that stopped reporting. */
        delta_ttl: duration().default(3_600_000),
      })
      .strict()
      .prefault({}),
    ...exporterHelperFields(),
  })
  .strict();

export type DatadogConfig = z.infer<typeof datadogConfigSchema>;

export function validateDatadogConfig(config: DatadogConfig): Array<[string, string]> {
  const errors: Array<[string, string]> = [];
  if (config.api.key.trim() === '') errors.push(['api.key', 'is required (a Datadog API key, e.g. "${env:DD_API_KEY}")']);
  return errors;
}

/** Base URL of the metrics intake. */
export function intakeBaseUrl(config: DatadogConfig): string {
  return (config.endpoint ?? `https://api.${config.api.site}`).replace(/\/+$/, '');
}
