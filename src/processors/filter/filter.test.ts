import { describe, expect, it } from 'vitest';
import { CollectingConsumer } from '../../consumer.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { batchOf, gauge, metricsOf, numberPoint, recordingDrop, sum } from '../internal/testing.ts';
import { filterConfigSchema, validateFilterConfig } from './config.ts';
import { filterProcessorFactory } from './factory.ts';
import { MetricFilter } from './filter.ts';

const run = (raw: unknown, batch: MetricsBatch) => {
  const { drop, dropped } = recordingDrop();
  const out = new MetricFilter(filterConfigSchema.parse(raw)).process(batch, drop);
  return { names: metricsOf(out).map((m) => `${m.name}:${m.points.length}`), dropped: dropped.filtered ?? 0, out };
};

const sample = (resource = { 'service.name': 'checkout' }) =>
  batchOf(
    [
      gauge('http.server.duration', [numberPoint(1, { env: 'prod' }), numberPoint(2, { env: 'dev' })]),
      sum('process.cpu.time', [numberPoint(3, { env: 'prod' })]),
      gauge('cache_debug', [numberPoint(4)]),
    ],
    resource,
  );

describe('filter', () => {
  it('include strict keeps only the named metrics', () => {
    expect(run({ metrics: { include: { match_type: 'strict', metric_names: ['http.server.duration'] } } }, sample())).toMatchObject({
      names: ['http.server.duration:2'],
      dropped: 2,
    });
  });

  it('exclude regexp drops matching names (unanchored, as otelcol)', () => {
    expect(run({ metrics: { exclude: { match_type: 'regexp', metric_names: ['_debug$', '^process\\.'] } } }, sample())).toMatchObject({
      names: ['http.server.duration:2'],
      dropped: 2,
    });
    expect(run({ metrics: { exclude: { match_type: 'regexp', metric_names: ['server'] } } }, sample()).names).toEqual(['process.cpu.time:1', 'cache_debug:1']);
  });

  it('include then exclude', () => {
    const cfg = { metrics: { include: { match_type: 'regexp', metric_names: ['\\.'] }, exclude: { match_type: 'strict', metric_names: ['process.cpu.time'] } } };
    expect(run(cfg, sample()).names).toEqual(['http.server.duration:2']);
  });

  it('matches resource attributes (all listed pairs must match)', () => {
    const cfg = { metrics: { include: { match_type: 'strict', resource_attributes: [{ key: 'service.name', value: 'checkout' }] } } };
    expect(run(cfg, sample()).dropped).toBe(0);
    expect(run(cfg, sample({ 'service.name': 'cart' }))).toMatchObject({ names: [], dropped: 4 });
    const both = { metrics: { exclude: { match_type: 'regexp', resource_attributes: [{ key: 'service.name', value: '^check' }, { key: 'k8s.pod.name' }] } } };
    expect(run(both, sample()).dropped).toBe(0);
    expect(run(both, sample({ 'service.name': 'checkout', 'k8s.pod.name': 'p-1' } as any)).dropped).toBe(4);
  });

  it('filters data points by record attributes, alone or with names', () => {
    expect(run({ metrics: { exclude: { match_type: 'strict', record_attributes: [{ key: 'env', value: 'dev' }] } } }, sample())).toMatchObject({
      names: ['http.server.duration:1', 'process.cpu.time:1', 'cache_debug:1'],
      dropped: 1,
    });
    expect(run({ metrics: { include: { match_type: 'strict', metric_names: ['http.server.duration'], record_attributes: [{ key: 'env', value: 'prod' }] } } }, sample())).toMatchObject({
      names: ['http.server.duration:1'],
      dropped: 3,
    });
  });

  it('strict attribute values are typed; regexp matches the string form', () => {
    const b = () => batchOf([gauge('g', [numberPoint(1, { code: 500 }), numberPoint(1, { code: '500' })])]);
    expect(run({ metrics: { exclude: { match_type: 'strict', record_attributes: [{ key: 'code', value: 500 }] } } }, b()).dropped).toBe(1);
    expect(run({ metrics: { exclude: { match_type: 'regexp', record_attributes: [{ key: 'code', value: '^5' }] } } }, b()).dropped).toBe(2);
  });

  it('validates: OTTL and expr are refused with a clear message, regexps compiled, empty blocks refused', () => {
    const keys = (raw: unknown) => validateFilterConfig(filterConfigSchema.parse(raw)).map((i) => i.join(': '));
    expect(keys({ metrics: { metric: ['name == "x"'] } })[0]).toMatch(/^metrics.metric: OTTL/);
    expect(keys({ metrics: { include: { match_type: 'expr', expressions: ['true'] } } })[0]).toMatch(/expr match type/);
    expect(keys({ metrics: { include: { match_type: 'regexp', metric_names: ['(('] } } })[0]).toMatch(/^metrics.include.metric_names\[0\]: invalid regular expression/);
    expect(keys({ metrics: { exclude: { match_type: 'strict' } } })[0]).toMatch(/at least one/);
    expect(() => filterConfigSchema.parse({ metrics: { include: { metric_name: ['x'] } } })).toThrow();
  });

  it('counts drops with reason filtered through the processor', async () => {
    const telemetry = new PipelineTelemetry();
    const next = new CollectingConsumer();
    const p = filterProcessorFactory.create(
      testSettings('processor', 'filter/drop-debug', 'metrics', telemetry),
      filterConfigSchema.parse({ metrics: { exclude: { match_type: 'regexp', metric_names: ['_debug$'] } } }),
      next,
    );
    await p.consume(sample());
    await p.consume(batchOf([gauge('only_debug', [numberPoint(1), numberPoint(2)])]));
    expect(next.batches).toHaveLength(1);
    expect(telemetry.processorDropped.get({ processor: 'filter/drop-debug', pipeline: 'metrics', reason: 'filtered' })).toBe(3);
  });
});
