/**
 * The `statsd` receiver inside the real daemon, through to the `prometheus`
 * exporter: raw datagrams covering every line form and the hot-shots client
 * (plain StatsD and DogStatsD use), with exact aggregated values asserted on
 * the scrape, and the bad-line self-metric on the admin endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { StatsD } from 'hot-shots';
import { startDaemon, freePort, freeUdpPort, eventually, parsePromText, findSample, sumSamples, type DaemonHandle } from './harness/daemon.ts';

let daemon: DaemonHandle;
let statsdPort: number;
let promPort: number;

beforeAll(async () => {
  [statsdPort, promPort] = await Promise.all([freeUdpPort(), freePort()]);
  daemon = await startDaemon({
    config: `
receivers:
  statsd:
    endpoint: 127.0.0.1:${statsdPort}
    aggregation_interval: 200ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:${promPort}
service:
  pipelines:
    metrics:
      receivers: [statsd]
      exporters: [prometheus]
`,
  });
});

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
});

async function send(datagrams: string[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((r, j) => s.send(d, statsdPort, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();
}

async function scrape() {
  const res = await fetch(`http://127.0.0.1:${promPort}/metrics`);
  return parsePromText(await res.text());
}

/** Scrape until `name{labels}` has `value` (the flush interval decides when). */
async function expectSample(name: string, labels: Record<string, string>, value: number): Promise<void> {
  const got = await eventually(async () => {
    const s = findSample(await scrape(), name, labels);
    return s && s.value === value ? s : undefined;
  });
  if (!got) {
    const near = (await scrape()).filter((s) => s.name.startsWith(name.split('_')[0]));
    throw new Error(`${name}${JSON.stringify(labels)} never reached ${value}; saw ${JSON.stringify(near)}`);
  }
  expect(got.value).toBe(value);
}

describe('statsd receiver in the daemon, to the prometheus exporter', () => {
  it('aggregates every line form to exact values', async () => {
    await send([
      // counters, sampled counters (scaled by 1/rate, kept as floats), packed values, tags in any order
      'e2e.hits:1|c|#route:/a,env:prod\ne2e.hits:2|c|#env:prod,route:/a\ne2e.hits:1|c|@0.5|#route:/a,env:prod',
      'e2e.float:1|c|@0.4\ne2e.packed:1:2:3|c',
      // gauges and deltas
      'e2e.temp:10|g\ne2e.temp:+5|g\ne2e.temp:-2.5|g',
      // sets
      'e2e.users:alice|s\ne2e.users:bob|s\ne2e.users:alice|s',
      // timers / histograms / distributions, with sample weights
      'e2e.lat:10|ms\ne2e.lat:30|ms|@0.5\ne2e.size:100:200|h|#kind:a\ne2e.dist:4|d|@0.25',
      // DogStatsD fields: container id, timestamp, e:, card:, bare tag
      `e2e.ctr:7|c|#canary|c:abc123|e:it-false|card:low|T${Math.floor(Date.now() / 1000)}`,
      // events, service checks, and bad lines in between good ones
      '_e{5,4}:title|text\n_sc|db|0\nnot a metric\ne2e.after_bad:1|c\nx:1|zz',
    ]);
    await expectSample('e2e_hits_total', { env: 'prod', route: '/a' }, 5);
    await expectSample('e2e_float_total', {}, 2.5);
    await expectSample('e2e_packed_total', {}, 6);
    await expectSample('e2e_temp', {}, 12.5);
    await expectSample('e2e_users', {}, 2);
    // `ms` timers are exposed in the Prometheus base unit: seconds, values scaled.
    await expectSample('e2e_lat_seconds_count', {}, 3);
    await expectSample('e2e_lat_seconds_sum', {}, 0.07);
    await expectSample('e2e_size_count', { kind: 'a' }, 2);
    await expectSample('e2e_size_sum', { kind: 'a' }, 300);
    await expectSample('e2e_dist_count', {}, 4);
    await expectSample('e2e_dist_sum', {}, 16);
    await expectSample('e2e_ctr_total', { canary: '', container_id: 'abc123' }, 7);
    await expectSample('e2e_after_bad_total', {}, 1);
    // Classic buckets from the exponential histogram hold every sample.
    const samples = await scrape();
    const inf = findSample(samples, 'e2e_lat_seconds_bucket', { le: '+Inf' });
    expect(inf?.value).toBe(3);

    const bad = await eventually(async () => ((await daemon.selfMetric('tributary_statsd_bad_lines_total', { receiver: 'statsd' })) === 2 ? 2 : 0));
    expect(bad).toBe(2);
    expect(await daemon.selfMetric('tributary_statsd_bad_lines_total', { receiver: 'statsd', reason: 'unknown_type' })).toBe(1);
    expect(await daemon.selfMetric('tributary_statsd_ignored_lines_total', { receiver: 'statsd' })).toBe(2);
    expect(await daemon.selfMetric('tributary_statsd_lines_total', { receiver: 'statsd' })).toBe(21);
  });

  it('takes hot-shots as a plain StatsD client and as a DogStatsD client', async () => {
    const plain = new StatsD({ host: '127.0.0.1', port: statsdPort, prefix: 'hs.', maxBufferSize: 0 });
    plain.increment('requests', 3);
    plain.increment('requests');
    plain.gauge('queue', 9);
    plain.timing('render', 40);
    plain.set('visitors', 'v1');
    plain.set('visitors', 'v2');
    await new Promise<void>((r) => plain.close(() => r()));
    const dog = new StatsD({ host: '127.0.0.1', port: statsdPort, prefix: 'hsd.', globalTags: { env: 'e2e' }, maxBufferSize: 512, bufferFlushInterval: 10 });
    dog.increment('calls', 2, ['route:/x']);
    dog.increment('calls', 5, ['route:/x']);
    dog.histogram('payload', 250, ['kind:b']);
    dog.distribution('latency', 8);
    dog.distribution('latency', 12);
    dog.event('deploy', 'shipped');
    dog.check('db.up', dog.CHECKS.OK);
    await new Promise<void>((r) => dog.close(() => r()));

    await expectSample('hs_requests_total', {}, 4);
    await expectSample('hs_queue', {}, 9);
    await expectSample('hs_render_seconds_count', {}, 1);
    await expectSample('hs_render_seconds_sum', {}, 0.04);
    await expectSample('hs_visitors', {}, 2);
    await expectSample('hsd_calls_total', { env: 'e2e', route: '/x' }, 7);
    await expectSample('hsd_payload_count', { env: 'e2e', kind: 'b' }, 1);
    await expectSample('hsd_latency_sum', { env: 'e2e' }, 20);
    expect(sumSamples(await scrape(), 'hsd_latency_count', { env: 'e2e' })).toBe(2);
  });
});
