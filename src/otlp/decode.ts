/**
 * OTLP ExportMetricsServiceRequest (protobuf) → Tributary's metrics model, in
 * one pass over the wire format with no intermediate message objects: this is
 * the receiver's hot path (per point: a few varint/fixed64 reads and one
 * object literal).
 *
 * Points the model cannot carry faithfully are rejected here and reported in
 * `issues` (the receiver answers them with OTLP partial success):
 * - sums and histograms with an unspecified or unknown aggregation temporality;
 * - histograms whose bucket counts do not match their bounds;
 * - number points with neither `as_double` nor `as_int` (unless flagged "no recorded value").
 * Exemplars and metric metadata are skipped.
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
import { WireError, WireReader } from './wire.ts';
import type { DecodeIssues } from './decode-common.ts';
import { FLAG_NO_RECORDED_VALUE, MAX_VALUE_DEPTH, malformed, newDecodeIssues, rejectPoints, setAttribute } from './decode-common.ts';

export { decodeExportRequestJson } from './decode-json.ts';
export type { DecodeIssues } from './decode-common.ts';
export { newDecodeIssues } from './decode-common.ts';

const TEMPORALITY: Array<Temporality | undefined> = [undefined, 'delta', 'cumulative'];

/**
 * Decode a protobuf ExportMetricsServiceRequest. Throws `TributaryError('TRIB_BAD_REQUEST')`
 * when the bytes are not a well-formed message; fills `issues` with points it dropped as invalid.
 */
export function decodeExportRequest(buf: Uint8Array, issues: DecodeIssues = newDecodeIssues()): MetricsBatch {
  const r = new WireReader(buf);
  const resourceMetrics: ResourceMetrics[] = [];
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 0x0a) resourceMetrics.push(readResourceMetrics(r, r.delimitedEnd(), issues));
      else r.skip(tag & 7);
    }
  } catch (err) {
    throw malformed(err);
  }
  return { resourceMetrics };
}

function expectEnd(r: WireReader, end: number): void {
  if (r.pos !== end) throw new WireError('field overruns its message');
}

function readResourceMetrics(r: WireReader, end: number, issues: DecodeIssues): ResourceMetrics {
  let attributes: Attributes = {};
  const scopeMetrics: ScopeMetrics[] = [];
  let schemaUrl: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a: {
        // Resource { attributes = 1 }
        const rEnd = r.delimitedEnd();
        while (r.pos < rEnd) {
          const t = r.uint32();
          if (t === 0x0a) readKeyValue(r, r.delimitedEnd(), attributes, 0);
          else r.skip(t & 7);
        }
        expectEnd(r, rEnd);
        break;
      }
      case 0x12:
        scopeMetrics.push(readScopeMetrics(r, r.delimitedEnd(), issues));
        break;
      case 0x1a:
        schemaUrl = r.string();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  const rm: ResourceMetrics = { resource: { attributes }, scopeMetrics };
  if (schemaUrl) rm.schemaUrl = schemaUrl;
  return rm;
}

function readScopeMetrics(r: WireReader, end: number, issues: DecodeIssues): ScopeMetrics {
  let name = '';
  let version = '';
  const attributes: Attributes = {};
  const metrics: Metric[] = [];
  let schemaUrl: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a: {
        // InstrumentationScope { name = 1, version = 2, attributes = 3 }
        const sEnd = r.delimitedEnd();
        while (r.pos < sEnd) {
          const t = r.uint32();
          if (t === 0x0a) name = r.string();
          else if (t === 0x12) version = r.string();
          else if (t === 0x1a) readKeyValue(r, r.delimitedEnd(), attributes, 0);
          else r.skip(t & 7);
        }
        expectEnd(r, sEnd);
        break;
      }
      case 0x12: {
        const m = readMetric(r, r.delimitedEnd(), issues);
        if (m !== undefined) metrics.push(m);
        break;
      }
      case 0x1a:
        schemaUrl = r.string();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  const sm: ScopeMetrics = { scope: { name, version, attributes }, metrics };
  if (schemaUrl) sm.schemaUrl = schemaUrl;
  return sm;
}

/** What a metric's data oneof decoded to, before the metric's own fields are known. */
interface MetricData {
  type: Metric['type'];
  points: Metric['points'];
  temporality: number;
  monotonic: boolean;
}

