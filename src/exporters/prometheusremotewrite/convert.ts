/**
 * Metrics model → remote write time series, with the OTel → Prometheus
 * naming and label rules the `prometheus` exporter applies (its naming and
 * label modules are reused, so both exporters name things alike):
 *
 * - units become base units (`ms` → `_seconds`, values scaled) unless
 *   `convert_to_base_units: false`, so both exporters show one name;
 * - gauges and non-monotonic sums → one series; monotonic sums → `…_total`;
 * - histograms → `_bucket{le}` (cumulative, `+Inf` = count), `_sum`, `_count`;
 *   exponential histograms become classic power-of-two buckets first;
 * - summaries → `{quantile}`, `_sum`, `_count`;
 * - labels: `job`/`instance` and `otel_scope_*` > point attributes >
 *   resource attributes (with `resource_to_telemetry_conversion`) >
 *   `external_labels`; sorted by name as remote write requires;
 * - one `target_info` series per resource with non-identifying attributes.
 *
 * Every input must already be cumulative (see cumulative.ts): Prometheus
 * stores counters and histograms as running totals.
 */
import type { Attributes, HistogramPoint, Metric, MetricsBatch, ResourceMetrics, ScopeMetrics } from '../../model/metrics.ts';
import { attributeLabels, labelContext, mergeLabels, resourceIdentity, type LabelPairs } from '../prometheus/labels.ts';
import { metricName, labelName } from '../prometheus/naming.ts';
import { expStateFromPoint, expToClassic } from '../prometheus/exphistogram.ts';
import { scaleValue, toBaseUnit } from '../prometheus/units.ts';
import { STALE_NAN, type TimeSeries } from './proto.ts';
import type { SeriesSample } from './wire.ts';

export interface ConvertOptions {
  namespace: string;
  addMetricSuffixes: boolean;
  resourceToTelemetry: boolean;
  externalLabels: Record<string, string>;
  targetInfo: boolean;
  /** Name and scale to seconds/bytes, as the `prometheus` exporter does by default (its units.ts). */
  convertToBaseUnits: boolean;
}

const NO_RECORDED_VALUE = 1;
const IDENTIFYING = new Set(['service.name', 'service.namespace', 'service.instance.id']);

/**
 * The time series of one request. Each point becomes its own entry, with no
 * per-series lookup (the cost that dominated conversion); entries are then
 * ordered by timestamp, so when a batch holds several points of one series
 * their samples reach Prometheus oldest first, as its appender requires.
 */
export class SeriesSet {
  private readonly entries: SeriesSample[] = [];
  /** Data points converted (each point yields several samples for histograms). */
  points = 0;
  private ordered = true;
  private lastTs = -Infinity;

  add(pairs: LabelPairs, name: string, value: number, timestampMs: number): void {
    pairs.push(['__name__', name]);
    sortPairs(pairs);
    this.entries.push({ pairs, value, timestampMs });
    if (timestampMs < this.lastTs) this.ordered = false;
    this.lastTs = timestampMs;
  }

  /** Entries ready for `encodeSeries`, oldest first (a stable sort keeps same-time entries in order). */
  samples(): SeriesSample[] {
    if (!this.ordered) this.entries.sort((a, b) => a.timestampMs - b.timestampMs);
    this.ordered = true;
    return this.entries;
  }

  /** As protobuf objects (tests, and the reference encoder). */
  series(): TimeSeries[] {
    return this.samples().map((e) => ({ labels: e.pairs.map(([name, value]) => ({ name, value })), samples: [{ value: e.value, timestamp: e.timestampMs }] }));
  }
}

/** Insertion sort by label name: label sets are small, and this beats a comparator-driven sort there. */
function sortPairs(pairs: LabelPairs): void {
  for (let i = 1; i < pairs.length; i++) {
    const p = pairs[i];
    let j = i - 1;
    while (j >= 0 && pairs[j][0] > p[0]) {
      pairs[j + 1] = pairs[j];
      j--;
    }
    pairs[j + 1] = p;
  }
}

export class RemoteWriteConverter {
  private readonly opts: ConvertOptions;
  private readonly external: LabelPairs;

  constructor(opts: ConvertOptions) {
    this.opts = opts;
    this.external = Object.entries(opts.externalLabels).map(([k, v]) => [labelName(k) || k, v]);
  }

  convert(batch: MetricsBatch, nowMs = Date.now()): SeriesSet {
    const set = new SeriesSet();
    for (const rm of batch.resourceMetrics) {
      let latest = 0;
      for (const sm of rm.scopeMetrics) latest = Math.max(latest, this.convertScope(set, rm, sm, nowMs));
      if (this.opts.targetInfo) this.addTargetInfo(set, rm, latest || nowMs);
    }
    return set;
  }

