/**
 * Vendor exporters' throughput: `node bench/vendors.ts`.
 *
 * Drives the `datadog` (aggregates and distributions) and `cloudwatch`
 * exporters, built by their factories, with a realistic mix per batch
 * (cumulative counters, gauges, explicit histograms; 4 attributes per point;
 * timestamps advancing so cumulative series yield deltas) against the fake
 * backends of test/fakes, which run in a child process so their CPU (JSON
 * parsing, SigV4 verification) is not counted. Prints input points/s of wall
 * time and points per CPU-second of this process (translation, encoding,
 * compression, HTTP/SDK).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Exporter } from '../src/component.ts';
import type { Metric, MetricsBatch } from '../src/model/metrics.ts';
import { testHost, testSettings } from '../src/testing/settings.ts';
import { datadogExporterFactory } from '../src/exporters/datadog/factory.ts';
import { datadogConfigSchema } from '../src/exporters/datadog/config.ts';
import { cloudwatchExporterFactory } from '../src/exporters/cloudwatch/factory.ts';
import { cloudwatchConfigSchema } from '../src/exporters/cloudwatch/config.ts';
import { TEST_CREDENTIALS } from '../test/fakes/cloudwatch.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const SECONDS = Number(process.env.SECONDS ?? 5);
const SERIES = Number(process.env.SERIES ?? 2000);
const IN_FLIGHT = 4;

function attrs(i: number) {
  return { 'http.method': ['GET', 'POST', 'PUT', 'DELETE'][i % 4], 'http.route': `/api/v1/items/${i % 50}`, 'http.status_code': 200 + (i % 5), pod: `pod-${i % 17}`, instance: `i-${i}` };
}

/** One batch per step: 50% cumulative counters, 35% gauges, 15% histograms (10 buckets). */
/** Batches get strictly increasing timestamps (1 ms apart, inside the backends' accepted window), as successive exports do. */
const T_BASE = (Date.now() - 20 * 60_000) * 1e6;

function makeBatch(step: number): MetricsBatch {
  const now = T_BASE + step * 1e6;
  const start = T_BASE - 3600e9;
  const counters = [];
  const gauges = [];
  const hists = [];
  for (let i = 0; i < SERIES; i++) {
    const kind = i % 20;
    if (kind < 10) counters.push({ attributes: attrs(i), startTimeUnixNano: start, timeUnixNano: now, value: step * 10 + i });
    else if (kind < 17) gauges.push({ attributes: attrs(i), startTimeUnixNano: 0, timeUnixNano: now, value: (i * 7.3) % 100 });
    else {
      const c = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 5].map((x) => x * (step + 1));
      hists.push({ attributes: attrs(i), startTimeUnixNano: start, timeUnixNano: now, count: c.reduce((a, b) => a + b, 0), sum: 42.5 * (step + 1), explicitBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], bucketCounts: c });
    }
  }
  const metrics: Metric[] = [
    { type: 'sum', name: 'app.requests', description: '', unit: '{request}', temporality: 'cumulative', monotonic: true, points: counters },
    { type: 'gauge', name: 'app.queue.depth', description: '', unit: '1', points: gauges },
    { type: 'histogram', name: 'http.server.duration', description: '', unit: 's', temporality: 'cumulative', points: hists },
  ];
  return { resourceMetrics: [{ resource: { attributes: { 'service.name': 'checkout', 'host.name': 'node-1', 'k8s.pod.name': 'checkout-7d9' } }, scopeMetrics: [{ scope: { name: 'bench', version: '1', attributes: {} }, metrics }] }] };
}

async function run(name: string, exp: Exporter, sentOf: () => number, failedOf: () => number, reasons: () => unknown = () => ({})): Promise<number> {
  await exp.start(testHost());
  // Seed the cumulative state so the measured batches are all deltas.
  await exp.consume(makeBatch(0));
  const base = sentOf();
  let step = 1;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + SECONDS * 1000;
  let points = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      // Batches are built before the clock starts mattering: building is the app's cost, not the exporter's.
      const b = makeBatch(step++);
      points += SERIES;
      await exp.consume(b);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  await exp.shutdown();
  const delivered = sentOf() - base;
  const perCpu = points / cpuS;
  console.log(
    `${name.padEnd(28)} ${Math.round(points / wall).toLocaleString('en-US').padStart(10)} points/s  ${Math.round(perCpu).toLocaleString('en-US').padStart(10)} points/CPU-s  (cpu ${(cpuS / wall).toFixed(2)} cores, delivered ${delivered}/${points}, failed ${failedOf()}${failedOf() ? " " + JSON.stringify(reasons()) : ""}) ${vsPrevious('vendors', name, perCpu)}`,
  );
  return perCpu;
}

const fakes = spawn(process.execPath, [fileURLToPath(new URL('./lib/vendor-fakes.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = await new Promise<{ datadog: string; cloudwatch: string }>((resolve, reject) => {
  createInterface({ input: fakes.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
  fakes.once('exit', (c) => reject(new Error(`fakes exited ${c}`)));
});
process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;

console.log(`${SERIES} points per batch (50% cumulative counters, 35% gauges, 15% histograms), ${IN_FLIGHT} batches in flight, ${SECONDS}s each`);
const figures: Record<string, number> = {};
const helper = { sending_queue: { enabled: false }, retry_on_failure: { enabled: false } };
for (const mode of ['aggregates', 'distributions'] as const) {
  const s = testSettings('exporter', 'datadog');
  const cfg = datadogConfigSchema.parse({ api: { key: 'test-api-key' }, endpoint: urls.datadog, metrics: { histograms: { mode } }, ...helper });
  const name = `datadog (${mode})`;
  figures[name] = await run(name, datadogExporterFactory.create(s, cfg), () => s.telemetry.exporterSent.get({ exporter: 'datadog' }), () => s.telemetry.exporterFailed.sum({ exporter: 'datadog' }), () => s.telemetry.exporterFailed.samples().map((x) => [x.labels.reason, x.value]));
}
for (const mode of ['values', 'statistic_set'] as const) {
  const s = testSettings('exporter', 'cloudwatch');
  const cfg = cloudwatchConfigSchema.parse({ namespace: 'Bench', region: 'us-east-1', endpoint: urls.cloudwatch, histograms: { mode }, dimensions: { exclude: ['pod'] }, ...helper });
  const name = `cloudwatch (${mode})`;
  figures[name] = await run(name, cloudwatchExporterFactory.create(s, cfg), () => s.telemetry.exporterSent.get({ exporter: 'cloudwatch' }), () => s.telemetry.exporterFailed.sum({ exporter: 'cloudwatch' }), () => s.telemetry.exporterFailed.samples().map((x) => [x.labels.reason, x.value]));
}
record('vendors', figures);
fakes.kill('SIGTERM');
await new Promise((r) => fakes.once('exit', r));
