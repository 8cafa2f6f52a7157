import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Attributes, Resource, Scope } from '../../model/metrics.ts';
import { LabelCache } from './label-cache.ts';
import { labelContext, pointLabelBody } from './labels.ts';

const RES: Resource = { attributes: { 'service.name': 'api', 'service.instance.id': 'i-1', 'k8s.pod.name': 'p' } };
const SCOPE: Scope = { name: 'lib', version: '1.0', attributes: {} };

describe('LabelCache', () => {
  it('gives the body pointLabelBody gives, on the first lookup and on repeats, for every reserved label', () => {
    const cache = new LabelCache(true, [['env', 'prod']]);
    const ctx = labelContext(RES, SCOPE, true, [['env', 'prod']]);
    const cases: Attributes[] = [
      {},
      { route: '/a', method: 'GET' },
      { method: 'GET', route: '/a' },
      { le: '5', quantile: 0.5, 'a.b': true, a_b: 2 },
      { v: 'quote " back \\ nl \n' },
      { n: null, x: 1.5, y: -0, z: Number.NaN },
      { list: [1, 'two'], map: { k: 'v' }, bytes: new Uint8Array([1, 2]) },
    ];
    for (const reserved of [undefined, 'le', 'quantile'] as const) {
      for (let round = 0; round < 2; round++) {
        for (const attrs of cases) expect(cache.context(RES, SCOPE).body(attrs, reserved)).toBe(pointLabelBody(attrs, ctx, reserved));
      }
    }
  });

  it('keeps one context per resource and scope, and tells 1 from "1"', () => {
    const cache = new LabelCache(false, []);
    const other: Resource = { attributes: { 'service.name': 'web' } };
    expect(cache.context(RES, SCOPE)).toBe(cache.context({ attributes: { ...RES.attributes } }, SCOPE));
    expect(cache.context(RES, SCOPE).body({ a: '1' })).toBe('a="1",instance="i-1",job="api",otel_scope_name="lib",otel_scope_version="1.0"');
    expect(cache.context(other, { ...SCOPE, version: '' }).body({ a: 1 })).toBe('a="1",job="web",otel_scope_name="lib"');
    expect(cache.context(other, SCOPE).body({ a: true })).toBe('a="true",job="web",otel_scope_name="lib",otel_scope_version="1.0"');
  });

  it('drops everything past its bound and still answers right', () => {
    const cache = new LabelCache(false, [], 50);
    const ctx = labelContext(RES, SCOPE, false, []);
    for (let i = 0; i < 500; i++) {
      const attrs = { id: String(i), k: i % 7 };
      expect(cache.context(RES, SCOPE).body(attrs)).toBe(pointLabelBody(attrs, ctx));
      expect(cache.nodes).toBeLessThanOrEqual(50);
    }
  });

  it('agrees with pointLabelBody on arbitrary primitive attributes (property)', () => {
    const value = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const attrs = fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', 'a.b', 'a_b', 'le', '1x', '__', 'job'), fc.string({ maxLength: 4 })), value, { maxKeys: 5 });
    const cache = new LabelCache(true, [['c', 'x']]);
    const ctx = labelContext(RES, SCOPE, true, [['c', 'x']]);
    fc.assert(
      fc.property(fc.array(attrs, { minLength: 1, maxLength: 5 }), fc.constantFrom(undefined, 'le', 'quantile'), (list, reserved) => {
        for (const a of list.concat(list)) expect(cache.context(RES, SCOPE).body(a, reserved)).toBe(pointLabelBody(a, ctx, reserved));
      }),
    );
  });
});