  /** Returns the latest sample time seen (ms), for target_info. */
  private convertScope(set: SeriesSet, rm: ResourceMetrics, sm: ScopeMetrics, nowMs: number): number {
    // The same precedence as the prometheus exporter's; external labels stand where its const_labels do.
    const { fixed, fallback } = labelContext(rm.resource, sm.scope, this.opts.resourceToTelemetry, this.external);
    const labels = (attrs: Attributes): LabelPairs => mergeLabels(fixed, attributeLabels(attrs), fallback);
    const { namespace, addMetricSuffixes } = this.opts;
    let latest = 0;
    for (const m of sm.metrics) {
      const baseUnit = this.opts.convertToBaseUnits ? toBaseUnit(m.unit) : undefined;
      const factor = baseUnit ? baseUnit.factor : 1;
      const scale = (v: number) => (factor === 1 ? v : scaleValue(v, factor));
      const name = familyName(m, baseUnit ? baseUnit.unit : m.unit, namespace, addMetricSuffixes);
      for (const p of m.points) {
        const t = p.timeUnixNano > 0 ? Math.floor(p.timeUnixNano / 1e6) : nowMs;
        if (t > latest) latest = t;
        const stale = ((p.flags ?? 0) & NO_RECORDED_VALUE) !== 0;
        set.points++;
        switch (m.type) {
          case 'gauge':
          case 'sum': {
            const v = (p as { value: number }).value;
            set.add(labels(p.attributes), name, stale ? STALE_NAN : scale(v), t);
            break;
          }
          case 'histogram':
          case 'exponential_histogram': {
            const base = labels(p.attributes);
            let bounds: number[];
            let cumulative: number[];
            if (m.type === 'histogram') {
              const hp = p as HistogramPoint;
              bounds = hp.explicitBounds;
              cumulative = [];
              let acc = 0;
              for (let i = 0; i < bounds.length; i++) cumulative.push((acc += hp.bucketCounts[i] ?? 0));
            } else {
              ({ bounds, cumulative } = expToClassic(expStateFromPoint(p as never)));
            }
            const hist = p as { count: number; sum?: number };
            for (let i = 0; i < bounds.length; i++) {
              set.add([...base, ['le', formatLe(scale(bounds[i]))]], name + '_bucket', stale ? STALE_NAN : cumulative[i], t);
            }
            set.add([...base, ['le', '+Inf']], name + '_bucket', stale ? STALE_NAN : hist.count, t);
            if (hist.sum !== undefined) set.add(base.slice(), name + '_sum', stale ? STALE_NAN : scale(hist.sum), t);
            set.add(base.slice(), name + '_count', stale ? STALE_NAN : hist.count, t);
            break;
          }
          case 'summary': {
            const sp = p as { count: number; sum: number; quantiles: Array<{ quantile: number; value: number }> };
            const base = labels(p.attributes);
            for (const q of sp.quantiles) set.add([...base, ['quantile', String(q.quantile)]], name, stale ? STALE_NAN : scale(q.value), t);
            set.add(base.slice(), name + '_sum', stale ? STALE_NAN : scale(sp.sum), t);
            set.add(base.slice(), name + '_count', stale ? STALE_NAN : sp.count, t);
            break;
          }
        }
      }
    }
    return latest;
  }

  private addTargetInfo(set: SeriesSet, rm: ResourceMetrics, timestampMs: number): void {
    const rest = attributeLabels(rm.resource.attributes, IDENTIFYING);
    if (rest.length === 0) return;
    const pairs = mergeLabels(resourceIdentity(rm.resource), rest, this.external);
    set.add(pairs, this.opts.namespace ? metricName('target_info', '', 'gauge', false, this.opts.namespace, false) : 'target_info', 1, timestampMs);
  }
}

function familyName(m: Metric, unit: string, namespace: string, suffixes: boolean): string {
  switch (m.type) {
    case 'gauge':
      return metricName(m.name, unit, 'gauge', false, namespace, suffixes);
    case 'sum':
      return m.monotonic ? metricName(m.name, unit, 'counter', true, namespace, suffixes) : metricName(m.name, unit, 'gauge', false, namespace, suffixes);
    case 'histogram':
    case 'exponential_histogram':
      return metricName(m.name, unit, 'histogram', false, namespace, suffixes);
    case 'summary':
      return metricName(m.name, unit, 'summary', false, namespace, suffixes);
  }
}

/** `le` as Prometheus writes it: shortest float, `+Inf`/`-Inf`. */
export function formatLe(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
