/**
 * The filter decision: `include` first (keep only matches), then `exclude`
 * (drop matches). Name and resource conditions are decided per metric and per
 * resource; `record_attributes` per point. Dropped points: reason `filtered`.
 */
import type { Attributes, MetricsBatch } from '../../model/metrics.ts';
import { pruneEmpty } from '../../model/metrics.ts';
import type { DropFn } from '../helper.ts';
import { BoundedMemo, compileAnyOf, compileAttributesMatcher, type MatchType } from '../internal/match.ts';
import type { FilterConfig, MatchProperties } from './config.ts';

interface CompiledMatch {
  name: ((name: string) => boolean) | undefined;
  resource: ((attrs: Attributes) => boolean) | undefined;
  point: ((attrs: Attributes) => boolean) | undefined;
  memo: BoundedMemo<boolean>;
}

function compile(p: MatchProperties | undefined): CompiledMatch | undefined {
  if (!p) return undefined;
  const type = p.match_type as MatchType;
  return {
    name: p.metric_names.length > 0 ? compileAnyOf(type, p.metric_names) : undefined,
    resource: p.resource_attributes.length > 0 ? compileAttributesMatcher(type, p.resource_attributes) : undefined,
    point: p.record_attributes.length > 0 ? compileAttributesMatcher(type, p.record_attributes) : undefined,
    memo: new BoundedMemo<boolean>(),
  };
}

function nameMatches(m: CompiledMatch, name: string): boolean {
  if (!m.name) return true;
  let hit = m.memo.get(name);
  if (hit === undefined) {
    hit = m.name(name);
    m.memo.set(name, hit);
  }
  return hit;
}

export class MetricFilter {
  private readonly include: CompiledMatch | undefined;
  private readonly exclude: CompiledMatch | undefined;

  constructor(cfg: FilterConfig) {
    this.include = compile(cfg.metrics.include);
    this.exclude = compile(cfg.metrics.exclude);
  }

  process(batch: MetricsBatch, drop: DropFn): MetricsBatch {
    const inc = this.include;
    const exc = this.exclude;
    let dropped = 0;
    for (const rm of batch.resourceMetrics) {
      const res = rm.resource.attributes;
      // undefined: the include block does not constrain at this level.
      const incRes = !inc || !inc.resource || inc.resource(res);
      const excRes = !!exc && (!exc.resource || exc.resource(res));
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const n = m.points.length;
          const incHere = incRes && (!inc || nameMatches(inc, m.name));
          const excHere = excRes && nameMatches(exc!, m.name);
          if (!incHere || (excHere && !exc!.point)) {
            dropped += n;
            m.points.length = 0;
            continue;
          }
          const incPoint = inc?.point;
          const excPoint = excHere ? exc!.point : undefined;
          if (!incPoint && !excPoint) continue;
          const points = m.points as Array<{ attributes: Attributes }>;
          let w = 0;
          for (let i = 0; i < n; i++) {
            const a = points[i].attributes;
            if (incPoint && !incPoint(a)) continue;
            if (excPoint && excPoint(a)) continue;
            points[w++] = points[i];
          }
          dropped += n - w;
          points.length = w;
        }
      }
    }
    if (dropped === 0) return batch;
    drop('filtered', dropped);
    return pruneEmpty(batch);
  }
}
