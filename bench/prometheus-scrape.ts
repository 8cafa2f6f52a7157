/**
 * Prometheus exposition throughput: `node bench/prometheus-scrape.ts`.
 *
 * Serialises a store of SERIES counter series (100 families × SERIES/100
 * label sets of 4 labels, plus job/instance/scope labels) and, separately, a
 * store of SERIES/10 classic histogram series (10 buckets), in text 0.0.4
 * and OpenMetrics, and prints series/s, both when nothing changed since the
 * previous scrape (cached lines reused) and when every series did. For comparison, the same counters
 * are serialised by the OpenTelemetry JS SDK's PrometheusSerializer (the
 * peer a Node service would otherwise use), and ingest (delta accumulation)
 * and gzip costs are shown.
 */
import { gzipSync } from 'node:zlib';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Metric, MetricsBatch } from '../src/model/metrics.ts';
import { serialize, serializeToBuffer } from '../src/exporters/prometheus/serialize.ts';
import { SeriesStore } from '../src/exporters/prometheus/store.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const SERIES = Number(process.env.SERIES ?? 10_000);
const SECONDS = Number(process.env.SECONDS ?? 2);
const FAMILIES = 100;
const PER_FAMILY = Math.max(1, Math.floor(SERIES / FAMILIES));
const T0 = 1_700_000_000_000_000_000;

function attrs(i: number) {
  return { 'http.method': ['GET', 'POST', 'PUT', 'DELETE'][i % 4], 'http.route': `/api/v1/items/${i % 50}`, 'http.status_code': 200 + (i % 5), region: `eu-${i}` };
}

function counterBatch(delta: boolean): MetricsBatch {
  const metrics: Metric[] = [];
  for (let f = 0; f < FAMILIES; f++) {
    const points = [];
    for (let i = 0; i < PER_FAMILY; i++) points.push({ attributes: attrs(i), startTimeUnixNano: T0, timeUnixNano: T0 + 1e9, value: i * 3 + 0.5 });
    metrics.push({ type: 'sum', name: `app.requests.${f}`, description: 'Requests served', unit: '{request}', temporality: delta ? 'delta' : 'cumulative', monotonic: true, points });
  }
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'checkout', 'service.instance.id': 'pod-1', 'k8s.pod.name': 'checkout-7d9' } },
        scopeMetrics: [{ scope: { name: 'bench', version: '1.0', attributes: {} }, metrics }],
      },
    ],
  };
}

function histogramBatch(n: number): MetricsBatch {
  const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  const points = [];
  for (let i = 0; i < n; i++) {
    points.push({ attributes: attrs(i), startTimeUnixNano: T0, timeUnixNano: T0 + 1e9, count: 110, sum: 42.5, explicitBounds: bounds, bucketCounts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 55] });
  }
  const metric: Metric = { type: 'histogram', name: 'http.server.duration', description: 'Duration', unit: 's', temporality: 'cumulative', points };
  return { resourceMetrics: [{ resource: { attributes: { 'service.name': 'checkout' } }, scopeMetrics: [{ scope: { name: 'bench', version: '1.0', attributes: {} }, metrics: [metric] }] }] };
}

function newStore() {
  return new SeriesStore({ namespace: '', constLabels: {}, resourceToTelemetry: false, addMetricSuffixes: true });
}

/** Runs fn repeatedly for SECONDS; returns calls per second. */
function rate(fn: () => unknown): number {
  for (let i = 0; i < 5; i++) fn(); // warm up the JIT
  let calls = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(SECONDS * 1e9);
  let now = start;
  while (now < deadline) {
    fn();
    calls++;
    now = process.hrtime.bigint();
  }
  return calls / (Number(now - start) / 1e9);
}

