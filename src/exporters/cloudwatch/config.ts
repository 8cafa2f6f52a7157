/**
 * `cloudwatch` exporter config. Credentials are never configured here: the
 * AWS SDK's default chain finds them (env, shared config/SSO, web identity /
 * IRSA, ECS container and EC2 instance metadata), as every AWS tool does.
 */
import { z, url } from '../../config/types.ts';
import { exporterHelperFields } from '../helper/config.ts';
import { duration } from '../../config/types.ts';

/** otelcol awsemf's `dimension_rollup_option` values. */
export const ROLLUPS = ['NoDimensionRollup', 'SingleDimensionRollupOnly', 'ZeroAndSingleDimensionRollup'] as const;
export type Rollup = (typeof ROLLUPS)[number];

const dimensionsSchema = () =>
  z
    .object({
      /** Attribute keys that become dimensions (data point first, then resource); unset = every data-point attribute, up to 30. */
      include: z.array(z.string().min(1)).optional(),
      exclude: z.array(z.string()).default([]),
      /** Resource attributes added as dimensions to every datum. */
      resource_attributes: z.array(z.string().min(1)).default([]),
      /**
       * Extra datums per point with fewer dimensions, which CloudWatch then
       * aggregates across series. Each rollup is a billed custom metric, so
       * the default sends only the full dimension set.
       */
      rollup: z.enum(ROLLUPS).default('NoDimensionRollup'),
    })
    .strict();

export const cloudwatchConfigSchema = z
  .object({
    /** `api`: PutMetricData; `emf`: Embedded Metric Format JSON lines for a log shipper (Lambda, Fargate, Container Insights). */
    format: z.enum(['api', 'emf']).default('api'),
    namespace: z.string().default(''),
    /** Region; the SDK's own resolution (AWS_REGION, shared config, instance metadata) when unset. */
    region: z.string().optional(),
    endpoint: url().optional(),
    /** gzip request bodies the SDK finds large enough (PutMetricData accepts `Content-Encoding: gzip`). */
    compression: z.enum(['gzip', 'none']).default('gzip'),
    /** 1 = high resolution (per second), 60 = standard. */
    storage_resolution: z.union([z.literal(1), z.literal(60)]).default(60),
    histograms: z
      .object({
        /** `values`: Values/Counts from bucket midpoints (percentiles in CloudWatch); `statistic_set`: SampleCount/Sum/Minimum/Maximum. */
        mode: z.enum(['values', 'statistic_set']).default('values'),
      })
      .strict()
      .prefault({}),
    dimensions: dimensionsSchema().prefault({}),
    emf: z
      .object({
        /** `stdout` or a file path (appended to). */
        output: z.string().default('stdout'),
      })
      .strict()
      .prefault({}),
    /** How long the cumulative→delta state remembers a series that stopped reporting. */
    delta_ttl: duration().default(3_600_000),
    ...exporterHelperFields(),
  })
  .strict();

export type CloudWatchConfig = z.infer<typeof cloudwatchConfigSchema>;

export function validateCloudWatchConfig(c: CloudWatchConfig): Array<[string, string]> {
  const errors: Array<[string, string]> = [];
  if (c.namespace === '') errors.push(['namespace', 'is required (e.g. "MyApp")']);
  else if (c.namespace.startsWith('AWS/')) errors.push(['namespace', 'must not start with "AWS/" (reserved for AWS services)']);
  else if (c.namespace.length > 255) errors.push(['namespace', 'must be at most 255 characters']);
  if (c.dimensions.include && c.dimensions.include.length + c.dimensions.resource_attributes.length > 30)
    errors.push(['dimensions.include', 'CloudWatch takes at most 30 dimensions per metric']);
  return errors;
}
