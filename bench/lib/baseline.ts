/**
 * Figures of the previous version, kept in bench/baseline.json, so each run
 * prints its ratio against them. `--record` (or BENCH_RECORD=1) stores this
 * run's figures as the new baseline.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../baseline.json', import.meta.url));

type Baseline = Record<string, Record<string, number>>;

function load(): Baseline {
  return existsSync(FILE) ? (JSON.parse(readFileSync(FILE, 'utf8')) as Baseline) : {};
}

/** "x1.23 vs previous" when a baseline figure exists; higherIsBetter decides the wording only. */
export function vsPrevious(bench: string, key: string, value: number): string {
  const prev = load()[bench]?.[key];
  if (prev === undefined || prev === 0) return '(no previous figure)';
  return `(x${(value / prev).toFixed(2)} vs previous ${prev.toLocaleString('en-US', { maximumFractionDigits: 2 })})`;
}

export function record(bench: string, figures: Record<string, number>): void {
  if (!process.argv.includes('--record') && process.env.BENCH_RECORD !== '1') return;
  const all = load();
  all[bench] = figures;
  writeFileSync(FILE, JSON.stringify(all, null, 2) + '\n');
}
