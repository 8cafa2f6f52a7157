/**
 * Text renderings of a batch for the `debug` exporter, in the shape otelcol's
 * debug exporter prints, so people who know one can read the other:
 * - basic: one summary line (resource metrics, metrics, data points);
 * - normal: one line per data point (`name{attrs} value`);
 * - detailed: every resource, scope, descriptor and point with attributes.
 */
import type { AttributeValue, Attributes, ExpBuckets, Metric, MetricsBatch } from '../../model/metrics.ts';

export interface BatchCounts {
  resourceMetrics: number;
  metrics: number;
  dataPoints: number;
}

export function countBatch(batch: MetricsBatch): BatchCounts {
  let metrics = 0;
  let dataPoints = 0;
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      metrics += sm.metrics.length;
      for (const m of sm.metrics) dataPoints += m.points.length;
    }
  }
  return { resourceMetrics: batch.resourceMetrics.length, metrics, dataPoints };
}

export function summaryLine(c: BatchCounts, exporterId: string, now = new Date()): string {
  const fields = JSON.stringify({ exporter: exporterId, 'resource metrics': c.resourceMetrics, metrics: c.metrics, 'data points': c.dataPoints });
  return `${now.toISOString()}\tinfo\tMetrics\t${fields}\n`;
}

/** Go's time.Time.String() for a Unix-nanosecond timestamp, as otelcol prints it. */
export function formatTimestamp(ns: number): string {
  // BigInt: double arithmetic on ~1.7e18 would lose the last digits the point actually holds.
  const total = BigInt(Math.round(ns));
  const secs = total / 1_000_000_000n;
  const nanos = (total % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(Number(secs) * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${nanos} +0000 UTC`;
}

/** otelcol's typed attribute rendering: Str(x), Int(1), Double(1.5), Bool(true), … */
export function formatAttributeValue(v: AttributeValue): string {
  if (typeof v === 'string') return `Str(${v})`;
  if (typeof v === 'number') return Number.isInteger(v) ? `Int(${v})` : `Double(${v})`;
  if (typeof v === 'boolean') return `Bool(${v})`;
  if (v === null) return 'Empty()';
  if (v instanceof Uint8Array) return `Bytes(${Buffer.from(v).toString('base64')})`;
  if (Array.isArray(v)) return `Slice(${JSON.stringify(v)})`;
  return `Map(${JSON.stringify(v)})`;
}

function attributeBlock(title: string, attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '';
  let out = `${title}:\n`;
  for (const k of keys) out += `     -> ${k}: ${formatAttributeValue(attrs[k])}\n`;
  return out;
}

function fmtFloat(v: number): string {
  return Number.isFinite(v) ? v.toFixed(6) : String(v);
}

function fmtNumber(v: number, isInt?: boolean): string {
  return isInt ? String(v) : fmtFloat(v);
}

function temporalityName(t: 'delta' | 'cumulative'): string {
  return t === 'delta' ? 'Delta' : 'Cumulative';
}

const DATA_TYPE: Record<Metric['type'], string> = {
  gauge: 'Gauge',
  sum: 'Sum',
  histogram: 'Histogram',
  exponential_histogram: 'ExponentialHistogram',
  summary: 'Summary',
};

function descriptor(m: Metric): string {
  let out = `Descriptor:\n     -> Name: ${m.name}\n     -> Description: ${m.description}\n     -> Unit: ${m.unit}\n     -> DataType: ${DATA_TYPE[m.type]}\n`;
  if (m.type === 'sum') out += `     -> IsMonotonic: ${m.monotonic}\n`;
  if (m.type === 'sum' || m.type === 'histogram' || m.type === 'exponential_histogram') out += `     -> AggregationTemporality: ${temporalityName(m.temporality)}\n`;
  return out;
}

function expBucketLines(b: ExpBuckets, scale: number, negative: boolean): string[] {
  const base = 2 ** (2 ** -scale);
  const lines: string[] = [];
  for (let i = 0; i < b.bucketCounts.length; i++) {
    const lower = base ** (b.offset + i);
    const upper = base ** (b.offset + i + 1);
    lines.push(negative ? `Bucket [${fmtFloat(-upper)}, ${fmtFloat(-lower)}), Count: ${b.bucketCounts[i]}` : `Bucket (${fmtFloat(lower)}, ${fmtFloat(upper)}], Count: ${b.bucketCounts[i]}`);
  }
  return negative ? lines.reverse() : lines;
}

function pointsDetailed(m: Metric): string {
  let out = '';
  const head = (kind: string, i: number, attrs: Attributes, start: number, time: number) =>
    `${kind} #${i}\n${attributeBlock('Data point attributes', attrs)}StartTimestamp: ${formatTimestamp(start)}\nTimestamp: ${formatTimestamp(time)}\n`;
  switch (m.type) {
    case 'gauge':
    case 'sum':
      m.points.forEach((p, i) => {
        out += head('NumberDataPoints', i, p.attributes, p.startTimeUnixNano, p.timeUnixNano) + `Value: ${fmtNumber(p.value, p.isInt)}\n`;
      });
      break;
    case 'histogram':
      m.points.forEach((p, i) => {
        out += head('HistogramDataPoints', i, p.attributes, p.startTimeUnixNano, p.timeUnixNano) + `Count: ${p.count}\n`;
        if (p.sum !== undefined) out += `Sum: ${fmtFloat(p.sum)}\n`;
        if (p.min !== undefined) out += `Min: ${fmtFloat(p.min)}\n`;
        if (p.max !== undefined) out += `Max: ${fmtFloat(p.max)}\n`;
        p.explicitBounds.forEach((b, j) => (out += `ExplicitBounds #${j}: ${fmtFloat(b)}\n`));
        p.bucketCounts.forEach((c, j) => (out += `Buckets #${j}, Count: ${c}\n`));
      });
      break;
    case 'exponential_histogram':
      m.points.forEach((p, i) => {
        out += head('ExponentialHistogramDataPoints', i, p.attributes, p.startTimeUnixNano, p.timeUnixNano) + `Count: ${p.count}\n`;
        if (p.sum !== undefined) out += `Sum: ${fmtFloat(p.sum)}\n`;
        if (p.min !== undefined) out += `Min: ${fmtFloat(p.min)}\n`;
        if (p.max !== undefined) out += `Max: ${fmtFloat(p.max)}\n`;
        out += `Scale: ${p.scale}\n`;
        for (const l of expBucketLines(p.negative, p.scale, true)) out += l + '\n';
        out += `Bucket [${fmtFloat(-(p.zeroThreshold ?? 0))}, ${fmtFloat(p.zeroThreshold ?? 0)}], Count: ${p.zeroCount}\n`;
        for (const l of expBucketLines(p.positive, p.scale, false)) out += l + '\n';
      });
      break;
    case 'summary':
      m.points.forEach((p, i) => {
        out += head('SummaryDataPoints', i, p.attributes, p.startTimeUnixNano, p.timeUnixNano) + `Count: ${p.count}\nSum: ${fmtFloat(p.sum)}\n`;
        p.quantiles.forEach((q, j) => (out += `QuantileValue #${j}: Quantile ${q.quantile}, Value ${fmtFloat(q.value)}\n`));
      });
      break;
  }
  return out;
}

export function formatDetailed(batch: MetricsBatch): string {
  let out = '';
  batch.resourceMetrics.forEach((rm, ri) => {
    out += `ResourceMetrics #${ri}\nResource SchemaURL: ${rm.schemaUrl ?? ''}\n${attributeBlock('Resource attributes', rm.resource.attributes)}`;
    rm.scopeMetrics.forEach((sm, si) => {
      out += `ScopeMetrics #${si}\nScopeMetrics SchemaURL: ${sm.schemaUrl ?? ''}\nInstrumentationScope ${sm.scope.name} ${sm.scope.version}\n`;
      out += attributeBlock('InstrumentationScope attributes', sm.scope.attributes);
      sm.metrics.forEach((m, mi) => {
        out += `Metric #${mi}\n${descriptor(m)}${pointsDetailed(m)}`;
      });
    });
  });
  return out;
}

function flatAttrs(attrs: Attributes): string {
  return Object.keys(attrs)
    .map((k) => `${k}=${plain(attrs[k])}`)
    .join(',');
}

function plain(v: AttributeValue): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

export function formatNormal(batch: MetricsBatch): string {
  let out = '';
  batch.resourceMetrics.forEach((rm, ri) => {
    out += `ResourceMetrics #${ri}${rm.schemaUrl ? ' ' + rm.schemaUrl : ''} ${flatAttrs(rm.resource.attributes)}\n`;
    rm.scopeMetrics.forEach((sm, si) => {
      out += `ScopeMetrics #${si}${sm.schemaUrl ? ' ' + sm.schemaUrl : ''} ${sm.scope.name}@${sm.scope.version}\n`;
      for (const m of sm.metrics) {
        for (const p of m.points) {
          out += `${m.name}{${flatAttrs(p.attributes)}} `;
          if (m.type === 'gauge' || m.type === 'sum') out += `${(p as { value: number }).value}\n`;
          else if (m.type === 'summary') {
            const sp = p as (typeof m.points)[number];
            out += `count=${sp.count} sum=${sp.sum}${sp.quantiles.map((q) => ` q${q.quantile}=${q.value}`).join('')}\n`;
          } else {
            const hp = p as { count: number; sum?: number; min?: number; max?: number };
            out += `count=${hp.count}${hp.sum !== undefined ? ` sum=${hp.sum}` : ''}${hp.min !== undefined ? ` min=${hp.min}` : ''}${hp.max !== undefined ? ` max=${hp.max}` : ''}\n`;
          }
        }
      }
    });
  });
  return out;
}
