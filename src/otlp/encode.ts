/**
 * Metrics model → OTLP ExportMetricsServiceRequest (protobuf through the
 * protobufjs schema, and OTLP/JSON by hand), plus the Export response both
 * ways. Used by the OTLP exporters and by the receiver's responses.
 *
 * Attribute numbers are sent as `int_value` when they are safe integers and
 * `double_value` otherwise (the model keeps no int/double distinction for
 * attributes). Data point values keep theirs through `isInt`. Zero-valued
 * scalars are left out, as proto3 does.
 */
import type {
  AttributeValue,
  Attributes,
  ExpBuckets,
  Metric,
  MetricsBatch,
  NumberPoint,
  PointBase,
  Temporality,
} from '../model/metrics.ts';
import { TributaryError } from '../errors.ts';
import { ExportMetricsServiceRequest, ExportMetricsServiceResponse } from './schema.ts';

export interface ExportResult {
  rejectedDataPoints: number;
  errorMessage: string;
}

const TWO_63 = 2 ** 63;
const TEMPORALITY_CODE: Record<Temporality, number> = { delta: 1, cumulative: 2 };

// ---------------------------------------------------------------- protobuf

type Obj = Record<string, unknown>;

export function encodeExportRequest(batch: MetricsBatch): Uint8Array {
  return ExportMetricsServiceRequest.encode(requestObject(batch, pbRender)).finish();
}

/**
 * Field spellings and scalar renderers, so one tree builder serves protobuf
 * (numbers passed straight to protobufjs) and OTLP/JSON (64-bit integers as
 * strings, non-finite doubles as strings).
 */
interface Render {
  int64(n: number): unknown;
  double(n: number): unknown;
  bytes(b: Uint8Array): unknown;
}

const pbRender: Render = {
  int64: (n) => n,
  double: (n) => n,
  bytes: (b) => b,
};

const jsonRender: Render = {
  int64: (n) => (Number.isInteger(n) ? String(n) : String(Math.trunc(n))),
  double: (n) => (Number.isFinite(n) ? n : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity'),
  bytes: (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'),
};

function requestObject(batch: MetricsBatch, r: Render): Obj {
  return {
    resourceMetrics: batch.resourceMetrics.map((rm) => {
      const out: Obj = {
        resource: { attributes: keyValues(rm.resource.attributes, r) },
        scopeMetrics: rm.scopeMetrics.map((sm) => {
          const s: Obj = {
            scope: { name: sm.scope.name, version: sm.scope.version, attributes: keyValues(sm.scope.attributes, r) },
            metrics: sm.metrics.map((m) => metricObject(m, r)),
          };
          if (sm.schemaUrl) s.schemaUrl = sm.schemaUrl;
          return s;
        }),
      };
      if (rm.schemaUrl) out.schemaUrl = rm.schemaUrl;
      return out;
    }),
  };
}

function keyValues(attrs: Attributes, r: Render): Obj[] {
  const out: Obj[] = [];
  for (const key in attrs) out.push({ key, value: anyValue(attrs[key], r) });
  return out;
}

function anyValue(v: AttributeValue, r: Render): Obj {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isSafeInteger(v) ? { intValue: r.int64(v) } : { doubleValue: r.double(v) };
  }
  if (v === null || v === undefined) return {};
  if (v instanceof Uint8Array) return { bytesValue: r.bytes(v) };
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => anyValue(x, r)) } };
  return { kvlistValue: { values: keyValues(v, r) } };
}

