/**
 * Service reload of changed exporters, with the real otlp receiver, batch
 * processor, prometheus exporter and otlp_http exporter: the prometheus
 * exporter keeps its endpoint (server handed over, counters carried on, every
 * scrape answered whole) and the otlp_http exporter's queue, filled while its
 * backend is down, drains through its successor (new headers) exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deltaCounterRequest, otlpLoad, OtlpSink } from '../../test/harness/otlp-http.ts';
import { freePort } from '../../test/harness/ports.ts';
import { scraper } from '../../test/harness/scrape.ts';
import { until } from '../../test/harness/wait.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { Service } from './service.ts';
import { configLoader } from './testing.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const configOf = configLoader('reload-exporters');

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
    // An OTLP/HTTP backend, down (503) until the reload is done; sums the points it gets by the `x-config` header they came with.
    const backend = new OtlpSink({ tagHeader: 'x-config' });
    backend.up = false;
    await backend.start();
    cleanups.push(() => backend.close());
    const [otlp, prom] = [await freePort(), await freePort()];
    // A disk queue keeps its directory: old and new exporter share it during the reload.
    const queueDir = storage === 'disk' ? mkdtempSync(join(tmpdir(), 'reload-exporters-queue-')) : undefined;
    if (queueDir) cleanups.unshift(() => rmSync(queueDir, { recursive: true, force: true }));
    const ports = { otlp, prom, backend: backend.port, queueDir };
    const telemetry = new PipelineTelemetry();
    const service = new Service({ logger: silentLogger(), telemetry });
    cleanups.push(() => service.shutdown(5000));
    await service.start(await configOf(yaml(ports, { expiration: '5m', header: 'v1', timeout: '2s' })));

    // `reload.requests`: one delta point of 1 per request, posted back to back by two clients.
    const load = otlpLoad(otlp, (i) => deltaCounterRequest(i, { metric: 'reload.requests', service: 'svc' }), { pauseMs: 0, maxRequests: 1_000_000 });
    cleanups.push(() => load.stop());
    const scrapes = scraper(`http://127.0.0.1:${prom}/metrics`, counterValue, { connections: ['keep-alive'], max: 1_000_000 });
    cleanups.push(() => scrapes.stop());

    const queued = () => telemetry.exporterQueueSize.get({ exporter: 'otlp_http' }) ?? 0;
    await until(() => load.accepted() > 200 && queued() > 0 && scrapes.results.at(-1)?.value !== undefined, 'load before the reload', 15_000);
    await service.reload(await configOf(yaml(ports, { expiration: '10m', header: 'v2', timeout: '3s' })));
    const mark = load.accepted();
    await until(() => load.accepted() > mark + 200, 'load after the reload', 15_000);
    await load.stop();
    const accepted = load.accepted();
    await until(() => scrapes.results.at(-1)?.value === accepted, 'prometheus caught up', 15_000);
    await scrapes.stop();

    expect(scrapes.results.filter((s) => s.status !== 200)).toEqual([]);
    // From the first scrape that saw data on, every one shows the counter, never lower than before.
    const values = scrapes.results.map((s) => s.value);
    values.splice(0, values.findIndex((v) => v !== undefined));
    expect(values.length).toBeGreaterThan(10);
    expect(values.filter((v) => v === undefined)).toEqual([]);
    for (let k = 1; k < values.length; k++) expect(values[k]!).toBeGreaterThanOrEqual(values[k - 1]!);

    // Nothing went to the backend while it was down; everything is queued once, at the successor,
    // and counted in its pipeline once sent (the pipeline travels with the batches it hands over).
    const otlpLabels = { exporter: 'otlp_http', pipeline: 'metrics' };
    await until(() => queued() === accepted, 'all points queued', 15_000);
    expect(telemetry.exporterSent.get(otlpLabels)).toBe(0);
    backend.up = true;
    await until(() => telemetry.exporterSent.get(otlpLabels) === accepted, 'queue drained', 15_000);
    expect([...backend.byHeader]).toEqual([['v2', accepted]]);
    expect(telemetry.exporterFailed.sum(otlpLabels)).toBe(0);
    expect(queued()).toBe(0);
    expect(telemetry.exporterSent.get({ exporter: 'prometheus', pipeline: 'metrics' })).toBe(accepted);
    expect(service.host.sockets.size).toBe(0);
  });
});
