/**
 * Live reload and drain on the real daemon (CONTRACT §1 signals, §4 /readyz, §5).
 *
 * The config file is reached through a ConfigMap-like layout and swapped the
 * way the kubelet swaps it (a new timestamped directory, `..data` renamed
 * over atomically) while a steady StatsD (UDP) and OTLP/HTTP load runs. The
 * versions change the batch timeout, the statsd aggregation interval, the
 * otlp receiver's options, add and remove an `attributes` processor, add,
 * replace and remove a second exporter (`otlp_http` to a local sink); one
 * version is invalid. Afterwards the Prometheus exporter shows exactly what
 * was sent, the sink got exactly what was sent while it was configured,
 * every OTLP request was answered 200 and `/readyz` never said anything but 200.
 *
 * Then SIGTERM under load: what was accepted reaches a slow sink within
 * `service.shutdown_timeout`, `/readyz` says 503 while draining, exit 0; and a
 * second SIGTERM during a stuck drain exits at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import { startDaemon, freePort, freeUdpPort, eventually, parsePromText, sumSamples, type DaemonHandle } from './harness/daemon.ts';
import { configMapDir } from './harness/configmap.ts';
import { deltaCounterRequest, OtlpSink, postOtlp } from './harness/otlp-http.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

// ---- load ----

/** Requests for `reload.otlp`: `points` delta points of value 1 each, at increasing times. */
const otlpRequest = (i: number, points = 1) => deltaCounterRequest(i, { metric: 'reload.otlp', service: 'reload-e2e', points });

/** The local OTLP/HTTP sink the second exporter sends to: sums the delta counters it receives by metric name. */
async function startSink(opts: { delayMs?: number; hang?: boolean } = {}): Promise<OtlpSink> {
  const sink = new OtlpSink();
  sink.delayMs = opts.delayMs ?? 0;
  sink.hang = opts.hang ?? false;
  await sink.start();
  cleanups.push(() => sink.close());
  return sink;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Steady StatsD counters (`reload.statsd:1|c`) and OTLP/HTTP requests
 * (`pointsPerRequest` points of value 1 each), pausable; counts what it sent
 * and every HTTP status.
 */
function steadyLoad(statsdPort: number, httpPort: number, pointsPerRequest = 1) {
  const udp = dgram.createSocket('udp4');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let running = true;
  let paused = false;
  let statsdOn = true;
  let statsdSent = 0;
  let requestNo = 0;
  const statuses: number[] = [];
  // Which loops are between calls (paused): pausing waits for all, so counts are final while paused.
  const idle = [false, false, false];
  const waitWhilePaused = async (i: number) => {
    while (running && (paused || (i === 0 && !statsdOn))) {
      idle[i] = true;
      await sleep(5);
    }
    idle[i] = false;
  };
  const loops = [
    (async () => {
      while (running) {
        await waitWhilePaused(0);
        for (let k = 0; k < 5 && running; k++) {
          await new Promise<void>((r) => udp.send('reload.statsd:1|c', statsdPort, '127.0.0.1', () => r()));
          statsdSent++;
        }
        await sleep(1);
      }
    })(),
    ...[1, 2].map(async (i) => {
      while (running) {
        await waitWhilePaused(i);
        if (!running) break;
        statuses.push(await postOtlp(httpPort, otlpRequest(requestNo++, pointsPerRequest), agent));
        await sleep(1);
      }
    }),
  ];
  const allIdle = async (which: number[]) => {
    while (!which.every((i) => idle[i])) await sleep(2);
  };
  return {
    get statsdSent() {
      return statsdSent;
    },
    statuses,
    /** OTLP points the daemon accepted (answered 200). */
    otlpAccepted: () => statuses.filter((s) => s === 200).length * pointsPerRequest,
    progress: () => statsdSent + statuses.length,
    async pause() {
      paused = true;
      await allIdle([0, 1, 2]);
    },
    resume() {
      paused = false;
    },
    async stopStatsd() {
      statsdOn = false;
      await allIdle([0]);
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      udp.close();
      agent.destroy();
    },
  };
}

/** Polls /readyz until stopped; keeps every status seen. */
function readyzPoller(adminUrl: string) {
  const seen: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        seen.push((await fetch(`${adminUrl}/readyz`)).status);
      } catch {
        seen.push(0);
      }
      await sleep(10);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await done;
      return seen;
    },
  };
}

// ---- config versions ----

interface Version {
  interval: string;
  batchTimeout: string;
  bodyLimit?: string;
  attributes?: boolean;
  second?: 'a' | 'b';
  invalid?: boolean;
}

