/**
 * Service reload by difference, with the real statsd and otlp receivers and
 * the real batch processor in front of an in-memory exporter: under steady
 * UDP and HTTP load, reloads that replace the receivers (same endpoints,
 * other settings), change the batch processor and add an exporter lose no
 * point and count none twice; a receiver whose config is unchanged is kept
 * as the same instance; a start failure leaves no listener parked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { postOtlp } from '../../test/harness/otlp-http.ts';
import { freePort, freeUdpPort } from '../../test/harness/ports.ts';
import { until } from '../../test/harness/wait.ts';
import type { Exporter, ExporterFactory, Factory } from '../component.ts';
import { z } from '../config/types.ts';
import { countPoints, type MetricsBatch, type NumberPoint } from '../model/metrics.ts';
import { encodeExportRequest } from '../otlp/encode.ts';
import { typicalBatch } from '../otlp/testdata.ts';
import * as registry from '../registry.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { Service } from './service.ts';
import { configLoader } from './testing.ts';

/** Batches each `collect` exporter received, by its `sink` name. */
const sinks = new Map<string, MetricsBatch[]>();

const collectSchema = z.object({ sink: z.string() }).strict();
const collectExporterFactory: ExporterFactory<z.infer<typeof collectSchema>> = {
  kind: 'exporter',
  type: 'collect',
  configSchema: collectSchema,
  createDefaultConfig: () => ({ sink: 'default' }),
  create: (_settings, config): Exporter => ({
    async start() {
      if (!sinks.has(config.sink)) sinks.set(config.sink, []);
    },
    async shutdown() {},
    async consume(batch) {
      sinks.get(config.sink)!.push(batch);
    },
  }),
};

const testRegistry = {
  findFactory: (kind: registry.SectionKind, type: string): Factory | undefined =>
    kind === 'exporters' && type === 'collect' ? collectExporterFactory : registry.findFactory(kind, type),
  knownTypes: (kind: registry.SectionKind) => [...registry.knownTypes(kind), ...(kind === 'exporters' ? ['collect'] : [])],
  preload: registry.preload,
};

const configOf = configLoader('service-test', testRegistry);

const services: Service[] = [];
afterEach(async () => {
  while (services.length) await services.pop()!.shutdown(5000);
  sinks.clear();
});

function newService(): Service {
  const s = new Service({ logger: silentLogger(), telemetry: new PipelineTelemetry() });
  services.push(s);
  return s;
}

function totals(sink: string): { statsd: number; otlpPoints: number } {
  let statsd = 0;
  let otlpPoints = 0;
  for (const b of sinks.get(sink) ?? [])
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          if (m.name === 'svc.load') for (const p of m.points as NumberPoint[]) statsd += p.value;
          else otlpPoints += m.points.length;
        }
  return { statsd, otlpPoints };
}

const otlpBody = Buffer.from(encodeExportRequest(typicalBatch(1)));
const pointsPerRequest = countPoints(typicalBatch(1));

