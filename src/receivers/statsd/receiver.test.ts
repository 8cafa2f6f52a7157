import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { StatsD } from 'hot-shots';
import { CollectingConsumer, type MetricsConsumer } from '../../consumer.ts';
import { refusedError } from '../../errors.ts';
import type { ExpHistogramPoint, Metric, MetricsBatch, NumberPoint } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { memoryLimiterConfigSchema } from '../../processors/memory_limiter/config.ts';
import { MemoryMonitor, memoryPressure } from '../../processors/memory_limiter/monitor.ts';
import { statsdConfigSchema } from './config.ts';
import { statsdReceiverFactory } from './factory.ts';
import { StatsdReceiver } from './receiver.ts';
import { LineFramer } from './transport.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startReceiver(raw: Record<string, unknown>, next: MetricsConsumer = new CollectingConsumer()) {
  const telemetry = new PipelineTelemetry();
  // A long interval: tests flush by hand so nothing depends on timing.
  const config = statsdConfigSchema.parse({ endpoint: '127.0.0.1:0', aggregation_interval: '1h', ...raw });
  const receiver = statsdReceiverFactory.create(testSettings('receiver', 'statsd', '', telemetry), config, next) as StatsdReceiver;
  await receiver.start(testHost());
  cleanups.push(() => receiver.shutdown());
  const lines = () => telemetry.registry.counter('tributary_statsd_lines_total', '').get({ receiver: 'statsd' });
  return { receiver, telemetry, next, lines, port: Number(receiver.address!.split(':').pop()) };
}

/** Wait until `fn` is true, polling; bounded. */
async function until(fn: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function metricsOf(batches: MetricsBatch[]): Metric[] {
  return batches.flatMap((b) => b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)));
}

