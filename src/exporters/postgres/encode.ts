/**
 * Model → rows, in one pass over the batch: the COPY text for
 * `metric_points` (written as UTF-8 straight into one Buffer), the rollup
 * parts per series and part period (parts.ts), the days the batch touches
 * (so partitions exist before the COPY), and a content id that is the same
 * for the same batch on every attempt, also after a restart (it keys
 * exactly-once delivery): the SHA-256 of the points' COPY bytes.
 *
 * Hot path: per point, one row string, at most one JSON.stringify and one
 * series lookup; everything per resource, metric or series is computed once
 * (series identities are cached across batches), and histogram bounds are
 * formatted once per run of points that share them.
 */
import { createHash } from 'node:crypto';
import type { Attributes, AttributeValue, MetricsBatch } from '../../model/metrics.ts';
import { addExponential, addSample, type Buckets, type RollupAcc } from './rollup.ts';
import type { DeltaTracker } from './delta.ts';
import { allIntegers, arrayText, copyEscape, copyEscapeJson, CopyBuffer, count, NULL, optNum, sameNumbers } from './copytext.ts';
import { histogramPartText, RollupParts, seriesIdentity, uuidOf, type SeriesIdentity } from './parts.ts';

export { canonicalJson, PART_COLUMNS, type SeriesIdentity } from './parts.ts';

export const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00Z: timestamps from here on do not fit the ISO text (nor are they real). */
const MAX_MS = 253_402_300_800_000;
const MAX_NS = MAX_MS * 1e6;

/** The `metric_points` columns, in COPY order. */
export const POINT_COLUMNS = [
  'time',
  'start_time',
  'metric',
  'type',
  'unit',
  'temporality',
  'value',
  'count',
  'sum',
  'min',
  'max',
  'bucket_bounds',
  'bucket_counts',
  'exp_scale',
  'exp_zero_count',
  'quantiles',
  'attributes',
  'resource',
  'tenant_id',
] as const;

export interface RollupEntry {
  metric: string;
  type: string;
  unit: string;
  periodMs: number;
  periodStartMs: number;
  tenantId: string | null;
  /** Canonical JSON (sorted keys) of the data point attributes. */
  attributesJson: string;
  /** md5 of tenant + canonical attributes, as a uuid: the series part of the row's key. */
  seriesId: string;
  acc: RollupAcc;
}

export interface EncodedBatch {
  batchId: string;
  /** COPY text (UTF-8) for `metric_points`. */
  copy: Buffer;
  /** Rows in `copy`. */
  rows: number;
  /** COPY text for `metric_rollup_parts`: this batch's rollup contribution per series and part period. */
  partsCopy: Buffer;
  parts: number;
  /** Points refused before writing (older than retention, invalid time), by reason. */
  rejected: Map<string, number>;
  /** Day numbers (ms / DAY_MS, floored) of the rows. */
  days: Set<number>;
}

export interface EncodeOptions {
  tenantAttribute: string;
  /**
   * Granularity of rollup parts: the greatest common divisor of the rollup
   * intervals, so each part falls inside exactly one period of every interval.
   */
  partMs: number;
  /** Canonical attributes and series id by tenant + attributes JSON, reused across batches. */
  seriesCache?: Map<string, SeriesIdentity>;
  /** Points whose day ended before this instant are refused (they would be dropped by retention). */
  retentionCutoffMs: number;
}

/** Bytes per point of the last batch: sizes the next batch's buffer so it rarely grows. */
let bytesPerPointHint = 512;

