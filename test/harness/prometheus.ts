/**
 * A real Prometheus server for tests: scrapes the given targets every second
 * and/or receives remote write, stores in a temp dir, answers PromQL.
 *
 *   const prom = await startPrometheus({ scrapeTargets: ['127.0.0.1:9464'] });
 *   await prom.waitForValue('my_counter_total{job="api"}', (v) => v === 7);
 *   await prom.stop();
 *
 * Targets are `host:port` (path /metrics) or full URLs. The scrape job uses
 * `honor_labels: true`, so `job`/`instance` labels exposed by the target win,
 * as the OTel→Prometheus spec intends for an exporter's series.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS_BIN);
}

export interface PrometheusOptions {
  scrapeTargets?: string[];
  remoteWriteReceiver?: boolean;
  /** Default `1s`. */
  scrapeInterval?: string;
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusHandle {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Remote-write endpoint (meaningful with `remoteWriteReceiver: true`). */
  remoteWriteUrl: string;
  /** Instant query; resolves to `data.result` (a vector for most queries). */
  query(promql: string): Promise<VectorSample[]>;
  /** Poll `promql` until its first sample's value satisfies `accept` (or any sample exists when omitted). */
  waitForValue(promql: string, accept?: (v: number) => boolean, timeoutMs?: number): Promise<number>;
  /** Stop the server and remove its data directory. */
  stop(): Promise<void>;
  /** What the server printed, for failure messages. */
  logs(): string;
}

function scrapeConfigs(targets: string[], interval: string): string {
  // One job per metrics path (Prometheus sets the path per job, not per target).
  const byPath = new Map<string, { scheme: string; hosts: string[] }>();
  for (const t of targets) {
    const u = t.includes('://') ? new URL(t) : new URL(`http://${t}/metrics`);
    const key = `${u.protocol}${u.pathname}`;
    const entry = byPath.get(key) ?? { scheme: u.protocol.replace(':', ''), hosts: [] };
    entry.hosts.push(u.host);
    byPath.set(key, entry);
  }
  let out = '';
  let i = 0;
  for (const [key, { scheme, hosts }] of byPath) {
    const path = key.slice(key.indexOf(':') + 1);
    out += `  - job_name: target${i++}\n    honor_labels: true\n    scrape_interval: ${interval}\n    scrape_timeout: ${interval}\n    scheme: ${scheme}\n    metrics_path: ${JSON.stringify(path)}\n    static_configs:\n      - targets: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]\n`;
  }
  return out;
}

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<PrometheusHandle> {
  const interval = opts.scrapeInterval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'tributary-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  const targets = opts.scrapeTargets ?? [];
  await writeFile(
    configFile,
    `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\n` + (targets.length > 0 ? `scrape_configs:\n${scrapeConfigs(targets, interval)}` : ''),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ];
  if (opts.remoteWriteReceiver) args.push('--web.enable-remote-write-receiver');

  let output = '';
  const child: ChildProcess = spawn(PROMETHEUS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when /-/ready answers 200; bounded wait.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const query = async (promql: string): Promise<VectorSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: VectorSample[] } };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
    return body.data!.result;
  };

  const waitForValue = async (promql: string, accept: (v: number) => boolean = () => true, timeoutMs = 30_000): Promise<number> => {
    const until = Date.now() + timeoutMs;
    let last: VectorSample[] = [];
    for (;;) {
      last = await query(promql);
      if (last.length > 0) {
        const v = Number(last[0].value[1]);
        if (accept(v)) return v;
      }
      if (Date.now() > until) throw new Error(`${promql}: no accepted value within ${timeoutMs}ms; last result ${JSON.stringify(last)}\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  return { url, remoteWriteUrl: `${url}/api/v1/write`, query, waitForValue, stop, logs: () => output };
}