function readMetric(r: WireReader, end: number, issues: DecodeIssues): Metric | undefined {
  let name = '';
  let description = '';
  let unit = '';
  let data: MetricData | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a:
        name = r.string();
        break;
      case 0x12:
        description = r.string();
        break;
      case 0x1a:
        unit = r.string();
        break;
      case 0x2a: // gauge = 5
        data = readPointsContainer(r, r.delimitedEnd(), 'gauge', issues);
        break;
      case 0x3a: // sum = 7
        data = readPointsContainer(r, r.delimitedEnd(), 'sum', issues);
        break;
      case 0x4a: // histogram = 9
        data = readPointsContainer(r, r.delimitedEnd(), 'histogram', issues);
        break;
      case 0x52: // exponential_histogram = 10
        data = readPointsContainer(r, r.delimitedEnd(), 'exponential_histogram', issues);
        break;
      case 0x5a: // summary = 11
        data = readPointsContainer(r, r.delimitedEnd(), 'summary', issues);
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  if (data === undefined) return undefined;
  switch (data.type) {
    case 'gauge':
      return { name, description, unit, type: 'gauge', points: data.points as NumberPoint[] };
    case 'summary':
      return { name, description, unit, type: 'summary', points: data.points as SummaryPoint[] };
  }
  const temporality = TEMPORALITY[data.temporality];
  if (temporality === undefined) {
    rejectPoints(issues, data.points.length, `metric "${name}": aggregation temporality ${data.temporality} is not delta or cumulative`);
    return undefined;
  }
  switch (data.type) {
    case 'sum':
      return { name, description, unit, type: 'sum', temporality, monotonic: data.monotonic, points: data.points as NumberPoint[] };
    case 'histogram':
      return { name, description, unit, type: 'histogram', temporality, points: data.points as HistogramPoint[] };
    default:
      return { name, description, unit, type: 'exponential_histogram', temporality, points: data.points as ExpHistogramPoint[] };
  }
}

/** Gauge, Sum, Histogram, ExponentialHistogram and Summary share `data_points = 1`, `aggregation_temporality = 2`, `is_monotonic = 3`. */
function readPointsContainer(r: WireReader, end: number, type: Metric['type'], issues: DecodeIssues): MetricData {
  const points: Metric['points'] = [];
  let temporality = 0;
  let monotonic = false;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a: {
        const pEnd = r.delimitedEnd();
        let p: Metric['points'][number] | undefined;
        if (type === 'gauge' || type === 'sum') p = readNumberPoint(r, pEnd, issues);
        else if (type === 'histogram') p = readHistogramPoint(r, pEnd, issues);
        else if (type === 'exponential_histogram') p = readExpHistogramPoint(r, pEnd);
        else p = readSummaryPoint(r, pEnd);
        if (p !== undefined) (points as Array<typeof p>).push(p);
        break;
      }
      case 0x10:
        temporality = r.uint32();
        break;
      case 0x18:
        monotonic = r.uint32() !== 0;
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  return { type, points, temporality, monotonic };
}

function readNumberPoint(r: WireReader, end: number, issues: DecodeIssues): NumberPoint | undefined {
  let attributes: Attributes | undefined;
  let startTimeUnixNano = 0;
  let timeUnixNano = 0;
  let value = 0;
  let isInt = false;
  let hasValue = false;
  let flags = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x11:
        startTimeUnixNano = r.fixed64();
        break;
      case 0x19:
        timeUnixNano = r.fixed64();
        break;
      case 0x21:
        value = r.double();
        isInt = false;
        hasValue = true;
        break;
      case 0x31:
        value = r.sfixed64();
        isInt = true;
        hasValue = true;
        break;
      case 0x3a:
        attributes = readPointAttributes(r, end, 0x3a, attributes);
        break;
      case 0x40:
        flags = r.uint32();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  attributes ??= {};
  if (!hasValue) {
    if ((flags & FLAG_NO_RECORDED_VALUE) === 0) {
      rejectPoints(issues, 1, 'number data point has no value');
      return undefined;
    }
    value = NaN;
  }
  return { attributes, startTimeUnixNano, timeUnixNano, value, isInt, flags };
}

