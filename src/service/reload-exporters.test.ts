/**
 * Service reload of changed exporters, with the real otlp receiver, batch
 * processor, prometheus exporter and otlp_http exporter: the prometheus
 * exporter keeps its endpoint (server handed over, counters carried on, every
 * scrape answered whole) and the otlp_http exporter's queue, filled while its
 * backend is down, drains through its successor (new headers) exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { TributaryConfig } from '../config/model.ts';
import type { MetricsBatch, NumberPoint } from '../model/metrics.ts';
import { decodeExportRequest } from '../otlp/decode.ts';
import { encodeExportRequest } from '../otlp/encode.ts';
import * as registry from '../registry.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { Service } from './service.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const dir = mkdtempSync(join(tmpdir(), 'reload-exporters-'));
let fileNo = 0;
async function configOf(yaml: string): Promise<TributaryConfig> {
  const file = join(dir, `config-${fileNo++}.yaml`);
  writeFileSync(file, yaml);
  const loaded = await loadConfig({ files: [file], env: {}, registry });
  if (!loaded.config) throw new Error(loaded.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return loaded.config;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An OTLP/HTTP backend: 503 while down; when up, sums the points it gets by the `x-config` header they came with. */
class Backend {
  up = false;
  readonly byHeader = new Map<string, number>();
  port = 0;
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!this.up) return void res.writeHead(503).end();
      const tag = String(req.headers['x-config']);
      for (const rm of decodeExportRequest(Buffer.concat(chunks)).resourceMetrics)
        for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points as NumberPoint[]) this.byHeader.set(tag, (this.byHeader.get(tag) ?? 0) + p.value);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    cleanups.push(() => {
      this.server.closeAllConnections();
      return new Promise((r) => this.server.close(r));
    });
  }
}

/** `reload.requests`: one delta point of 1 per request. */
function request(i: number): Buffer {
  const t = 1_800_000_000_000_000_000 + i * 1000;
  const batch: MetricsBatch = {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'svc' } },
        scopeMetrics: [
          {
            scope: { name: 's', version: '', attributes: {} },
            metrics: [{ type: 'sum', name: 'reload.requests', description: '', unit: '', temporality: 'delta', monotonic: true, points: [{ attributes: {}, startTimeUnixNano: t, timeUnixNano: t + 1, value: 1, isInt: true }] }],
          },
        ],
      },
    ],
  };
  return Buffer.from(encodeExportRequest(batch));
}

function get(url: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });
}

function post(port: number, agent: http.Agent, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const counterValue = (body: string) => {
  const m = /^reload_requests_total\{[^}]*\} (\S+)/m.exec(body);
  return m ? Number(m[1]) : undefined;
};

function yaml(p: { otlp: number; prom: number; backend: number; queueDir?: string }, v: { expiration: string; header: string; timeout: string }): string {
  return `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${p.otlp} } } }
processors:
  batch: { timeout: 20ms }
exporters:
  prometheus: { endpoint: 127.0.0.1:${p.prom}, metric_expiration: ${v.expiration} }
  otlp_http:
    endpoint: http://127.0.0.1:${p.backend}
    compression: none
    timeout: ${v.timeout}
    headers: { x-config: ${v.header} }
    retry_on_failure: { initial_interval: 20ms, max_interval: 50ms }
    circuit_breaker: { open_duration: 100ms }
${p.queueDir ? `    sending_queue: { storage: disk, directory: ${p.queueDir} }` : ''}
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [prometheus, otlp_http] }
`;
}

describe('Service.reload of changed exporters', () => {
  it.each(['memory', 'disk'])('prometheus keeps serving whole expositions with counters carried on; the queued otlp_http batches (%s queue) go out once through the successor', async (storage) => {
    const backend = new Backend();
    await backend.start();
    const [otlp, prom] = [await freePort(), await freePort()];
    // A disk queue keeps its directory: old and new exporter share it during the reload.
    const queueDir = storage === 'disk' ? mkdtempSync(join(tmpdir(), 'reload-exporters-queue-')) : undefined;
    if (queueDir) cleanups.unshift(() => rmSync(queueDir, { recursive: true, force: true }));
    const ports = { otlp, prom, backend: backend.port, queueDir };
    const telemetry = new PipelineTelemetry();
    const service = new Service({ logger: silentLogger(), telemetry });
    cleanups.push(() => service.shutdown(5000));
    await service.start(await configOf(yaml(ports, { expiration: '5m', header: 'v1', timeout: '2s' })));

    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    cleanups.push(() => agent.destroy());
    let accepted = 0;
    let sending = true;
    let requestNo = 0;
    const senders = [0, 1].map(async () => {
      while (sending) if ((await post(otlp, agent, request(requestNo++))) === 200) accepted++;
    });
    const scrapes: Array<{ status: number; body: string }> = [];
    let scraping = true;
    const scrapeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => scrapeAgent.destroy());
    const scraper = (async () => {
      while (scraping) scrapes.push(await get(`http://127.0.0.1:${prom}/metrics`, scrapeAgent));
    })();

    const queued = () => telemetry.exporterQueueSize.get({ exporter: 'otlp_http' }) ?? 0;
    await until(() => accepted > 200 && queued() > 0 && counterValue(scrapes.at(-1)?.body ?? '') !== undefined, 'load before the reload');
    await service.reload(await configOf(yaml(ports, { expiration: '10m', header: 'v2', timeout: '3s' })));
    const mark = accepted;
    await until(() => accepted > mark + 200, 'load after the reload');
    sending = false;
    await Promise.all(senders);
    await until(() => counterValue(scrapes.at(-1)?.body ?? '') === accepted, 'prometheus caught up');
    scraping = false;
    await scraper;

    expect(scrapes.filter((s) => s.status !== 200)).toEqual([]);
    // From the first scrape that saw data on, every one shows the counter, never lower than before.
    const values = scrapes.map((s) => counterValue(s.body));
    values.splice(0, values.findIndex((v) => v !== undefined));
    expect(values.length).toBeGreaterThan(10);
    expect(values.filter((v) => v === undefined)).toEqual([]);
    for (let k = 1; k < values.length; k++) expect(values[k]!).toBeGreaterThanOrEqual(values[k - 1]!);

    // Nothing went to the backend while it was down; everything is queued once, at the successor,
    // and counted in its pipeline once sent (the pipeline travels with the batches it hands over).
    const otlpLabels = { exporter: 'otlp_http', pipeline: 'metrics' };
    await until(() => queued() === accepted, 'all points queued');
    expect(telemetry.exporterSent.get(otlpLabels)).toBe(0);
    backend.up = true;
    await until(() => telemetry.exporterSent.get(otlpLabels) === accepted, 'queue drained');
    expect([...backend.byHeader]).toEqual([['v2', accepted]]);
    expect(telemetry.exporterFailed.sum(otlpLabels)).toBe(0);
    expect(queued()).toBe(0);
    expect(telemetry.exporterSent.get({ exporter: 'prometheus', pipeline: 'metrics' })).toBe(accepted);
    expect(service.host.sockets.size).toBe(0);
  });
});
