/**
 * The sampling decision for every point of a batch (see config.ts for the
 * options and adaptive.ts for the adaptive factor).
 *
 * - `series` method: a point is kept when the series hash (hash.ts) mapped to
 *   [0,1) is below the effective rate, so a series is kept or dropped as a
 *   whole, identically in every process. Kept points are exact; with `scale`
 *   their delta values are multiplied by 1/rate so sums *across* series stay
 *   unbiased.
 * - `point` method: each point is kept with probability rate. Delta sums and
 *   delta (exponential) histograms are scaled by 1/rate (scale.ts), so their
 *   expected totals are unchanged. Gauges, cumulative sums/histograms and
 *   summaries are thinned but never scaled: their values are levels or running
 *   totals that a missing point does not bias.
 *
 * Dropped points are counted with reason `sampled`.
 */
import type { Attributes, Metric, MetricsBatch } from '../../model/metrics.ts';
import { pruneEmpty } from '../../model/metrics.ts';
import type { DropFn } from '../helper.ts';
import { BoundedMemo, compileAnyOf, compileAttributesMatcher } from '../internal/match.ts';
import { AdaptiveRate } from './adaptive.ts';
import type { SamplingConfig } from './config.ts';
import { ruleName } from './config.ts';
import { seriesUnit } from './hash.ts';
import { createRandom, type Random } from './random.ts';
import { scaleExpHistogramPoint, scaleHistogramPoint, scaleNumberPoint } from './scale.ts';

export interface CompiledRule {
  name: string;
  rate: number;
  method: 'series' | 'point';
  scale: boolean;
  matchName: ((name: string) => boolean) | undefined;
  matchPoint: ((attrs: Attributes) => boolean) | undefined;
  matchResource: ((attrs: Attributes) => boolean) | undefined;
  /** Whether to stamp `rate_attribute` on this rule's unscaled kept points. */
  stamp: boolean;
}

export interface SamplerOptions {
  /** Milliseconds clock for the adaptive factor; `performance.now` by default. */
  now?: () => number;
}

export class Sampler {
  readonly rules: CompiledRule[];
  private readonly random: Random;
  private readonly adaptive: AdaptiveRate | undefined;
  private readonly rateAttribute: string | undefined;
  /** Per metric name: indexes of rules whose name pattern matches. */
  private readonly nameMemo = new BoundedMemo<number[]>();

  constructor(cfg: SamplingConfig, opts: SamplerOptions = {}) {
    this.random = createRandom(cfg.seed);
    this.rateAttribute = cfg.rate_attribute;
    const now = opts.now ?? (() => performance.now());
    this.adaptive = cfg.adaptive
      ? new AdaptiveRate(
          {
            maxPointsPerSecond: cfg.adaptive.max_points_per_second,
            minRate: cfg.adaptive.min_rate,
            intervalMs: cfg.adaptive.interval,
            maxIncrease: cfg.adaptive.max_increase,
            smoothing: cfg.adaptive.smoothing,
          },
          now,
        )
      : undefined;
    const adaptive = this.adaptive !== undefined;
    this.rules = cfg.rules.map((r, i) => ({
      name: ruleName(r, i),
      rate: r.rate,
      method: r.method,
      scale: r.scale,
      matchName: r.metric_names.length > 0 ? compileAnyOf(r.match_type, r.metric_names) : undefined,
      matchPoint: r.attributes.length > 0 ? compileAttributesMatcher(r.match_type, r.attributes) : undefined,
      matchResource: r.resource_attributes.length > 0 ? compileAttributesMatcher(r.match_type, r.resource_attributes) : undefined,
      stamp: r.rate < 1 || adaptive,
    }));
    this.rules.push({
      name: 'default',
      rate: cfg.default_rate,
      method: cfg.default_method,
      scale: cfg.default_scale,
      matchName: undefined,
      matchPoint: undefined,
      matchResource: undefined,
      stamp: cfg.default_rate < 1 || adaptive,
    });
  }

