/**
 * Config of the `sampling` processor.
 *
 * ```yaml
 * sampling:
 *   default_rate: 1            # rate for metrics no rule matches
 *   default_method: series
 *   rules:                     # first match wins
 *     - name: http             # the `rule` label of tributary_sampling_rate
 *       match_type: glob       # strict | glob | regexp (unanchored, as otelcol)
 *       metric_names: ["http.server.*"]      # empty: every metric
 *       attributes: [{ key: env, value: "dev*" }]   # all must match
 *       resource_attributes: []
 *       rate: 0.1
 *       method: point          # series | point
 *       scale: false           # series method: scale kept delta points by 1/rate
 *   adaptive: { max_points_per_second: 50000, min_rate: 0.01, interval: 1s, max_increase: 2, smoothing: 0.5 }
 *   rate_attribute: sampling.rate   # optional: stamp the rate on unscaled kept points
 *   seed: 42                   # optional: fixes the per-point PRNG (tests)
 * ```
 */
import { z, duration } from '../../config/types.ts';
import { attributeMatchSchema, patternIssues } from '../internal/match.ts';

const method = z.enum(['series', 'point']);

const ruleSchema = z
  .object({
    name: z.string().min(1).optional(),
    match_type: z.enum(['strict', 'glob', 'regexp']).default('strict'),
    metric_names: z.array(z.string()).default([]),
    attributes: z.array(attributeMatchSchema()).default([]),
    resource_attributes: z.array(attributeMatchSchema()).default([]),
    rate: z.number().min(0).max(1),
    method: method.default('series'),
    scale: z.boolean().default(false),
  })
  .strict();

const adaptiveSchema = z
  .object({
    max_points_per_second: z.number().positive(),
    min_rate: z.number().gt(0).max(1).default(0.01),
    interval: duration().prefault('1s'),
    max_increase: z.number().gt(1).max(100).default(2),
    smoothing: z.number().gt(0).max(1).default(0.5),
  })
  .strict();

export const samplingConfigSchema = z
  .object({
    default_rate: z.number().min(0).max(1).default(1),
    default_method: method.default('series'),
    default_scale: z.boolean().default(false),
    rules: z.array(ruleSchema).default([]),
    adaptive: adaptiveSchema.optional(),
    rate_attribute: z.string().min(1).optional(),
    seed: z.number().int().optional(),
  })
  .strict();

export type SamplingConfig = z.infer<typeof samplingConfigSchema>;
export type SamplingRuleConfig = z.infer<typeof ruleSchema>;

export function createDefaultSamplingConfig(): SamplingConfig {
  return samplingConfigSchema.parse({});
}

export function validateSamplingConfig(cfg: SamplingConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  const names = new Set<string>();
  cfg.rules.forEach((r, i) => {
    issues.push(...patternIssues(`rules[${i}].metric_names`, r.match_type, r.metric_names));
    for (const [j, a] of r.attributes.entries()) issues.push(...patternIssues(`rules[${i}].attributes[${j}].value`, r.match_type, a.value === undefined ? [] : [String(a.value)]));
    const name = ruleName(r, i);
    if (name === 'default') issues.push([`rules[${i}].name`, '"default" is reserved for metrics no rule matches']);
    if (names.has(name)) issues.push([`rules[${i}].name`, `duplicate rule name "${name}"`]);
    names.add(name);
    if (r.scale && r.method === 'point') issues.push([`rules[${i}].scale`, 'point sampling always scales delta points; scale applies to the series method']);
  });
  if (cfg.adaptive && cfg.adaptive.interval <= 0) issues.push(['adaptive.interval', 'must be greater than zero']);
  return issues;
}

export function ruleName(r: SamplingRuleConfig, index: number): string {
  return r.name ?? `rule_${index}`;
}
