/**
 * Live reload latency (CONTRACT §5).
 *
 * 1. On the real daemon: the config is a ConfigMap-style directory; each
 *    round swaps `..data` to a version whose `attributes` processor stamps
 *    `bench.version=N`, and measures the time from the swap to the first
 *    scrape of the Prometheus exporter showing a point with that attribute
 *    (an OTLP request is sent before every scrape). This includes the file
 *    watcher's debounce (`TRIBUTARY_RELOAD_DEBOUNCE_MS`, default 200 ms),
 *    loading and validating the config, and `Service.reload`.
 *    Measured again with no debounce, to show what the rest costs.
 * 2. In process: `Service.reload` alone, timed around the call, for a
 *    processor change and for a change that replaces the statsd receiver
 *    (its socket handed over), with the service under no load.
 *
 * Prints median and p95 of each, against bench/baseline.json.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, freePort, freeUdpPort, parsePromText } from '../test/harness/daemon.ts';
import { configMapDir } from '../test/harness/configmap.ts';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import { loadConfig } from '../src/config/load.ts';
import type { TributaryConfig } from '../src/config/model.ts';
import { Service } from '../src/service/service.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { PipelineTelemetry } from '../src/telemetry/self-metrics.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const BENCH = 'reload';
const ROUNDS = 20;
const DEBOUNCE_MS = Number(process.env.TRIBUTARY_RELOAD_DEBOUNCE_MS ?? 200);

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

function configText(ports: { statsd: number; http: number; prom: number }, version: number, interval = '1s'): string {
  return `
receivers:
  statsd: { endpoint: 127.0.0.1:${ports.statsd}, aggregation_interval: ${interval} }
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${ports.http} } } }
processors:
  batch: { timeout: 0s }
  attributes:
    actions: [{ key: bench.version, value: "${version}", action: upsert }]
exporters:
  prometheus: { endpoint: 127.0.0.1:${ports.prom} }
service:
  pipelines:
    metrics: { receivers: [statsd, otlp], processors: [attributes, batch], exporters: [prometheus] }
`;
}

const request = Buffer.from(
  encodeExportRequest({
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'bench' } },
        scopeMetrics: [
          {
            scope: { name: 'bench', version: '1', attributes: {} },
            metrics: [{ type: 'gauge', name: 'bench.reload.probe', description: '', unit: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: Date.now() * 1e6, value: 1 }] }],
          },
        ],
      },
    ],
  }),
);

const agent = new http.Agent({ keepAlive: true });
function post(port: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', () => resolve());
    req.end(request);
  });
}

async function showsVersion(promPort: number, version: number): Promise<boolean> {
  const text = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
  return parsePromText(text).some((s) => s.name === 'bench_reload_probe' && s.labels.bench_version === String(version));
}

/** Swap → first scrape with the new attribute, on the real daemon. */
async function daemonRounds(debounceMs: number): Promise<number[]> {
  const [statsd, httpPort, prom] = await Promise.all([freeUdpPort(), freePort(), freePort()]);
  const ports = { statsd, http: httpPort, prom };
  const initial = configText(ports, 0);
  const cm = configMapDir(initial);
  const daemon = await startDaemon({ config: initial, configPath: cm.path, env: { TRIBUTARY_LOG_LEVEL: 'warn', TRIBUTARY_RELOAD_DEBOUNCE_MS: String(debounceMs) } });
  const times: number[] = [];
  try {
    for (let v = 1; v <= ROUNDS + 1; v++) {
      const t0 = performance.now();
      cm.update(configText(ports, v));
      const deadline = t0 + 10_000;
      for (;;) {
        await post(httpPort);
        if (await showsVersion(prom, v)) break;
        if (performance.now() > deadline) throw new Error(`version ${v} never showed:\n${daemon.logs()}`);
      }
      // The first round also imports the processors' code; it is a warm-up.
      if (v > 1) times.push(performance.now() - t0);
    }
  } finally {
    await daemon.stop();
  }
  return times;
}

/** `Service.reload` alone, in process. */
async function serviceRounds(): Promise<{ processor: number[]; receivers: number[] }> {
  const [statsd, httpPort, prom] = await Promise.all([freeUdpPort(), freePort(), freePort()]);
  const ports = { statsd, http: httpPort, prom };
  const dir = mkdtempSync(join(tmpdir(), 'bench-reload-'));
  const load = async (text: string): Promise<TributaryConfig> => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, text);
    const r = await loadConfig({ files: [file], env: {} });
    if (!r.config) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };
  const service = new Service({ logger: silentLogger(), telemetry: new PipelineTelemetry() });
  await service.start(await load(configText(ports, 0)));
  const processor: number[] = [];
  const receivers: number[] = [];
  try {
    for (let v = 1; v <= ROUNDS + 1; v++) {
      // Only the attributes processor changes: the pipeline is rebuilt, receivers and exporter kept.
      const a = await load(configText(ports, v, v % 2 ? '1s' : '2s'));
      const b = await load(configText(ports, v, v % 2 ? '3s' : '4s'));
      let t0 = performance.now();
      await service.reload(a);
      if (v > 1) processor.push(performance.now() - t0);
      // Now only statsd's interval changes: the receiver is replaced and its socket handed over.
      t0 = performance.now();
      await service.reload(b);
      if (v > 1) receivers.push(performance.now() - t0);
    }
  } finally {
    await service.shutdown(5000);
  }
  return { processor, receivers };
}

const e2e = await daemonRounds(DEBOUNCE_MS);
const e2eNoDebounce = await daemonRounds(0);
agent.destroy();
const svc = await serviceRounds();
const figures = {
  fileChangeToServingMedianMs: percentile(e2e, 50),
  fileChangeToServingP95Ms: percentile(e2e, 95),
  noDebounceMedianMs: percentile(e2eNoDebounce, 50),
  noDebounceP95Ms: percentile(e2eNoDebounce, 95),
  serviceReloadProcessorMedianMs: percentile(svc.processor, 50),
  serviceReloadProcessorP95Ms: percentile(svc.processor, 95),
  serviceReloadReceiversMedianMs: percentile(svc.receivers, 50),
  serviceReloadReceiversP95Ms: percentile(svc.receivers, 95),
};
const line = (label: string, key: keyof typeof figures) => `${label}: ${fmt(figures[key])} ms ${vsPrevious(BENCH, key, figures[key])}`;
process.stdout.write(
  [
    `config file swap (ConfigMap ..data rename) → new pipeline serving, real daemon, ${ROUNDS} reloads, debounce ${DEBOUNCE_MS} ms included:`,
    '  ' + line('median', 'fileChangeToServingMedianMs'),
    '  ' + line('p95   ', 'fileChangeToServingP95Ms'),
    `the same with TRIBUTARY_RELOAD_DEBOUNCE_MS=0 (watch event → load → validate → Service.reload → first scrape):`,
    '  ' + line('median', 'noDebounceMedianMs'),
    '  ' + line('p95   ', 'noDebounceP95Ms'),
    `Service.reload alone, in process, ${ROUNDS} reloads each:`,
    '  ' + line('processor changed, median', 'serviceReloadProcessorMedianMs'),
    '  ' + line('processor changed, p95   ', 'serviceReloadProcessorP95Ms'),
    '  ' + line('statsd receiver replaced (socket handed over), median', 'serviceReloadReceiversMedianMs'),
    '  ' + line('statsd receiver replaced (socket handed over), p95   ', 'serviceReloadReceiversP95Ms'),
  ].join('\n') + '\n',
);
record(BENCH, figures);
