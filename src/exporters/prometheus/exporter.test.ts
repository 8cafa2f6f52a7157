import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../component.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { createExporter } from '../helper/exporter.ts';
import { prometheusConfigSchema } from './config.ts';
import { PrometheusSender } from './exporter.ts';
import { prometheusExporterFactory } from './factory.ts';
import { batchOf, counter, gauge, richBatch, T0 } from './fixtures.ts';
import { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './serialize.ts';

const running: Exporter[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.shutdown();
});

async function startExporter(raw: Record<string, unknown> = {}) {
  const telemetry = new PipelineTelemetry();
  const settings = testSettings('exporter', 'prometheus', '', telemetry);
  const config = prometheusConfigSchema.parse({ endpoint: '127.0.0.1:0', ...raw });
  const sender = new PrometheusSender(settings, config);
  const exporter = createExporter(settings, undefined, sender);
  await exporter.start(testHost());
  running.push(exporter);
  const url = `http://127.0.0.1:${sender.address()!.port}${config.path}`;
  return { exporter, sender, telemetry, url };
}

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('config', () => {
  it('has otelcol defaults and declares its endpoint', () => {
    const c = prometheusExporterFactory.createDefaultConfig();
    expect(c).toMatchObject({ endpoint: '0.0.0.0:9464', path: '/metrics', send_timestamps: false, metric_expiration: 300_000, enable_open_metrics: false, add_metric_suffixes: true });
    expect(c.resource_to_telemetry_conversion.enabled).toBe(false);
    expect(prometheusExporterFactory.listenAddresses!(c)).toEqual([{ key: 'endpoint', transport: 'tcp', address: '0.0.0.0:9464' }]);
  });

  it('rejects unknown keys and a zero expiration', () => {
    expect(prometheusConfigSchema.safeParse({ endpoint: 'x:1', bogus: 1 }).success).toBe(false);
    expect(prometheusConfigSchema.safeParse({ metric_expiration: '0s' }).success).toBe(false);
    expect(prometheusConfigSchema.parse({ metric_expiration: '1m30s' }).metric_expiration).toBe(90_000);
  });
});

describe('serving', () => {
  it('serves text 0.0.4 by default and counts what it exposes as sent', async () => {
    const { exporter, telemetry, url } = await startExporter();
    await exporter.consume(batchOf({ 'service.name': 'api' }, [counter('reqs', 7)]));
    const res = await fetch(url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(TEXT_CONTENT_TYPE);
    expect(await res.text()).toContain('reqs_total{job="api",otel_scope_name="test.lib",otel_scope_version="1.2.3"} 7\n');
    expect(telemetry.exporterSent.get({ exporter: 'prometheus' })).toBe(1);
  });

  it('counts refused points as failed with their reason', async () => {
    const { exporter, telemetry } = await startExporter();
    await exporter.consume(batchOf({}, [counter('reqs', 7, { time: T0 + 2e9 })]));
    await exporter.consume(batchOf({}, [counter('reqs', 1, { time: T0 + 1e9 })]));
    expect(telemetry.exporterSent.get({ exporter: 'prometheus' })).toBe(1);
    expect(telemetry.exporterFailed.get({ exporter: 'prometheus', reason: 'out_of_order' })).toBe(1);
  });

  it('serves OpenMetrics when enabled and asked for, text otherwise', async () => {
    const { exporter, url } = await startExporter({ enable_open_metrics: true });
    await exporter.consume(batchOf({}, [counter('reqs', 7)], { name: '', version: '' }));
    const om = await fetch(url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(await om.text()).toBe('# HELP reqs reqs help\n# TYPE reqs counter\nreqs_total 7\n# EOF\n');
    const plain = await fetch(url, { headers: { accept: 'text/plain;version=0.0.4' } });
    expect(plain.headers.get('content-type')).toBe(TEXT_CONTENT_TYPE);
    expect(await plain.text()).toBe('# HELP reqs_total reqs help\n# TYPE reqs_total counter\nreqs_total 7\n');
    const ranked = await fetch(url, { headers: { accept: 'application/openmetrics-text;q=0.2,text/plain;q=0.9' } });
    expect(ranked.headers.get('content-type')).toBe(TEXT_CONTENT_TYPE);
  });

  it('gzips when the scraper accepts it', async () => {
    const { exporter, url } = await startExporter();
    await exporter.consume(batchOf({}, [gauge('g', 3)], { name: '', version: '' }));
    const http = await import('node:http');
    const body = await new Promise<{ enc: string | undefined; data: Buffer }>((resolve, reject) => {
      http.get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'], data: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(body.enc).toBe('gzip');
    expect(gunzipSync(body.data).toString()).toBe('# HELP g g help\n# TYPE g gauge\ng 3\n');
  });

  it('answers 404 off its path and serves a custom path', async () => {
    const { url } = await startExporter({ path: '/prom' });
    expect(url.endsWith('/prom')).toBe(true);
    expect((await fetch(url.replace('/prom', '/metrics'))).status).toBe(404);
    expect((await fetch(url)).status).toBe(200);
  });

  it('expires stale series on its own timer, with nobody scraping', async () => {
    const { exporter, sender } = await startExporter({ metric_expiration: '100ms' });
    await exporter.consume(batchOf({ 'service.name': 'api', host: 'h' }, [gauge('g', 1), counter('c', 2)]));
    expect(sender.store.size).toBe(3);
    await waitFor(() => sender.store.size === 0);
    expect(sender.store.families.size).toBe(0);
  });

  it('fails to start on a taken port, naming the address', async () => {
    const { sender } = await startExporter();
    const port = sender.address()!.port;
    const settings = testSettings('exporter', 'prometheus/second');
    const second = createExporter(settings, undefined, new PrometheusSender(settings, prometheusConfigSchema.parse({ endpoint: `127.0.0.1:${port}` })));
    await expect(second.start(testHost())).rejects.toThrow(`listen 127.0.0.1:${port}: address already in use`);
    await second.shutdown();
  });

  it('shuts down twice and before start without error', async () => {
    const settings = testSettings('exporter', 'prometheus');
    const exporter = prometheusExporterFactory.create(settings, prometheusConfigSchema.parse({ endpoint: '127.0.0.1:0' }));
    await exporter.shutdown();
    await exporter.shutdown();
  });
});

describe('promtool check metrics', () => {
  const promtool = existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout?.trim() || undefined;
  if (!promtool) console.warn('SKIPPED promtool check: promtool is not installed (apt-get install prometheus)');

  it.skipIf(!promtool)('accepts the exposition of a rich batch', async () => {
    const { exporter, url } = await startExporter({ const_labels: { env: 'test' } });
    await exporter.consume(richBatch());
    await exporter.consume(batchOf({ 'service.name': 'other' }, [counter('http.server.requests', 1, { unit: '{request}', description: 'HTTP requests served' })]));
    const text = await (await fetch(url)).text();
    const res = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
});
