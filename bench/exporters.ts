/**
 * Exporter throughput: `node bench/exporters.ts`.
 *
 * - OTLP out (otlp_http proto+gzip, otlp_http JSON, otlp_grpc) and remote
 *   write, each through the full exporter helper (queue, consumers, retry,
 *   breaker, accounting) into a sink running in a child process, so the CPU
 *   measured is the exporter's alone. Reported as points/s of wall time and
 *   points per CPU-second of this process.
 * - The disk queue (LMDB): write rate (encode + checksum + put, fsync every
 *   second) and drain rate (get + verify + decode + remove), and the same
 *   exporter end to end with `storage: disk`.
 *
 * Batches are the codec's `typicalBatch` (one sum metric, SERIES points with
 * 4 attributes each) plus a fifth attribute that makes every point its own
 * series, as a batch from the batch processor mostly is (typicalBatch alone
 * repeats 50 series, which flatters remote write's per-series encoding).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { AddressInfo } from 'node:net';
import { typicalBatch } from '../src/otlp/testdata.ts';
import { cloneBatch, type MetricsBatch } from '../src/model/metrics.ts';
import { PipelineTelemetry } from '../src/telemetry/self-metrics.ts';
import { testHost, testSettings } from '../src/testing/settings.ts';
import type { ExporterFactory, Exporter } from '../src/component.ts';
import { otlpHttpExporterFactory } from '../src/exporters/otlp_http/factory.ts';
import { otlpGrpcExporterFactory } from '../src/exporters/otlp_grpc/factory.ts';
import { prometheusRemoteWriteExporterFactory } from '../src/exporters/prometheusremotewrite/factory.ts';
import { DiskStore } from '../src/exporters/helper/disk-queue.ts';
import { isRefused } from '../src/errors.ts';

const SERIES = Number(process.env.SERIES ?? 1000);
const BATCHES = Number(process.env.BATCHES ?? 400);
const METHOD_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

// ---------------------------------------------------------------- sink (child process)

async function runSink(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const g = new grpc.Server();
  const id = (b: Buffer) => b;
  g.addService(
    { Export: { path: METHOD_PATH, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    { Export: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)) },
  );
  const grpcPort = await new Promise<number>((res, rej) => g.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  process.stdout.write(JSON.stringify({ http: (server.address() as AddressInfo).port, grpc: grpcPort }) + '\n');
}

if (process.argv[2] === 'sink') {
  await runSink();
} else {
  await main();
}

// ---------------------------------------------------------------- measurements

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function report(name: string, points: number, wallS: number, cpuS: number, extra = ''): void {
  const pps = Math.round(points / wallS).toLocaleString('en-US');
  const perCpu = Math.round(points / cpuS).toLocaleString('en-US');
  console.log(`${name.padEnd(34)} ${pps.padStart(11)} points/s  ${perCpu.padStart(11)} points/CPU-s  ${extra}`);
}

async function exporterRun(name: string, factory: ExporterFactory, raw: Record<string, unknown>, batches: MetricsBatch[]): Promise<void> {
  const telemetry = new PipelineTelemetry();
  const id = factory.type;
  const cfg = factory.configSchema.parse({ ...raw, sending_queue: { queue_size: SERIES * 64, when_full: 'block', ...(raw.sending_queue as object | undefined) } });
  const exporter: Exporter = factory.create(testSettings('exporter', id, '', telemetry), cfg);
  await exporter.start(testHost());
  const total = batches.length * SERIES;
  const sent = () => telemetry.exporterSent.get({ exporter: id });
  const t0 = performance.now();
  const c0 = cpuSeconds();
  for (const b of batches) {
    // `block` refuses when full: wait, as a receiver's client would.
    for (;;) {
      try {
        await exporter.consume(b);
        break;
      } catch (err) {
        if (!isRefused(err)) throw err;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }
  while (sent() < total) {
    if (telemetry.exporterFailed.sum({ exporter: id }) > 0) throw new Error(`${name}: failures ${JSON.stringify(telemetry.registry.render())}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  await exporter.shutdown();
  report(name, total, wall, cpu);
}

async function diskQueueRun(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'trib-bench-dq-'));
  try {
    const store = new DiskStore({ directory, exporterId: 'bench', syncIntervalMs: 1000 });
    await store.open();
    const batch = typicalBatch(SERIES);
    const entries = [];
    let t0 = performance.now();
    let c0 = cpuSeconds();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < BATCHES; i++) {
      const e = { id: store.allocateId(), points: SERIES, pipeline: 'metrics', batch: undefined };
      entries.push(e);
      writes.push(store.write(e, batch));
      // A bounded number of writes in flight, as consumers offering batches would have.
      if (writes.length >= 64) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    report('disk queue write (LMDB)', BATCHES * SERIES, (performance.now() - t0) / 1000, cpuSeconds() - c0, '(encode+crc+put, fsync every 1s)');
    t0 = performance.now();
    c0 = cpuSeconds();
    let points = 0;
    for (const e of entries) {
      const b = store.read(e);
      if (!b) throw new Error('read failed');
      points += e.points;
      store.remove(e);
    }
    report('disk queue drain (LMDB)', points, (performance.now() - t0) / 1000, cpuSeconds() - c0, '(get+crc+decode+remove)');
    await store.close([]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function uniqueSeries(batch: MetricsBatch, n: number): MetricsBatch {
  let i = 0;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points) p.attributes['series.id'] = `${n}-${i++}`;
  return batch;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'sink'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<{ http: number; grpc: number }>((resolve) => child.stdout!.once('data', (d) => resolve(JSON.parse(String(d)))));
  // Each run gets its own copies: consume takes ownership of a batch.
  const batches = () => Array.from({ length: BATCHES }, (_, b) => uniqueSeries(cloneBatch(typicalBatch(SERIES)), b));
  const common = { retry_on_failure: { enabled: false }, circuit_breaker: { enabled: false } };
  console.log(`exporters: ${BATCHES} batches of ${SERIES} points; sink in a child process`);
  try {
    await exporterRun('otlp_http proto+gzip', otlpHttpExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}`, ...common }, batches());
    await exporterRun('otlp_http proto, no compression', otlpHttpExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}`, compression: 'none', ...common }, batches());
    await exporterRun('otlp_http JSON+gzip', otlpHttpExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}`, encoding: 'json', ...common }, batches());
    await exporterRun('otlp_grpc gzip', otlpGrpcExporterFactory, { endpoint: `127.0.0.1:${ports.grpc}`, tls: { insecure: true }, ...common }, batches());
    await exporterRun('prometheusremotewrite', prometheusRemoteWriteExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}/api/v1/write`, ...common }, batches());
    await exporterRun('prometheusremotewrite 4 consumers', prometheusRemoteWriteExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}/api/v1/write`, ...common, sending_queue: { num_consumers: 4 } }, batches());
    await diskQueueRun();
    const dir = mkdtempSync(join(tmpdir(), 'trib-bench-dqe-'));
    try {
      await exporterRun('otlp_http proto+gzip, disk queue', otlpHttpExporterFactory, { endpoint: `http://127.0.0.1:${ports.http}`, ...common, sending_queue: { storage: 'disk', directory: dir } }, batches());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    child.kill();
  }
}
