/**
 * Config of the `cardinality_limit` processor.
 *
 * ```yaml
 * cardinality_limit:
 *   max_series_per_metric: 1000     # distinct attribute sets per metric name
 *   max_series_per_attribute:       # distinct values of one attribute key per metric name
 *     user.id: 100
 *   window: 10m                     # a series unseen for this long frees its slot
 *   action: overflow                # overflow | drop
 *   max_metrics: 10000              # metric names tracked; further names count as over the cap
 *   include_resource: true          # resource attributes are part of a series' identity
 * ```
 * Memory is bounded by max_metrics × (max_series_per_metric + Σ attribute
 * caps) tracked keys, about 150 bytes each plus the key text.
 */
import { z, duration } from '../../config/types.ts';

export const cardinalityLimitConfigSchema = z
  .object({
    max_series_per_metric: z.number().int().positive().default(1000),
    max_series_per_attribute: z.record(z.string(), z.number().int().positive()).default({}),
    window: duration().prefault('10m'),
    action: z.enum(['overflow', 'drop']).default('overflow'),
    max_metrics: z.number().int().positive().default(10_000),
    include_resource: z.boolean().default(true),
  })
  .strict();

export type CardinalityLimitConfig = z.infer<typeof cardinalityLimitConfigSchema>;

export function createDefaultCardinalityLimitConfig(): CardinalityLimitConfig {
  return cardinalityLimitConfigSchema.parse({});
}

export function validateCardinalityLimitConfig(cfg: CardinalityLimitConfig): Array<[string, string]> {
  return cfg.window > 0 ? [] : [['window', 'must be greater than zero']];
}
