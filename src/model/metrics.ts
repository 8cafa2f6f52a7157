/**
 * Tributary's in-memory metrics model: the OTLP metrics data model with
 * attributes flattened to plain JS values, so that processors can read and
 * edit them without unwrapping `AnyValue`s.
 *
 * Timestamps are nanoseconds since the Unix epoch held in a `number`. A double
 * keeps about 256 ns of precision at today's epoch, which is far below what any
 * metrics backend stores, and it keeps arithmetic and encoding cheap on the
 * hot path (no BigInt, no Long objects).
 *
 * Ownership: a batch passed to `MetricsConsumer.consume` belongs to the callee;
 * the caller must not read or change it afterwards (see fanout for copies).
 */

export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

export type Temporality = 'delta' | 'cumulative';

export interface Resource {
  attributes: Attributes;
}

export interface Scope {
  name: string;
  version: string;
  attributes: Attributes;
}

export interface PointBase {
  attributes: Attributes;
  /** 0 when unknown (gauges usually leave it unset). */
  startTimeUnixNano: number;
  timeUnixNano: number;
  /** OTLP DataPointFlags; bit 0 = no recorded value. */
  flags?: number;
}

export interface NumberPoint extends PointBase {
  value: number;
  /** True when the source sent an integer (`as_int`); kept for faithful re-export. */
  isInt?: boolean;
}

export interface HistogramPoint extends PointBase {
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  /** Upper bounds, ascending; `bucketCounts.length === explicitBounds.length + 1`. */
  explicitBounds: number[];
  bucketCounts: number[];
}

export interface ExpBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface ExpHistogramPoint extends PointBase {
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: number;
  zeroThreshold?: number;
  positive: ExpBuckets;
  negative: ExpBuckets;
}

export interface QuantileValue {
  quantile: number;
  value: number;
}

export interface SummaryPoint extends PointBase {
  count: number;
  sum: number;
  quantiles: QuantileValue[];
}

interface MetricBase {
  name: string;
  description: string;
  unit: string;
}

export interface GaugeMetric extends MetricBase {
  type: 'gauge';
  points: NumberPoint[];
}

export interface SumMetric extends MetricBase {
  type: 'sum';
  temporality: Temporality;
  monotonic: boolean;
  points: NumberPoint[];
}

export interface HistogramMetric extends MetricBase {
  type: 'histogram';
  temporality: Temporality;
  points: HistogramPoint[];
}

export interface ExpHistogramMetric extends MetricBase {
  type: 'exponential_histogram';
  temporality: Temporality;
  points: ExpHistogramPoint[];
}

export interface SummaryMetric extends MetricBase {
  type: 'summary';
  points: SummaryPoint[];
}

export type Metric = GaugeMetric | SumMetric | HistogramMetric | ExpHistogramMetric | SummaryMetric;
export type MetricType = Metric['type'];
export type DataPoint = Metric['points'][number];

export interface ScopeMetrics {
  scope: Scope;
  metrics: Metric[];
  schemaUrl?: string;
}

export interface ResourceMetrics {
  resource: Resource;
  scopeMetrics: ScopeMetrics[];
  schemaUrl?: string;
}

export interface MetricsBatch {
  resourceMetrics: ResourceMetrics[];
}

export function emptyBatch(): MetricsBatch {
  return { resourceMetrics: [] };
}

/** Number of data points in a batch: the unit every self-metric counts in. */
export function countPoints(batch: MetricsBatch): number {
  let n = 0;
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) n += m.points.length;
    }
  }
  return n;
}

/**
 * Deep copy, specialised to the model (several times faster than
 * `structuredClone`). Used by fan-out when more than one consumer may mutate.
 */
export function cloneBatch(batch: MetricsBatch): MetricsBatch {
  return {
    resourceMetrics: batch.resourceMetrics.map((rm) => ({
      resource: { attributes: cloneAttributes(rm.resource.attributes) },
      schemaUrl: rm.schemaUrl,
      scopeMetrics: rm.scopeMetrics.map((sm) => ({
        scope: { name: sm.scope.name, version: sm.scope.version, attributes: cloneAttributes(sm.scope.attributes) },
        schemaUrl: sm.schemaUrl,
        metrics: sm.metrics.map(cloneMetric),
      })),
    })),
  };
}

