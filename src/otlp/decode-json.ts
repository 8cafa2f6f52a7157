/**
 * OTLP/JSON ExportMetricsServiceRequest → metrics model. OTLP/JSON is the
 * proto3 JSON mapping with OTLP's rules: lowerCamelCase keys, 64-bit integers
 * as decimal strings (numbers accepted too), enums as integers (names
 * accepted too), bytes as base64, trace/span ids as hex (only in exemplars,
 * which are dropped). Unknown keys are ignored, as the spec requires.
 *
 * Same validation and rejection rules as the protobuf decoder (decode.ts).
 */
import type {
  AttributeValue,
  Attributes,
  ExpBuckets,
  ExpHistogramPoint,
  HistogramPoint,
  Metric,
  MetricsBatch,
  NumberPoint,
  ResourceMetrics,
  ScopeMetrics,
  SummaryPoint,
  Temporality,
} from '../model/metrics.ts';
import type { DecodeIssues } from './decode-common.ts';
import { FLAG_NO_RECORDED_VALUE, MAX_VALUE_DEPTH, malformed, newDecodeIssues, rejectPoints, setAttribute } from './decode-common.ts';

class JsonShapeError extends Error {}

type Json = any;

export function decodeExportRequestJson(text: string, issues: DecodeIssues = newDecodeIssues()): MetricsBatch {
  try {
    const root: Json = JSON.parse(text);
    if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new JsonShapeError('request is not a JSON object');
    const resourceMetrics: ResourceMetrics[] = [];
    for (const rm of list(root.resourceMetrics, 'resourceMetrics')) resourceMetrics.push(resourceMetricsOf(rm, issues));
    return { resourceMetrics };
  } catch (err) {
    throw malformed(err);
  }
}

function list(v: Json, what: string): Json[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new JsonShapeError(`${what} is not an array`);
  return v;
}

function object(v: Json, what: string): Json {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new JsonShapeError(`${what} is not an object`);
  return v;
}

function str(v: Json, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new JsonShapeError(`${what} is not a string`);
  return v;
}

/** A 64-bit integer: a decimal string or a number. */
function int(v: Json, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new JsonShapeError(`${what} is not an integer`);
    return v;
  }
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  throw new JsonShapeError(`${what} is not an integer`);
}

/** A double: a number, or "NaN", "Infinity", "-Infinity" (or a numeric string). */
function dbl(v: Json, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v !== '' && !Number.isNaN(n)) return n;
  }
  throw new JsonShapeError(`${what} is not a number`);
}

function optDbl(v: Json, what: string): number | undefined {
  return v === undefined || v === null ? undefined : dbl(v, what);
}

function resourceMetricsOf(v: Json, issues: DecodeIssues): ResourceMetrics {
  object(v, 'resourceMetrics[]');
  const resource = object(v.resource, 'resource');
  const rm: ResourceMetrics = {
    resource: { attributes: attributesOf(resource?.attributes, 0) },
    scopeMetrics: list(v.scopeMetrics, 'scopeMetrics').map((sm) => scopeMetricsOf(sm, issues)),
  };
  const schemaUrl = str(v.schemaUrl, 'schemaUrl');
  if (schemaUrl) rm.schemaUrl = schemaUrl;
  return rm;
}

function scopeMetricsOf(v: Json, issues: DecodeIssues): ScopeMetrics {
  object(v, 'scopeMetrics[]');
  const scope = object(v.scope, 'scope');
  const metrics: Metric[] = [];
  for (const m of list(v.metrics, 'metrics')) {
    const metric = metricOf(m, issues);
    if (metric !== undefined) metrics.push(metric);
  }
  const sm: ScopeMetrics = {
    scope: { name: str(scope?.name, 'scope.name'), version: str(scope?.version, 'scope.version'), attributes: attributesOf(scope?.attributes, 0) },
    metrics,
  };
  const schemaUrl = str(v.schemaUrl, 'schemaUrl');
  if (schemaUrl) sm.schemaUrl = schemaUrl;
  return sm;
}

const TEMPORALITY_NAMES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

