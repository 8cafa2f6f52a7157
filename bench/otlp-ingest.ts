/**
 * Foundation benchmark: OTLP ingest through `batch` into the `prometheus`
 * exporter, on the real daemon (compiled build, as the image runs it).
 *
 * Prints: data points per CPU-second of the daemon for OTLP/HTTP-protobuf and
 * OTLP/gRPC at full load, CPU and RSS at a steady 70,000 points/s (the load of
 * the OpenTelemetry Collector's Metric10kDPS test: ~26% of a core and 55 MiB
 * in its published results), idle RSS, and time from start to /readyz 200.
 * Targets: >= 300,000 points per CPU-second; <= 25% of a core and 80 MiB at
 * 70k points/s; idle RSS <= 50 MiB; ready in < 300 ms.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import type { MetricsBatch, Metric } from '../src/model/metrics.ts';
import { freePort } from '../test/harness/ports.ts';
import { parsePromText, sumSamples } from '../test/harness/prom-text.ts';
import { cpuSeconds, rssBytes, rssSampler, MiB, fmt } from './lib/proc.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = 'otlp-ingest';
const POINTS_PER_REQUEST = 1000;
/** Node/V8 flags for the daemon only (not the load generators), e.g. BENCH_DAEMON_FLAGS="--max-semi-space-size=8". */
const DAEMON_FLAGS = (process.env.BENCH_DAEMON_FLAGS ?? '').split(' ').filter((f) => f !== '');

function writePayloadFile(): string {
  const now = Date.now() * 1e6;
  const metrics: Metric[] = [];
  for (let m = 0; m < 100; m++) {
    metrics.push({
      name: `bench.requests.${m}`,
      description: 'requests',
      unit: '1',
      type: 'sum',
      temporality: 'cumulative',
      monotonic: true,
      points: Array.from({ length: 10 }, (_, s) => ({
        attributes: { route: `/api/v1/resource/${s}`, method: 'GET', status: '200' },
        startTimeUnixNano: now - 60e9,
        timeUnixNano: now,
        value: 1000 + s,
      })),
    });
  }
  const batch: MetricsBatch = {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'bench', 'service.instance.id': 'bench-1', 'k8s.pod.name': 'bench-7d9f' } },
        scopeMetrics: [{ scope: { name: 'bench', version: '1.0', attributes: {} }, metrics }],
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'bench-otlp-'));
  const file = join(dir, 'payload.bin');
  writeFileSync(file, encodeExportRequest(batch));
  return file;
}

interface Daemon {
  child: ChildProcess;
  admin: string;
  grpc: string;
  http: string;
}

