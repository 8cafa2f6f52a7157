/**
 * Live reload of the prometheus exporter on an unchanged endpoint, driven as
 * the service drives it: the listen key is marked, the successor starts
 * without binding, the old instance hands over (server and, when series are
 * named alike, its store) and shuts down. Scrapers keep getting the whole
 * exposition throughout; cumulative counters carry on.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/harness/ports.ts';
import { httpGet as scrape, scraper } from '../../../test/harness/scrape.ts';
import { until } from '../../../test/harness/wait.ts';
import type { Exporter } from '../../component.ts';
import { closeUnadopted, listenKey, wantParked } from '../../service/handover.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { createExporter } from '../helper/exporter.ts';
import { prometheusConfigSchema } from './config.ts';
import { PrometheusSender } from './exporter.ts';
import { batchOf, counter, T0 } from './fixtures.ts';

const running: Exporter[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.shutdown();
});

function build(telemetry: PipelineTelemetry, raw: Record<string, unknown>) {
  const settings = testSettings('exporter', 'prometheus', '', telemetry);
  const sender = new PrometheusSender(settings, prometheusConfigSchema.parse(raw));
  const exporter = createExporter(settings, undefined, sender);
  running.push(exporter);
  return { exporter, sender };
}

/** One delta of `value` for counter `reqs` (accumulated to cumulative by the store). */
const delta = (value: number, i: number) => batchOf({ 'service.name': 'api' }, [counter('reqs', value, { temporality: 'delta', start: T0 + i * 1e6, time: T0 + (i + 1) * 1e6 })]);

const reqsValue = (body: string, name = 'reqs_total') => {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)(?: \\d+)?$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
};

describe('prometheus exporter handover', () => {
  it('metric_expiration changed: the successor takes the server and the series; counters continue, every scrape is whole', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const telemetry = new PipelineTelemetry();
    const host = testHost();
    const old = build(telemetry, { endpoint, metric_expiration: '5m' });
    await old.exporter.start(host);
    let i = 0;
    for (; i < 50; i++) await old.exporter.consume(delta(1, i));

    // One loop over a keep-alive connection, one over a fresh connection per scrape.
    const load = scraper(`http://${endpoint}/metrics`, (body) => reqsValue(body));
    await until(() => load.results.length > 20, 'scrapes before the reload', 5000);
    // As the service does: mark the key, start the successor (it must not bind), hand over, stop the old one.
    wantParked(host, [listenKey('tcp', endpoint)]);
    const next = build(telemetry, { endpoint, metric_expiration: '10m', send_timestamps: true });
    await next.exporter.start(host);
    expect(next.sender.address()).toBeUndefined();
    for (; i < 60; i++) await old.exporter.consume(delta(1, i));
    await old.exporter.handOverTo!(next.exporter);
    // Reaching the replaced exporter (pipelines draining) means reaching the successor.
    for (; i < 70; i++) await old.exporter.consume(delta(1, i));
    await old.exporter.shutdown();
    expect(await closeUnadopted(host)).toEqual([]);
    for (; i < 80; i++) await next.exporter.consume(delta(1, i));
    const afterReload = load.results.length;
    await until(() => load.results.length > afterReload + 20, 'scrapes after the reload', 5000);
    const results = await load.stop();

    expect(next.sender.address()?.port).toBe(port);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    for (const loop of load.byLoop) {
      const values = loop.map((r) => r.value);
      expect(values.filter((v) => v === undefined)).toEqual([]);
      // Cumulative and never reset: each scrape sees at least what the one before it on its connection saw.
      for (let k = 1; k < values.length; k++) expect(values[k]!).toBeGreaterThanOrEqual(values[k - 1]!);
    }
    const final = await scrape(`http://${endpoint}/metrics`, new http.Agent());
    expect(reqsValue(final.body)).toBe(80);
    // The successor's render settings apply: samples carry timestamps now.
    expect(final.body).toMatch(/^reqs_total\{[^}]*\} 80 \d+$/m);
    expect(telemetry.exporterSent.get({ exporter: 'prometheus' })).toBe(80);
    expect(telemetry.exporterFailed.sum({ exporter: 'prometheus' })).toBe(0);
  });

  it('namespace changed: same server, the successor starts from an empty store under the new names', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const telemetry = new PipelineTelemetry();
    const host = testHost();
    const old = build(telemetry, { endpoint });
    await old.exporter.start(host);
    await old.exporter.consume(delta(5, 0));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await scrape(`http://${endpoint}/metrics`, agent);
    expect(reqsValue(before.body)).toBe(5);

    wantParked(host, [listenKey('tcp', endpoint)]);
    const next = build(telemetry, { endpoint, namespace: 'shop' });
    await next.exporter.start(host);
    await old.exporter.handOverTo!(next.exporter);
    await old.exporter.consume(delta(2, 1));
    await old.exporter.shutdown();
    await closeUnadopted(host);

    // Same keep-alive connection, answered by the successor.
    const after = await scrape(`http://${endpoint}/metrics`, agent);
    agent.destroy();
    expect(after.status).toBe(200);
    expect(reqsValue(after.body)).toBeUndefined();
    expect(reqsValue(after.body, 'shop_reqs_total')).toBe(2);
    expect(host.sockets.size).toBe(0);
  });

  it('without a mark the successor binds its own endpoint (the endpoint changed)', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const telemetry = new PipelineTelemetry();
    const host = testHost();
    const old = build(telemetry, { endpoint: `127.0.0.1:${portA}` });
    await old.exporter.start(host);
    await old.exporter.consume(delta(3, 0));
    const next = build(telemetry, { endpoint: `127.0.0.1:${portB}` });
    await next.exporter.start(host);
    await old.exporter.handOverTo!(next.exporter);
    await old.exporter.shutdown();
    expect(next.sender.address()?.port).toBe(portB);
    // Same naming: the series moved along.
    expect(reqsValue((await scrape(`http://127.0.0.1:${portB}/metrics`, new http.Agent())).body)).toBe(3);
    expect((await scrape(`http://127.0.0.1:${portA}/metrics`, new http.Agent())).status).toBe(0);
  });
});