function report(name: string, seriesPerCall: number, callsPerSecond: number, bytes: number): number {
  const sps = seriesPerCall * callsPerSecond;
  console.log(
    `${name.padEnd(40)} ${Math.round(sps).toLocaleString('en-US').padStart(12)} series/s  ${(1000 / callsPerSecond).toFixed(2).padStart(7)} ms/scrape  ${(bytes / 1024).toFixed(0).padStart(6)} KiB ${vsPrevious('prometheus-scrape', name, sps)}`,
  );
  return sps;
}

const figures: Record<string, number> = {};
const counters = newStore();
counters.ingest(counterBatch(false), Date.now());
const histograms = newStore();
histograms.ingest(histogramBatch(SERIES / 10), Date.now());
const n = counters.size - counters.targetInfo.size;
console.log(`${n} counter series, ${SERIES / 10} histogram series (10 buckets)`);

const text = serialize(counters, { format: 'text', sendTimestamps: false });
// Each measurement includes the UTF-8 encoding a response needs (it also flattens V8's rope).
figures['text 0.0.4, counters'] = report('text 0.0.4, counters', n, rate(() => serializeToBuffer(counters, { format: 'text', sendTimestamps: false })), text.length);
// Worst case: every series changed since the last scrape, so no cached line can be reused.
const invalidate = () => {
  for (const f of counters.families.values()) for (const s of f.series.values()) s.cache = undefined;
};
figures['text 0.0.4, counters, all updated'] = report(
  'text 0.0.4, counters, all updated',
  n,
  rate(() => (invalidate(), serializeToBuffer(counters, { format: 'text', sendTimestamps: false }))),
  text.length,
);
const om = serialize(counters, { format: 'openmetrics', sendTimestamps: false });
figures['OpenMetrics, counters'] = report('OpenMetrics, counters', n, rate(() => serializeToBuffer(counters, { format: 'openmetrics', sendTimestamps: false })), om.length);
const hist = serialize(histograms, { format: 'text', sendTimestamps: false });
figures['text 0.0.4, histograms'] = report('text 0.0.4, histograms', SERIES / 10, rate(() => serializeToBuffer(histograms, { format: 'text', sendTimestamps: false })), hist.length);
figures['text 0.0.4 + gzip, counters'] = report(
  'text 0.0.4 + gzip, counters',
  n,
  rate(() => gzipSync(serializeToBuffer(counters, { format: 'text', sendTimestamps: false }))),
  gzipSync(text).length,
);

// Ingest: delta accumulation of the whole counter batch into an existing store.
const ingestStore = newStore();
ingestStore.ingest(counterBatch(true), Date.now());
const deltaBatch = counterBatch(true);
const ingestRate = rate(() => ingestStore.ingest(deltaBatch, Date.now()));
figures['ingest delta, points/s'] = n * ingestRate;
console.log(`${'ingest (delta accumulation)'.padEnd(40)} ${Math.round(n * ingestRate).toLocaleString('en-US').padStart(12)} points/s ${vsPrevious('prometheus-scrape', 'ingest delta, points/s', n * ingestRate)}`);

// Peer: the OpenTelemetry JS SDK's serializer over the same counters.
const reader = new PrometheusExporter({ preventServerStart: true });
const provider = new MeterProvider({ readers: [reader] });
const meter = provider.getMeter('bench', '1.0');
for (let f = 0; f < FAMILIES; f++) {
  const c = meter.createCounter(`app.requests.${f}`, { description: 'Requests served', unit: '{request}' });
  for (let i = 0; i < PER_FAMILY; i++) c.add(i * 3 + 0.5, attrs(i));
}
const { resourceMetrics } = await reader.collect();
const serializer = new PrometheusSerializer();
const peerText = serializer.serialize(resourceMetrics);
const peer = report('peer: @opentelemetry/exporter-prometheus', n, rate(() => Buffer.from(serializer.serialize(resourceMetrics))), peerText.length);
console.log(`tributary text / peer: x${(figures['text 0.0.4, counters'] / peer).toFixed(2)}`);
await provider.shutdown();

record('prometheus-scrape', figures);
