/**
 * Model → rows, in one pass over the batch: the COPY text for
 * `metric_points`, the rollup contributions per series and period, the days
 * the batch touches (so partitions exist before the COPY), and a content id
 * that is the same for the same batch on every attempt, also after a
 * restart (it keys exactly-once delivery).
 *
 * Hot path: per point, a few string concatenations and at most one
 * JSON.stringify; everything per resource or per series is computed once.
 */
import { createHash } from 'node:crypto';
import type { Attributes, AttributeValue, MetricsBatch, Metric } from '../../model/metrics.ts';
import { addExplicit, addExponential, addSample, addValue, newAcc, type Buckets, type RollupAcc } from './rollup.ts';
import type { DeltaTracker } from './delta.ts';

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
  copyText: string;
  /** Rows in `copyText`. */
  rows: number;
  /** COPY text for `metric_rollup_parts`: this batch's rollup contribution per series and part period. */
  partsText: string;
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

interface SeriesGroup {
  metric: string;
  type: string;
  unit: string;
  tenantId: string | null;
  attributes: Attributes;
  periods: Map<number, RollupAcc>[];
}

const NULL = '\\N';

export function encodeBatch(batch: MetricsBatch, opts: EncodeOptions, deltas: DeltaTracker): EncodedBatch {
  const lines: string[] = [];
  const rejected = new Map<string, number>();
  const days = new Set<number>();
  const groups = new Map<string, SeriesGroup>();
  const intervals = [opts.partMs];
  const ta = opts.tenantAttribute;
  const minDay = Math.floor(opts.retentionCutoffMs / DAY_MS); // days < minDay end at or before the cutoff
  let lastNs = NaN;
  let lastTs = '';
  let lastStartNs = NaN;
  let lastStartTs = NULL;
  const reject = (reason: string) => rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
  const group = (metric: Metric, tenantId: string | null, attrsJson: string, attrs: Attributes): SeriesGroup => {
    const key = metric.name + '\u0001' + (tenantId ?? '\u0002') + '\u0001' + attrsJson;
    let g = groups.get(key);
    if (g === undefined) {
      g = { metric: metric.name, type: metric.type, unit: metric.unit, tenantId, attributes: attrs, periods: intervals.map(() => new Map()) };
      groups.set(key, g);
    }
    return g;
  };
  const accs = (g: SeriesGroup, ms: number): RollupAcc[] => {
    const out: RollupAcc[] = new Array(intervals.length);
    for (let i = 0; i < intervals.length; i++) {
      const start = ms - mod(ms, intervals[i]);
      let acc = g.periods[i].get(start);
      if (acc === undefined) {
        acc = newAcc();
        g.periods[i].set(start, acc);
      }
      out[i] = acc;
    }
    return out;
  };

  for (const rm of batch.resourceMetrics) {
    const resourceAttrs = rm.resource.attributes;
    const resourceJson = jsonOf(resourceAttrs);
    const resourceCopy = copyEscapeJson(resourceJson);
    const rt = resourceAttrs[ta];
    const resourceTenant = rt === undefined || rt === null ? null : tenantString(rt);
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const metricCopy = copyEscape(m.name);
        const unitCopy = copyEscape(m.unit);
        const temporality = m.type === 'gauge' || m.type === 'summary' ? NULL : m.temporality;
        const head = '\t' + metricCopy + '\t' + m.type + '\t' + unitCopy + '\t' + temporality + '\t';
        for (const p of m.points) {
          const ns = p.timeUnixNano;
          const ms = Math.floor(Math.round(ns / 1e3) / 1e3);
          if (!(ms >= 0 && ms < MAX_MS)) {
            reject('invalid_time');
            continue;
          }
          const day = Math.floor(ms / DAY_MS);
          if (day < minDay) {
            reject('expired');
            continue;
          }
          days.add(day);
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
              body = (noValue ? NULL : num(np.value)) + '\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N';
              if (noValue || !Number.isFinite(np.value)) break;
              const g = group(m, tenantId, attrsJson, attrs);
              if (m.type === 'gauge' || !m.monotonic) {
                // Gauges, and sums that go up and down (levels, not increments): percentiles of the samples.
                if (m.type === 'sum' && m.temporality === 'delta') for (const a of accs(g, ms)) addValue(a, np.value);
                else for (const a of accs(g, ms)) addSample(a, np.value);
              } else if (m.temporality === 'delta') {
                for (const a of accs(g, ms)) addValue(a, np.value);
              } else {
                const d = deltas.sum(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, start, ns, np.value);
                if (d !== undefined) for (const a of accs(g, ms)) addValue(a, d);
              }
              break;
            }
            case 'histogram': {
              const hp = p as (typeof m.points)[number];
              body =
                '\\N\t' +
                count(hp.count) +
                '\t' +
                optNum(hp.sum) +
                '\t' +
                optNum(hp.min) +
                '\t' +
                optNum(hp.max) +
                '\t' +
                arrayText(hp.explicitBounds, false) +
                '\t' +
                arrayText(hp.bucketCounts, true) +
                '\t\\N\t\\N\t\\N';
              if (noValue || hp.count <= 0) break;
              const g = group(m, tenantId, attrsJson, attrs);
              if (m.temporality === 'delta') {
                for (const a of accs(g, ms)) addExplicit(a, { count: hp.count, sum: hp.sum, min: hp.min, max: hp.max, bounds: hp.explicitBounds, counts: hp.bucketCounts });
              } else {
                const out = { counts: [] as number[] };
                const d = deltas.explicit(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, hp, out);
                if (d !== undefined && d.count > 0) {
                  for (const a of accs(g, ms)) addExplicit(a, { count: d.count, sum: d.sum, min: d.min, max: d.max, bounds: hp.explicitBounds, counts: out.counts });
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
              const g = group(m, tenantId, attrsJson, attrs);
              if (m.temporality === 'delta') {
                for (const a of accs(g, ms)) addExponential(a, ep);
              } else {
                const out = { zeroCount: 0, positive: ep.positive, negative: ep.negative };
                const d = deltas.exponential(m.name + '\u0001' + resourceJson + '\u0001' + attrsJson, ep, out);
                if (d !== undefined && d.count > 0) {
                  for (const a of accs(g, ms)) addExponential(a, { ...d, scale: ep.scale, zeroCount: out.zeroCount, positive: out.positive, negative: out.negative });
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
              const g = group(m, tenantId, attrsJson, attrs);
              for (const a of accs(g, ms)) {
                a.count += sp.count;
                a.sum = (a.sum ?? 0) + sp.sum;
                if (qmin !== undefined && (a.min === null || qmin < a.min)) a.min = qmin;
                if (qmax !== undefined && (a.max === null || qmax > a.max)) a.max = qmax;
              }
              break;
            }
          }
          lines.push(lastTs + '\t' + lastStartTs + head + body + '\t' + copyEscapeJson(attrsJson) + '\t' + resourceCopy + '\t' + (tenantId === null ? NULL : copyEscape(tenantId)) + '\n');
        }
      }
    }
  }

  const copyText = lines.join('');
  const parts = finishRollups(groups, intervals, opts.seriesCache ?? new Map());
  return {
    batchId: uuidOf(createHash('sha256').update(copyText).digest()),
    copyText,
    rows: lines.length,
    partsText: partsCopyText(parts),
    parts: parts.length,
    rejected,
    days,
  };
}