function configText(ports: { statsd: number; http: number; prom: number; sink: number }, v: Version): string {
  const processors = ['batch', ...(v.attributes ? ['attributes'] : [])];
  const exporters = ['prometheus', ...(v.second ? ['otlp_http/second'] : [])];
  return `
receivers:
  statsd:
    endpoint: 127.0.0.1:${ports.statsd}
    aggregation_interval: ${v.interval}
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.http}
        max_request_body_size: ${v.bodyLimit ?? '20MiB'}
processors:
  batch:
    timeout: ${v.batchTimeout}
${v.invalid ? '    no_such_option: 1\n' : ''}  attributes:
    actions:
      - { key: reload.version, value: v2, action: insert }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${ports.prom}
  otlp_http/second:
    endpoint: http://127.0.0.1:${ports.sink}
    compression: none
    timeout: ${v.second === 'b' ? '4s' : '5s'}
    retry_on_failure: { initial_interval: 100ms }
service:
  pipelines:
    metrics:
      receivers: [statsd, otlp]
      processors: [${processors.join(', ')}]
      exporters: [${exporters.join(', ')}]
`;
}

async function scrapeTotals(promPort: number): Promise<{ statsd: number; otlp: number }> {
  const samples = parsePromText(await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text());
  return { statsd: sumSamples(samples, 'reload_statsd_total', {}), otlp: sumSamples(samples, 'reload_otlp_total', {}) };
}

