/**
 * Exposition of the store: Prometheus text 0.0.4 and OpenMetrics 1.0.
 *
 * This is the hot path of a scrape. Label bodies are rendered once at ingest;
 * each series' encoded lines are kept until its next update; `le` strings are
 * rendered once per bucket layout.
 *
 * OpenMetrics differences handled here: a counter family is named without
 * `_total` and its samples always carry `_total`; `target_info` is the `info`
 * family `target`; `le`/`quantile` values are canonical floats (`1.0`);
 * timestamps are seconds; the exposition ends with `# EOF`. `_created` is not
 * written (optional in OpenMetrics, and Prometheus 2.x would ingest it as a
 * separate series).
 */
import type { Family, HistogramSeries, NumberSeries, Series, SeriesStore, SummarySeries } from './store.ts';
import { escapeHelp } from './naming.ts';

export type ExpositionFormat = 'text' | 'openmetrics';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const TARGET_INFO_HELP = 'Target metadata';

export interface SerializeOptions {
  format: ExpositionFormat;
  sendTimestamps: boolean;
}

export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** OpenMetrics canonical float for `le`/`quantile`: integers get `.0`. */
function formatFloatLabel(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(1);
  return formatValue(v);
}

function timestampSuffix(timeNs: number, format: ExpositionFormat): string {
  if (timeNs <= 0) return '';
  const ms = Math.round(timeNs / 1e6);
  return format === 'text' ? ' ' + ms : ' ' + ms / 1000;
}

function familyName(f: Family, format: ExpositionFormat): string {
  if (format === 'openmetrics' && f.kind === 'counter' && f.name.endsWith('_total')) return f.name.slice(0, -6);
  return f.name;
}

/** Which cached encoding a scrape can reuse: format × timestamps. */
function variantKey(opts: SerializeOptions): number {
  return (opts.format === 'text' ? 0 : 2) + (opts.sendTimestamps ? 1 : 0);
}

const EOF_LINE = Buffer.from('# EOF\n');

/**
 * The exposition as bytes, ready for the response. Each series keeps its
 * encoded lines until it is next updated, so a scrape mostly concatenates
 * buffers: encoding a multi-megabyte string on every scrape (and flattening
 * the rope it was built as) would cost several times more.
 */
export function serializeToBuffer(store: SeriesStore, opts: SerializeOptions): Buffer {
  const { format, sendTimestamps } = opts;
  const key = variantKey(opts);
  const parts: Buffer[] = [];
  if (store.targetInfo.size > 0) {
    let info =
      format === 'text'
        ? `# HELP target_info ${TARGET_INFO_HELP}\n# TYPE target_info gauge\n`
        : `# TYPE target info\n# HELP target ${TARGET_INFO_HELP}\n`;
    for (const body of store.targetInfo.keys()) info += 'target_info{' + body + '} 1\n';
    parts.push(Buffer.from(info));
  }
  for (const f of store.families.values()) {
    if (f.series.size === 0) continue;
    const name = familyName(f, format);
    if (f.header === undefined || f.headerKey !== key) {
      // OpenMetrics escapes double quotes in HELP too; the text format leaves them.
      const help = format === 'text' ? escapeHelp(f.help) : escapeHelp(f.help).replace(/"/g, '\\"');
      f.header = Buffer.from('# HELP ' + name + ' ' + help + '\n# TYPE ' + name + ' ' + f.kind + '\n');
      f.headerKey = key;
    }
    parts.push(f.header);
    for (const s of f.series.values()) {
      if (s.cache === undefined || s.cacheKey !== key) {
        s.cache = Buffer.from(seriesLines(f, name, s, format, sendTimestamps));
        s.cacheKey = key;
      }
      parts.push(s.cache);
    }
  }
  if (format === 'openmetrics') parts.push(EOF_LINE);
  return Buffer.concat(parts);
}

/** The exposition as text (tests, debugging). */
export function serialize(store: SeriesStore, opts: SerializeOptions): string {
  return serializeToBuffer(store, opts).toString('utf8');
}

function seriesLines(f: Family, name: string, s: Series, format: ExpositionFormat, sendTimestamps: boolean): string {
  switch (f.kind) {
    case 'counter':
    case 'gauge': {
      const n = s as NumberSeries;
      const sample = format === 'openmetrics' && f.kind === 'counter' ? name + '_total' : name;
      const labels = n.labels === '' ? '' : '{' + n.labels + '}';
      return sample + labels + ' ' + formatValue(n.value) + (sendTimestamps ? timestampSuffix(n.timeNs, format) : '') + '\n';
    }
    case 'histogram':
      return histogramLines(name, s as HistogramSeries, format, sendTimestamps);
    case 'summary':
      return summaryLines(name, s as SummarySeries, format, sendTimestamps);
  }
}

function histogramLines(name: string, s: HistogramSeries, format: ExpositionFormat, sendTimestamps: boolean): string {
  const ts = sendTimestamps ? timestampSuffix(s.timeNs, format) : '';
  const open = s.labels === '' ? '{le="' : '{' + s.labels + ',le="';
  const les = format === 'text' ? (s.leText ??= s.bounds.map(formatValue)) : (s.leOpenMetrics ??= s.bounds.map(formatFloatLabel));
  const bucket = name + '_bucket' + open;
  let out = '';
  for (let i = 0; i < les.length; i++) out += bucket + les[i] + '"} ' + formatValue(s.cumulative[i]) + ts + '\n';
  out += bucket + '+Inf"} ' + formatValue(s.count) + ts + '\n';
  const labels = s.labels === '' ? '' : '{' + s.labels + '}';
  out += name + '_sum' + labels + ' ' + formatValue(s.sum) + ts + '\n';
  out += name + '_count' + labels + ' ' + formatValue(s.count) + ts + '\n';
  return out;
}

function summaryLines(name: string, s: SummarySeries, format: ExpositionFormat, sendTimestamps: boolean): string {
  const ts = sendTimestamps ? timestampSuffix(s.timeNs, format) : '';
  const open = s.labels === '' ? '{quantile="' : '{' + s.labels + ',quantile="';
  let out = '';
  for (const q of s.quantiles) {
    out += name + open + (format === 'text' ? formatValue(q.quantile) : formatFloatLabel(q.quantile)) + '"} ' + formatValue(q.value) + ts + '\n';
  }
  const labels = s.labels === '' ? '' : '{' + s.labels + '}';
  out += name + '_sum' + labels + ' ' + formatValue(s.sum) + ts + '\n';
  out += name + '_count' + labels + ' ' + formatValue(s.count) + ts + '\n';
  return out;
}

/**
 * Choose the format from an `Accept` header: OpenMetrics when enabled and
 * the client ranks it at least as high as the text format.
 */
export function negotiate(accept: string | undefined, openMetricsEnabled: boolean): ExpositionFormat {
  if (!openMetricsEnabled || !accept || !accept.includes('application/openmetrics-text')) return 'text';
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim());
    let q = 1;
    for (const p of params) if (p.startsWith('q=')) q = Number(p.slice(2)) || 0;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*') text = Math.max(text, q);
  }
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}
