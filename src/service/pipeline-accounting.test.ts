/**
 * CONTRACT §6 accounting per pipeline when exporters are shared: two
 * pipelines fed by different (real) otlp receivers name the same otlp_http
 * and prometheus exporters — one instance each — and one pipeline filters.
 * Sent and failed carry the pipeline the points came in through, so for every
 * exporter and pipeline: accepted = sent + failed + dropped + queued.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OtlpSink, postOtlp } from '../../test/harness/otlp-http.ts';
import { freePort } from '../../test/harness/ports.ts';
import { until } from '../../test/harness/wait.ts';
import type { Metric, MetricsBatch } from '../model/metrics.ts';
import { encodeExportRequest } from '../otlp/encode.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { Service } from './service.ts';
import { configLoader } from './testing.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const configOf = configLoader('pipeline-accounting');

let seq = 0;
/** One OTLP request: `n` gauge points of each named metric, with fresh timestamps. */
function request(names: string[], n: number): Buffer {
  const t = 1_800_000_000_000_000_000 + seq++ * 1_000_000;
  const metrics: Metric[] = names.map((name) => ({
    type: 'gauge',
    name,
    description: '',
    unit: '',
    points: Array.from({ length: n }, (_, i) => ({ attributes: { i }, startTimeUnixNano: 0, timeUnixNano: t, value: i })),
  }));
  const batch: MetricsBatch = { resourceMetrics: [{ resource: { attributes: { 'service.name': 'svc' } }, scopeMetrics: [{ scope: { name: 's', version: '', attributes: {} }, metrics }] }] };
  return Buffer.from(encodeExportRequest(batch));
}

describe('one exporter shared by two pipelines', () => {
  it('counts sent and failed per pipeline, and the §6 equation holds for each exporter and pipeline', async () => {
    // An OTLP/HTTP backend that refuses (400) any request carrying a `reject.me` metric and counts the points it takes.
    const backend = new OtlpSink({ refuse: (batch) => batch.resourceMetrics.some((rm) => rm.scopeMetrics.some((sm) => sm.metrics.some((m) => m.name === 'reject.me'))) });
    await backend.start();
    cleanups.push(() => backend.close());
    const [portA, portB, prom] = [await freePort(), await freePort(), await freePort()];
    const telemetry = new PipelineTelemetry();
    const service = new Service({ logger: silentLogger(), telemetry });
    cleanups.push(() => service.shutdown(5000));
    await service.start(
      await configOf(`
receivers:
  otlp/a: { protocols: { http: { endpoint: 127.0.0.1:${portA} } } }
  otlp/b: { protocols: { http: { endpoint: 127.0.0.1:${portB} } } }
processors:
  filter/debug: { metrics: { exclude: { match_type: strict, metric_names: [debug.x] } } }
exporters:
  otlp_http: { endpoint: http://127.0.0.1:${backend.port}, compression: none }
  prometheus: { endpoint: 127.0.0.1:${prom} }
service:
  pipelines:
    metrics/a: { receivers: [otlp/a], exporters: [otlp_http, prometheus] }
    metrics/b: { receivers: [otlp/b], processors: [filter/debug], exporters: [otlp_http, prometheus] }
`),
    );

    // a: 10 × 3 points sent, 2 × 2 refused by the backend. b: 7 × (2 kept + 2 filtered), 1 refused.
    for (let i = 0; i < 10; i++) expect(await postOtlp(portA, request(['a.requests'], 3))).toBe(200);
    for (let i = 0; i < 2; i++) expect(await postOtlp(portA, request(['reject.me'], 2))).toBe(200);
    for (let i = 0; i < 7; i++) expect(await postOtlp(portB, request(['b.requests', 'debug.x'], 2))).toBe(200);
    expect(await postOtlp(portB, request(['reject.me'], 1))).toBe(200);

    const sent = (exporter: string, pipeline: string) => telemetry.exporterSent.get({ exporter, pipeline });
    const failed = (exporter: string, pipeline: string) => telemetry.exporterFailed.sum({ exporter, pipeline });
    const queued = (exporter: string) => telemetry.exporterQueueSize.get({ exporter }) ?? 0;
    const accepted = (pipeline: string) => telemetry.receiverAccepted.sum({ pipeline });
    const dropped = (pipeline: string) => telemetry.processorDropped.sum({ pipeline });
    await until(() => backend.points === 44 && failed('otlp_http', 'metrics/a') + failed('otlp_http', 'metrics/b') === 5 && queued('otlp_http') === 0, 'otlp_http quiet');

    expect([accepted('metrics/a'), accepted('metrics/b')]).toEqual([34, 29]);
    expect([dropped('metrics/a'), dropped('metrics/b')]).toEqual([0, 14]);
    expect([sent('otlp_http', 'metrics/a'), sent('otlp_http', 'metrics/b')]).toEqual([30, 14]);
    expect(telemetry.exporterFailed.get({ exporter: 'otlp_http', pipeline: 'metrics/a', reason: 'http_400' })).toBe(4);
    expect(telemetry.exporterFailed.get({ exporter: 'otlp_http', pipeline: 'metrics/b', reason: 'http_400' })).toBe(1);
    expect([sent('prometheus', 'metrics/a'), sent('prometheus', 'metrics/b')]).toEqual([34, 15]);
    for (const exporter of ['otlp_http', 'prometheus'])
      for (const pipeline of ['metrics/a', 'metrics/b'])
        expect({ exporter, pipeline, accepted: accepted(pipeline) }).toEqual({
          exporter,
          pipeline,
          accepted: sent(exporter, pipeline) + failed(exporter, pipeline) + dropped(pipeline) + queued(exporter),
        });
    // Every sent/failed/retries series names its pipeline: nothing is counted outside one.
    for (const family of [telemetry.exporterSent, telemetry.exporterFailed, telemetry.exporterRetries])
      expect(family.samples().filter((s) => !s.labels.pipeline)).toEqual([]);
  });
});
