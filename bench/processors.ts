/**
 * Cost per data point of each processor in the pipeline: `node bench/processors.ts`.
 *
 * Batch: 1,000 metrics × 10 points, 5 attributes per point, one resource
 * (delta sums, gauges and histograms in turn). Each processor runs through
 * its factory, as in the daemon, with a discarding consumer after it. Since
 * processors change batches in place, each iteration gets a fresh copy, made
 * outside the timed region. Prints wall and CPU nanoseconds per point; the
 * first line (an empty consumer) is the timing overhead.
 */
import { cloneBatch, type Metric, type MetricsBatch } from '../src/model/metrics.ts';
import type { MetricsConsumer } from '../src/consumer.ts';
import type { ProcessorFactory } from '../src/component.ts';
import { testHost, testSettings } from '../src/testing/settings.ts';
import { samplingProcessorFactory } from '../src/processors/sampling/factory.ts';
import { memoryLimiterProcessorFactory } from '../src/processors/memory_limiter/factory.ts';
import { filterProcessorFactory } from '../src/processors/filter/factory.ts';
import { attributesProcessorFactory } from '../src/processors/attributes/factory.ts';
import { resourceProcessorFactory } from '../src/processors/resource/factory.ts';
import { cardinalityLimitProcessorFactory } from '../src/processors/cardinality_limit/factory.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const METRICS = 1000;
const POINTS = 10;
const SECONDS = Number(process.env.SECONDS ?? 1.5);
const T0 = 1_700_000_000_000_000_000;

function template(): MetricsBatch {
  const metrics: Metric[] = [];
  for (let m = 0; m < METRICS; m++) {
    const points = Array.from({ length: POINTS }, (_, i) => ({
      attributes: { 'http.method': i % 2 ? 'GET' : 'POST', 'http.route': `/api/v1/items/${i}`, 'http.status_code': 200 + (i % 3), env: 'prod', 'user.id': `user-${(m * POINTS + i) % 500}` },
      startTimeUnixNano: T0,
      timeUnixNano: T0 + 10e9,
    }));
    const name = `app.metric_${m}`;
    if (m % 3 === 0) metrics.push({ type: 'sum', name, description: '', unit: '1', temporality: 'delta', monotonic: true, points: points.map((p, i) => ({ ...p, value: i + 1, isInt: true })) });
    else if (m % 3 === 1) metrics.push({ type: 'gauge', name, description: '', unit: '1', points: points.map((p, i) => ({ ...p, value: i * 1.5 })) });
    else
      metrics.push({
        type: 'histogram',
        name,
        description: '',
        unit: 'ms',
        temporality: 'delta',
        points: points.map((p) => ({ ...p, count: 10, sum: 420, explicitBounds: [5, 10, 25, 50, 100], bucketCounts: [1, 2, 3, 2, 1, 1] })),
      });
  }
  return {
    resourceMetrics: [
      { resource: { attributes: { 'service.name': 'checkout', 'tenant.id': 'acme', 'k8s.pod.uid': 'u-1' } }, scopeMetrics: [{ scope: { name: 'bench', version: '1', attributes: {} }, metrics }] },
    ],
  };
}

const TEMPLATE = template();
const POINTS_PER_BATCH = METRICS * POINTS;
const discard: MetricsConsumer = { async consume() {} };

interface Figure {
  wallNs: number;
  cpuNs: number;
}

async function measure(fn: (b: MetricsBatch) => Promise<void> | void): Promise<Figure> {
  const batches = () => cloneBatch(TEMPLATE);
  for (let i = 0; i < 20; i++) await fn(batches());
  (globalThis as { gc?: () => void }).gc?.();
  let iterations = 0;
  let wall = 0;
  let cpu = 0;
  const deadline = performance.now() + SECONDS * 1000;
  while (performance.now() < deadline) {
    const b = batches();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn(b);
    wall += Number(process.hrtime.bigint() - t0);
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) * 1000;
    iterations++;
  }
  return { wallNs: wall / (iterations * POINTS_PER_BATCH), cpuNs: cpu / (iterations * POINTS_PER_BATCH) };
}

async function bench(name: string, factory: ProcessorFactory, raw: unknown): Promise<[string, Figure]> {
  const cfg = factory.configSchema.parse(raw);
  const proc = factory.create(testSettings('processor', factory.type, 'metrics'), cfg, discard);
  await proc.start(testHost());
  const fig = await measure((b) => proc.consume(b));
  await proc.shutdown();
  return [name, fig];
}

const results: Array<[string, Figure]> = [];
results.push(['(timing overhead)', await measure(() => {})]);
results.push(await bench('sampling series 0.5', samplingProcessorFactory, { default_rate: 0.5 }));
results.push(await bench('sampling point 0.1', samplingProcessorFactory, { default_rate: 0.1, default_method: 'point', seed: 1 }));
results.push(
  await bench('sampling rules + adaptive', samplingProcessorFactory, {
    rules: [{ name: 'hist', match_type: 'glob', metric_names: ['app.metric_*2'], rate: 0.2, method: 'point' }, { name: 'dev', attributes: [{ key: 'env', value: 'dev' }], rate: 0 }],
    adaptive: { max_points_per_second: 1e12 },
  }),
);
results.push(await bench('memory_limiter', memoryLimiterProcessorFactory, { limit_mib: 1 << 20, check_interval: '1s' }));
results.push(
  await bench('filter names + attributes', filterProcessorFactory, {
    metrics: { include: { match_type: 'regexp', metric_names: ['^app\\.'] }, exclude: { match_type: 'strict', record_attributes: [{ key: 'env', value: 'dev' }] } },
  }),
);
results.push(await bench('attributes upsert from resource', attributesProcessorFactory, { actions: [{ key: 'tenant.id', from_context: 'resource.tenant.id', action: 'upsert' }] }));
results.push(
  await bench('attributes upsert+hash+extract+delete', attributesProcessorFactory, {
    actions: [
      { key: 'tenant.id', from_context: 'resource.tenant.id', action: 'upsert' },
      { key: 'user.id', action: 'hash' },
      { key: 'http.route', pattern: '^/api/(?<api_version>v\\d+)/', action: 'extract' },
      { key: 'env', action: 'delete' },
    ],
  }),
);
results.push(await bench('resource upsert+delete', resourceProcessorFactory, { attributes: [{ key: 'deployment.environment', value: 'prod', action: 'upsert' }, { key: 'k8s.pod.uid', action: 'delete' }] }));
results.push(await bench('cardinality_limit (under cap)', cardinalityLimitProcessorFactory, { max_series_per_metric: 100 }));
results.push(await bench('cardinality_limit (over cap, fold)', cardinalityLimitProcessorFactory, { max_series_per_metric: 3, max_series_per_attribute: { 'user.id': 50 } }));

const overhead = results[0][1];
const figures: Record<string, number> = {};
console.log(`${METRICS} metrics × ${POINTS} points, 5 attributes; ns per point (timing overhead: ${overhead.wallNs.toFixed(1)} ns wall, ${overhead.cpuNs.toFixed(1)} ns CPU)`);
for (const [name, f] of results.slice(1)) {
  const wall = Math.max(0, f.wallNs);
  const cpu = Math.max(0, f.cpuNs);
  figures[name] = Math.round(wall);
  console.log(`${name.padEnd(40)} ${wall.toFixed(0).padStart(6)} ns/point wall  ${cpu.toFixed(0).padStart(6)} ns/point CPU  ${vsPrevious('processors', name, wall)}`);
}
record('processors', figures);