function value(metrics: Metric[], name: string): number {
  const m = metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name}`);
  return (m.points[0] as NumberPoint).value;
}

async function sendUdp(port: number, datagrams: string[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((r, j) => s.send(d, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();
}

describe('statsd receiver over UDP', () => {
  it('aggregates datagrams from different source ports into one series', async () => {
    const t = await startReceiver({});
    await sendUdp(t.port, ['a:1|c|#k:v', 'a:2|c|#k:v\nb:5|g']);
    await sendUdp(t.port, ['a:3|c|#k:v']); // another socket, another source port
    await until(() => t.lines() === 4, 'lines');
    await t.receiver.flush();
    const m = metricsOf((t.next as CollectingConsumer).batches);
    expect(m.find((x) => x.name === 'a')!.points).toHaveLength(1);
    expect(value(m, 'a')).toBe(6);
    expect(value(m, 'b')).toBe(5);
  });

  it('counts bad lines by reason, keeps going, and flushes on shutdown', async () => {
    const t = await startReceiver({});
    await sendUdp(t.port, ['garbage\nok:1|c\nx:1|zz', '_e{1,1}:a|b\n_sc|x|0']);
    await until(() => t.lines() === 5, 'lines');
    const bad = t.telemetry.statsdBadLines;
    expect(bad.get({ receiver: 'statsd', reason: 'no_value' })).toBe(1);
    expect(bad.get({ receiver: 'statsd', reason: 'unknown_type' })).toBe(1);
    const ignored = t.telemetry.registry.counter('tributary_statsd_ignored_lines_total', '');
    expect(ignored.get({ receiver: 'statsd', kind: 'event' })).toBe(1);
    expect(ignored.get({ receiver: 'statsd', kind: 'service_check' })).toBe(1);
    await t.receiver.shutdown();
    expect(value(metricsOf((t.next as CollectingConsumer).batches), 'ok')).toBe(1);
  });

  it('counts a refused flush as refused points, with the consumer’s reason', async () => {
    const refusing: MetricsConsumer = {
      consume: async () => {
        throw refusedError('memory limit', { reason: 'memory_limit' });
      },
    };
    const t = await startReceiver({}, refusing);
    await sendUdp(t.port, ['a:1|c\nb:1|c\nc:1|ms']);
    await until(() => t.lines() === 3, 'lines');
    await t.receiver.flush();
    expect(t.telemetry.receiverRefused.get({ receiver: 'statsd', reason: 'memory_limit' })).toBe(3);
  });

  it('drops datagrams unparsed while a memory_limiter is above its soft limit, counting their lines as refused', async () => {
    const t = await startReceiver({});
    const limiter = new MemoryMonitor(memoryLimiterConfigSchema.parse({ limit_mib: 100 }), testSettings('processor', 'memory_limiter').logger, {
      readMemory: () => 99 * 2 ** 20,
      readRss: () => 0,
      gc: () => false,
    });
    limiter.check();
    cleanups.push(() => limiter.stop());
    expect(memoryPressure()).toBe(true);
    await sendUdp(t.port, ['a:1|c\nb:1|c\r\n\nc:1|ms', 'bad line']);
    await until(() => t.lines() === 4, 'lines');
    expect(t.telemetry.receiverRefused.get({ receiver: 'statsd', reason: 'memory_limit' })).toBe(4);
    expect(t.telemetry.statsdBadLines.get({ receiver: 'statsd', reason: 'no_value' })).toBe(0);
    limiter.stop();
    await sendUdp(t.port, ['a:5|c']);
    await until(() => t.lines() === 5, 'lines after the limiter let go');
    await t.receiver.flush();
    expect(value(metricsOf((t.next as CollectingConsumer).batches), 'a')).toBe(5);
  });

  it('counts samples over max_series as refused', async () => {
    const t = await startReceiver({ max_series: 2 });
    await sendUdp(t.port, ['a:1|c\nb:1|c\nc:1|c\nd:1:2|d']);
    await until(() => t.lines() === 4, 'lines');
    expect(t.telemetry.receiverRefused.get({ receiver: 'statsd', reason: 'series_limit' })).toBe(3);
  });

  it('fails to start with a clear message when the port is taken', async () => {
    const t = await startReceiver({});
    const config = statsdConfigSchema.parse({ endpoint: `127.0.0.1:${t.port}` });
    const second = statsdReceiverFactory.create(testSettings('receiver', 'statsd/2'), config, new CollectingConsumer());
    await expect(second.start(testHost())).rejects.toThrow(`listen udp 127.0.0.1:${t.port}: address already in use`);
  });

  it('takes hot-shots used as a plain StatsD client', async () => {
    const t = await startReceiver({});
    const client = new StatsD({ host: '127.0.0.1', port: t.port, maxBufferSize: 0 });
    client.increment('page.views');
    client.increment('page.views', 4);
    client.decrement('page.views');
    client.gauge('queue.depth', 17);
    client.timing('db.query', 12);
    client.timing('db.query', 30);
    client.set('users', 'alice');
    client.set('users', 'bob');
    client.set('users', 'alice');
    await new Promise<void>((r) => client.close(() => r()));
    await until(() => t.lines() === 9, 'lines');
    await t.receiver.flush();
    const m = metricsOf((t.next as CollectingConsumer).batches);
    expect(value(m, 'page.views')).toBe(4);
    expect(value(m, 'queue.depth')).toBe(17);
    expect(value(m, 'users')).toBe(2);
    const q = m.find((x) => x.name === 'db.query')!;
    expect(q).toMatchObject({ type: 'exponential_histogram', unit: 'ms' });
    expect((q.points[0] as ExpHistogramPoint).count).toBe(2);
    expect((q.points[0] as ExpHistogramPoint).sum).toBe(42);
  });

  it('takes hot-shots in DogStatsD mode: tags, histograms, distributions, packed buffers, events, checks', async () => {
    const t = await startReceiver({});
    // maxBufferSize packs several lines per datagram, as DogStatsD clients do.
    const client = new StatsD({ host: '127.0.0.1', port: t.port, globalTags: { env: 'test' }, maxBufferSize: 1000, bufferFlushInterval: 5 });
    client.increment('api.calls', 1, ['route:/x', 'canary']);
    client.increment('api.calls', 2, ['canary', 'route:/x']);
    client.histogram('payload', 100, ['kind:a']);
    client.histogram('payload', 300, ['kind:a']);
    client.distribution('latency', 5);
    client.gauge('temp', 20.5, ['room:1']);
    client.event('deploy', 'v1 shipped');
    client.check('db.up', client.CHECKS.OK);
    await new Promise<void>((r) => client.close(() => r()));
    await until(() => t.lines() === 8, 'lines');
    await t.receiver.flush();
    const m = metricsOf((t.next as CollectingConsumer).batches);
    const calls = m.find((x) => x.name === 'api.calls')!;
    expect(calls.points).toHaveLength(1);
    expect(calls.points[0].attributes).toEqual({ env: 'test', canary: '', route: '/x' });
    expect((calls.points[0] as NumberPoint).value).toBe(3);
    const payload = m.find((x) => x.name === 'payload')!.points[0] as ExpHistogramPoint;
    expect([payload.count, payload.sum, payload.min, payload.max]).toEqual([2, 400, 100, 300]);
    expect((m.find((x) => x.name === 'latency')!.points[0] as ExpHistogramPoint).count).toBe(1);
    expect(value(m, 'temp')).toBe(20.5);
    const ignored = t.telemetry.registry.counter('tributary_statsd_ignored_lines_total', '');
    expect(ignored.sum({ receiver: 'statsd' })).toBe(2);
    expect(t.telemetry.statsdBadLines.sum()).toBe(0);
  });
});

describe('statsd receiver over TCP', () => {
  it('frames lines across chunks from several clients', async () => {
    const t = await startReceiver({ transport: 'tcp' });
    const write = (sock: net.Socket, s: string) => new Promise<void>((r) => sock.write(s, () => r()));
    const a = net.connect(t.port, '127.0.0.1');
    const b = net.connect(t.port, '127.0.0.1');
    await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
    await write(a, 'tcp.hits:1|c\ntcp.hi');
    await write(b, 'tcp.hits:10|c\n');
    await new Promise((r) => setTimeout(r, 20));
    await write(a, 'ts:2|c\ntcp.gauge:4|g'); // the last line completes at end of stream
    await new Promise<void>((r) => a.end(() => r()));
    b.end();
    await until(() => t.lines() === 4, 'lines');
    await t.receiver.flush();
    const m = metricsOf((t.next as CollectingConsumer).batches);
    expect(value(m, 'tcp.hits')).toBe(13);
    expect(value(m, 'tcp.gauge')).toBe(4);
  });

  it('drops and counts a line over max_line_length, keeping the next ones', () => {
    const got: string[] = [];
    const tooLong: string[] = [];
    const f = new LineFramer({ maxLineLength: 10, onData: (b) => got.push(...b.toString().split('\n').filter(Boolean)), onTooLong: (h) => tooLong.push(h.toString()) });
    f.push(Buffer.from('a:1|c\nxxxxxxxx'));
    f.push(Buffer.from('xxxxxxxxxx'));
    f.push(Buffer.from('xx\nb:2|c\n'));
    f.push(Buffer.from('c:3|c\nthis-one-is-too-long|c\nd:4|c\n'));
    expect(got).toEqual(['a:1|c', 'b:2|c', 'c:3|c', 'd:4|c']);
    expect(tooLong).toHaveLength(2);
  });
});

let unixDgramLoads = true;
try {
  createRequire(import.meta.url)('unix-dgram');
} catch {
  unixDgramLoads = false;
}

describe.skipIf(!unixDgramLoads)('statsd receiver over a unix datagram socket', () => {
  it('receives from hot-shots over uds and sets the socket mode', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statsd-uds-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sock = path.join(dir, 'dsd.socket');
    const t = await startReceiver({ transport: 'unixgram', endpoint: sock, socket_permissions: '0660' });
    expect(fs.statSync(sock).mode & 0o777).toBe(0o660);
    const client = new StatsD({ protocol: 'uds', path: sock, maxBufferSize: 0 });
    client.increment('uds.hits', 2, ['a:b']);
    client.gauge('uds.g', 3);
    await until(() => t.lines() === 2, 'lines');
    await new Promise<void>((r) => client.close(() => r()));
    await t.receiver.shutdown();
    const m = metricsOf((t.next as CollectingConsumer).batches);
    expect(value(m, 'uds.hits')).toBe(2);
    expect(value(m, 'uds.g')).toBe(3);
    expect(fs.existsSync(sock)).toBe(false);
  });
});

describe('statsd factory', () => {
  it('defaults follow the contract', () => {
    const c = statsdReceiverFactory.createDefaultConfig();
    expect(c).toMatchObject({ endpoint: '127.0.0.1:8125', transport: 'udp', aggregation_interval: 10_000, max_series: 100_000 });
    expect(statsdReceiverFactory.listenAddresses!(c)).toEqual([{ key: 'endpoint', transport: 'udp', address: '127.0.0.1:8125' }]);
  });

  it('accepts an otelcol-contrib config and validates across fields', () => {
    const c = statsdConfigSchema.parse({
      endpoint: 'localhost:8127',
      aggregation_interval: '70s',
      enable_metric_type: true,
      is_monotonic_counter: false,
      timer_histogram_mapping: [
        { statsd_type: 'histogram', observer_type: 'gauge' },
        { statsd_type: 'timing', observer_type: 'histogram', histogram: { max_size: 100 } },
        { statsd_type: 'distribution', observer_type: 'summary', summary: { percentiles: [0, 10, 50, 99.9, 100] } },
      ],
    });
    expect(statsdReceiverFactory.validate!(c)).toEqual([]);
    expect(statsdConfigSchema.safeParse({ bogus: 1 }).success).toBe(false);
    const bad = statsdConfigSchema.parse({
      transport: 'unixgram',
      endpoint: 'localhost:1',
      timer_histogram_mapping: [
        { statsd_type: 'timing', observer_type: 'histogram', histogram: { max_size: 10, explicit_buckets: [2, 1] } },
        { statsd_type: 'timer', observer_type: 'summary' },
      ],
    });
    expect(statsdReceiverFactory.validate!(bad).map((i) => i[0])).toEqual([
      'endpoint',
      'timer_histogram_mapping.0.histogram',
      'timer_histogram_mapping.0.histogram.explicit_buckets',
      'timer_histogram_mapping.1.statsd_type',
    ]);
  });
});
