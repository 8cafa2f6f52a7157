import { describe, expect, it } from 'vitest';
import { splitBatch, type MetricsBatch } from '../../model/metrics.ts';
import { batchOf, gauge, numberPoint } from '../internal/testing.ts';
import { resourceConfigSchema, validateResourceConfig } from './config.ts';
import { ResourceProcessor } from './processor.ts';

const proc = (attributes: unknown[]) => new ResourceProcessor(resourceConfigSchema.parse({ attributes }));

describe('resource processor', () => {
  it('applies every action to resource attributes', () => {
    const b = batchOf([gauge('g', [numberPoint(1)])], { 'service.name': 'checkout', 'k8s.pod.uid': 'u-1', 'cloud.region': 'eu-west-1', tenant: 'acme' });
    const out = proc([
      { key: 'deployment.environment', value: 'prod', action: 'insert' },
      { key: 'k8s.pod.uid', action: 'delete' },
      { key: 'tenant.id', from_attribute: 'tenant', action: 'upsert' },
      { key: 'tenant', action: 'hash' },
      { key: 'cloud.region', pattern: '^(?<cloud_area>[a-z]+)-', action: 'extract' },
    ]).process(b);
    const attrs = out.resourceMetrics[0].resource.attributes;
    expect(attrs['deployment.environment']).toBe('prod');
    expect(attrs['k8s.pod.uid']).toBeUndefined();
    expect(attrs['tenant.id']).toBe('acme');
    expect(attrs.tenant).toMatch(/^[0-9a-f]{64}$/);
    expect(attrs.cloud_area).toBe('eu');
  });

  it('copies shared resources instead of changing batches already handed on, and hashes once', () => {
    const b = batchOf([gauge('g', [numberPoint(1), numberPoint(2), numberPoint(3)])], { user: 'bob' });
    const [first, second] = splitBatch(b, 2);
    const original = first.resourceMetrics[0].resource;
    expect(second.resourceMetrics[0].resource).toBe(original);
    const p = proc([{ key: 'user', action: 'hash' }]);
    const merged: MetricsBatch = { resourceMetrics: [...second.resourceMetrics, ...second.resourceMetrics.map((rm) => ({ ...rm }))] };
    p.process(merged);
    expect(original.attributes.user).toBe('bob');
    const [a, c] = merged.resourceMetrics;
    expect(a.resource).toBe(c.resource);
    expect(a.resource.attributes.user).toMatch(/^[0-9a-f]{64}$/);
  });

  it('validates: only resource.<key> as context', () => {
    expect(validateResourceConfig(resourceConfigSchema.parse({ attributes: [{ key: 'x', from_context: 'metric.name', action: 'insert' }] }))[0][0]).toBe('attributes[0].from_context');
    expect(validateResourceConfig(resourceConfigSchema.parse({}))).toEqual([['attributes', 'at least one action is required']]);
  });
});
