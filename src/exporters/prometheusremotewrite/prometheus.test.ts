/**
 * Remote write into a real Prometheus (`--web.enable-remote-write-receiver`),
 * then PromQL answers with the exact values: deltas accumulated into a
 * counter, a gauge, a histogram's buckets, external labels and target_info.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricsBatch } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import type { Exporter } from '../../component.ts';
import { prometheusAvailable, startPrometheus, type PrometheusHandle } from '../../../test/harness/prometheus.ts';
import { until } from '../helper/testing.ts';
import { prometheusRemoteWriteExporterFactory as factory } from './factory.ts';

const resource = { 'service.name': 'checkout', 'service.instance.id': 'pod-7', 'deployment.environment': 'prod' };

function batch(nowNs: number, delta: number, gauge: number): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: resource },
        scopeMetrics: [
          {
            scope: { name: '', version: '', attributes: {} },
            metrics: [
              { type: 'sum', name: 'orders', unit: '{order}', description: '', temporality: 'delta', monotonic: true, points: [{ attributes: { region: 'eu' }, startTimeUnixNano: nowNs - 1e9, timeUnixNano: nowNs, value: delta }] },
              { type: 'gauge', name: 'queue.depth', unit: '', description: '', points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: nowNs, value: gauge }] },
              {
                type: 'histogram',
                name: 'request.duration',
                unit: 's',
                description: '',
                temporality: 'cumulative',
                points: [{ attributes: {}, startTimeUnixNano: nowNs - 60e9, timeUnixNano: nowNs, count: 10, sum: 4.5, explicitBounds: [0.1, 0.5, 1], bucketCounts: [2, 5, 2, 1] }],
              },
            ],
          },
        ],
      },
    ],
  };
}

describe.skipIf(!prometheusAvailable())('prometheusremotewrite into a real Prometheus', () => {
  let prom: PrometheusHandle;
  let exporter: Exporter;
  const telemetry = new PipelineTelemetry();

  beforeAll(async () => {
    prom = await startPrometheus({ remoteWriteReceiver: true });
    const cfg = factory.configSchema.parse({ endpoint: prom.remoteWriteUrl, external_labels: { cluster: 'eu-1' } });
    exporter = factory.create(testSettings('exporter', 'prometheusremotewrite', '', telemetry), cfg);
    await exporter.start(testHost());
  }, 60_000);

  afterAll(async () => {
    await exporter?.shutdown();
    await prom?.stop();
  });

  it('answers queries with the exact values written', async () => {
    const now = Date.now();
    await exporter.consume(batch((now - 2000) * 1e6, 3, 7));
    await exporter.consume(batch((now - 1000) * 1e6, 4, 5));
    await until(() => telemetry.exporterSent.get({ exporter: 'prometheusremotewrite' }) === 6, 10_000);
    expect(telemetry.exporterFailed.sum({ exporter: 'prometheusremotewrite' })).toBe(0);

    expect(await prom.waitForValue('orders_total{job="checkout",instance="pod-7",region="eu",cluster="eu-1"}', (v) => v === 7)).toBe(7);
    expect(await prom.waitForValue('queue_depth{job="checkout"}', (v) => v === 5)).toBe(5);
    const buckets = await prom.query('request_duration_seconds_bucket{job="checkout"}');
    expect(Object.fromEntries(buckets.map((s) => [s.metric.le, Number(s.value[1])]))).toEqual({ '0.1': 2, '0.5': 7, '1': 9, '+Inf': 10 });
    expect(Number((await prom.query('request_duration_seconds_sum'))[0].value[1])).toBe(4.5);
    const info = await prom.query('target_info');
    expect(info.map((s) => s.metric)).toEqual([{ __name__: 'target_info', cluster: 'eu-1', deployment_environment: 'prod', instance: 'pod-7', job: 'checkout' }]);
  }, 60_000);
});
