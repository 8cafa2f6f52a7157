/**
 * `npm run bench`: runs every benchmark in its own process, one after the
 * other (they measure CPU, so they must not overlap), and prints their
 * reports. `npm run bench -- statsd otlp` runs only the named ones.
 *
 * Every benchmark compares against a peer run in the same process tree (etsy's
 * statsd daemon) or against the figures recorded in bench/baseline.json for
 * the previous version, and prints the ratio.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const dir = fileURLToPath(new URL('.', import.meta.url));
const ALL = [
  'otlp-ingest',
  'otlp-decode',
  'prometheus-scrape',
  'statsd',
  'processors',
  'exporters',
  'vendors',
  'postgres',
  'reload',
];

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = wanted.length > 0 ? ALL.filter((b) => wanted.some((w) => b.includes(w))) : ALL;
let failed = 0;
for (const name of selected) {
  const file = join(dir, `${name}.ts`);
  if (!existsSync(file)) continue;
  process.stdout.write(`\n=== bench/${name}.ts ===\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--expose-gc', file], { stdio: 'inherit', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`bench/${name}.ts failed (exit ${r.status ?? r.signal})\n`);
  }
  process.stdout.write(`(${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}
process.exit(failed > 0 ? 1 : 0);