export function encodeBatch(batch: MetricsBatch, opts: EncodeOptions, deltas: DeltaTracker): EncodedBatch {
  let pointCount = 0;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) pointCount += m.points.length;
  const out = new CopyBuffer(Math.ceil(pointCount * bytesPerPointHint * 1.1));
  const parts = new RollupParts(opts.partMs);
  const cache = opts.seriesCache ?? new Map<string, SeriesIdentity>();
  const rejected = new Map<string, number>();
  const days = new Set<number>();
  const ta = opts.tenantAttribute;
  const minDay = Math.floor(opts.retentionCutoffMs / DAY_MS); // days < minDay end at or before the cutoff
  let lastDay = NaN;
  let lastNs = NaN;
  let lastTs = '';
  let lastStartNs = NaN;
  let lastStartTs = NULL;
  // Histograms of one instrument share their bounds: format them once.
  let lastBounds: number[] | null = null;
  let lastBoundsText = '';
  const reject = (reason: string) => rejected.set(reason, (rejected.get(reason) ?? 0) + 1);

  for (const rm of batch.resourceMetrics) {
    const resourceAttrs = rm.resource.attributes;
    const resourceJson = jsonOf(resourceAttrs);
    const rt = resourceAttrs[ta];
    const resourceTenant = rt === undefined || rt === null ? null : tenantString(rt);
    // The row's last three columns when the point names no tenant of its own.
    const resourceTail = '\t' + copyEscapeJson(resourceJson) + '\t' + (resourceTenant === null ? NULL : copyEscape(resourceTenant)) + '\n';
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const metricCopy = copyEscape(m.name);
        const unitCopy = copyEscape(m.unit);
        const temporality = m.type === 'gauge' || m.type === 'summary' ? NULL : m.temporality;
        const head = '\t' + metricCopy + '\t' + m.type + '\t' + unitCopy + '\t' + temporality + '\t';
        const series = parts.metric(m.name);
        const partHead = metricCopy + '\t';
        const partTypeUnit = m.type + '\t' + unitCopy + '\t';
        for (const p of m.points) {
          const ns = p.timeUnixNano;
          const ms = Math.floor(Math.round(ns / 1e3) / 1e3);
          if (!(ms >= 0 && ms < MAX_MS)) {
            reject('invalid_time');
            continue;
          }
          const day = Math.floor(ms / DAY_MS);
          if (day !== lastDay) {
            if (day < minDay) {
              reject('expired');
              continue;
            }
            days.add(day);
            lastDay = day;
          }
          if (ns !== lastNs) {
            lastNs = ns;
            lastTs = timestampText(ns);
          }
          const start = p.startTimeUnixNano;
          if (start !== lastStartNs) {
            lastStartNs = start;
            lastStartTs = start > 0 && start < MAX_NS ? timestampText(start) : NULL;
          }
          const attrs = p.attributes;
          const attrsJson = jsonOf(attrs);
          const pt = attrs[ta];
          const tenantId = pt === undefined || pt === null ? resourceTenant : tenantString(pt);
          const noValue = p.flags !== undefined && (p.flags & 1) === 1;
          let body: string;
          switch (m.type) {
            case 'gauge':
            case 'sum': {
              const np = p as (typeof m.points)[number];
              const v = np.value;
              const valueText = noValue ? NULL : num(v);
              body = valueText + '\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N';
              if (noValue || !Number.isFinite(v)) break;
              if (m.type === 'gauge' || !m.monotonic) {
                const slot = parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit);
                // Gauges, and sums that go up and down (levels, not increments): percentiles of the samples.
                if (m.type === 'sum' && m.temporality === 'delta') parts.addValue(slot, v, valueText);
                else addSample(parts.acc(slot), v);
              } else if (m.temporality === 'delta') {
                parts.addValue(parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit), v, valueText);
              } else {
                const d = deltas.sum(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, start, ns, v);
                if (d !== undefined) parts.addValue(parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit), d, String(d));
              }
              break;
            }
            case 'histogram': {
              const hp = p as (typeof m.points)[number];
              const bounds = hp.explicitBounds;
              if (bounds !== lastBounds) {
                if (lastBounds === null || !sameNumbers(bounds, lastBounds)) lastBoundsText = arrayText(bounds, false);
                lastBounds = bounds;
              }
              const countText = count(hp.count);
              const sumText = optNum(hp.sum);
              const countsText = arrayText(hp.bucketCounts, true);
              body =
                '\\N\t' + countText + '\t' + sumText + '\t' + optNum(hp.min) + '\t' + optNum(hp.max) + '\t' + lastBoundsText + '\t' + countsText + '\t\\N\t\\N\t\\N';
              if (noValue || hp.count <= 0) break;
              if (m.temporality === 'delta') {
                const slot = parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit);
                const h = { count: hp.count, sum: hp.sum, min: hp.min, max: hp.max, bounds, counts: hp.bucketCounts };
                // The part prints counts unrounded (double precision[]): the point's text serves when they are integers.
                const partCounts = allIntegers(hp.bucketCounts) ? countsText : arrayText(hp.bucketCounts, false);
                parts.addExplicit(slot, h, histogramPartText(h, lastBoundsText, partCounts));
              } else {
                const outCounts = { counts: [] as number[] };
                const d = deltas.explicit(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, hp, outCounts);
                if (d !== undefined && d.count > 0) {
                  const slot = parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit);
                  const h = { count: d.count, sum: d.sum, min: d.min, max: d.max, bounds, counts: outCounts.counts };
                  parts.addExplicit(slot, h, histogramPartText(h, lastBoundsText, arrayText(outCounts.counts, false)));
                }
              }
              break;
            }
            case 'exponential_histogram': {
              const ep = p as (typeof m.points)[number];
              const ex = expToExplicit(ep.scale, ep.zeroCount, ep.zeroThreshold ?? 0, ep.positive, ep.negative);
              body =
                '\\N\t' +
                count(ep.count) +
                '\t' +
                optNum(ep.sum) +
                '\t' +
                optNum(ep.min) +
                '\t' +
                optNum(ep.max) +
                '\t' +
                arrayText(ex.bounds, false) +
                '\t' +
                arrayText(ex.counts, true) +
                '\t' +
                ep.scale +
                '\t' +
                count(ep.zeroCount) +
                '\t\\N';
              if (noValue || ep.count <= 0) break;
              if (m.temporality === 'delta') {
                addExponential(parts.acc(parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit)), ep);
              } else {
                const outBuckets = { zeroCount: 0, positive: ep.positive, negative: ep.negative };
                const d = deltas.exponential(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, ep, outBuckets);
                if (d !== undefined && d.count > 0) {
                  const acc = parts.acc(parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit));
                  addExponential(acc, { ...d, scale: ep.scale, zeroCount: outBuckets.zeroCount, positive: outBuckets.positive, negative: outBuckets.negative });
                }
              }
              break;
            }
            case 'summary': {
              const sp = p as (typeof m.points)[number];
              const q: Record<string, number> = {};
              let qmin: number | undefined;
              let qmax: number | undefined;
              for (const { quantile, value } of sp.quantiles) {
                q[String(quantile)] = value;
                if (quantile === 0) qmin = value;
                if (quantile === 1) qmax = value;
              }
              body =
                '\\N\t' +
                count(sp.count) +
                '\t' +
                optNum(sp.sum) +
                '\t' +
                optNum(qmin) +
                '\t' +
                optNum(qmax) +
                '\t\\N\t\\N\t\\N\t\\N\t' +
                copyEscapeJson(JSON.stringify(q, finiteOrString));
              if (noValue || sp.count <= 0) break;
              const a = parts.acc(parts.slot(series, seriesIdentity(cache, tenantId, attrsJson, attrs), ms, partHead, partTypeUnit));
              a.count += sp.count;
              a.sum = (a.sum ?? 0) + sp.sum;
              if (qmin !== undefined && (a.min === null || qmin < a.min)) a.min = qmin;
              if (qmax !== undefined && (a.max === null || qmax > a.max)) a.max = qmax;
              break;
            }
          }
          const tail =
            tenantId === resourceTenant ? resourceTail : '\t' + copyEscapeJson(resourceJson) + '\t' + (tenantId === null ? NULL : copyEscape(tenantId)) + '\n';
          out.line(lastTs + '\t' + lastStartTs + head + body + '\t' + copyEscapeJson(attrsJson) + tail);
        }
      }
    }
  }

  if (out.rows > 0) bytesPerPointHint = Math.ceil(out.length / out.rows);
  const copy = out.bytes();
  const partsCopy = parts.copy();
  return {
    // The id hashes the exact bytes sent (the same text as before they were written straight into a Buffer).
    batchId: uuidOf(createHash('sha256').update(copy).digest()),
    copy,
    rows: out.rows,
    partsCopy: partsCopy.bytes(),
    parts: partsCopy.rows,
    rejected,
    days,
  };
}

