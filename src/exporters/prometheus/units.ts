/**
 * Conversion of OTel units to Prometheus base units (seconds, bytes).
 *
 * Prometheus names carry their unit, and its conventions — enforced by
 * `promtool check metrics` — want base units: `_seconds`, not
 * `_milliseconds`; `_bytes`, not `_kibibytes`. With `convert_to_base_units`
 * (the default) a metric recorded in `ms` is exposed as `…_seconds` with its
 * values, bucket bounds and sums scaled, so dashboards and `histogram_quantile`
 * read seconds as everywhere else in Prometheus. Turn it off to get otelcol's
 * names (`…_milliseconds`) and values unchanged.
 */

const TO_BASE: Record<string, [string, number]> = {
  ns: ['s', 1e-9],
  us: ['s', 1e-6],
  µs: ['s', 1e-6],
  ms: ['s', 1e-3],
  min: ['s', 60],
  h: ['s', 3600],
  d: ['s', 86_400],
  KiBy: ['By', 1024],
  MiBy: ['By', 1024 ** 2],
  GiBy: ['By', 1024 ** 3],
  TiBy: ['By', 1024 ** 4],
  KBy: ['By', 1e3],
  MBy: ['By', 1e6],
  GBy: ['By', 1e9],
  TBy: ['By', 1e12],
  bit: ['By', 1 / 8],
};

export interface BaseUnit {
  unit: string;
  factor: number;
}

const cache = new Map<string, BaseUnit | null>();

/** The base unit and the factor to multiply values by, or undefined when `unit` is already base (or unknown). */
export function toBaseUnit(unit: string): BaseUnit | undefined {
  let hit = cache.get(unit);
  if (hit === undefined) {
    // Only the main unit is scaled: `KiBy/s` → `By/s`, `ms/{request}` → `s/{request}`.
    const slash = unit.indexOf('/');
    const main = slash < 0 ? unit : unit.slice(0, slash);
    const conv = TO_BASE[main.trim()];
    hit = conv ? { unit: conv[0] + (slash < 0 ? '' : unit.slice(slash)), factor: conv[1] } : null;
    cache.set(unit, hit);
  }
  return hit ?? undefined;
}

/** Scale a value, keeping small integers exact where the factor is a power of ten (1e-3 * 5 → 0.005, not 0.005000000000000001). */
export function scaleValue(v: number, factor: number): number {
  if (factor >= 1 || v === 0 || !Number.isFinite(v)) return v * factor;
  const inv = 1 / factor;
  return Number.isInteger(inv) ? v / inv : v * factor;
}