function readHistogramPoint(r: WireReader, end: number, issues: DecodeIssues): HistogramPoint | undefined {
  let attributes: Attributes | undefined;
  let startTimeUnixNano = 0;
  let timeUnixNano = 0;
  let count = 0;
  let sum: number | undefined;
  let min: number | undefined;
  let max: number | undefined;
  let flags = 0;
  let bucketCounts: number[] = [];
  let explicitBounds: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x11:
        startTimeUnixNano = r.fixed64();
        break;
      case 0x19:
        timeUnixNano = r.fixed64();
        break;
      case 0x21:
        count = r.fixed64();
        break;
      case 0x29:
        sum = r.double();
        break;
      case 0x32: // bucket_counts, packed
        bucketCounts = readPackedFixed64(r, bucketCounts);
        break;
      case 0x31: // bucket_counts, unpacked (parsers must accept both)
        bucketCounts.push(r.fixed64());
        break;
      case 0x3a: // explicit_bounds, packed
        explicitBounds = readPackedDouble(r, explicitBounds);
        break;
      case 0x39:
        explicitBounds.push(r.double());
        break;
      case 0x4a:
        attributes = readPointAttributes(r, end, 0x4a, attributes);
        break;
      case 0x50:
        flags = r.uint32();
        break;
      case 0x59:
        min = r.double();
        break;
      case 0x61:
        max = r.double();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  attributes ??= {};
  if (bucketCounts.length !== explicitBounds.length + 1) {
    if (bucketCounts.length === 0 && explicitBounds.length === 0) {
      // OTLP allows a histogram without buckets; the model keeps one +Inf bucket holding the count.
      bucketCounts.push(count);
    } else {
      rejectPoints(issues, 1, `histogram data point has ${bucketCounts.length} bucket counts for ${explicitBounds.length} bounds`);
      return undefined;
    }
  }
  return { attributes, startTimeUnixNano, timeUnixNano, flags, count, sum, min, max, explicitBounds, bucketCounts };
}

function readExpHistogramPoint(r: WireReader, end: number): ExpHistogramPoint {
  let attributes: Attributes | undefined;
  let startTimeUnixNano = 0;
  let timeUnixNano = 0;
  let count = 0;
  let sum: number | undefined;
  let min: number | undefined;
  let max: number | undefined;
  let flags = 0;
  let scale = 0;
  let zeroCount = 0;
  let zeroThreshold: number | undefined;
  let positive: ExpBuckets | undefined;
  let negative: ExpBuckets | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a:
        attributes = readPointAttributes(r, end, 0x0a, attributes);
        break;
      case 0x11:
        startTimeUnixNano = r.fixed64();
        break;
      case 0x19:
        timeUnixNano = r.fixed64();
        break;
      case 0x21:
        count = r.fixed64();
        break;
      case 0x29:
        sum = r.double();
        break;
      case 0x30: {
        const z = r.uint32();
        scale = (z >>> 1) ^ -(z & 1);
        break;
      }
      case 0x39:
        zeroCount = r.fixed64();
        break;
      case 0x42:
        positive = readExpBuckets(r, r.delimitedEnd());
        break;
      case 0x4a:
        negative = readExpBuckets(r, r.delimitedEnd());
        break;
      case 0x50:
        flags = r.uint32();
        break;
      case 0x61:
        min = r.double();
        break;
      case 0x69:
        max = r.double();
        break;
      case 0x71:
        zeroThreshold = r.double();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  return {
    attributes: attributes ?? {},
    startTimeUnixNano,
    timeUnixNano,
    flags,
    count,
    sum,
    min,
    max,
    scale,
    zeroCount,
    zeroThreshold,
    positive: positive ?? { offset: 0, bucketCounts: [] },
    negative: negative ?? { offset: 0, bucketCounts: [] },
  };
}

function readExpBuckets(r: WireReader, end: number): ExpBuckets {
  let offset = 0;
  const bucketCounts: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x08) {
      const z = r.uint32();
      offset = (z >>> 1) ^ -(z & 1);
    } else if (tag === 0x12) {
      const pEnd = r.delimitedEnd();
      while (r.pos < pEnd) bucketCounts.push(r.uint64());
      expectEnd(r, pEnd);
    } else if (tag === 0x10) {
      bucketCounts.push(r.uint64());
    } else r.skip(tag & 7);
  }
  expectEnd(r, end);
  return { offset, bucketCounts };
}

function readSummaryPoint(r: WireReader, end: number): SummaryPoint {
  let attributes: Attributes | undefined;
  let startTimeUnixNano = 0;
  let timeUnixNano = 0;
  let count = 0;
  let sum = 0;
  let flags = 0;
  const quantiles: SummaryPoint['quantiles'] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x11:
        startTimeUnixNano = r.fixed64();
        break;
      case 0x19:
        timeUnixNano = r.fixed64();
        break;
      case 0x21:
        count = r.fixed64();
        break;
      case 0x29:
        sum = r.double();
        break;
      case 0x32: {
        const qEnd = r.delimitedEnd();
        let quantile = 0;
        let value = 0;
        while (r.pos < qEnd) {
          const t = r.uint32();
          if (t === 0x09) quantile = r.double();
          else if (t === 0x11) value = r.double();
          else r.skip(t & 7);
        }
        expectEnd(r, qEnd);
        quantiles.push({ quantile, value });
        break;
      }
      case 0x3a:
        attributes = readPointAttributes(r, end, 0x3a, attributes);
        break;
      case 0x40:
        flags = r.uint32();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  return { attributes: attributes ?? {}, startTimeUnixNano, timeUnixNano, flags, count, sum, quantiles };
}

