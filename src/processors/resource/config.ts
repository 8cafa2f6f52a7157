/**
 * Config of the `resource` processor (otelcol resourceprocessor): the
 * attribute actions of the `attributes` processor, applied to resource
 * attributes.
 *
 * ```yaml
 * resource:
 *   attributes:
 *     - { key: deployment.environment, value: prod, action: upsert }
 *     - { key: k8s.pod.uid, action: delete }
 * ```
 * `from_context: resource.<key>` reads the resource itself (before this
 * processor's earlier actions changed it, as each action sees the result of
 * the previous ones).
 */
import { z } from '../../config/types.ts';
import { actionSchema, validateActions } from '../attributes/actions.ts';

export const resourceConfigSchema = z
  .object({
    attributes: z.array(actionSchema).default([]),
  })
  .strict();

export type ResourceConfig = z.infer<typeof resourceConfigSchema>;

export function createDefaultResourceConfig(): ResourceConfig {
  return resourceConfigSchema.parse({});
}

export function validateResourceConfig(cfg: ResourceConfig): Array<[string, string]> {
  const issues = validateActions(cfg.attributes, 'attributes');
  if (cfg.attributes.length === 0) issues.push(['attributes', 'at least one action is required']);
  cfg.attributes.forEach((a, i) => {
    if (a.from_context !== undefined && !a.from_context.startsWith('resource.')) {
      issues.push([`attributes[${i}].from_context`, 'only resource.<key> is available at the resource level']);
    }
  });
  return issues;
}
