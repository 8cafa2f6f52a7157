import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Attributes, MetricsBatch } from '../../model/metrics.ts';
import { batchOf, gauge, metricsOf, numberPoint, sum } from '../internal/testing.ts';
import { attributesConfigSchema, validateAttributesConfig } from './config.ts';
import { AttributesProcessor } from './processor.ts';

const run = (raw: unknown, batch: MetricsBatch) => new AttributesProcessor(attributesConfigSchema.parse(raw)).process(batch);
const attrsOf = (batch: MetricsBatch, name?: string): Attributes[] =>
  metricsOf(batch)
    .filter((m) => !name || m.name === name)
    .flatMap((m) => m.points.map((p) => p.attributes));
const one = (attrs: Attributes, resource: Attributes = {}) => batchOf([gauge('g', [numberPoint(1, attrs)])], resource);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('attribute actions', () => {
  it('insert sets only absent keys; update only present ones; upsert both', () => {
    const cfg = (action: string) => ({ actions: [{ key: 'env', value: 'prod', action }] });
    expect(attrsOf(run(cfg('insert'), one({ env: 'dev' })))[0].env).toBe('dev');
    expect(attrsOf(run(cfg('insert'), one({})))[0].env).toBe('prod');
    expect(attrsOf(run(cfg('update'), one({})))[0]).toEqual({});
    expect(attrsOf(run(cfg('update'), one({ env: 'dev' })))[0].env).toBe('prod');
    expect(attrsOf(run(cfg('upsert'), one({})))[0].env).toBe('prod');
    expect(attrsOf(run(cfg('upsert'), one({ env: 'dev' })))[0].env).toBe('prod');
  });

  it('copies from another attribute (no-op when it is absent)', () => {
    const cfg = { actions: [{ key: 'host', from_attribute: 'hostname', action: 'upsert' }] };
    expect(attrsOf(run(cfg, one({ hostname: 'web-1' })))[0]).toEqual({ hostname: 'web-1', host: 'web-1' });
    expect(attrsOf(run(cfg, one({ other: 1 })))[0]).toEqual({ other: 1 });
  });

  it('copies a tenant id from the resource onto every point (from_context)', () => {
    const cfg = { actions: [{ key: 'tenant.id', from_context: 'resource.tenant.id', action: 'insert' }] };
    const batch = batchOf([gauge('a', [numberPoint(1), numberPoint(2)]), sum('b', [numberPoint(3, { tenant: 'x' })])], { 'tenant.id': 'acme' });
    for (const a of attrsOf(run(cfg, batch))) expect(a['tenant.id']).toBe('acme');
    const scope = { actions: [{ key: 'lib', from_context: 'scope.name', action: 'upsert' }, { key: 'metric', from_context: 'metric.name', action: 'upsert' }] };
    expect(attrsOf(run(scope, one({})))[0]).toEqual({ lib: 'test', metric: 'g' });
  });

  it('delete by key and by pattern', () => {
    const cfg = { actions: [{ key: 'password', action: 'delete' }, { pattern: '^internal\\.', action: 'delete' }] };
    expect(attrsOf(run(cfg, one({ password: 'x', 'internal.a': 1, 'internal.b': 2, keep: 'y' })))[0]).toEqual({ keep: 'y' });
  });

  it('hash replaces values with their SHA-256 hex, once even for shared attribute sets', () => {
    const shared: Attributes = { email: 'a@example.com', 'user.id': 42 };
    const batch = batchOf([gauge('a', [numberPoint(1, shared), numberPoint(2, shared)])]);
    run({ actions: [{ key: 'email', action: 'hash' }, { pattern: '^user\\.', action: 'hash' }] }, batch);
    expect(shared).toEqual({ email: sha256('a@example.com'), 'user.id': sha256('42') });
  });

  it('extract upserts named groups of a regexp', () => {
    const cfg = { actions: [{ key: 'http.target', pattern: '^/api/(?<api_version>v\\d+)/(?<resource>\\w+)', action: 'extract' }] };
    expect(attrsOf(run(cfg, one({ 'http.target': '/api/v2/users/17' })))[0]).toEqual({ 'http.target': '/api/v2/users/17', api_version: 'v2', resource: 'users' });
    expect(attrsOf(run(cfg, one({ 'http.target': '/health' })))[0]).toEqual({ 'http.target': '/health' });
  });

  it('convert to int, double and string; leaves unconvertible values alone', () => {
    const cfg = (t: string) => ({ actions: [{ key: 'v', action: 'convert', converted_type: t }] });
    expect(attrsOf(run(cfg('int'), one({ v: '42' })))[0].v).toBe(42);
    expect(attrsOf(run(cfg('int'), one({ v: 3.9 })))[0].v).toBe(3);
    expect(attrsOf(run(cfg('int'), one({ v: true })))[0].v).toBe(1);
    expect(attrsOf(run(cfg('int'), one({ v: 'abc' })))[0].v).toBe('abc');
    expect(attrsOf(run(cfg('double'), one({ v: '2.5' })))[0].v).toBe(2.5);
    expect(attrsOf(run(cfg('string'), one({ v: 7 })))[0].v).toBe('7');
    expect(attrsOf(run(cfg('string'), one({ v: false })))[0].v).toBe('false');
  });
});

