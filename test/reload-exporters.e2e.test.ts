/**
 * Live reload of changed exporters on the real daemon (CONTRACT §5: "data in
 * processors and exporter queues of replaced components is drained into
 * their successors, not dropped"; listeners keep their sockets).
 *
 * - The prometheus exporter's `metric_expiration` changes under OTLP load
 *   while a scraper polls it: every scrape is answered 200 with the counter
 *   in it, the counter never goes down (no reset), and the final value is
 *   exactly what was accepted.
 * - An `otlp_http` exporter's `timeout` and `headers` change while its
 *   backend is down and batches are queued: when the backend comes up, every
 *   point arrives exactly once, all through the new exporter (the new header).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, freePort, eventually, parsePromText, sumSamples, type DaemonHandle } from './harness/daemon.ts';
import { configMapDir } from './harness/configmap.ts';
import { deltaCounterRequest, otlpLoad, OtlpSink } from './harness/otlp-http.ts';
import { scraper } from './harness/scrape.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two OTLP/HTTP clients posting `reload.exporters` (`points` delta points of 1, distinct series `k`, per request) until stopped; counts the points the daemon accepted (200). */
function exportersLoad(port: number, points: number) {
  return otlpLoad(port, (i) => deltaCounterRequest(i, { metric: 'reload.exporters', service: 'reload-exporters-e2e', points }), { pointsPerRequest: points });
}

/** The `reload_exporters_total` counter of an exposition, summed over its series; undefined when absent. */
function counterTotal(body: string): number | undefined {
  const samples = parsePromText(body).filter((s) => s.name === 'reload_exporters_total');
  return samples.length > 0 ? sumSamples(samples, 'reload_exporters_total') : undefined;
}

async function reloaded(daemon: DaemonHandle, successes: number): Promise<void> {
  const ok = await eventually(async () => (await daemon.selfMetric('tributary_config_reloads_total', { result: 'success' })) === successes);
  if (!ok) throw new Error(`reload ${successes} not applied:\n${daemon.logs()}`);
}

