/**
 * Config of the `filter` processor: otelcol filterprocessor's legacy
 * (OTTL-free) form for metrics, plus `record_attributes` for data-point
 * attributes (spelled as the logs form of the same processor).
 *
 * ```yaml
 * filter:
 *   metrics:
 *     include:                  # keep only what matches (applied first)
 *       match_type: strict      # strict | regexp (unanchored, as otelcol)
 *       metric_names: [http.server.duration, "^process\\."]
 *       resource_attributes: [{ key: service.name, value: checkout }]
 *       record_attributes: [{ key: env, value: prod }]
 *     exclude:                  # then drop what matches
 *       match_type: regexp
 *       metric_names: [".*_debug$"]
 * ```
 * Within one block every condition given must hold (names: any listed name;
 * attributes: all listed pairs; a pair without `value` means "key present").
 * OTTL (`metrics.metric`, `metrics.datapoint`) and `expr` are not supported.
 */
import { z } from '../../config/types.ts';
import { attributeMatchSchema, patternIssues } from '../internal/match.ts';

const matchProperties = z
  .object({
    match_type: z.enum(['strict', 'regexp', 'expr']).default('strict'),
    // Accepted for otelcol compatibility; compiled patterns are always cached here.
    regexp: z.object({ cacheenabled: z.boolean().optional(), cachemaxnumentries: z.number().int().optional() }).strict().optional(),
    metric_names: z.array(z.string()).default([]),
    expressions: z.array(z.string()).default([]),
    resource_attributes: z.array(attributeMatchSchema()).default([]),
    record_attributes: z.array(attributeMatchSchema()).default([]),
  })
  .strict();

export type MatchProperties = z.infer<typeof matchProperties>;

export const filterConfigSchema = z
  .object({
    error_mode: z.enum(['propagate', 'ignore', 'silent']).default('propagate'),
    metrics: z
      .object({
        include: matchProperties.optional(),
        exclude: matchProperties.optional(),
        metric: z.array(z.string()).default([]),
        datapoint: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FilterConfig = z.infer<typeof filterConfigSchema>;

export function createDefaultFilterConfig(): FilterConfig {
  return filterConfigSchema.parse({});
}

export function validateFilterConfig(cfg: FilterConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (cfg.metrics.metric.length > 0) issues.push(['metrics.metric', 'OTTL conditions are not supported; use metrics.include / metrics.exclude']);
  if (cfg.metrics.datapoint.length > 0) issues.push(['metrics.datapoint', 'OTTL conditions are not supported; use metrics.include / metrics.exclude with record_attributes']);
  for (const side of ['include', 'exclude'] as const) {
    const p = cfg.metrics[side];
    if (!p) continue;
    const path = `metrics.${side}`;
    if (p.match_type === 'expr' || p.expressions.length > 0) {
      issues.push([`${path}.match_type`, 'the expr match type is not supported; use strict or regexp']);
      continue;
    }
    if (p.metric_names.length + p.resource_attributes.length + p.record_attributes.length === 0) {
      issues.push([path, 'give at least one of metric_names, resource_attributes, record_attributes']);
    }
    issues.push(...patternIssues(`${path}.metric_names`, p.match_type, p.metric_names));
    if (p.match_type === 'regexp') {
      for (const kind of ['resource_attributes', 'record_attributes'] as const) {
        p[kind].forEach((a, i) => issues.push(...patternIssues(`${path}.${kind}[${i}].value`, 'regexp', a.value === undefined ? [] : [String(a.value)])));
      }
    }
  }
  return issues;
}