describe('live reload on the real daemon', () => {
  it('swaps the config through a ConfigMap symlink under load: nothing lost, nothing twice, /readyz 200 throughout', async () => {
    const [statsd, httpPort, prom] = await Promise.all([freeUdpPort(), freePort(), freePort()]);
    const sink = await startSink();
    const ports = { statsd, http: httpPort, prom, sink: sink.port };
    const initial = configText(ports, { interval: '100ms', batchTimeout: '50ms' });
    const cm = configMapDir(initial);
    const daemon = await startDaemon({ config: initial, configPath: cm.path, env: { TRIBUTARY_RELOAD_DEBOUNCE_MS: '50' } });
    cleanups.push(() => daemon.kill());
    const readyz = readyzPoller(daemon.adminUrl);
    const load = steadyLoad(statsd, httpPort);

    let successes = 0;
    const swap = async (v: Version) => {
      cm.update(configText(ports, v));
      if (v.invalid) {
        await eventually(async () => (await daemon.selfMetric('tributary_config_reloads_total', { result: 'failure' })) === 1);
        return;
      }
      successes++;
      const applied = await eventually(async () => (await daemon.selfMetric('tributary_config_reloads_total', { result: 'success' })) === successes);
      if (!applied) throw new Error(`reload ${successes} not applied:\n${daemon.logs()}`);
    };
    /** Let the load run a while. */
    const run = async () => {
      const from = load.progress();
      await eventually(() => load.progress() > from + 400);
    };
    /** Everything sent so far is visible on the Prometheus exporter (the load is paused). */
    const settled = async () => {
      const ok = await eventually(async () => {
        const t = await scrapeTotals(prom);
        return t.statsd === load.statsdSent && t.otlp === load.otlpAccepted();
      });
      if (!ok) throw new Error(`not settled: ${JSON.stringify(await scrapeTotals(prom))} vs sent ${load.statsdSent}/${load.otlpAccepted()}\n${daemon.logs()}`);
    };

    await run();
    await swap({ interval: '200ms', batchTimeout: '100ms' }); // statsd replaced (socket handed over), batch rebuilt
    await run();
    await swap({ interval: '200ms', batchTimeout: '100ms', attributes: true }); // processor added
    await run();
    await swap({ interval: '200ms', batchTimeout: '100ms', attributes: true, invalid: true }); // rejected, nothing changes
    await run();
    await swap({ interval: '150ms', batchTimeout: '100ms', bodyLimit: '8MiB' }); // otlp replaced (server handed over), processor removed
    await run();

    // The second exporter's window opens and closes with the load paused, so what it should get is exact.
    await load.pause();
    await settled();
    const windowStart = { statsd: load.statsdSent, otlp: load.otlpAccepted() };
    await swap({ interval: '150ms', batchTimeout: '100ms', bodyLimit: '8MiB', second: 'a' });
    load.resume();
    await run();
    await swap({ interval: '100ms', batchTimeout: '60ms', bodyLimit: '8MiB', second: 'b' }); // exporter replaced under load, statsd again
    await run();
    await load.pause();
    await settled();
    const windowEnd = { statsd: load.statsdSent, otlp: load.otlpAccepted() };
    const sinkComplete = await eventually(
      () => sink.total('reload.statsd') === windowEnd.statsd - windowStart.statsd && sink.total('reload.otlp') === windowEnd.otlp - windowStart.otlp,
    );
    if (!sinkComplete) throw new Error(`sink: ${JSON.stringify([...sink.totals])} vs window ${JSON.stringify({ windowStart, windowEnd })}`);
    await swap({ interval: '100ms', batchTimeout: '60ms' }); // second exporter removed
    load.resume();
    await run();
    await swap({ interval: '100ms', batchTimeout: '30ms' });
    await run();

    await load.stop();
    await settled();
    // One more aggregation interval and batch: nothing arrives twice.
    await sleep(300);
    expect(await scrapeTotals(prom)).toEqual({ statsd: load.statsdSent, otlp: load.otlpAccepted() });
    expect(sink.total('reload.statsd')).toBe(windowEnd.statsd - windowStart.statsd);
    expect(sink.total('reload.otlp')).toBe(windowEnd.otlp - windowStart.otlp);
    expect(windowEnd.statsd - windowStart.statsd).toBeGreaterThan(0);

    expect(load.statuses.filter((s) => s !== 200)).toEqual([]);
    const seen = await readyz.stop();
    expect(seen.length).toBeGreaterThan(50);
    expect(seen.filter((s) => s !== 200)).toEqual([]);
    expect(await daemon.selfMetric('tributary_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(await daemon.selfMetric('tributary_config_reloads_total', { result: 'success' })).toBe(7);
    expect(daemon.logs()).toMatch(/config reload rejected: .*processors\.batch.*no_such_option/);
    // The receivers were replaced with their sockets handed over, never bound afresh.
    expect(daemon.logs()).toMatch(/"handedOver":\["udp:127\.0\.0\.1:\d+"\]/);
    expect(daemon.logs()).toMatch(/"handedOver":\["tcp:127\.0\.0\.1:\d+"\]/);
    expect(await daemon.stop()).toBe(0);
  });

  it('SIGTERM under load drains what was accepted into a slow exporter within shutdown_timeout; /readyz 503 while draining; exit 0', async () => {
    const [statsd, httpPort] = await Promise.all([freeUdpPort(), freePort()]);
    const sink = await startSink({ delayMs: 20 });
    const config = `
receivers:
  statsd: { endpoint: 127.0.0.1:${statsd}, aggregation_interval: 10s }
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
processors:
  batch: { send_batch_size: 20, timeout: 10s }
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:${sink.port}
    compression: none
    sending_queue: { num_consumers: 1, queue_size: 5000 }
service:
  shutdown_timeout: 20s
  pipelines:
    metrics: { receivers: [statsd, otlp], processors: [batch], exporters: [otlp_http] }
`;
    const daemon = await startDaemon({ config });
    cleanups.push(() => daemon.kill());
    const load = steadyLoad(statsd, httpPort, 10);
    await eventually(() => load.otlpAccepted() >= 3000 && load.statsdSent >= 500, { timeoutMs: 30_000 });
    // StatsD stops first so that every datagram sent has been read (UDP has no acknowledgement);
    // the aggregated interval (10s, not yet flushed) must still come out on shutdown.
    await load.stopStatsd();
    await eventually(async () => (await daemon.selfMetric('tributary_statsd_lines_total')) === load.statsdSent);
    const readyz = readyzPoller(daemon.adminUrl);
    const exited = daemon.stop('SIGTERM');
    // OTLP keeps coming while the daemon drains; requests after the receiver closed are refused (status 0), never half-taken.
    const code = await exited;
    await load.stop();
    const seen = await readyz.stop();

    expect(code).toBe(0);
    expect(seen).toContain(503);
    expect(load.statuses.filter((s) => s !== 200 && s !== 0)).toEqual([]);
    expect(sink.total('reload.otlp')).toBe(load.otlpAccepted());
    expect(sink.total('reload.statsd')).toBe(load.statsdSent);
    expect(daemon.logs()).toMatch(/"in_time":true/);
  });

  it('a second SIGTERM during a stuck drain exits at once', async () => {
    const httpPort = await freePort();
    const sink = await startSink({ hang: true });
    const daemon = await startDaemon({
      config: `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
exporters:
  otlp_http: { endpoint: "http://127.0.0.1:${sink.port}", compression: none, timeout: 60s }
service:
  shutdown_timeout: 120s
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlp_http] }
`,
    });
    cleanups.push(() => daemon.kill());
    const agent = new http.Agent();
    cleanups.push(() => agent.destroy());
    for (let i = 0; i < 5; i++) expect(await postOtlp(httpPort, otlpRequest(i), agent)).toBe(200);
    daemon.process.kill('SIGTERM');
    const draining = await eventually(async () => {
      const res = await fetch(`${daemon.adminUrl}/readyz`).catch(() => undefined);
      return res?.status === 503;
    });
    expect(draining).toBe(true);
    daemon.process.kill('SIGTERM');
    // Far sooner than the 120 s drain or the 60 s send timeout would allow.
    const code = await Promise.race([daemon.exited, sleep(15_000).then(() => 'still running' as const)]);
    expect(code).toBe(1);
    expect(daemon.logs()).toMatch(/second signal: exiting at once/);
  });
});