/** Steady StatsD and OTLP/HTTP load until stopped. */
function steadyLoad(statsdPort: number, httpPort: number) {
  let running = true;
  const udp = dgram.createSocket('udp4');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let datagrams = 0;
  const statuses: number[] = [];
  const udpLoop = (async () => {
    while (running && datagrams < 100_000) {
      await new Promise<void>((r, j) => udp.send('svc.load:1|c', statsdPort, '127.0.0.1', (e) => (e ? j(e) : r())));
      datagrams++;
      if (datagrams % 20 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  const httpLoops = [0, 1].map(async () => {
    while (running && statuses.length < 20_000) statuses.push(await postOtlp(httpPort, otlpBody, agent));
  });
  return {
    progress: () => datagrams + statuses.length,
    async stop() {
      running = false;
      await Promise.all([udpLoop, ...httpLoops]);
      udp.close();
      agent.destroy();
      return { datagrams, statuses };
    },
  };
}

function yaml(opts: { statsdPort: number; httpPort: number; interval: string; bodyLimit: string; batchTimeout: string; second?: boolean }): string {
  return `
receivers:
  statsd: { endpoint: 127.0.0.1:${opts.statsdPort}, aggregation_interval: ${opts.interval} }
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${opts.httpPort}, max_request_body_size: ${opts.bodyLimit} }
processors:
  batch: { timeout: ${opts.batchTimeout} }
exporters:
  collect: { sink: main }
${opts.second ? '  collect/second: { sink: second }' : ''}
service:
  pipelines:
    metrics:
      receivers: [statsd, otlp]
      processors: [batch]
      exporters: [collect${opts.second ? ', collect/second' : ''}]
`;
}

describe('Service.reload', () => {
  it('replaces receivers on the same endpoints under load with nothing lost or doubled', async () => {
    const [statsdPort, httpPort] = await Promise.all([freeUdpPort(), freePort()]);
    const service = newService();
    const base = { statsdPort, httpPort };
    await service.start(await configOf(yaml({ ...base, interval: '50ms', bodyLimit: '20MiB', batchTimeout: '20ms' })));
    const load = steadyLoad(statsdPort, httpPort);

    const versions = [
      yaml({ ...base, interval: '80ms', bodyLimit: '20MiB', batchTimeout: '20ms' }), // statsd replaced
      yaml({ ...base, interval: '80ms', bodyLimit: '8MiB', batchTimeout: '30ms' }), // otlp replaced, batch changed
      yaml({ ...base, interval: '60ms', bodyLimit: '4MiB', batchTimeout: '30ms', second: true }), // both replaced, exporter added
    ];
    for (const v of versions) {
      const before = load.progress();
      await until(() => load.progress() > before + 300, 'load between reloads');
      await service.reload(await configOf(v));
    }
    const mark = load.progress();
    await until(() => load.progress() > mark + 300, 'load after the last reload');
    const { datagrams, statuses } = await load.stop();

    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const expectPoints = statuses.length * pointsPerRequest;
    // The last statsd interval and batch go out on their timers.
    await until(() => {
      const t = totals('main');
      return t.statsd >= datagrams && t.otlpPoints >= expectPoints;
    }, 'everything at the exporter');
    await service.shutdown(5000);
    expect(totals('main')).toEqual({ statsd: datagrams, otlpPoints: expectPoints });
    const second = totals('second');
    expect(second.statsd + second.otlpPoints).toBeGreaterThan(0);
  });

  it('keeps a receiver whose config did not change as the same instance', async () => {
    const [statsdPort, httpPort] = await Promise.all([freeUdpPort(), freePort()]);
    const service = newService();
    const base = { statsdPort, httpPort, interval: '1s', bodyLimit: '20MiB' };
    await service.start(await configOf(yaml({ ...base, batchTimeout: '20ms' })));
    const graphOf = (s: Service) => (s as unknown as { graph: { receivers: Map<string, { instance: unknown }> } }).graph;
    const statsdBefore = graphOf(service).receivers.get('statsd')!.instance;
    const otlpBefore = graphOf(service).receivers.get('otlp')!.instance;
    await service.reload(await configOf(yaml({ ...base, batchTimeout: '40ms' })));
    expect(graphOf(service).receivers.get('statsd')!.instance).toBe(statsdBefore);
    expect(graphOf(service).receivers.get('otlp')!.instance).toBe(otlpBefore);
    await service.reload(await configOf(yaml({ ...base, interval: '2s', batchTimeout: '40ms' })));
    expect(graphOf(service).receivers.get('statsd')!.instance).not.toBe(statsdBefore);
    expect(graphOf(service).receivers.get('otlp')!.instance).toBe(otlpBefore);
    expect(service.host.sockets.size).toBe(0);
  });

  it('a receiver that fails to start leaves no parked listener behind', async () => {
    const [statsdPort, httpPort, takenPort] = await Promise.all([freeUdpPort(), freePort(), freePort()]);
    const blocker = net.createServer().listen(takenPort, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const service = newService();
      await service.start(await configOf(yaml({ statsdPort, httpPort, interval: '1s', bodyLimit: '20MiB', batchTimeout: '20ms' })));
      // statsd is replaced (handed over), otlp moves to an address someone else holds.
      const bad = yaml({ statsdPort, httpPort: takenPort, interval: '2s', bodyLimit: '20MiB', batchTimeout: '20ms' });
      await expect(service.reload(await configOf(bad))).rejects.toThrow(/receivers::otlp/);
      expect(service.host.sockets.size).toBe(0);
    } finally {
      blocker.close();
    }
  });
});
