/**
 * Model → Datadog series and sketches, mapped as the Datadog Agent's OTLP
 * mapper does:
 * - gauges and cumulative non-monotonic sums → `gauge`;
 * - delta sums → `count` with `interval`;
 * - cumulative monotonic sums → deltas as `count` (first point kept as state,
 *   resets start a new baseline);
 * - histograms → DogStatsD-style aggregates or sketches (distributions);
 * - summaries → `.count`/`.sum` counts (cumulative → delta) and one
 *   `.quantile` gauge per quantile, tagged `quantile:<q>`.
 *
 * Host comes from `datadog.host.name`/`host.name` (else the config's or the
 * machine's hostname); tags from data-point attributes and from the resource
 * (unified `service`/`env`/`version`, well-known k8s/container/cloud
 * attributes, or all of them with `resource_attributes_as_tags`).
 *
 * Points Datadog would refuse (older than an hour, more than ten minutes
 * ahead, NaN/±Inf, no recorded value) are dropped and returned by reason.
 */
import type { Attributes, ExpHistogramPoint, HistogramPoint, Metric, MetricsBatch } from '../../model/metrics.ts';
import { attributeText } from '../common/attributes.ts';
import { BASELINE_MARK, FLAG_DELTA_SUMMARY, flagRefusal } from '../common/delta.ts';
import { explicitRanges, exponentialRanges, quantileOf, type BucketRange } from '../common/buckets.ts';
import { sketchBins } from './sketch.ts';
import type { HistogramAggregate } from './config.ts';

export const TYPE_COUNT = 1;
export const TYPE_GAUGE = 3;

export interface DdSeries {
  metric: string;
  type: typeof TYPE_COUNT | typeof TYPE_GAUGE;
  /** Seconds since the epoch. */
  timestamp: number;
  value: number;
  host: string;
  tags: string[];
  /** Seconds covered by a count; 0 when unknown (omitted). */
  interval: number;
  /** Input data points this entry accounts for (1 on the first output of a point, else 0). */
  src: number;
}

export interface DdSketch {
  metric: string;
  host: string;
  tags: string[];
  timestamp: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  avg: number;
  keys: number[];
  counts: number[];
  src: number;
}

export interface Translation {
  series: DdSeries[];
  sketches: DdSketch[];
  /** Input points dropped, by reason. */
  dropped: Map<string, number>;
  /** Input points absorbed as cumulative baselines (delivered as part of later deltas). */
  baselines: number;
}

export interface TranslatorOptions {
  hostname: string;
  resourceAttributesAsTags: boolean;
  histogramMode: 'aggregates' | 'distributions';
  aggregates: HistogramAggregate[];
  percentiles: number[];
}

const MAX_AGE_S = 3600;
const MAX_AHEAD_S = 600;

/** Resource attributes that become Datadog tags by default (the Agent's conventions mapping). */
const RESOURCE_TAG_NAMES: Record<string, string> = {
  'service.name': 'service',
  'service.version': 'version',
  'deployment.environment.name': 'env',
  'deployment.environment': 'env',
  'container.id': 'container_id',
  'container.name': 'container_name',
  'container.image.name': 'image_name',
  'container.image.tag': 'image_tag',
  'k8s.cluster.name': 'kube_cluster_name',
  'k8s.namespace.name': 'kube_namespace',
  'k8s.pod.name': 'pod_name',
  'k8s.deployment.name': 'kube_deployment',
  'k8s.statefulset.name': 'kube_stateful_set',
  'k8s.daemonset.name': 'kube_daemon_set',
  'k8s.job.name': 'kube_job',
  'k8s.cronjob.name': 'kube_cronjob',
  'k8s.container.name': 'kube_container_name',
  'cloud.provider': 'cloud_provider',
  'cloud.region': 'region',
  'cloud.availability_zone': 'zone',
  'aws.ecs.task.family': 'task_family',
  'aws.ecs.cluster.arn': 'ecs_cluster_name',
};

/** Resource attributes that name the host; they become the series' host resource, not tags. */
const HOST_ATTRIBUTES = ['datadog.host.name', 'host.name'];

export class DatadogTranslator {
  private readonly opts: TranslatorOptions;

  constructor(opts: TranslatorOptions) {
    this.opts = opts;
  }