async function startDaemon(): Promise<{ daemon: Daemon; readyMs: number }> {
  const [g, h, p, a] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), 'bench-daemon-'));
  const cfg = join(dir, 'config.yaml');
  writeFileSync(
    cfg,
    `receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${g} }
      http: { endpoint: 127.0.0.1:${h} }
processors:
  batch: {}
exporters:
  prometheus: { endpoint: 127.0.0.1:${p} }
service:
  admin: { endpoint: 127.0.0.1:${a} }
  telemetry: { logs: { level: warn } }
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [prometheus] }
`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [...DAEMON_FLAGS, join(ROOT, 'bin/tributary.js'), 'run', '--config', cfg], {
    env: { ...process.env, TRIBUTARY_DIST: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const admin = `http://127.0.0.1:${a}`;
  for (;;) {
    try {
      if ((await fetch(`${admin}/readyz`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (performance.now() - t0 > 20_000) throw new Error('daemon did not become ready');
    await new Promise((r) => setTimeout(r, 2));
  }
  return { daemon: { child, admin, grpc: `127.0.0.1:${g}`, http: `127.0.0.1:${h}` }, readyMs: performance.now() - t0 };
}

async function accepted(admin: string): Promise<number> {
  return sumSamples(parsePromText(await (await fetch(`${admin}/metrics`)).text()), 'tributary_receiver_accepted_points_total');
}

function loadAsync(protocol: 'grpc' | 'http', target: string, payloadFile: string, mode: 'max' | 'paced', seconds: number, param: number) {
  return new Promise<{ sent: number; ok: number; failed: number }>((resolve, reject) => {
    const c = spawn(process.execPath, [join(ROOT, 'bench/lib/otlp-load.ts'), protocol, target, payloadFile, mode, String(seconds), String(param)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load exit ${code}`))));
  });
}

async function stop(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  await new Promise((r) => d.child.once('exit', r));
}

async function throughput(protocol: 'grpc' | 'http', payloadFile: string) {
  const { daemon } = await startDaemon();
  try {
    const pid = daemon.child.pid!;
    // Warm up the JIT and the exporter's series table.
    await loadAsync(protocol, protocol === 'grpc' ? daemon.grpc : daemon.http, payloadFile, 'max', 2, 4);
    const a0 = await accepted(daemon.admin);
    const c0 = cpuSeconds(pid);
    const rss = rssSampler(pid);
    const t0 = performance.now();
    const r = await loadAsync(protocol, protocol === 'grpc' ? daemon.grpc : daemon.http, payloadFile, 'max', 10, 8);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - c0;
    const points = (await accepted(daemon.admin)) - a0;
    const peak = rss.stop();
    return { points, cpu, wall, perCpuSecond: points / cpu, perSecond: points / wall, peakRss: peak, failed: r.failed };
  } finally {
    await stop(daemon);
  }
}

async function steady(payloadFile: string, pointsPerSecond: number, seconds: number) {
  const { daemon } = await startDaemon();
  try {
    const pid = daemon.child.pid!;
    await loadAsync('http', daemon.http, payloadFile, 'paced', 2, pointsPerSecond / POINTS_PER_REQUEST);
    const c0 = cpuSeconds(pid);
    const a0 = await accepted(daemon.admin);
    const rss = rssSampler(pid);
    const t0 = performance.now();
    const r = await loadAsync('http', daemon.http, payloadFile, 'paced', seconds, pointsPerSecond / POINTS_PER_REQUEST);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - c0;
    const points = (await accepted(daemon.admin)) - a0;
    return { cpuShare: cpu / wall, peakRss: rss.stop(), pointsPerSecond: points / wall, failed: r.failed };
  } finally {
    await stop(daemon);
  }
}

async function main() {
  process.stdout.write('building dist/ (the image runs the compiled build)...\n');
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const payloadFile = writePayloadFile();

  const readies: number[] = [];
  let idleRss = 0;
  for (let i = 0; i < 5; i++) {
    const { daemon, readyMs } = await startDaemon();
    readies.push(readyMs);
    if (i === 0) {
      await new Promise((r) => setTimeout(r, 3000));
      idleRss = rssBytes(daemon.child.pid!);
    }
    await stop(daemon);
  }
  readies.sort((a, b) => a - b);
  const readyMs = readies[2];

  const http = await throughput('http', payloadFile);
  const grpc = await throughput('grpc', payloadFile);
  const st = await steady(payloadFile, 70_000, 15);

  const lines = [
    `OTLP/HTTP protobuf → batch → prometheus: ${fmt(http.perCpuSecond)} points per CPU-second ${vsPrevious(BENCH, 'httpPerCpuSecond', http.perCpuSecond)}; ${fmt(http.perSecond)} points/s wall on 2 shared cores, peak RSS ${fmt(http.peakRss / MiB, 1)} MiB, ${http.failed} failed requests`,
    `OTLP/gRPC → batch → prometheus:          ${fmt(grpc.perCpuSecond)} points per CPU-second ${vsPrevious(BENCH, 'grpcPerCpuSecond', grpc.perCpuSecond)}; ${fmt(grpc.perSecond)} points/s wall, peak RSS ${fmt(grpc.peakRss / MiB, 1)} MiB, ${grpc.failed} failed requests`,
    `steady ${fmt(st.pointsPerSecond)} points/s (OTLP/HTTP): ${fmt(st.cpuShare * 100, 1)}% of one core ${vsPrevious(BENCH, 'steadyCpuShare', st.cpuShare)}, peak RSS ${fmt(st.peakRss / MiB, 1)} MiB ${vsPrevious(BENCH, 'steadyRssMiB', st.peakRss / MiB)}; otelcol Metric10kDPS reference: 26% and 55 MiB`,
    `idle RSS: ${fmt(idleRss / MiB, 1)} MiB ${vsPrevious(BENCH, 'idleRssMiB', idleRss / MiB)}`,
    `start to /readyz 200: ${fmt(readyMs)} ms (median of 5, process spawn included) ${vsPrevious(BENCH, 'readyMs', readyMs)}`,
    `targets: >= 300,000 points/CPU-s; <= 25% core and 80 MiB at 70k/s; idle <= 50 MiB; ready < 300 ms${DAEMON_FLAGS.length > 0 ? ` (daemon flags: ${DAEMON_FLAGS.join(' ')})` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  record(BENCH, {
    httpPerCpuSecond: Math.round(http.perCpuSecond),
    grpcPerCpuSecond: Math.round(grpc.perCpuSecond),
    steadyCpuShare: Number(st.cpuShare.toFixed(3)),
    steadyRssMiB: Number((st.peakRss / MiB).toFixed(1)),
    idleRssMiB: Number((idleRss / MiB).toFixed(1)),
    readyMs: Math.round(readyMs),
  });
}

await main();
process.exit(0);