describe('include / exclude', () => {
  const batch = () =>
    batchOf(
      [gauge('http.duration', [numberPoint(1, { env: 'prod' }), numberPoint(2, { env: 'dev' })]), gauge('db.duration', [numberPoint(3, { env: 'prod' })])],
      { 'service.name': 'checkout' },
    );
  const mark = { key: 'marked', value: true, action: 'insert' };
  const marked = (b: MetricsBatch) => metricsOf(b).flatMap((m) => m.points.filter((p) => p.attributes.marked).map((p) => `${m.name}/${p.attributes.env}`));

  it('selects metrics by name (strict, regexp), point attributes, resources and libraries', () => {
    expect(marked(run({ actions: [mark], include: { match_type: 'strict', metric_names: ['http.duration'] } }, batch()))).toEqual(['http.duration/prod', 'http.duration/dev']);
    expect(marked(run({ actions: [mark], exclude: { match_type: 'regexp', metric_names: ['^http'] } }, batch()))).toEqual(['db.duration/prod']);
    expect(marked(run({ actions: [mark], include: { match_type: 'strict', attributes: [{ key: 'env', value: 'prod' }] } }, batch()))).toEqual(['http.duration/prod', 'db.duration/prod']);
    expect(marked(run({ actions: [mark], include: { match_type: 'regexp', metric_names: ['http'] }, exclude: { attributes: [{ key: 'env', value: 'dev' }] } }, batch()))).toEqual([
      'http.duration/prod',
    ]);
    expect(marked(run({ actions: [mark], include: { resources: [{ key: 'service.name', value: 'cart' }] } }, batch()))).toEqual([]);
    expect(marked(run({ actions: [mark], include: { libraries: [{ name: 'test' }] } }, batch()))).toHaveLength(3);
    // An exclude whose name does not match leaves its point condition out of play.
    expect(marked(run({ actions: [mark], include: { attributes: [{ key: 'env' }] }, exclude: { metric_names: ['db.duration'], attributes: [{ key: 'env', value: 'prod' }] } }, batch()))).toEqual([
      'http.duration/prod',
      'http.duration/dev',
    ]);
  });

  it('validates actions as otelcol does', () => {
    const issues = (actions: unknown[]) => validateAttributesConfig(attributesConfigSchema.parse({ actions })).map((i) => i.join(': '));
    expect(issues([{ key: 'a', action: 'insert' }])).toEqual(['actions[0]: insert needs exactly one of value, from_attribute, from_context']);
    expect(issues([{ key: 'a', value: 1, from_attribute: 'b', action: 'upsert' }])).toHaveLength(1);
    expect(issues([{ action: 'delete' }])).toEqual(['actions[0]: delete needs key or pattern']);
    expect(issues([{ key: 'a', pattern: '(\\d+)', action: 'extract' }])[0]).toMatch(/named group/);
    expect(issues([{ key: 'a', action: 'convert' }])[0]).toMatch(/converted_type/);
    expect(issues([{ key: 'a', from_context: 'metadata.x', action: 'insert' }])[0]).toMatch(/from_context/);
    expect(issues([])).toEqual(['actions: at least one action is required']);
    expect(() => attributesConfigSchema.parse({ actions: [{ key: 'a', action: 'rename' }] })).toThrow();
  });
});