function temporalityOf(v: Json, issues: DecodeIssues, name: string, points: number): Temporality | undefined {
  const t = typeof v === 'string' ? (TEMPORALITY_NAMES[v] ?? -1) : v === undefined || v === null ? 0 : v;
  if (t === 1) return 'delta';
  if (t === 2) return 'cumulative';
  rejectPoints(issues, points, `metric "${name}": aggregation temporality ${String(v)} is not delta or cumulative`);
  return undefined;
}

function metricOf(v: Json, issues: DecodeIssues): Metric | undefined {
  object(v, 'metrics[]');
  const name = str(v.name, 'metric.name');
  const description = str(v.description, 'metric.description');
  const unit = str(v.unit, 'metric.unit');
  // Oneof: the last present member wins, as with protobuf.
  if (v.summary != null) {
    const points = list(object(v.summary, 'summary').dataPoints, 'dataPoints').map(summaryPointOf);
    return { name, description, unit, type: 'summary', points };
  }
  if (v.exponentialHistogram != null) {
    const c = object(v.exponentialHistogram, 'exponentialHistogram');
    const raw = list(c.dataPoints, 'dataPoints');
    const temporality = temporalityOf(c.aggregationTemporality, issues, name, raw.length);
    if (temporality === undefined) return undefined;
    return { name, description, unit, type: 'exponential_histogram', temporality, points: raw.map(expHistogramPointOf) };
  }
  if (v.histogram != null) {
    const c = object(v.histogram, 'histogram');
    const raw = list(c.dataPoints, 'dataPoints');
    const temporality = temporalityOf(c.aggregationTemporality, issues, name, raw.length);
    if (temporality === undefined) return undefined;
    const points: HistogramPoint[] = [];
    for (const p of raw) {
      const hp = histogramPointOf(p, issues);
      if (hp !== undefined) points.push(hp);
    }
    return { name, description, unit, type: 'histogram', temporality, points };
  }
  if (v.sum != null) {
    const c = object(v.sum, 'sum');
    const raw = list(c.dataPoints, 'dataPoints');
    const temporality = temporalityOf(c.aggregationTemporality, issues, name, raw.length);
    if (temporality === undefined) return undefined;
    const monotonic = c.isMonotonic === true;
    return { name, description, unit, type: 'sum', temporality, monotonic, points: numberPointsOf(raw, issues) };
  }
  if (v.gauge != null) {
    const c = object(v.gauge, 'gauge');
    return { name, description, unit, type: 'gauge', points: numberPointsOf(list(c.dataPoints, 'dataPoints'), issues) };
  }
  return undefined;
}

function numberPointsOf(raw: Json[], issues: DecodeIssues): NumberPoint[] {
  const points: NumberPoint[] = [];
  for (const p of raw) {
    object(p, 'dataPoints[]');
    const flags = int(p.flags, 'flags');
    let value: number;
    let isInt = false;
    if (p.asInt != null) {
      value = int(p.asInt, 'asInt');
      isInt = true;
    } else if (p.asDouble != null) {
      value = dbl(p.asDouble, 'asDouble');
    } else if ((flags & FLAG_NO_RECORDED_VALUE) !== 0) {
      value = NaN;
    } else {
      rejectPoints(issues, 1, 'number data point has no value');
      continue;
    }
    points.push({
      attributes: attributesOf(p.attributes, 0),
      startTimeUnixNano: int(p.startTimeUnixNano, 'startTimeUnixNano'),
      timeUnixNano: int(p.timeUnixNano, 'timeUnixNano'),
      value,
      isInt,
      flags,
    });
  }
  return points;
}

function histogramPointOf(p: Json, issues: DecodeIssues): HistogramPoint | undefined {
  object(p, 'dataPoints[]');
  const count = int(p.count, 'count');
  const bucketCounts = list(p.bucketCounts, 'bucketCounts').map((c) => int(c, 'bucketCounts[]'));
  const explicitBounds = list(p.explicitBounds, 'explicitBounds').map((b) => dbl(b, 'explicitBounds[]'));
  if (bucketCounts.length !== explicitBounds.length + 1) {
    if (bucketCounts.length === 0 && explicitBounds.length === 0) bucketCounts.push(count);
    else {
      rejectPoints(issues, 1, `histogram data point has ${bucketCounts.length} bucket counts for ${explicitBounds.length} bounds`);
      return undefined;
    }
  }
  return {
    attributes: attributesOf(p.attributes, 0),
    startTimeUnixNano: int(p.startTimeUnixNano, 'startTimeUnixNano'),
    timeUnixNano: int(p.timeUnixNano, 'timeUnixNano'),
    flags: int(p.flags, 'flags'),
    count,
    sum: optDbl(p.sum, 'sum'),
    min: optDbl(p.min, 'min'),
    max: optDbl(p.max, 'max'),
    explicitBounds,
    bucketCounts,
  };
}