export interface SeriesIdentity {
  attributesJson: string;
  seriesId: string;
}

/** The `metric_rollup_parts` columns, in COPY order. */
export const PART_COLUMNS = [
  'metric',
  'series_id',
  'part_start',
  'part_ms',
  'tenant_id',
  'attributes',
  'type',
  'unit',
  'count',
  'sum',
  'min',
  'max',
  'bucket_bounds',
  'bucket_counts',
  'exp_scale',
  'exp_zero_count',
  'exp_positive_offset',
  'exp_positive_counts',
  'exp_negative_offset',
  'exp_negative_counts',
] as const;

function partsCopyText(parts: RollupEntry[]): string {
  let out = '';
  for (const e of parts) {
    const a = e.acc;
    const explicit = a.kind === 'explicit';
    const exp = a.kind === 'exponential';
    out +=
      copyEscape(e.metric) +
      '\t' +
      e.seriesId +
      '\t' +
      new Date(e.periodStartMs).toISOString() +
      '\t' +
      e.periodMs +
      '\t' +
      (e.tenantId === null ? NULL : copyEscape(e.tenantId)) +
      '\t' +
      copyEscapeJson(e.attributesJson) +
      '\t' +
      e.type +
      '\t' +
      copyEscape(e.unit) +
      '\t' +
      a.count +
      '\t' +
      optNum(a.sum) +
      '\t' +
      optNum(a.min) +
      '\t' +
      optNum(a.max) +
      '\t' +
      (explicit ? arrayText(a.bounds!, false) : NULL) +
      '\t' +
      (explicit ? arrayText(a.bucketCounts!, false) : NULL) +
      '\t' +
      (exp ? a.scale : NULL) +
      '\t' +
      (exp ? a.zeroCount : NULL) +
      '\t' +
      (exp ? a.positive.offset : NULL) +
      '\t' +
      (exp ? arrayText(a.positive.bucketCounts, false) : NULL) +
      '\t' +
      (exp ? a.negative.offset : NULL) +
      '\t' +
      (exp ? arrayText(a.negative.bucketCounts, false) : NULL) +
      '\n';
  }
  return out;
}