function metricObject(m: Metric, r: Render): Obj {
  const out: Obj = { name: m.name };
  if (m.description) out.description = m.description;
  if (m.unit) out.unit = m.unit;
  switch (m.type) {
    case 'gauge':
      out.gauge = { dataPoints: m.points.map((p) => numberPoint(p, r)) };
      break;
    case 'sum':
      out.sum = {
        dataPoints: m.points.map((p) => numberPoint(p, r)),
        aggregationTemporality: TEMPORALITY_CODE[m.temporality],
        isMonotonic: m.monotonic,
      };
      break;
    case 'histogram':
      out.histogram = {
        aggregationTemporality: TEMPORALITY_CODE[m.temporality],
        dataPoints: m.points.map((p) => {
          const o = pointBase(p, r);
          o.count = r.int64(p.count);
          if (p.sum !== undefined) o.sum = r.double(p.sum);
          if (p.min !== undefined) o.min = r.double(p.min);
          if (p.max !== undefined) o.max = r.double(p.max);
          o.bucketCounts = p.bucketCounts.map(r.int64);
          o.explicitBounds = p.explicitBounds.map(r.double);
          return o;
        }),
      };
      break;
    case 'exponential_histogram':
      out.exponentialHistogram = {
        aggregationTemporality: TEMPORALITY_CODE[m.temporality],
        dataPoints: m.points.map((p) => {
          const o = pointBase(p, r);
          o.count = r.int64(p.count);
          if (p.sum !== undefined) o.sum = r.double(p.sum);
          if (p.min !== undefined) o.min = r.double(p.min);
          if (p.max !== undefined) o.max = r.double(p.max);
          if (p.scale !== 0) o.scale = p.scale;
          if (p.zeroCount !== 0) o.zeroCount = r.int64(p.zeroCount);
          if (p.zeroThreshold !== undefined) o.zeroThreshold = r.double(p.zeroThreshold);
          if (p.positive.bucketCounts.length > 0 || p.positive.offset !== 0) o.positive = buckets(p.positive, r);
          if (p.negative.bucketCounts.length > 0 || p.negative.offset !== 0) o.negative = buckets(p.negative, r);
          return o;
        }),
      };
      break;
    case 'summary':
      out.summary = {
        dataPoints: m.points.map((p) => {
          const o = pointBase(p, r);
          o.count = r.int64(p.count);
          o.sum = r.double(p.sum);
          o.quantileValues = p.quantiles.map((q) => ({ quantile: r.double(q.quantile), value: r.double(q.value) }));
          return o;
        }),
      };
      break;
  }
  return out;
}

function pointBase(p: PointBase, r: Render): Obj {
  const o: Obj = { attributes: keyValues(p.attributes, r) };
  if (p.startTimeUnixNano) o.startTimeUnixNano = r.int64(p.startTimeUnixNano);
  o.timeUnixNano = r.int64(p.timeUnixNano);
  if (p.flags) o.flags = p.flags;
  return o;
}

function numberPoint(p: NumberPoint, r: Render): Obj {
  const o = pointBase(p, r);
  // as_int only when the value still is an int64 (a processor may have scaled it).
  if (p.isInt && Number.isInteger(p.value) && Math.abs(p.value) < TWO_63) o.asInt = r.int64(p.value);
  else o.asDouble = r.double(p.value);
  return o;
}

function buckets(b: ExpBuckets, r: Render): Obj {
  const o: Obj = { bucketCounts: b.bucketCounts.map(r.int64) };
  if (b.offset !== 0) o.offset = b.offset;
  return o;
}

// ---------------------------------------------------------------- JSON

export function encodeExportRequestJson(batch: MetricsBatch): string {
  return JSON.stringify(requestObject(batch, jsonRender));
}

// ---------------------------------------------------------------- response

export function encodeExportResponse(result: ExportResult): Uint8Array {
  return ExportMetricsServiceResponse.encode(responseObject(result, pbRender)).finish();
}

export function encodeExportResponseJson(result: ExportResult): string {
  return JSON.stringify(responseObject(result, jsonRender));
}

function responseObject(result: ExportResult, r: Render): Obj {
  // partial_success is set only when something was rejected or there is a warning (OTLP spec).
  if (result.rejectedDataPoints === 0 && result.errorMessage === '') return {};
  const ps: Obj = {};
  if (result.rejectedDataPoints !== 0) ps.rejectedDataPoints = r.int64(result.rejectedDataPoints);
  if (result.errorMessage !== '') ps.errorMessage = result.errorMessage;
  return { partialSuccess: ps };
}

export function decodeExportResponse(buf: Uint8Array): ExportResult {
  let msg: { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: string } };
  try {
    msg = ExportMetricsServiceResponse.decode(buf) as typeof msg;
  } catch (err) {
    throw new TributaryError('TRIB_BAD_REQUEST', `malformed OTLP export response: ${(err as Error).message}`, { cause: err });
  }
  return {
    rejectedDataPoints: toNumber(msg.partialSuccess?.rejectedDataPoints),
    errorMessage: msg.partialSuccess?.errorMessage ?? '',
  };
}

export function decodeExportResponseJson(text: string): ExportResult {
  let msg: any;
  try {
    msg = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new TributaryError('TRIB_BAD_REQUEST', `malformed OTLP/JSON export response: ${(err as Error).message}`, { cause: err });
  }
  const ps = msg && typeof msg === 'object' ? msg.partialSuccess : undefined;
  return {
    rejectedDataPoints: toNumber(ps?.rejectedDataPoints),
    errorMessage: typeof ps?.errorMessage === 'string' ? ps.errorMessage : '',
  };
}

/** A protobufjs int64 (`Long` when the `long` package is loaded), a JSON string, or a number → number. */
function toNumber(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v) || 0;
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return 0;
}