function tenantString(v: AttributeValue): string {
  return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(jsonSafe(v)) : String(v);
}

/** `2024-05-14T10:00:00.123456Z` from nanoseconds (Postgres keeps microseconds). */
export function timestampText(ns: number): string {
  // Round to microseconds first: ns in a double is only exact to ~256 ns, and flooring
  // a value just under a millisecond boundary would store 999 µs too early.
  const totalUs = Math.round(ns / 1e3);
  const ms = Math.floor(totalUs / 1e3);
  const us = totalUs - ms * 1e3;
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 23) + (us < 10 ? '00' + us : us < 100 ? '0' + us : String(us)) + 'Z';
}

function num(v: number): string {
  // Postgres reads NaN, Infinity and -Infinity as JS prints them.
  return String(v);
}

/**
 * Exponential buckets as explicit bounds and counts (bucket i is
 * (bounds[i-1], bounds[i]]), with empty buckets inserted so that every
 * original bucket keeps its exact edges: SQL can treat both kinds alike.
 */
export function expToExplicit(scale: number, zeroCount: number, zeroThreshold: number, positive: Buckets, negative: Buckets): { bounds: number[]; counts: number[] } {
  const f = 2 ** -scale;
  const bounds: number[] = [];
  const counts: number[] = [];
  if (negative.bucketCounts.length > 0) {
    const top = negative.offset + negative.bucketCounts.length - 1;
    bounds.push(-(2 ** ((top + 1) * f)));
    counts.push(0);
    for (let idx = top; idx >= negative.offset; idx--) {
      bounds.push(-(2 ** (idx * f)));
      counts.push(negative.bucketCounts[idx - negative.offset]);
    }
    if (zeroThreshold > 0) {
      bounds.push(-zeroThreshold);
      counts.push(0);
    }
  }
  bounds.push(zeroThreshold);
  counts.push(zeroCount);
  if (positive.bucketCounts.length > 0) {
    bounds.push(2 ** (positive.offset * f));
    counts.push(0);
    for (let i = 0; i < positive.bucketCounts.length; i++) {
      bounds.push(2 ** ((positive.offset + i + 1) * f));
      counts.push(positive.bucketCounts[i]);
    }
  }
  counts.push(0);
  return { bounds, counts };
}

// ---- JSON ------------------------------------------------------------------

/** JSON for a jsonb column: bytes as base64, no NUL escapes (jsonb refuses \u0000). */
export function jsonOf(attrs: Attributes): string {
  let needsReplacer = false;
  for (const k in attrs) {
    const v = attrs[k];
    if (typeof v === 'object' && v !== null) {
      needsReplacer = true;
      break;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) {
      needsReplacer = true;
      break;
    }
  }
  let s = needsReplacer ? JSON.stringify(attrs, jsonReplacer) : JSON.stringify(attrs);
  if (s.includes('\\u0000')) s = s.replace(/\\u0000/g, '');
  return s;
}

function jsonReplacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

function finiteOrString(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

function jsonSafe(v: AttributeValue): unknown {
  return JSON.parse(JSON.stringify(v, jsonReplacer));
}