  /** Expects a batch already through `DeltaConverter` (cumulative monotonic data arrives as deltas or flagged baselines). */
  translate(batch: MetricsBatch, nowMs = Date.now()): Translation {
    const out: Translation = { series: [], sketches: [], dropped: new Map(), baselines: 0 };
    const nowS = Math.floor(nowMs / 1000);
    for (const rm of batch.resourceMetrics) {
      const resAttrs = rm.resource.attributes;
      const host = hostOf(resAttrs) ?? this.opts.hostname;
      const resTags = resourceTags(resAttrs, this.opts.resourceAttributesAsTags);
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) this.translateMetric(m, host, resTags, nowS, out);
      }
    }
    return out;
  }

  private translateMetric(m: Metric, host: string, resTags: string[], nowS: number, out: Translation): void {
    const name = m.name;
    switch (m.type) {
      case 'gauge':
      case 'sum': {
        // Delta sums are counts whatever their monotonicity (as the Agent maps them); cumulative ones left here are non-monotonic levels.
        const asCount = m.type === 'sum' && m.temporality === 'delta';
        for (const p of m.points) {
          const ts = Math.floor(p.timeUnixNano / 1e9);
          const bad = refusal(ts, nowS, p.flags) ?? (Number.isFinite(p.value) ? undefined : 'non_finite');
          if (bad) {
            if (bad === BASELINE_MARK) out.baselines++;
            else drop(out, bad);
            continue;
          }
          const tags = withPointTags(resTags, p.attributes);
          if (asCount) out.series.push(series(name, TYPE_COUNT, ts, p.value, host, tags, secondsBetween(p.startTimeUnixNano, p.timeUnixNano), 1));
          else out.series.push(series(name, TYPE_GAUGE, ts, p.value, host, tags, 0, 1));
        }
        return;
      }
      case 'histogram':
      case 'exponential_histogram':
        for (const p of m.points) {
          const ts = Math.floor(p.timeUnixNano / 1e9);
          const bad = refusal(ts, nowS, p.flags) ?? histogramRefusal(p);
          if (bad) {
            if (bad === BASELINE_MARK) out.baselines++;
            else drop(out, bad);
            continue;
          }
          const ranges = m.type === 'histogram' ? explicitRanges((p as HistogramPoint).explicitBounds, (p as HistogramPoint).bucketCounts, p.min, p.max) : exponentialRanges(p as ExpHistogramPoint);
          const tags = withPointTags(resTags, p.attributes);
          this.emitHistogram(out, name, host, tags, ts, secondsBetween(p.startTimeUnixNano, p.timeUnixNano), p.count, p.sum, p.min, p.max, ranges);
        }
        return;
      case 'summary':
        for (const p of m.points) {
          const ts = Math.floor(p.timeUnixNano / 1e9);
          let bad = refusal(ts, nowS, p.flags);
          const baseline = bad === BASELINE_MARK;
          if (baseline) bad = undefined;
          if (bad === undefined && !(Number.isFinite(p.sum) && Number.isFinite(p.count))) bad = 'non_finite';
          if (bad) {
            drop(out, bad);
            continue;
          }
          const tags = withPointTags(resTags, p.attributes);
          let src = 1;
          // Count and sum are deltas once converted; a baseline still carries its quantiles, which are gauges.
          if (!baseline && ((p.flags ?? 0) & FLAG_DELTA_SUMMARY) !== 0) {
            const interval = secondsBetween(p.startTimeUnixNano, p.timeUnixNano);
            out.series.push(series(name + '.count', TYPE_COUNT, ts, p.count, host, tags, interval, 1));
            out.series.push(series(name + '.sum', TYPE_COUNT, ts, p.sum, host, tags, interval, 0));
            src = 0;
          }
          for (const q of p.quantiles) {
            if (!Number.isFinite(q.value)) continue;
            out.series.push(series(name + '.quantile', TYPE_GAUGE, ts, q.value, host, [...tags, 'quantile:' + q.quantile], 0, src));
            src = 0;
          }
          if (src === 1) out.baselines++;
        }
        return;
    }
  }

  private emitHistogram(
    out: Translation,
    name: string,
    host: string,
    tags: string[],
    ts: number,
    interval: number,
    count: number,
    sum: number | undefined,
    min: number | undefined,
    max: number | undefined,
    ranges: BucketRange[],
  ): void {
    if (min !== undefined && !Number.isFinite(min)) min = undefined;
    if (max !== undefined && !Number.isFinite(max)) max = undefined;
    if (this.opts.histogramMode === 'distributions') {
      if (count <= 0) {
        // An empty interval has no distribution to send; the point is delivered as "nothing happened".
        out.baselines++;
        return;
      }
      const { keys, counts } = sketchBins(ranges);
      const lo = min ?? (ranges.length ? ranges[0].lower : 0);
      const hi = max ?? (ranges.length ? ranges[ranges.length - 1].upper : 0);
      const total = sum ?? estimateSum(ranges);
      out.sketches.push({ metric: name, host, tags, timestamp: ts, count, min: lo, max: hi, sum: total, avg: total / count, keys, counts, src: 1 });
      return;
    }
    let src = 1;
    const push = (suffix: string, type: typeof TYPE_COUNT | typeof TYPE_GAUGE, value: number) => {
      out.series.push(series(name + suffix, type, ts, value, host, tags, type === TYPE_COUNT ? interval : 0, src));
      src = 0;
    };
    for (const agg of this.opts.aggregates) {
      if (agg === 'count') push('.count', TYPE_COUNT, count);
      else if (agg === 'sum') {
        if (sum !== undefined) push('.sum', TYPE_COUNT, sum);
      } else if (count > 0) {
        if (agg === 'avg' && sum !== undefined) push('.avg', TYPE_GAUGE, sum / count);
        else if (agg === 'min' && min !== undefined) push('.min', TYPE_GAUGE, min);
        else if (agg === 'max' && max !== undefined) push('.max', TYPE_GAUGE, max);
      }
    }
    if (count > 0 && ranges.length > 0) {
      for (const q of this.opts.percentiles) push(percentileSuffix(q), TYPE_GAUGE, quantileOf(ranges, q, min, max));
    }
    if (src === 1) out.baselines++;
  }
}

