/** UCUM units (as OpenTelemetry writes them) → CloudWatch's `StandardUnit`. */

const UNITS: Record<string, string> = {
  s: 'Seconds',
  ms: 'Milliseconds',
  us: 'Microseconds',
  By: 'Bytes',
  KBy: 'Kilobytes',
  KiBy: 'Kilobytes',
  MBy: 'Megabytes',
  MiBy: 'Megabytes',
  GBy: 'Gigabytes',
  GiBy: 'Gigabytes',
  TBy: 'Terabytes',
  TiBy: 'Terabytes',
  bit: 'Bits',
  Kibit: 'Kilobits',
  kbit: 'Kilobits',
  Kbit: 'Kilobits',
  Mbit: 'Megabits',
  Gbit: 'Gigabits',
  Tbit: 'Terabits',
  '%': 'Percent',
  'By/s': 'Bytes/Second',
  'KBy/s': 'Kilobytes/Second',
  'KiBy/s': 'Kilobytes/Second',
  'MBy/s': 'Megabytes/Second',
  'MiBy/s': 'Megabytes/Second',
  'GBy/s': 'Gigabytes/Second',
  'GiBy/s': 'Gigabytes/Second',
  'TBy/s': 'Terabytes/Second',
  'bit/s': 'Bits/Second',
  'Kbit/s': 'Kilobits/Second',
  'kbit/s': 'Kilobits/Second',
  'Mbit/s': 'Megabits/Second',
  'Gbit/s': 'Gigabits/Second',
  'Tbit/s': 'Terabits/Second',
  '1/s': 'Count/Second',
};

/**
 * `counted` is true for sums: dimensionless sums (`1`, `{requests}`, empty)
 * are counts of things; dimensionless gauges are plain numbers (`None`).
 */
export function cloudWatchUnit(ucum: string, counted: boolean): string {
  const mapped = UNITS[ucum];
  if (mapped !== undefined) return mapped;
  if (/^\{[^}]*\}\/s$/.test(ucum)) return 'Count/Second';
  if (ucum === '' || ucum === '1' || /^\{[^}]*\}$/.test(ucum)) return counted || ucum.startsWith('{') ? 'Count' : 'None';
  return 'None';
}
