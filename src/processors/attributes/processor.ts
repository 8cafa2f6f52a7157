/**
 * Applies the configured actions to the attributes of every data point of
 * the metrics selected by include/exclude. Nothing is dropped.
 */
import type { Attributes, MetricsBatch } from '../../model/metrics.ts';
import { BoundedMemo, compileAnyOf, compileAttributesMatcher, compilePattern, type MatchType } from '../internal/match.ts';
import { compileActions, hasNonIdempotentAction, type ActionContext, type AttributeAction } from './actions.ts';
import type { AttributesConfig, AttributesMatchProperties } from './config.ts';

const INCLUDE_POINT = 2;
const EXCLUDE_POINT = 4;

interface Selector {
  name: ((name: string) => boolean) | undefined;
  point: ((attrs: Attributes) => boolean) | undefined;
  resource: ((attrs: Attributes) => boolean) | undefined;
  library: ((name: string, version: string) => boolean) | undefined;
}

function compileSelector(p: AttributesMatchProperties | undefined): Selector | undefined {
  if (!p) return undefined;
  const type = p.match_type as MatchType;
  const libs = p.libraries.map((l) => ({ name: compilePattern(type, l.name), version: l.version === undefined ? undefined : compilePattern(type, l.version) }));
  return {
    name: p.metric_names.length > 0 ? compileAnyOf(type, p.metric_names) : undefined,
    point: p.attributes.length > 0 ? compileAttributesMatcher(type, p.attributes) : undefined,
    resource: p.resources.length > 0 ? compileAttributesMatcher(type, p.resources) : undefined,
    library: libs.length > 0 ? (n, v) => libs.some((l) => l.name(n) && (!l.version || l.version(v))) : undefined,
  };
}

export class AttributesProcessor {
  private readonly apply: AttributeAction;
  private readonly include: Selector | undefined;
  private readonly exclude: Selector | undefined;
  private readonly onceOnly: boolean;
  private readonly nameMemo = new BoundedMemo<number>();
  /** Resource and library conditions vary per resource/scope, so only pure name selectors are memoised. */
  private readonly nameOnly: boolean;

  constructor(cfg: AttributesConfig) {
    this.apply = compileActions(cfg.actions);
    this.include = compileSelector(cfg.include);
    this.exclude = compileSelector(cfg.exclude);
    this.onceOnly = hasNonIdempotentAction(cfg.actions);
    this.nameOnly = [this.include, this.exclude].every((s) => !s || (!s.resource && !s.library));
  }

  /**
   * Per metric: 0 skip; else 1 plus flags INCLUDE_POINT / EXCLUDE_POINT telling
   * which point conditions to test. Memoised by name where only names decide.
   */
  private metricMode(name: string, resource: Attributes, scopeName: string, scopeVersion: string): number {
    const inc = this.include;
    const exc = this.exclude;
    const check = (s: Selector) => (!s.resource || s.resource(resource)) && (!s.library || s.library(scopeName, scopeVersion)) && (!s.name || s.name(name));
    if (inc && !check(inc)) return 0;
    if (exc && check(exc) && !exc.point) return 0;
    return 1 | (inc?.point ? INCLUDE_POINT : 0) | (exc?.point && check(exc) ? EXCLUDE_POINT : 0);
  }

  process(batch: MetricsBatch): MetricsBatch {
    const simple = !this.include && !this.exclude;
    // Attribute sets shared between points must not be hashed twice.
    const seen = this.onceOnly ? new Set<Attributes>() : undefined;
    const ctx: ActionContext = { resource: {}, scopeName: '', scopeVersion: '', metricName: '' };
    for (const rm of batch.resourceMetrics) {
      ctx.resource = rm.resource.attributes;
      for (const sm of rm.scopeMetrics) {
        ctx.scopeName = sm.scope.name;
        ctx.scopeVersion = sm.scope.version;
        for (const m of sm.metrics) {
          ctx.metricName = m.name;
          const mode = simple ? 1 : this.modeFor(m.name, ctx);
          if (mode === 0) continue;
          const points = m.points as Array<{ attributes: Attributes }>;
          for (let i = 0; i < points.length; i++) {
            const attrs = points[i].attributes;
            if (mode !== 1 && !this.pointSelected(attrs, mode)) continue;
            if (seen) {
              if (seen.has(attrs)) continue;
              seen.add(attrs);
            }
            this.apply(attrs, ctx);
          }
        }
      }
    }
    return batch;
  }

  private modeFor(name: string, ctx: ActionContext): number {
    if (!this.nameOnly) return this.metricMode(name, ctx.resource, ctx.scopeName, ctx.scopeVersion);
    let mode = this.nameMemo.get(name);
    if (mode === undefined) {
      mode = this.metricMode(name, ctx.resource, ctx.scopeName, ctx.scopeVersion);
      this.nameMemo.set(name, mode);
    }
    return mode;
  }

  private pointSelected(attrs: Attributes, mode: number): boolean {
    if (mode & INCLUDE_POINT && !this.include!.point!(attrs)) return false;
    if (mode & EXCLUDE_POINT && this.exclude!.point!(attrs)) return false;
    return true;
  }
}