describe('live reload of changed exporters on the real daemon', () => {
  it('prometheus metric_expiration changed under load: same socket, counters continue, every scrape 200 and whole, totals exact', async () => {
    const [otlp, prom] = await Promise.all([freePort(), freePort()]);
    const configText = (expiration: string) => `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${otlp} } } }
processors:
  batch: { timeout: 20ms }
exporters:
  prometheus: { endpoint: 127.0.0.1:${prom}, metric_expiration: ${expiration} }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [prometheus] }
`;
    const cm = configMapDir(configText('5m'));
    const daemon = await startDaemon({ config: configText('5m'), configPath: cm.path, env: { TRIBUTARY_RELOAD_DEBOUNCE_MS: '50' } });
    cleanups.push(() => daemon.kill());
    const load = exportersLoad(otlp, 5);
    // One loop over a keep-alive connection, one over fresh ones.
    const scrapes = scraper(`http://127.0.0.1:${prom}/metrics`, counterTotal, { pauseMs: 2, max: 100_000 });
    const progressed = async (what: string) => {
      const from = { posts: load.statuses.length, scrapes: scrapes.results.length };
      const ok = await eventually(() => load.statuses.length > from.posts + 300 && scrapes.results.length > from.scrapes + 100);
      if (!ok) throw new Error(`no progress ${what}:\n${daemon.logs()}`);
    };

    await progressed('before the reloads');
    cm.update(configText('10m'));
    await reloaded(daemon, 1);
    await progressed('after the first reload');
    cm.update(configText('7m'));
    await reloaded(daemon, 2);
    await progressed('after the second reload');
    await load.stop();
    const accepted = load.accepted();
    const caughtUp = await eventually(() => scrapes.results.at(-1)?.value === accepted);
    const seen = await scrapes.stop();
    if (!caughtUp) throw new Error(`prometheus shows ${seen.at(-1)?.value}, accepted ${accepted}\n${daemon.logs()}`);

    expect(load.statuses.filter((s) => s !== 200)).toEqual([]);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    // From the first scrape with data on: the counter is in every exposition and never goes down.
    for (const loop of scrapes.byLoop) {
      const totals = loop.map((s) => s.value);
      totals.splice(0, totals.findIndex((t) => t !== undefined));
      expect(totals.length).toBeGreaterThan(50);
      expect(totals.filter((t) => t === undefined)).toEqual([]);
      const resets = totals.flatMap((t, i) => (i > 0 && t! < totals[i - 1]! ? [[totals[i - 1], t]] : []));
      expect(resets).toEqual([]);
    }
    expect(await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter: 'prometheus' })).toBe(accepted);
    expect(await daemon.selfMetric('tributary_exporter_failed_points_total', { exporter: 'prometheus' })).toBe(0);
    expect(await daemon.selfMetric('tributary_config_reloads_total', { result: 'failure' })).toBe(0);
    // The exporter's socket was handed over, not bound afresh.
    expect(daemon.logs()).toContain(`"handedOver":["tcp:127.0.0.1:${prom}"]`);
    expect(await daemon.stop()).toBe(0);
  });

  it('otlp_http timeout and headers changed while its backend is down: every queued point arrives once, through the new exporter', async () => {
    const [otlp, backendPort] = await Promise.all([freePort(), freePort()]);
    const configText = (v: { header: string; timeout: string }) => `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${otlp} } } }
processors:
  batch: { timeout: 20ms }
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:${backendPort}
    compression: none
    timeout: ${v.timeout}
    headers: { x-config: ${v.header} }
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms }
    circuit_breaker: { open_duration: 200ms }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [otlp_http] }
`;
    const first = configText({ header: 'v1', timeout: '5s' });
    const cm = configMapDir(first);
    const daemon = await startDaemon({ config: first, configPath: cm.path, env: { TRIBUTARY_RELOAD_DEBOUNCE_MS: '50' } });
    cleanups.push(() => daemon.kill());
    const metric = (name: string, labels: Record<string, string> = {}) => daemon.selfMetric(name, { exporter: 'otlp_http', ...labels });

    const load = exportersLoad(otlp, 10);
    await eventually(() => load.accepted() >= 3000);
    // Backend down: points pile up in the queue (retrying, waiting behind the breaker).
    expect(await eventually(async () => (await metric('tributary_exporter_queue_size')) > 0)).toBe(true);
    cm.update(configText({ header: 'v2', timeout: '3s' }));
    await reloaded(daemon, 1);
    const mark = load.accepted();
    await eventually(() => load.accepted() >= mark + 3000);
    await load.stop();
    const accepted = load.accepted();

    // Everything accepted is queued once (at the new exporter), nothing sent or failed yet.
    const allQueued = await eventually(async () => (await metric('tributary_exporter_queue_size')) === accepted);
    if (!allQueued) throw new Error(`queue ${await metric('tributary_exporter_queue_size')} vs accepted ${accepted}\n${daemon.logs()}`);
    expect(await metric('tributary_exporter_sent_points_total')).toBe(0);
    expect(await metric('tributary_exporter_failed_points_total')).toBe(0);

    const backend = new OtlpSink({ port: backendPort, tagHeader: 'x-config' });
    await backend.start();
    cleanups.push(() => backend.close());
    const drained = await eventually(async () => (await metric('tributary_exporter_sent_points_total')) === accepted, { timeoutMs: 30_000 });
    if (!drained) throw new Error(`sent ${await metric('tributary_exporter_sent_points_total')} of ${accepted}\n${daemon.logs()}`);
    // Once more after a while: nothing arrives twice.
    await sleep(300);
    expect([...backend.byHeader]).toEqual([['v2', accepted]]);
    expect(load.statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await metric('tributary_exporter_sent_points_total')).toBe(accepted);
    expect(await metric('tributary_exporter_failed_points_total')).toBe(0);
    expect(await metric('tributary_exporter_queue_size')).toBe(0);
    expect(await daemon.stop()).toBe(0);
  });
});
