/**
 * Config of the `attributes` processor (otelcol attributesprocessor, metrics):
 *
 * ```yaml
 * attributes:
 *   actions:
 *     - { key: tenant.id, from_context: resource.tenant.id, action: upsert }
 *     - { key: user.email, action: hash }
 *     - { key: http.route, pattern: "^/api/(?<api_version>v\\d+)/", action: extract }
 *   include:                 # only points of matching metrics (optional)
 *     match_type: strict     # strict | regexp
 *     metric_names: [http.server.duration]
 *     attributes: [{ key: env, value: prod }]     # data-point attributes, all must match
 *     resources: [{ key: service.name, value: checkout }]
 *     libraries: [{ name: my.instrumentation }]   # instrumentation scope
 *   exclude: { … same shape … }
 * ```
 */
import { z } from '../../config/types.ts';
import { attributeMatchSchema, patternIssues } from '../internal/match.ts';
import { actionSchema, validateActions } from './actions.ts';

const matchProperties = z
  .object({
    match_type: z.enum(['strict', 'regexp']).default('strict'),
    metric_names: z.array(z.string()).default([]),
    attributes: z.array(attributeMatchSchema()).default([]),
    resources: z.array(attributeMatchSchema()).default([]),
    libraries: z.array(z.object({ name: z.string(), version: z.string().optional() }).strict()).default([]),
  })
  .strict();

export type AttributesMatchProperties = z.infer<typeof matchProperties>;

export const attributesConfigSchema = z
  .object({
    actions: z.array(actionSchema).default([]),
    include: matchProperties.optional(),
    exclude: matchProperties.optional(),
  })
  .strict();

export type AttributesConfig = z.infer<typeof attributesConfigSchema>;

export function createDefaultAttributesConfig(): AttributesConfig {
  return attributesConfigSchema.parse({});
}

export function validateAttributesConfig(cfg: AttributesConfig): Array<[string, string]> {
  const issues = validateActions(cfg.actions, 'actions');
  if (cfg.actions.length === 0) issues.push(['actions', 'at least one action is required']);
  for (const side of ['include', 'exclude'] as const) {
    const p = cfg[side];
    if (!p) continue;
    if (p.metric_names.length + p.attributes.length + p.resources.length + p.libraries.length === 0) {
      issues.push([side, 'give at least one of metric_names, attributes, resources, libraries']);
    }
    issues.push(...patternIssues(`${side}.metric_names`, p.match_type, p.metric_names));
  }
  return issues;
}