function bucketsOf(v: Json, what: string): ExpBuckets {
  const b = object(v, what);
  if (b === undefined) return { offset: 0, bucketCounts: [] };
  return { offset: int(b.offset, `${what}.offset`), bucketCounts: list(b.bucketCounts, `${what}.bucketCounts`).map((c) => int(c, `${what}.bucketCounts[]`)) };
}

function expHistogramPointOf(p: Json): ExpHistogramPoint {
  object(p, 'dataPoints[]');
  return {
    attributes: attributesOf(p.attributes, 0),
    startTimeUnixNano: int(p.startTimeUnixNano, 'startTimeUnixNano'),
    timeUnixNano: int(p.timeUnixNano, 'timeUnixNano'),
    flags: int(p.flags, 'flags'),
    count: int(p.count, 'count'),
    sum: optDbl(p.sum, 'sum'),
    min: optDbl(p.min, 'min'),
    max: optDbl(p.max, 'max'),
    scale: int(p.scale, 'scale'),
    zeroCount: int(p.zeroCount, 'zeroCount'),
    zeroThreshold: optDbl(p.zeroThreshold, 'zeroThreshold'),
    positive: bucketsOf(p.positive, 'positive'),
    negative: bucketsOf(p.negative, 'negative'),
  };
}

function summaryPointOf(p: Json): SummaryPoint {
  object(p, 'dataPoints[]');
  return {
    attributes: attributesOf(p.attributes, 0),
    startTimeUnixNano: int(p.startTimeUnixNano, 'startTimeUnixNano'),
    timeUnixNano: int(p.timeUnixNano, 'timeUnixNano'),
    flags: int(p.flags, 'flags'),
    count: int(p.count, 'count'),
    sum: p.sum == null ? 0 : dbl(p.sum, 'sum'),
    quantiles: list(p.quantileValues, 'quantileValues').map((q) => {
      object(q, 'quantileValues[]');
      return { quantile: q.quantile == null ? 0 : dbl(q.quantile, 'quantile'), value: q.value == null ? 0 : dbl(q.value, 'value') };
    }),
  };
}

function attributesOf(v: Json, depth: number): Attributes {
  const out: Attributes = {};
  for (const kv of list(v, 'attributes')) {
    object(kv, 'attributes[]');
    setAttribute(out, str(kv.key, 'key'), anyValueOf(kv.value, depth));
  }
  return out;
}

function anyValueOf(v: Json, depth: number): AttributeValue {
  if (v === undefined || v === null) return null;
  object(v, 'value');
  if (v.stringValue != null) return str(v.stringValue, 'stringValue');
  if (v.boolValue != null) {
    if (typeof v.boolValue !== 'boolean') throw new JsonShapeError('boolValue is not a boolean');
    return v.boolValue;
  }
  if (v.intValue != null) return int(v.intValue, 'intValue');
  if (v.doubleValue != null) return dbl(v.doubleValue, 'doubleValue');
  if (v.bytesValue != null) return new Uint8Array(Buffer.from(str(v.bytesValue, 'bytesValue'), 'base64'));
  if (v.arrayValue != null || v.kvlistValue != null) {
    if (depth >= MAX_VALUE_DEPTH) throw new JsonShapeError('attribute values nested too deeply');
    if (v.arrayValue != null) return list(object(v.arrayValue, 'arrayValue').values, 'arrayValue.values').map((x) => anyValueOf(x, depth + 1));
    return attributesOf(object(v.kvlistValue, 'kvlistValue').values, depth + 1);
  }
  return null;
}
