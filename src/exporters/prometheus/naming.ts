/**
 * OTel → Prometheus names, after the OpenTelemetry "Prometheus and OpenMetrics
 * compatibility" spec (the rules otelcol-contrib's translator applies):
 *
 * - metric names keep `[a-zA-Z0-9:]`; every run of other characters becomes
 *   one `_`; a leading digit gets a `_` prefix;
 * - with suffixes on, the UCUM unit is spelled out (`ms` → `milliseconds`,
 *   `By` → `bytes`, `/s` → `per_second`, `{…}` annotations dropped) unless
 *   the name already holds that word; monotonic sums end in `_total` and
 *   gauges with unit `1` in `_ratio`;
 * - label names keep `[a-zA-Z0-9_]`, runs of `_` collapse, a leading digit
 *   gets `key_`.
 *
 * Results are memoised: names repeat in every batch, and these run per metric
 * and per attribute key.
 */

export type PromKind = 'counter' | 'gauge' | 'histogram' | 'summary';

const UNITS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

const PER_UNITS: Record<string, string> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** Split on every character outside `[a-zA-Z0-9:]`, dropping empty tokens. */
function metricTokens(s: string): string[] {
  return s.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
}

/** A unit word made name-safe: invalid runs → `_`, no leading/trailing `_`. */
function cleanUnitWord(s: string): string {
  return metricTokens(s).join('_');
}

/** The main and per-unit words for a UCUM unit: `By/s` → [`bytes`, `per_second`]. */
export function unitWords(unit: string): [string, string] {
  const slash = unit.indexOf('/');
  const main = (slash < 0 ? unit : unit.slice(0, slash)).trim();
  const per = slash < 0 ? '' : unit.slice(slash + 1).trim();
  // `{requests}` and friends are annotations, not units: they add nothing to the name.
  const mainWord = main === '' || /[{}]/.test(main) ? '' : cleanUnitWord(UNITS[main] ?? main);
  const perWord = per === '' || /[{}]/.test(per) ? '' : cleanUnitWord(PER_UNITS[per] ?? per);
  return [mainWord, perWord === '' ? '' : 'per_' + perWord];
}

function leadingDigitSafe(name: string): string {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57 ? '_' + name : name;
}

function buildMetricName(name: string, unit: string, kind: PromKind, monotonic: boolean, namespace: string, suffixes: boolean): string {
  if (!suffixes) {
    const base = metricTokens(name).join('_');
    const ns = metricTokens(namespace).join('_');
    return leadingDigitSafe(ns === '' ? base : base === '' ? ns : ns + '_' + base);
  }
  let tokens = metricTokens(name);
  const [mainWord, perWord] = unitWords(unit);
  if (mainWord !== '' && !tokens.includes(mainWord)) tokens.push(mainWord);
  // `per_second` is two tokens once joined; compare against the joined tail.
  if (perWord !== '' && !tokens.join('_').endsWith(perWord)) tokens.push(perWord);
  if (kind === 'counter' && monotonic) {
    tokens = tokens.filter((t) => t !== 'total');
    tokens.push('total');
  }
  if (unit === '1' && kind === 'gauge') {
    tokens = tokens.filter((t) => t !== 'ratio');
    tokens.push('ratio');
  }
  const ns = metricTokens(namespace);
  if (ns.length > 0) tokens = ns.concat(tokens);
  return leadingDigitSafe(tokens.join('_'));
}

const metricNameCache = new Map<string, string>();
const CACHE_LIMIT = 50_000;

/** The Prometheus metric family name of an OTel metric. */
export function metricName(name: string, unit: string, kind: PromKind, monotonic: boolean, namespace: string, suffixes: boolean): string {
  const key = `${kind}\u0000${monotonic ? 1 : 0}\u0000${suffixes ? 1 : 0}\u0000${namespace}\u0000${unit}\u0000${name}`;
  let out = metricNameCache.get(key);
  if (out === undefined) {
    out = buildMetricName(name, unit, kind, monotonic, namespace, suffixes);
    // Bounded: a flood of distinct names must not grow memory forever.
    if (metricNameCache.size >= CACHE_LIMIT) metricNameCache.clear();
    metricNameCache.set(key, out);
  }
  return out;
}

const labelNameCache = new Map<string, string>();

/** The Prometheus label name of an attribute key; '' when nothing usable is left. */
export function labelName(key: string): string {
  let out = labelNameCache.get(key);
  if (out !== undefined) return out;
  out = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  if (out === '_') out = '';
  else {
    const c = out.charCodeAt(0);
    if (c >= 48 && c <= 57) out = 'key_' + out;
  }
  if (labelNameCache.size >= CACHE_LIMIT) labelNameCache.clear();
  labelNameCache.set(key, out);
  return out;
}

/** Escape a label value for both text formats: backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  // Most values need no escaping; test before allocating.
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escape HELP text: backslash and newline (quotes stay as they are). */
export function escapeHelp(v: string): string {
  if (!/[\\\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