/** Per series (metric + tenant + canonical attributes) and period, merging groups that differ only in key order. */
function finishRollups(groups: Map<string, SeriesGroup>, intervals: number[], cache: Map<string, SeriesIdentity>): RollupEntry[] {
  const out = new Map<string, RollupEntry>();
  for (const [groupKey, g] of groups) {
    // The series identity ignores the metric name (part of the key already): cache by the rest of the group key.
    const idKey = groupKey.slice(g.metric.length + 1);
    let ident = cache.get(idKey);
    if (ident === undefined) {
      const json = canonicalJson(g.attributes);
      ident = { attributesJson: json, seriesId: uuidOf(createHash('md5').update((g.tenantId ?? '\u0000') + '\u0001' + json).digest()) };
      if (cache.size >= 200_000) cache.clear();
      cache.set(idKey, ident);
    }
    const { attributesJson, seriesId } = ident;
    for (let i = 0; i < intervals.length; i++) {
      for (const [periodStartMs, acc] of g.periods[i]) {
        const key = g.metric + '\u0001' + intervals[i] + '\u0001' + periodStartMs + '\u0001' + seriesId;
        const existing = out.get(key);
        if (existing === undefined) {
          out.set(key, { metric: g.metric, type: g.type, unit: g.unit, periodMs: intervals[i], periodStartMs, tenantId: g.tenantId, attributesJson, seriesId, acc });
        } else {
          mergeInto(existing.acc, acc);
        }
      }
    }
  }
  return [...out.values()];
}

function mergeInto(into: RollupAcc, from: RollupAcc): void {
  if (from.kind === 'explicit') addExplicit(into, { count: from.count, sum: from.sum, min: from.min, max: from.max, bounds: from.bounds!, counts: from.bucketCounts! });
  else if (from.kind === 'exponential') addExponential(into, from);
  else {
    into.count += from.count;
    if (from.sum !== null) into.sum = (into.sum ?? 0) + from.sum;
    if (from.min !== null && (into.min === null || from.min < into.min)) into.min = from.min;
    if (from.max !== null && (into.max === null || from.max > into.max)) into.max = from.max;
  }
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
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

function optNum(v: number | undefined | null): string {
  return v === undefined || v === null ? NULL : String(v);
}

/** bigint columns: counts may be weights (sampled StatsD), stored rounded. */
function count(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v));
}

function arrayText(values: number[], integers: boolean): string {
  if (values.length === 0) return '{}';
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) s += ',';
    s += integers ? count(values[i]) : String(values[i]);
  }
  return s + '}';
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

// ---- JSON and COPY text escaping ----------------------------------------

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

/** JSON with keys sorted at every level: the same attribute set always gives the same text. */
export function canonicalJson(attrs: Attributes): string {
  let s = JSON.stringify(sortKeys(attrs));
  if (s.includes('\\u0000')) s = s.replace(/\\u0000/g, '');
  return s;
}

function sortKeys(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** COPY text format: JSON never holds raw tabs or newlines, only backslashes to double. */
function copyEscapeJson(s: string): string {
  return s.includes('\\') ? s.replace(/\\/g, '\\\\') : s;
}

const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;

function copyEscape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r\u0000]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : ''));
}

function uuidOf(digest: Buffer): string {
  const h = digest.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
