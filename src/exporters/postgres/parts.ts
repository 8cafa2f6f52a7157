/**
 * A batch's rollup parts: its contribution to `metric_rollups`, one row of
 * `metric_rollup_parts` per (metric, series, part period), written by COPY in
 * the batch's transaction and merged later by the compactor.
 *
 * Most series bring one point per batch. So a part keeps a lone counter
 * value or histogram as the text its point already formatted, and builds a
 * mergeable accumulator only when a second point of the series arrives in
 * the same period, or for contributions that are sketches (gauge samples,
 * exponential histograms) or summaries. Parts are found by series identity
 * objects (cached across batches), not by string keys.
 */
import { createHash } from 'node:crypto';
import type { Attributes } from '../../model/metrics.ts';
import { addExplicit, addValue, newAcc, type ExplicitInput, type RollupAcc } from './rollup.ts';
import { arrayText, copyEscape, copyEscapeJson, CopyBuffer, NULL, optNum } from './copytext.ts';

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

/** A series (tenant + attribute set), the same object for every batch while cached. */
export interface SeriesIdentity {
  /** Canonical JSON (sorted keys) of the data point attributes. */
  attributesJson: string;
  /** md5 of tenant + canonical attributes, as a uuid: the series part of a rollup's key. */
  seriesId: string;
  /** `series_id`'s neighbours in a part row, ready: `tenant_id \t attributes`. */
  copyText: string;
}

const MAX_CACHED_SERIES = 200_000;

/** The identity of (tenant, attributes as sent); `attrsJson` is their JSON in the order sent. */
export function seriesIdentity(cache: Map<string, SeriesIdentity>, tenantId: string | null, attrsJson: string, attrs: Attributes): SeriesIdentity {
  const key = (tenantId ?? '\u0002') + '\u0001' + attrsJson;
  let ident = cache.get(key);
  if (ident === undefined) {
    const json = canonicalJson(attrs);
    ident = {
      attributesJson: json,
      seriesId: uuidOf(createHash('md5').update((tenantId ?? '\u0000') + '\u0001' + json).digest()),
      copyText: (tenantId === null ? NULL : copyEscape(tenantId)) + '\t' + copyEscapeJson(json),
    };
    if (cache.size >= MAX_CACHED_SERIES) cache.clear();
    cache.set(key, ident);
  }
  return ident;
}

const NONE = 0;
const ONE_VALUE = 1;
const ONE_HISTOGRAM = 2;

class PartSlot {
  /** `metric \t series_id \t part_start \t part_ms \t tenant_id \t attributes \t type \t unit \t` */
  readonly head: string;
  readonly startMs: number;
  /** The same series' part in another period of this batch (rare). */
  next: PartSlot | null = null;
  acc: RollupAcc | null = null;
  single = NONE;
  value = 0;
  hist: ExplicitInput | null = null;
  /** The lone contribution's columns from `count` on, as COPY text. */
  text = '';

  constructor(head: string, startMs: number) {
    this.head = head;
    this.startMs = startMs;
  }
}

/** Every part column after `max` is NULL for a counter value. */
const VALUE_TAIL = '\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N';
/** …and after `bucket_counts` for an explicit histogram. */
const HISTOGRAM_TAIL = '\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N';

/** The parts of one batch, keyed by metric name, then series identity, then part period. */
export class RollupParts {
  private readonly partMs: number;
  private readonly byMetric = new Map<string, Map<SeriesIdentity, PartSlot>>();
  private readonly slots: PartSlot[] = [];
  private lastStartMs = NaN;
  private lastStartText = '';

  constructor(partMs: number) {
    this.partMs = partMs;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The series map of one metric name: looked up once per metric, then per point by identity. */
  metric(name: string): Map<SeriesIdentity, PartSlot> {
    let m = this.byMetric.get(name);
    if (m === undefined) {
      m = new Map();
      this.byMetric.set(name, m);
    }
    return m;
  }

  /** The part of `ident` for the part period holding `ms`; `metricHead` is `metric \t`, `typeUnit` is `type \t unit \t`. */
  slot(series: Map<SeriesIdentity, PartSlot>, ident: SeriesIdentity, ms: number, metricHead: string, typeUnit: string): PartSlot {
    const startMs = ms - mod(ms, this.partMs);
    const first = series.get(ident);
    let s: PartSlot | null = first ?? null;
    while (s !== null) {
      if (s.startMs === startMs) return s;
      s = s.next;
    }
    if (startMs !== this.lastStartMs) {
      this.lastStartMs = startMs;
      this.lastStartText = new Date(startMs).toISOString();
    }
    const created = new PartSlot(metricHead + ident.seriesId + '\t' + this.lastStartText + '\t' + this.partMs + '\t' + ident.copyText + '\t' + typeUnit, startMs);
    if (first === undefined) series.set(ident, created);
    else {
      created.next = first.next;
      first.next = created;
    }
    this.slots.push(created);
    return created;
  }

  /** A counter increment or delta sum value `v` (finite), `text` being String(v). */
  addValue(s: PartSlot, v: number, text: string): void {
    if (s.single === NONE && s.acc === null) {
      s.single = ONE_VALUE;
      s.value = v;
      s.text = '1\t' + text + '\t' + text + '\t' + text + VALUE_TAIL;
      return;
    }
    addValue(this.acc(s), v);
  }

  /**
   * An explicit histogram; `text` is its part columns `count` to `bucket_counts`
   * as the accumulator would print them. `h`'s arrays are not copied while the
   * part holds only this contribution: the caller must not change them.
   */
  addExplicit(s: PartSlot, h: ExplicitInput, text: string): void {
    if (s.single === NONE && s.acc === null) {
      s.single = ONE_HISTOGRAM;
      s.hist = h;
      s.text = text + HISTOGRAM_TAIL;
      return;
    }
    addExplicit(this.acc(s), h);
  }

  /** The part's accumulator, built from its lone contribution if it had one. */
  acc(s: PartSlot): RollupAcc {
    if (s.acc === null) {
      const acc = newAcc();
      if (s.single === ONE_VALUE) addValue(acc, s.value);
      else if (s.single === ONE_HISTOGRAM) addExplicit(acc, s.hist!);
      s.acc = acc;
      s.single = NONE;
      s.hist = null;
      s.text = '';
    }
    return s.acc;
  }

  /** The COPY text of every part. */
  copy(): CopyBuffer {
    const out = new CopyBuffer(this.slots.length * 320);
    for (const s of this.slots) out.line(s.head + (s.acc === null ? s.text : accText(s.acc)) + '\n');
    return out;
  }
}

/** An accumulator's columns from `count` on. */
function accText(a: RollupAcc): string {
  const explicit = a.kind === 'explicit';
  const exp = a.kind === 'exponential';
  return (
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
    (exp ? arrayText(a.negative.bucketCounts, false) : NULL)
  );
}

/** A lone explicit histogram's part columns `count` to `bucket_counts`, as `accText` would print them. */
export function histogramPartText(h: ExplicitInput, boundsText: string, countsText: string): string {
  return h.count + '\t' + optNum(h.sum) + '\t' + extreme(h.min) + '\t' + extreme(h.max) + '\t' + boundsText + '\t' + countsText;
}

/** As the accumulator keeps min/max: NaN is ignored. */
function extreme(v: number | null | undefined): string {
  return v === undefined || v === null || Number.isNaN(v) ? NULL : String(v);
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
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

export function uuidOf(digest: Buffer): string {
  const h = digest.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