export function cloneMetric(m: Metric): Metric {
  switch (m.type) {
    case 'gauge':
    case 'sum':
      return { ...m, points: m.points.map((p) => ({ ...p, attributes: cloneAttributes(p.attributes) })) };
    case 'histogram':
      return {
        ...m,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          explicitBounds: p.explicitBounds.slice(),
          bucketCounts: p.bucketCounts.slice(),
        })),
      };
    case 'exponential_histogram':
      return {
        ...m,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.slice() },
          negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.slice() },
        })),
      };
    case 'summary':
      return {
        ...m,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          quantiles: p.quantiles.map((q) => ({ ...q })),
        })),
      };
  }
}

export function cloneAttributes(attrs: Attributes): Attributes {
  const out: Attributes = {};
  for (const k in attrs) {
    const v = attrs[k];
    out[k] = typeof v === 'object' && v !== null ? cloneValue(v) : v;
  }
  return out;
}

function cloneValue(v: AttributeValue): AttributeValue {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(cloneValue);
  return cloneAttributes(v);
}

/** Concatenate batches (ownership of the inputs passes to the result). */
export function mergeBatches(batches: MetricsBatch[]): MetricsBatch {
  if (batches.length === 1) return batches[0];
  const out: MetricsBatch = { resourceMetrics: [] };
  for (const b of batches) {
    for (const rm of b.resourceMetrics) out.resourceMetrics.push(rm);
  }
  return out;
}

/**
 * Split a batch into batches of at most `maxPoints` points each, splitting
 * inside a metric's point list when needed. Resource and scope are shared by
 * reference between the pieces (they are not mutated by consumers that only
 * read; mutating processors run before batching splits are sent on).
 */
export function splitBatch(batch: MetricsBatch, maxPoints: number): MetricsBatch[] {
  if (maxPoints <= 0 || countPoints(batch) <= maxPoints) return [batch];
  const out: MetricsBatch[] = [];
  let current: MetricsBatch = emptyBatch();
  let room = maxPoints;
  const flush = () => {
    out.push(current);
    current = emptyBatch();
    room = maxPoints;
  };
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        let offset = 0;
        while (offset < m.points.length) {
          if (room === 0) flush();
          const take = Math.min(room, m.points.length - offset);
          const piece = { ...m, points: m.points.slice(offset, offset + take) } as Metric;
          appendMetric(current, rm, sm, piece);
          offset += take;
          room -= take;
        }
      }
    }
  }
  if (current.resourceMetrics.length > 0) out.push(current);
  return out;
}

/** Append a metric to a batch under the given resource/scope, reusing the last entries when they match. */
export function appendMetric(batch: MetricsBatch, rm: ResourceMetrics, sm: ScopeMetrics, metric: Metric): void {
  let lastRm = batch.resourceMetrics[batch.resourceMetrics.length - 1];
  if (!lastRm || lastRm.resource !== rm.resource) {
    lastRm = { resource: rm.resource, schemaUrl: rm.schemaUrl, scopeMetrics: [] };
    batch.resourceMetrics.push(lastRm);
  }
  let lastSm = lastRm.scopeMetrics[lastRm.scopeMetrics.length - 1];
  if (!lastSm || lastSm.scope !== sm.scope) {
    lastSm = { scope: sm.scope, schemaUrl: sm.schemaUrl, metrics: [] };
    lastRm.scopeMetrics.push(lastSm);
  }
  lastSm.metrics.push(metric);
}

/** Remove metrics with no points, scopes with no metrics and resources with no scopes, in place. */
export function pruneEmpty(batch: MetricsBatch): MetricsBatch {
  batch.resourceMetrics = batch.resourceMetrics.filter((rm) => {
    rm.scopeMetrics = rm.scopeMetrics.filter((sm) => {
      sm.metrics = sm.metrics.filter((m) => m.points.length > 0);
      return sm.metrics.length > 0;
    });
    return rm.scopeMetrics.length > 0;
  });
  return batch;
}

/**
 * A stable key for an attribute set: keys sorted, values JSON-encoded. Used to
 * identify series (aggregation, delta→cumulative, sampling, cardinality).
 */
export function attributesKey(attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const k of keys) {
    const v = attrs[k];
    // Strings are written bare, other values JSON-encoded behind a marker, so 1 and "1" differ.
    out += k + '\u0001' + (typeof v === 'string' ? v : '\u0003' + JSON.stringify(v instanceof Uint8Array ? Array.from(v) : v)) + '\u0002';
  }
  return out;
}

/** Nanoseconds since the epoch, now. */
export function nowUnixNano(): number {
  return Date.now() * 1e6;
}
