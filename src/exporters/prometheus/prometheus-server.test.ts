/**
 * The exporter scraped by a real Prometheus server: one exporter serving
 * OpenMetrics (Prometheus asks for it first), one serving text 0.0.4.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../component.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { createExporter } from '../helper/exporter.ts';
import { prometheusAvailable, startPrometheus, type PrometheusHandle } from '../../../test/harness/prometheus.ts';
import { prometheusConfigSchema } from './config.ts';
import { PrometheusSender } from './exporter.ts';
import { batchOf, counter, richBatch, T0 } from './fixtures.ts';

if (!prometheusAvailable()) console.warn('SKIPPED real Prometheus test: /usr/bin/prometheus is not installed (apt-get install prometheus)');

describe.skipIf(!prometheusAvailable())('scraped by a real Prometheus', () => {
  const exporters: Exporter[] = [];
  let prom: PrometheusHandle | undefined;
  afterAll(async () => {
    await prom?.stop();
    for (const e of exporters) await e.shutdown();
  });

  async function start(id: string, raw: Record<string, unknown>): Promise<{ exporter: Exporter; target: string }> {
    const settings = testSettings('exporter', id);
    const sender = new PrometheusSender(settings, prometheusConfigSchema.parse({ endpoint: '127.0.0.1:0', ...raw }));
    const exporter = createExporter(settings, undefined, sender);
    await exporter.start(testHost());
    exporters.push(exporter);
    return { exporter, target: `127.0.0.1:${sender.address()!.port}` };
  }

  it('ingests counters, histograms and target_info in both formats', async () => {
    const om = await start('prometheus/om', { enable_open_metrics: true, namespace: 'om' });
    const text = await start('prometheus/text', { namespace: 'txt' });
    for (const { exporter } of [om, text]) {
      await exporter.consume(richBatch());
      // Delta counter accumulated before the first scrape: 3 + 4.
      await exporter.consume(batchOf({ 'service.name': 'worker' }, [counter('jobs.done', 3, { temporality: 'delta', start: T0, time: T0 + 1e9 })]));
      await exporter.consume(batchOf({ 'service.name': 'worker' }, [counter('jobs.done', 4, { temporality: 'delta', start: T0 + 1e9, time: T0 + 2e9 })]));
    }
    prom = await startPrometheus({ scrapeTargets: [om.target, text.target] });

    for (const ns of ['om', 'txt']) {
      expect(await prom.waitForValue(`${ns}_jobs_done_total{job="worker"}`, (v) => v === 7)).toBe(7);
      expect(await prom.waitForValue(`${ns}_http_server_requests_total{job="shop/checkout",instance="pod-1",http_method="GET"}`)).toBe(42);
      expect(await prom.waitForValue(`${ns}_http_server_duration_seconds_bucket{le="+Inf"}`)).toBe(10);
      expect(await prom.waitForValue(`${ns}_rpc_payload_size_bytes_count`)).toBe(9);
      // Quantiles over converted exponential buckets land inside the populated range (16, 64].
      const p90 = await prom.waitForValue(`histogram_quantile(0.9, ${ns}_rpc_payload_size_bytes_bucket)`);
      expect(p90).toBeGreaterThan(32);
      expect(p90).toBeLessThanOrEqual(64);
    }
    // Both scrapes succeed (a parse error in either format would make its `up` 0).
    expect(await prom.waitForValue('count(up == 1)', (v) => v === 2)).toBe(2);
    // Both exporters expose the same target_info series (same resource); with honor_labels they are one series.
    expect(await prom.waitForValue('target_info{job="shop/checkout",instance="pod-1",k8s_pod_name="checkout-7d9"}')).toBe(1);

    // More deltas keep accumulating between scrapes.
    await om.exporter.consume(batchOf({ 'service.name': 'worker' }, [counter('jobs.done', 5, { temporality: 'delta', start: T0 + 2e9, time: T0 + 3e9 })]));
    expect(await prom.waitForValue('om_jobs_done_total{job="worker"}', (v) => v === 12)).toBe(12);
  });
});