  /** The adaptive factor now (1 without `adaptive`). */
  factor(): number {
    return this.adaptive ? this.adaptive.factor() : 1;
  }

  /** The effective rate of a rule now: its configured rate times the adaptive factor. */
  effectiveRate(rule: CompiledRule): number {
    return rule.rate * this.factor();
  }

  process(batch: MetricsBatch, drop: DropFn): MetricsBatch {
    const factor = this.factor();
    let dropped = 0;
    let offered = 0;
    for (const rm of batch.resourceMetrics) {
      const resourceAttrs = rm.resource.attributes;
      // Rules whose resource condition holds, decided once per resource.
      const resourceOk = this.rules.map((r) => r.matchResource === undefined || r.matchResource(resourceAttrs));
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const candidates = this.candidates(m.name, resourceOk);
          const before = m.points.length;
          offered += this.sampleMetric(m, candidates, factor);
          dropped += before - m.points.length;
        }
      }
    }
    drop('sampled', dropped);
    this.adaptive?.offer(offered);
    return dropped > 0 ? pruneEmpty(batch) : batch;
  }

  private candidates(name: string, resourceOk: boolean[]): CompiledRule[] {
    let byName = this.nameMemo.get(name);
    if (!byName) {
      byName = [];
      this.rules.forEach((r, i) => {
        if (r.matchName === undefined || r.matchName(name)) byName!.push(i);
      });
      this.nameMemo.set(name, byName);
    }
    const out: CompiledRule[] = [];
    for (const i of byName) {
      if (!resourceOk[i]) continue;
      const r = this.rules[i];
      out.push(r);
      // The first rule without a point condition catches every point that reaches it.
      if (r.matchPoint === undefined) break;
    }
    return out;
  }

  /** Filters `m.points` in place; returns the points the static rules would keep at factor 1. */
  private sampleMetric(m: Metric, candidates: CompiledRule[], factor: number): number {
    const points = m.points as Metric['points'];
    const n = points.length;
    const delta = m.type !== 'gauge' && m.type !== 'summary' && m.temporality === 'delta';
    const single = candidates.length === 1 ? candidates[0] : undefined;
    if (single && single.rate * factor >= 1) {
      if (this.rateAttribute && single.stamp) for (let i = 0; i < n; i++) points[i].attributes[this.rateAttribute] = 1;
      return n;
    }
    const rng = this.random;
    let offered = 0;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const p = points[i];
      const rule = single ?? pickRule(candidates, p.attributes);
      const rate = rule.rate;
      const eff = rate * factor;
      let keep: boolean;
      let scale = false;
      if (rule.method === 'series') {
        // At an effective rate of 1 every series is kept (and would be at factor 1): no hash needed.
        const u = eff >= 1 ? 0 : seriesUnit(m.name, p.attributes);
        if (u < rate) offered++;
        keep = u < eff;
        scale = rule.scale && delta && eff < 1;
      } else {
        offered += rate;
        keep = eff >= 1 || rng() < eff;
        scale = delta && eff < 1;
      }
      if (!keep) continue;
      if (scale) {
        const k = 1 / eff;
        if (m.type === 'sum') scaleNumberPoint(p as any, k, rng);
        else if (m.type === 'histogram') scaleHistogramPoint(p as any, k, rng);
        else if (m.type === 'exponential_histogram') scaleExpHistogramPoint(p as any, k, rng);
      } else if (this.rateAttribute && rule.stamp) {
        p.attributes[this.rateAttribute] = eff;
      }
      points[w++] = p;
    }
    points.length = w;
    return offered;
  }
}

function pickRule(candidates: CompiledRule[], attrs: Attributes): CompiledRule {
  for (const r of candidates) if (r.matchPoint === undefined || r.matchPoint(attrs)) return r;
  // Unreachable: the default rule has no condition and is always a candidate.
  return candidates[candidates.length - 1];
}
