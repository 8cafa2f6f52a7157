/**
 * Parses StatsD/DogStatsD datagrams and aggregates them per interval.
 *
 * Line format (DogStatsD up to protocol 1.6):
 *   name:value[:value…]|type[|@rate][|#tag:v,bare][|T<unix s>][|c:<container>][|e:<ext>][|card:<c>]
 * plus `_e{…}` events and `_sc|…` service checks, which are counted and dropped.
 *
 * Hot path, per line, on the datagram's bytes: find `:`, the first `|` and
 * the line end, hashing the raw name and the raw tail (`|type|@rate|#tags|…`,
 * everything after the values) on the way, then one lookup of that (name,
 * tail) in a byte-keyed table (`keytable.ts`). The tail fully determines type,
 * rate, timestamp and attributes, so its description (and the series it
 * feeds) is worked out once per distinct (name, tail) per interval and cached;
 * after that a line costs only its number parsing, and no string is made.
 * Tags in another order map to the same series, because the cache points at
 * series found by a canonical key (sorted tags).
 *
 * When a (name, tail) is first seen, the line is decoded as latin1 so string
 * offsets equal byte offsets and decoding is a plain copy; names and tags are
 * re-decoded as UTF-8 only if they hold non-ASCII bytes.
 */
import { attributesKey, nowUnixNano, type Attributes, type Metric, type MetricsBatch } from '../../model/metrics.ts';
import { DEFAULT_MAX_SIZE } from '../../model/exphisto.ts';
import { DEFAULT_PERCENTILES, type StatsdConfig, type TimerMapping } from './config.ts';
import { HASH_SEED, RawKeyTable, scan, scannedHash } from './keytable.ts';
import {
  KIND_COUNTER,
  KIND_DISTRIBUTION,
  KIND_GAUGE,
  KIND_HISTOGRAM,
  KIND_NAMES,
  KIND_SET,
  KIND_TIMING,
  OBS_EXP,
  OBS_EXPLICIT,
  OBS_GAUGE,
  OBS_LAST,
  OBS_SET,
  OBS_SUM,
  OBS_SUMMARY,
  Series,
  type Kind,
  type ObserverSettings,
} from './series.ts';

export const SCOPE_NAME = 'tributary/statsd';

/** What the aggregator reports to its owner (counted and logged there). */
export interface AggregatorSink {
  /** `line`: the offending bytes, a view into the datagram valid only during the call (decode it there if needed). */
  badLine(reason: string, line: Buffer): void;
  /** Events, service checks, and samples of types mapped to `disabled`. */
  ignored(kind: 'event' | 'service_check' | 'disabled'): void;
  /** Samples of new series refused over `max_series`. */
  seriesLimited(samples: number): void;
}

/** The cached meaning of one raw (name, tail). */
interface Descriptor {
  /** Non-empty when the line is bad; counted for every line that hits it. */
  bad: string;
  kind: Kind;
  /** Null when dropped over max_series, or when the type is disabled. */
  series: Series | null;
  disabled: boolean;
  /** 1 / sample rate. */
  weight: number;
  /** 1 / sample rate when it applies to counters; values are divided by the rate. */
  rate: number;
  timeNs: number;
}

export interface FlushResult {
  batch: MetricsBatch;
  points: number;
}

const CH_LF = 10;
const CH_CR = 13;
const CH_PLUS = 43;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_0 = 48;
const CH_9 = 57;
const CH_COLON = 58;
const CH_UNDERSCORE = 95;
const CH_PIPE = 124;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_ASCII_RE = /[\x80-\xff]/;
const BAD_NAME_CHARS_RE = /[^A-Za-z0-9_.\-]/g;

/**
 * Parse a StatsD number in s[from, to): optional sign, digits, optional
 * fraction (exponents via the slow path). NaN when invalid or not finite.
 * Digits are accumulated as an integer and divided by a power of ten once,
 * which is the correctly rounded result while both fit in 2^53 / 10^22.
 */