function readPackedFixed64(r: WireReader, into: number[]): number[] {
  const end = r.delimitedEnd();
  if ((end - r.pos) % 8 !== 0) throw new WireError('packed fixed64 length is not a multiple of 8');
  while (r.pos < end) into.push(r.fixed64());
  return into;
}

function readPackedDouble(r: WireReader, into: number[]): number[] {
  const end = r.delimitedEnd();
  if ((end - r.pos) % 8 !== 0) throw new WireError('packed double length is not a multiple of 8');
  while (r.pos < end) into.push(r.double());
  return into;
}

/**
 * A point's attributes, starting at a KeyValue field with the one-byte `tag`
 * whose tag was just read: the run of consecutive such fields is decoded as
 * one block. The first run of a point (`into` undefined) goes through the
 * attribute-block cache (wire.ts): points of the same series repeat the same
 * bytes in every request, and a hit costs a hash and a compare of the block
 * plus one object clone, instead of two string look-ups, an AnyValue parse
 * and a keyed store per attribute (bench/otlp-ingest.ts: decode ~390 → ~150 ns
 * of CPU per point with 3 attributes). Later runs (attributes interleaved
 * with other fields, which encoders do not do) are decoded into `into`.
 */
function readPointAttributes(r: WireReader, end: number, tag: number, into: Attributes | undefined): Attributes {
  const start = r.pos - 1;
  let runEnd = r.delimitedEnd();
  while (runEnd < end && r.buf[runEnd] === tag) {
    r.pos = runEnd + 1;
    runEnd = r.delimitedEnd();
  }
  if (into === undefined) {
    const cached = r.cachedBlock(start, runEnd);
    if (cached !== undefined) {
      r.pos = runEnd;
      return { ...cached };
    }
  }
  const attributes = into ?? {};
  r.pos = start + 1;
  for (;;) {
    readKeyValue(r, r.delimitedEnd(), attributes, 0);
    if (r.pos >= runEnd) break;
    r.pos++; // the next field's tag, checked by the scan above
  }
  if (into === undefined) r.cacheBlock(start, runEnd, attributes);
  return attributes;
}

/** KeyValue { key = 1, value = 2 } into `into`; a later duplicate key wins. */
function readKeyValue(r: WireReader, end: number, into: Attributes, depth: number): void {
  let key = '';
  let value: AttributeValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) key = r.string();
    else if (tag === 0x12) value = readAnyValue(r, r.delimitedEnd(), depth);
    else r.skip(tag & 7);
  }
  expectEnd(r, end);
  setAttribute(into, key, value);
}

/** AnyValue oneof; an empty AnyValue is `null`. */
function readAnyValue(r: WireReader, end: number, depth: number): AttributeValue {
  let value: AttributeValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a:
        value = r.string();
        break;
      case 0x10:
        value = r.uint32() !== 0;
        break;
      case 0x18:
        value = r.int64();
        break;
      case 0x21:
        value = r.double();
        break;
      case 0x2a: {
        if (depth >= MAX_VALUE_DEPTH) throw new WireError('attribute values nested too deeply');
        const aEnd = r.delimitedEnd();
        const arr: AttributeValue[] = [];
        while (r.pos < aEnd) {
          const t = r.uint32();
          if (t === 0x0a) arr.push(readAnyValue(r, r.delimitedEnd(), depth + 1));
          else r.skip(t & 7);
        }
        expectEnd(r, aEnd);
        value = arr;
        break;
      }
      case 0x32: {
        if (depth >= MAX_VALUE_DEPTH) throw new WireError('attribute values nested too deeply');
        const kEnd = r.delimitedEnd();
        const obj: Attributes = {};
        while (r.pos < kEnd) {
          const t = r.uint32();
          if (t === 0x0a) readKeyValue(r, r.delimitedEnd(), obj, depth + 1);
          else r.skip(t & 7);
        }
        expectEnd(r, kEnd);
        value = obj;
        break;
      }
      case 0x3a:
        value = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  expectEnd(r, end);
  return value;
}
