/**
 * Datadog and CloudWatch end to end: an OpenTelemetry JS SDK app exports
 * cumulative metrics over OTLP/HTTP to the real daemon, whose `datadog` and
 * `cloudwatch` exporters deliver to the fake intake and the fake
 * PutMetricData (which checks payload shape, limits and the SigV4 signature).
 * The values each backend sees are asserted exactly, per metric type, and
 * the daemon's self-metrics account for every point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, freePort, eventually, type DaemonHandle } from './harness/daemon.ts';
import { createOtelApp, type OtelApp } from './harness/otel-app.ts';
import { startFakeDatadog, type FakeDatadog } from './fakes/datadog.ts';
import { startFakeCloudWatch, TEST_CREDENTIALS, THROTTLING, type FakeCloudWatch } from './fakes/cloudwatch.ts';

const DD_KEY = 'e2e-dd-api-key-51c0';

let daemon: DaemonHandle;
let dd: FakeDatadog;
let cw: FakeCloudWatch;
let app: OtelApp;

beforeAll(async () => {
  [dd, cw] = await Promise.all([startFakeDatadog({ apiKey: DD_KEY }), startFakeCloudWatch()]);
  const httpPort = await freePort();
  daemon = await startDaemon({
    env: {
      DD_API_KEY: DD_KEY,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    config: `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  datadog:
    api: { key: "\${env:DD_API_KEY}", site: datadoghq.eu }
    endpoint: ${dd.url}
    hostname: e2e-host
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
  cloudwatch:
    namespace: Tributary/E2E
    region: eu-west-1
    endpoint: ${cw.url}
    dimensions: { include: [route, service.name] }
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [datadog, cloudwatch]
`,
  });
  app = createOtelApp({ protocol: 'http/protobuf', endpoint: `127.0.0.1:${httpPort}`, resource: { 'deployment.environment.name': 'e2e' }, histogramBoundaries: { latency: [10, 100] } });
});

afterAll(async () => {
  await app?.shutdown().catch(() => {});
  expect(await daemon?.stop()).toBe(0);
  await Promise.all([dd?.close(), cw?.close()]);
});

describe('vendor exporters in the daemon', () => {
  it('deliver exact values per metric type, from cumulative SDK data', async () => {
    const orders = app.meter.createCounter('orders', { unit: '{order}' });
    const inflight = app.meter.createUpDownCounter('inflight');
    const latency = app.meter.createHistogram('latency', { unit: 'ms' });
    const attrs = { route: '/checkout' };

    orders.add(5, attrs);
    inflight.add(3, attrs);
    latency.record(5, attrs);
    await app.flush();
    // The first cumulative point of each series is the baseline; wait until it is through before the next export.
    expect(await eventually(() => dd.find('inflight').length === 1 && cw.find('inflight').length === 1)).toBe(true);

    cw.cue(THROTTLING, 2); // the second export is throttled twice, then accepted
    orders.add(7, attrs);
    inflight.add(-1, attrs);
    latency.record(50, attrs);
    latency.record(500, attrs);
    await app.flush();
    expect(await eventually(() => dd.find('latency.count').length === 1 && cw.find('latency').length === 1)).toBe(true);

    expect(dd.violations).toEqual([]);
    expect(cw.violations).toEqual([]);

    // Datadog: the counter as a count of the delta, the up-down counter as a gauge, the histogram as aggregates.
    const ddv = (name: string) => dd.find(name).map((s) => s.points[0].value);
    expect(ddv('orders')).toEqual([7]);
    const [order] = dd.find('orders');
    expect(order.type).toBe(1);
    expect(order.interval).toBeGreaterThanOrEqual(1);
    expect(order.resources).toEqual([{ name: 'e2e-host', type: 'host' }]);
    expect(order.tags).toEqual(expect.arrayContaining(['service:e2e-app', 'env:e2e', 'route:/checkout']));
    expect(ddv('inflight')).toEqual([3, 2]);
    expect(dd.find('inflight')[0].type).toBe(3);
    expect(ddv('latency.count')).toEqual([2]);
    expect(ddv('latency.sum')).toEqual([550]);
    expect(ddv('latency.avg')).toEqual([275]);

    // CloudWatch: the same deltas as datums, the histogram as Values/Counts from bucket midpoints.
    const dims = { route: '/checkout', 'service.name': 'e2e-app' };
    expect(cw.find('orders', dims).map((d) => [d.Value, d.Unit])).toEqual([[7, 'Count']]);
    expect(cw.find('inflight', dims).map((d) => d.Value)).toEqual([3, 2]);
    const [lat] = cw.find('latency', dims);
    // Deltas: one value in (10,100], one above 100 (no max in cumulative deltas, so it sits at 100).
    expect([lat.Values, lat.Counts, lat.Unit, lat.Namespace]).toEqual([[55, 100], [1, 1], 'Milliseconds', 'Tributary/E2E']);
    expect(cw.requests.filter((r) => r.status === 400).length).toBe(2);
    expect(cw.requests.every((r) => r.region === 'eu-west-1')).toBe(true);
  });

  it('accounts for every point and never logs the API key', async () => {
    const accepted = await daemon.selfMetric('tributary_receiver_accepted_points_total', { receiver: 'otlp' });
    expect(accepted).toBe(6); // 3 series × 2 exports
    for (const exporter of ['datadog', 'cloudwatch']) {
      expect(await eventually(async () => (await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter })) === accepted)).toBe(true);
      expect(await daemon.selfMetric('tributary_exporter_failed_points_total', { exporter })).toBe(0);
    }
    expect(await daemon.selfMetric('tributary_exporter_retries_total', { exporter: 'cloudwatch' })).toBe(2);
    expect(daemon.logs()).not.toContain(DD_KEY);
  });
});