export function parseNumber(s: string, from: number, to: number): number {
  let i = from;
  let c = s.charCodeAt(i);
  let neg = false;
  if (c === CH_MINUS) {
    neg = true;
    i++;
  } else if (c === CH_PLUS) i++;
  let mant = 0;
  let digits = 0;
  let frac = -1;
  for (; i < to; i++) {
    c = s.charCodeAt(i);
    if (c >= CH_0 && c <= CH_9) {
      mant = mant * 10 + (c - CH_0);
      digits++;
    } else if (c === CH_DOT && frac < 0) frac = i;
    else return parseNumberSlow(s, from, to);
  }
  if (digits === 0) return NaN;
  if (digits > 15) return parseNumberSlow(s, from, to);
  const fracDigits = frac < 0 ? 0 : to - frac - 1;
  const v = fracDigits === 0 ? mant : mant / POW10[fracDigits];
  return neg ? -v : v;
}

function parseNumberSlow(s: string, from: number, to: number): number {
  const text = s.slice(from, to);
  if (!NUMBER_RE.test(text)) return NaN;
  const v = Number(text);
  return Number.isFinite(v) ? v : NaN;
}

/** `parseNumber` on bytes `buf[from, to)` (from < to), same results. */
export function parseNumberBytes(buf: Uint8Array, from: number, to: number): number {
  let i = from;
  let c = buf[i];
  let neg = false;
  if (c === CH_MINUS) {
    neg = true;
    i++;
  } else if (c === CH_PLUS) i++;
  let mant = 0;
  let digits = 0;
  let frac = -1;
  for (; i < to; i++) {
    c = buf[i];
    if (c >= CH_0 && c <= CH_9) {
      mant = mant * 10 + (c - CH_0);
      digits++;
    } else if (c === CH_DOT && frac < 0) frac = i;
    else return parseNumberSlow(Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1'), 0, to - from);
  }
  if (digits === 0) return NaN;
  if (digits > 15) return parseNumberSlow(Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1'), 0, to - from);
  const fracDigits = frac < 0 ? 0 : to - frac - 1;
  const v = fracDigits === 0 ? mant : mant / POW10[fracDigits];
  return neg ? -v : v;
}

/** Index of the first LF at or after `from`, or `len`. */
function lineEnd(buf: Uint8Array, from: number, len: number): number {
  const nl = buf.indexOf(CH_LF, from);
  return nl === -1 ? len : nl;
}

/** latin1-decoded bytes → the UTF-8 text they were. */
function utf8(s: string): string {
  return NON_ASCII_RE.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

function kindOf(type: string): Kind | -1 {
  switch (type) {
    case 'c':
      return KIND_COUNTER;
    case 'g':
      return KIND_GAUGE;
    case 'ms':
      return KIND_TIMING;
    case 'h':
      return KIND_HISTOGRAM;
    case 'd':
      return KIND_DISTRIBUTION;
    case 's':
      return KIND_SET;
    default:
      return -1;
  }
}

function observerSettings(mapping: TimerMapping | undefined): ObserverSettings & { disabled: boolean } {
  const quantiles = (mapping?.summary?.percentiles ?? DEFAULT_PERCENTILES).map((p) => p / 100);
  const base = { maxSize: mapping?.histogram?.max_size ?? DEFAULT_MAX_SIZE, bounds: mapping?.histogram?.explicit_buckets ?? [], quantiles, disabled: false };
  switch (mapping?.observer_type) {
    case 'gauge':
      return { ...base, observer: OBS_LAST };
    case 'summary':
      return { ...base, observer: OBS_SUMMARY };
    case 'disabled':
      return { ...base, observer: OBS_LAST, disabled: true };
    case 'histogram':
    default:
      return { ...base, observer: base.bounds.length > 0 ? OBS_EXPLICIT : OBS_EXP };
  }
}

/** A remembered gauge value, so `+N`/`-N` in a later interval applies to it. */
interface GaugeMemory {
  value: number;
  seenAtNs: number;
}

/** Gauges not updated for this long are forgotten (a delta then starts from 0). */
const GAUGE_MEMORY_NS = 3600e9;

export class StatsdAggregator {
  private readonly sink: AggregatorSink;
  private readonly prefix: string;
  private readonly sanitize: boolean;
  private readonly simpleTags: boolean;
  private readonly metricTypeAttr: boolean;
  private readonly monotonic: boolean;
  private readonly maxSeries: number;
  /** Raw-key cache entries allowed per interval; beyond it lines take the slow path (memory bound under floods). */
  private readonly maxCache: number;
  private readonly timingScale: number;
  private readonly timingUnit: string;
  /** Per statsd kind: how timers/histograms/distributions aggregate. */
  private readonly observers: Array<ObserverSettings & { disabled: boolean }>;

  /** raw (name, tail) bytes → descriptor, for this interval. */
  private readonly table = new RawKeyTable<Descriptor>();
  /** canonical key → series. */
  private series = new Map<string, Series>();
  private gaugeMemory = new Map<string, GaugeMemory>();
  private intervalStartNs: number;
  /** Reused for packed values, so a line is validated before any of it is applied. */
  private readonly scratch: number[] = [];

  constructor(config: StatsdConfig, sink: AggregatorSink, nowNs = nowUnixNano()) {
    this.sink = sink;
    this.prefix = config.prefix;
    this.sanitize = config.sanitize_names;
    this.simpleTags = config.enable_simple_tags;
    this.metricTypeAttr = config.enable_metric_type;
    this.monotonic = config.is_monotonic_counter;
    this.maxSeries = config.max_series;
    this.maxCache = config.max_series * 2 + 1024;
    this.timingScale = config.unit === 's' ? 1e-3 : 1;
    this.timingUnit = config.unit;
    this.intervalStartNs = nowNs;
    const find = (...types: string[]) => {
      for (const t of types) {
        const m = config.timer_histogram_mapping.find((x) => x.statsd_type === t);
        if (m) return m;
      }
      return undefined;
    };
    const timing = observerSettings(find('timing', 'timer'));
    const histogram = observerSettings(find('histogram'));
    // A distribution mapping wins for `d`; otherwise `d` follows `histogram`, as in otelcol.
    const distribution = observerSettings(find('distribution', 'histogram'));
    const plain = (observer: 0 | 1 | 2) => ({ ...timing, observer, disabled: false });
    this.observers = [plain(OBS_SUM), plain(OBS_GAUGE), timing, histogram, distribution, plain(OBS_SET)];
  }

  get seriesCount(): number {
    return this.series.size;
  }

  /**
   * Parse and aggregate one datagram (or TCP chunk of whole lines). Returns the number of non-empty lines.
   *
   * One pass over the bytes per line: the name is hashed up to `:`, the values
   * are skipped up to `|`, the tail is hashed up to the line end; the (name,
   * tail) bytes then find their cached descriptor in `table`. Anything unusual
   * (no `:`, no `|`, an empty name or value) leaves the fast path for
   * `malformed`, which finds what is wrong the way the string parser always did.
   */
  ingest(buf: Buffer): number {
    const len = buf.length;
    const view = new DataView(buf.buffer, buf.byteOffset, len);
    let pos = 0;
    let lines = 0;
    while (pos < len) {
      const start = pos;
      let c = buf[start];
      if (c === CH_LF) {
        pos++;
        continue;
      }
      if (c === CH_UNDERSCORE && start + 2 < len) {
        const c1 = buf[start + 1];
        const c2 = buf[start + 2];
        const event = c1 === 101 /* e */ && c2 === 123; /* { */
        if (event || (c1 === 115 /* s */ && c2 === 99 /* c */ && start + 3 < len && buf[start + 3] === CH_PIPE)) {
          this.sink.ignored(event ? 'event' : 'service_check');
          lines++;
          pos = lineEnd(buf, start, len) + 1;
          continue;
        }
      }
      // Name: up to the first ':', hashed on the way.
      let p = scan(buf, view, start, len, HASH_SEED, CH_COLON, CH_LF);
      const h = scannedHash;
      if (p === len || buf[p] === CH_LF || p === start) {
        const nl = p === len || buf[p] === CH_LF ? p : lineEnd(buf, p, len);
        lines += this.malformed(buf, start, nl);
        pos = nl + 1;
        continue;
      }
      const colon = p;
      // Values: up to the first '|'; a ':' among them means several values (protocol 1.1).
      let packed = false;
      for (p = colon + 1; p < len; p++) {
        c = buf[p];
        if (c === CH_PIPE || c === CH_LF) break;
        if (c === CH_COLON) packed = true;
      }
      if (p === len || c === CH_LF || p === colon + 1) {
        const nl = p === len || c === CH_LF ? p : lineEnd(buf, p, len);
        lines += this.malformed(buf, start, nl);
        pos = nl + 1;
        continue;
      }
      const pipe = p;
      // Tail: up to the line end, hashed on the way. A trailing CR stays in the key (a client sending
      // CRLF gets keys of its own) but not in what the line means.
      const nl = scan(buf, view, pipe, len, h, CH_LF, CH_LF);
      const key = scannedHash;
      pos = nl + 1;
      const end = buf[nl - 1] === CH_CR ? nl - 1 : nl;
      lines++;
      let d = this.table.find(view, start, colon, pipe, nl, key);
      if (d === undefined) {
        d = this.describe(buf.toString('latin1', start, end), 0, colon - start, pipe - start, end - start);
        // Beyond the cap, lines still find their series (by canonical key), only more slowly: memory stays bounded under floods.
        if (this.table.size < this.maxCache) this.table.add(buf, start, colon, pipe, nl, key, d);
      }
      this.record(buf, start, colon, pipe, end, packed, d);
    }
    return lines;
  }

  /** Aggregate the values of a line whose (name, tail) means `d`. */
  private record(buf: Buffer, start: number, colon: number, pipe: number, end: number, packed: boolean, d: Descriptor): void {
    if (d.bad !== '') return this.bad(d.bad, buf, start, end);
    const series = d.series;
    if (series === null) {
      if (d.disabled) return this.sink.ignored('disabled');
      return this.sink.seriesLimited(d.kind === KIND_SET || !packed ? 1 : countValues(buf, colon + 1, pipe));
    }
    if (d.timeNs !== 0) {
      if (d.timeNs > series.timeNs) series.timeNs = d.timeNs;
      if (series.firstTimeNs === 0 || d.timeNs < series.firstTimeNs) series.firstTimeNs = d.timeNs;
    }

    const vFrom = colon + 1;
    if (d.kind === KIND_SET) {
      series.set!.add(buf.toString('latin1', vFrom, pipe));
      series.hasValue = true;
      return;
    }
    // Single value: the common case, no scratch array.
    if (!packed) {
      const v = parseNumberBytes(buf, vFrom, pipe);
      if (v !== v) return this.bad('bad_value', buf, start, end);
      this.apply(series, d, v, buf[vFrom]);
      return;
    }
    // Packed values (protocol 1.1): validate all before applying any.
    const values = this.scratch;
    values.length = 0;
    let from = vFrom;
    for (;;) {
      let to = from;
      while (to < pipe && buf[to] !== CH_COLON) to++;
      const v = from === to ? NaN : parseNumberBytes(buf, from, to);
      if (v !== v) return this.bad('bad_value', buf, start, end);
      values.push(v, buf[from]);
      if (to === pipe) break;
      from = to + 1;
    }
    for (let i = 0; i < values.length; i += 2) this.apply(series, d, values[i], values[i + 1]);
  }

  /**
   * A line without `:` or `|` where one must be, or with an empty name or
   * value, ending at `nl`: counted as bad with its reason. Returns 1, or 0 for
   * a line that is empty once a trailing CR is dropped.
   */
  private malformed(buf: Buffer, start: number, nl: number): number {
    const end = nl > start && buf[nl - 1] === CH_CR ? nl - 1 : nl;
    if (end === start) return 0;
    const colon = buf.indexOf(CH_COLON, start);
    const pipe = colon === -1 || colon >= end ? -1 : buf.indexOf(CH_PIPE, colon + 1);
    const reason =
      colon === -1 || colon >= end ? 'no_value' : colon === start ? 'empty_name' : pipe === -1 || pipe >= end ? 'no_type' : 'empty_value';
    this.bad(reason, buf, start, end);
    return 1;
  }

  private bad(reason: string, buf: Buffer, start: number, end: number): void {
    this.sink.badLine(reason, buf.subarray(start, end));
  }

  private apply(series: Series, d: Descriptor, v: number, firstChar: number): void {
    switch (series.observer) {
      case OBS_SUM: {
        const inc = d.rate === 1 ? v : v / d.rate;
        series.value += inc;
        series.hasValue = true;
        if (series.isInt && !Number.isInteger(inc)) series.isInt = false;
        return;
      }
      case OBS_GAUGE: {
        if (firstChar === CH_PLUS || firstChar === CH_MINUS) {
          // `+N`/`-N` is a delta on the gauge's current value, this interval's or a remembered one.
          if (!series.hasValue) series.value = this.gaugeMemory.get(series.key)?.value ?? 0;
          series.value += v;
        } else series.value = v;
        series.hasValue = true;
        series.isInt = Number.isInteger(series.value);
        return;
      }
      default:
        series.hasValue = true;
        series.observe(d.kind === KIND_TIMING ? v * this.timingScale : v, d.weight);
    }
  }

  /** The slow path: work out what a raw (name, tail) means, finding or creating its series. */
  private describe(text: string, start: number, colon: number, pipe: number, end: number): Descriptor {
    const d: Descriptor = { bad: '', kind: KIND_COUNTER, series: null, disabled: false, weight: 1, rate: 1, timeNs: 0 };
    let typeEnd = text.indexOf('|', pipe + 1);
    if (typeEnd === -1 || typeEnd > end) typeEnd = end;
    const kind = kindOf(text.slice(pipe + 1, typeEnd));
    if (kind === -1) return { ...d, bad: 'unknown_type' };
    d.kind = kind;
    const rawName = text.slice(start, colon);
    if (rawName.includes('|') || rawName.includes('#')) return { ...d, bad: 'bad_name' };

    const attributes: Attributes = {};
    let pos = typeEnd;
    while (pos < end) {
      let next = text.indexOf('|', pos + 1);
      if (next === -1 || next > end) next = end;
      const field = text.slice(pos + 1, next);
      pos = next;
      if (field.length === 0) continue;
      const c = field.charCodeAt(0);
      if (c === 64 /* @ */) {
        const rate = parseNumber(field, 1, field.length);
        if (!(rate > 0)) return { ...d, bad: 'bad_sample_rate' };
        // Rates above 1 are meaningless; treat them as unsampled rather than shrink the data.
        if (rate < 1) {
          d.rate = rate;
          d.weight = 1 / rate;
        }
      } else if (c === 35 /* # */) {
        const bad = this.parseTags(field, attributes);
        if (bad !== '') return { ...d, bad };
      } else if (c === 84 /* T */) {
        if (!/^T\d{1,12}$/.test(field)) return { ...d, bad: 'bad_timestamp' };
        d.timeNs = Number(field.slice(1)) * 1e9;
      } else if (field.startsWith('c:')) {
        if (field.length > 2) attributes['container.id'] = utf8(field.slice(2));
      }
      // `e:` (external data, 1.5), `card:` (tag cardinality, 1.6) and fields of later
      // protocol versions carry nothing for the data model: accepted and ignored.
    }
    if (this.metricTypeAttr) attributes.metric_type = KIND_NAMES[kind];

    const settings = this.observers[kind];
    if (settings.disabled) {
      d.disabled = true;
      return d;
    }
    let name = this.prefix + utf8(rawName);
    if (this.sanitize) name = name.replace(BAD_NAME_CHARS_RE, '_');
    const key = kind + '\u0000' + name + '\u0000' + attributesKey(attributes);
    let series = this.series.get(key);
    if (series === undefined && this.series.size < this.maxSeries) {
      series = new Series(key, kind, name, attributes, settings);
      this.series.set(key, series);
    }
    d.series = series ?? null;
    return d;
  }

  /** `#k:v,bare,…` into attributes; returns a bad-line reason or ''. */
  private parseTags(field: string, attributes: Attributes): string {
    if (field.length === 1) return ''; // an empty tag list, as some clients send
    for (const tag of field.slice(1).split(',')) {
      if (tag.length === 0) continue;
      const sep = tag.indexOf(':');
      if (sep === 0) return 'bad_tag';
      if (sep === -1) {
        if (!this.simpleTags) return 'bare_tag';
        attributes[utf8(tag)] = '';
      } else {
        // The first `:` splits; values may hold more (`url:http://x`). A repeated key: last wins.
        attributes[utf8(tag.slice(0, sep))] = utf8(tag.slice(sep + 1));
      }
    }
    return '';
  }

  /** Hand over this interval's aggregates as one batch and start a new interval. */
  flush(nowNs = nowUnixNano()): FlushResult {
    const startNs = this.intervalStartNs;
    const series = this.series;
    this.series = new Map();
    this.table.clear();
    this.intervalStartNs = nowNs;

    const byName = new Map<string, Metric>();
    let points = 0;
    for (const s of series.values()) {
      if (s.observer === OBS_GAUGE) this.rememberGauge(s, nowNs);
      // A series whose every line turned out bad (its value, after the tail was fine) has nothing to say.
      if (!s.hasValue) continue;
      const metricKey = s.kind + '\u0000' + s.name;
      let metric = byName.get(metricKey);
      if (metric === undefined) {
        metric = this.newMetric(s);
        byName.set(metricKey, metric);
      }
      const settings = this.observers[s.kind];
      (metric.points as unknown[]).push(s.toPoint(startNs, nowNs, settings.quantiles));
      points++;
    }
    this.expireGauges(nowNs);
    const metrics = [...byName.values()];
    const batch: MetricsBatch = {
      resourceMetrics:
        metrics.length === 0 ? [] : [{ resource: { attributes: {} }, scopeMetrics: [{ scope: { name: SCOPE_NAME, version: '', attributes: {} }, metrics }] }],
    };
    return { batch, points };
  }

  private newMetric(s: Series): Metric {
    const unit = s.kind === KIND_TIMING ? this.timingUnit : '';
    const base = { name: s.name, description: '', unit };
    switch (s.observer) {
      case OBS_SUM:
        return { ...base, type: 'sum', temporality: 'delta', monotonic: this.monotonic, points: [] };
      case OBS_GAUGE:
      case OBS_LAST:
      case OBS_SET:
        return { ...base, type: 'gauge', points: [] };
      case OBS_EXP:
        return { ...base, type: 'exponential_histogram', temporality: 'delta', points: [] };
      case OBS_EXPLICIT:
        return { ...base, type: 'histogram', temporality: 'delta', points: [] };
      default:
        return { ...base, type: 'summary', points: [] };
    }
  }

  private rememberGauge(s: Series, nowNs: number): void {
    if (!s.hasValue) return;
    const m = this.gaugeMemory.get(s.key);
    if (m) {
      m.value = s.value;
      m.seenAtNs = nowNs;
    } else if (this.gaugeMemory.size < this.maxSeries) {
      this.gaugeMemory.set(s.key, { value: s.value, seenAtNs: nowNs });
    }
  }

  private expireGauges(nowNs: number): void {
    for (const [k, m] of this.gaugeMemory) if (nowNs - m.seenAtNs > GAUGE_MEMORY_NS) this.gaugeMemory.delete(k);
  }
}

/** Non-empty lines in a datagram, without parsing it (for counting one dropped whole). */
export function countLines(buf: Uint8Array): number {
  let lines = 0;
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i < buf.length && buf[i] !== CH_LF) continue;
    const end = i > start && buf[i - 1] === CH_CR ? i - 1 : i;
    if (end > start) lines++;
    start = i + 1;
  }
  return lines;
}

/** Packed values in `buf[from, to)` (for counting refused samples). */
function countValues(buf: Uint8Array, from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) if (buf[i] === CH_COLON) n++;
  return n;
}