function series(metric: string, type: typeof TYPE_COUNT | typeof TYPE_GAUGE, timestamp: number, value: number, host: string, tags: string[], interval: number, src: number): DdSeries {
  return { metric, type, timestamp, value, host, tags, interval, src };
}

/** `.p95`, `.p50`, `.p99_9` for 0.999. */
export function percentileSuffix(q: number): string {
  return '.p' + String(Math.round(q * 100_000) / 1000).replace('.', '_');
}

function refusal(ts: number, nowS: number, flags: number | undefined): string | undefined {
  const flagged = flagRefusal(flags);
  if (flagged !== undefined) return flagged;
  if (ts < nowS - MAX_AGE_S) return 'too_old';
  if (ts > nowS + MAX_AHEAD_S) return 'too_far_ahead';
  return undefined;
}

function histogramRefusal(p: HistogramPoint | ExpHistogramPoint): string | undefined {
  if (!Number.isFinite(p.count) || (p.sum !== undefined && !Number.isFinite(p.sum))) return 'non_finite';
  return undefined;
}

function drop(out: Translation, reason: string): void {
  out.dropped.set(reason, (out.dropped.get(reason) ?? 0) + 1);
}

function secondsBetween(startNs: number, endNs: number): number {
  if (!(startNs > 0) || endNs <= startNs) return 0;
  return Math.max(1, Math.round((endNs - startNs) / 1e9));
}

function estimateSum(ranges: BucketRange[]): number {
  let s = 0;
  for (const r of ranges) s += ((r.lower + r.upper) / 2) * r.count;
  return s;
}

function hostOf(attrs: Attributes): string | undefined {
  for (const k of HOST_ATTRIBUTES) {
    const v = attrs[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

function resourceTags(attrs: Attributes, all: boolean): string[] {
  const tags: string[] = [];
  for (const k in attrs) {
    if (HOST_ATTRIBUTES.includes(k)) continue;
    const mapped = RESOURCE_TAG_NAMES[k];
    if (mapped !== undefined) {
      const tag = mapped + ':' + attributeText(attrs[k]);
      if (!tags.includes(tag)) tags.push(tag);
    }
    if (all && mapped === undefined) tags.push(k + ':' + attributeText(attrs[k]));
  }
  return tags;
}

function withPointTags(resTags: string[], attrs: Attributes): string[] {
  const tags = resTags.slice();
  for (const k in attrs) tags.push(k + ':' + attributeText(attrs[k]));
  return tags;
}
