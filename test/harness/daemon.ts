/**
 * Starts the real daemon (`node bin/tributary.js run`) as a child process for
 * end-to-end tests: writes the config to a temp file, moves the admin
 * endpoint to a free port, waits for `/readyz`, and gives helpers to read
 * self-metrics and logs. Every daemon started is killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { parsePromText, sumSamples, type Sample } from './prom-text.ts';

export { freePort, freeUdpPort } from './ports.ts';
export { parsePromText, sumSamples, findSample } from './prom-text.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'tributary.js');

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export interface DaemonOptions {
  /** Config file text. */
  config: string;
  format?: 'yaml' | 'toml';
  env?: Record<string, string>;
  /** Extra command-line arguments after `run --config FILE`. */
  args?: string[];
  /** Wait for /readyz 200 (default true). */
  waitReady?: boolean;
  /** Reuse this config file path (to restart a daemon on the same file, e.g. for disk-queue tests). */
  configPath?: string;
  /** Admin port to use (default: a free one). */
  adminPort?: number;
}

export interface DaemonHandle {
  process: ChildProcess;
  pid: number;
  adminUrl: string;
  configPath: string;
  logs(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Raw self-metrics text from the admin endpoint. */
  metricsText(): Promise<string>;
  metrics(): Promise<Sample[]>;
  /** Sum of a self-metric over series whose labels include `labels`. */
  selfMetric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Send a signal and wait for exit (default SIGTERM). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<DaemonHandle> {
  const format = opts.format ?? 'yaml';
  const configPath = opts.configPath ?? join(mkdtempSync(join(tmpdir(), 'tributary-e2e-')), `config.${format}`);
  writeFileSync(configPath, opts.config);
  const adminPort = opts.adminPort ?? (await freePort());
  const child = spawn(
    process.execPath,
    [BIN, 'run', '--config', configPath, '--set', `service.admin.endpoint=127.0.0.1:${adminPort}`, ...(opts.args ?? [])],
    { cwd: REPO_ROOT, env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'info', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? (signal ? 128 : null));
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const adminUrl = `http://127.0.0.1:${adminPort}`;

  const handle: DaemonHandle = {
    process: child,
    pid: child.pid!,
    adminUrl,
    configPath,
    exited,
    logs: () => output,
    async waitReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (hasExited) throw new Error(`daemon exited before ready:\n${output}`);
        try {
          const res = await fetch(`${adminUrl}/readyz`);
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`daemon not ready after ${timeoutMs} ms:\n${output}`);
    },
    async metricsText() {
      const res = await fetch(`${adminUrl}/metrics`);
      return res.text();
    },
    async metrics() {
      return parsePromText(await handle.metricsText());
    },
    async selfMetric(name, labels = {}) {
      return sumSamples(await handle.metrics(), name, labels);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (hasExited) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (hasExited) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  if (opts.waitReady !== false) {
    try {
      await handle.waitReady();
    } catch (err) {
      await handle.kill();
      throw err;
    }
  }
  return handle;
}

/** Poll `fn` until it returns a truthy value or the timeout passes; returns the last value. */
export async function eventually<T>(fn: () => Promise<T> | T, { timeoutMs = 15_000, intervalMs = 50 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await fn();
  }
  return last;
}
