/**
 * Applies attribute actions to each resource of a batch. Resource objects
 * can be shared by reference with batches already handed on (the batch
 * processor's splits share them), so each one is copied before it is changed;
 * entries that shared a resource keep sharing the one copy.
 */
import type { MetricsBatch, Resource } from '../../model/metrics.ts';
import { compileActions, type ActionContext, type AttributeAction } from '../attributes/actions.ts';
import type { ResourceConfig } from './config.ts';

export class ResourceProcessor {
  private readonly apply: AttributeAction;

  constructor(cfg: ResourceConfig) {
    this.apply = compileActions(cfg.attributes);
  }

  process(batch: MetricsBatch): MetricsBatch {
    const done = new Map<Resource, Resource>();
    for (const rm of batch.resourceMetrics) {
      const original = rm.resource;
      let updated = done.get(original);
      if (!updated) {
        const attributes = { ...original.attributes };
        const ctx: ActionContext = { resource: attributes, scopeName: '', scopeVersion: '', metricName: '' };
        this.apply(attributes, ctx);
        updated = { ...original, attributes };
        done.set(original, updated);
      }
      rm.resource = updated;
    }
    return batch;
  }
}
