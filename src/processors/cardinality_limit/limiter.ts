/**
 * Applies the cardinality cap to a batch: each point's series is admitted by
 * the tracker or is over the cap; over-cap points are dropped (reason
 * `cardinality_limit`) or folded into the metric's overflow point (fold.ts).
 * Folding n points into one removes n − 1 points from the stream, counted
 * with reason `cardinality_overflow`, so the pipeline's accounting still adds
 * up. Every over-cap point is also counted, by action, in
 * `tributary_cardinality_limited_points_total`.
 */
import type { DataPoint, Metric, MetricsBatch } from '../../model/metrics.ts';
import { attributesKey, pruneEmpty } from '../../model/metrics.ts';
import type { DropFn } from '../helper.ts';
import type { CardinalityLimitConfig } from './config.ts';
import { canFold, foldPoint } from './fold.ts';
import { CardinalityTracker } from './tracker.ts';

export interface LimitedCounts {
  dropped: number;
  folded: number;
}

export class CardinalityLimiter {
  readonly tracker: CardinalityTracker;
  private readonly cfg: CardinalityLimitConfig;
  private readonly now: () => number;

  constructor(cfg: CardinalityLimitConfig, now: () => number = Date.now) {
    this.cfg = cfg;
    this.now = now;
    this.tracker = new CardinalityTracker({
      maxSeriesPerMetric: cfg.max_series_per_metric,
      maxSeriesPerAttribute: cfg.max_series_per_attribute,
      windowMs: cfg.window,
      maxMetrics: cfg.max_metrics,
    });
  }

  process(batch: MetricsBatch, drop: DropFn): { batch: MetricsBatch; limited: LimitedCounts } {
    const now = this.now();
    const limited: LimitedCounts = { dropped: 0, folded: 0 };
    let removed = 0;
    for (const rm of batch.resourceMetrics) {
      const prefix = this.cfg.include_resource ? attributesKey(rm.resource.attributes) + '\u0000' : '';
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) removed += this.limitMetric(m, prefix, now, limited);
      }
    }
    if (removed === 0) return { batch, limited };
    drop('cardinality_limit', limited.dropped);
    drop('cardinality_overflow', removed - limited.dropped);
    return { batch: pruneEmpty(batch), limited };
  }

  /** Filters `m.points` in place; returns how many points left the stream. */
  private limitMetric(m: Metric, prefix: string, now: number, limited: LimitedCounts): number {
    const state = this.tracker.metric(m.name, now);
    const points = m.points as DataPoint[];
    const n = points.length;
    const fold = this.cfg.action === 'overflow' && canFold(m);
    let overflow: DataPoint | undefined;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const p = points[i];
      if (state && this.tracker.admit(state, prefix + attributesKey(p.attributes), p.attributes, now)) {
        points[w++] = p;
        continue;
      }
      if (fold) {
        const next = foldPoint(m, overflow, p);
        if (next) {
          overflow = next;
          limited.folded++;
          continue;
        }
      }
      limited.dropped++;
    }
    if (overflow) points[w++] = overflow;
    points.length = w;
    return n - w;
  }
}
