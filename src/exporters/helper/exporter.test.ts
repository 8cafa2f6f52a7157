import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricsBatch } from '../../model/metrics.ts';
import { errorFromHttpStatus, retryableError } from '../../errors.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { createExporter, type Sender, type SendOutcome } from './exporter.ts';
import { exporterStats, gaugeBatch, helperConfig, jsonCodec, until, valuesOf } from './testing.ts';

/** A backend double we control: answers from a script, records what it accepted. */
class ScriptedBackend implements Sender {
  received: number[] = [];
  attempts = 0;
  /** Per attempt: throw this error, 'hang', or return an outcome. */
  script: Array<Error | 'hang' | SendOutcome> = [];
  fallback: Error | 'hang' | undefined;
  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    this.attempts++;
    const step = this.script.length > 0 ? this.script.shift() : this.fallback;
    if (step === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    if (step instanceof Error) throw step;
    this.received.push(...valuesOf(batch));
    return step;
  }
}

function setup(cfg = helperConfig(), opts = {}) {
  const telemetry = new PipelineTelemetry();
  const settings = testSettings('exporter', 'otlp_http/test', '', telemetry);
  const backend = new ScriptedBackend();
  const exporter = createExporter(settings, cfg, backend, opts);
  const { labels, stats } = exporterStats(telemetry, 'otlp_http/test');
  return { telemetry, backend, exporter, labels, stats };
}

describe('queued exporter', () => {
  it('retries retryable failures until the batch arrives, once', async () => {
    const { backend, exporter, telemetry, labels, stats } = setup();
    await exporter.start(testHost());
    backend.script = [retryableError('down', { reason: 'http_503' }), new Error('ECONNRESET'), {} as SendOutcome];
    await exporter.consume(gaugeBatch(5));
    await until(() => stats().sent === 5);
    expect(backend.received).toEqual([0, 1, 2, 3, 4]);
    expect(telemetry.exporterRetries.get(labels)).toBe(2);
    expect(stats()).toEqual({ sent: 5, failed: 0, queued: 0 });
    await exporter.shutdown();
  });

  it('drops permanent errors without retrying, counted by reason', async () => {
    const { backend, exporter, telemetry, labels, stats } = setup();
    await exporter.start(testHost());
    backend.script = [errorFromHttpStatus(400, 'bad')];
    await exporter.consume(gaugeBatch(3));
    await until(() => stats().failed === 3);
    expect(backend.attempts).toBe(1);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'http_400' })).toBe(3);
    await exporter.shutdown();
  });

  it('counts partial success as failed points and does not retry', async () => {
    const { backend, exporter, telemetry, labels, stats } = setup();
    await exporter.start(testHost());
    backend.script = [{ rejectedPoints: 2, reason: 'partial_success' }];
    await exporter.consume(gaugeBatch(10));
    await until(() => stats().sent + stats().failed === 10);
    expect(stats()).toEqual({ sent: 8, failed: 2, queued: 0 });
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'partial_success' })).toBe(2);
    expect(backend.attempts).toBe(1);
    await exporter.shutdown();
  });

  it('times out a hanging backend and retries', async () => {
    const { backend, exporter, stats } = setup(helperConfig({ timeout: 30 }));
    await exporter.start(testHost());
    backend.script = ['hang', 'hang'];
    await exporter.consume(gaugeBatch(2));
    await until(() => stats().sent === 2);
    expect(backend.attempts).toBe(3);
    await exporter.shutdown();
  });

  it('gives up after max_elapsed_time with the last reason', async () => {
    const { backend, exporter, telemetry, labels, stats } = setup(helperConfig({ retry_on_failure: { max_elapsed_time: 40 } }));
    await exporter.start(testHost());
    backend.fallback = retryableError('down', { reason: 'http_503' });
    await exporter.consume(gaugeBatch(4));
    await until(() => stats().failed === 4);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'http_503' })).toBe(4);
    expect(stats().queued).toBe(0);
    await exporter.shutdown();
  });

  it('opens the breaker: nothing is sent while open, batches wait, then one probe and normal flow', async () => {
    const cfg = helperConfig({ circuit_breaker: { enabled: true, failure_threshold: 2, open_duration: 100 }, sending_queue: { num_consumers: 1 } });
    const { backend, exporter, telemetry, labels, stats } = setup(cfg);
    await exporter.start(testHost());
    backend.fallback = retryableError('down');
    await exporter.consume(gaugeBatch(2, 0));
    await until(() => telemetry.exporterCircuitState.get(labels) === 2);
    const attemptsWhenOpened = backend.attempts;
    expect(attemptsWhenOpened).toBe(2);
    await exporter.consume(gaugeBatch(2, 2));
    await exporter.consume(gaugeBatch(2, 4));
    expect(stats().queued).toBe(6);
    backend.fallback = undefined; // the backend comes back
    await until(() => stats().sent === 6);
    expect(backend.attempts).toBe(attemptsWhenOpened + 3);
    expect(backend.received).toEqual([0, 1, 2, 3, 4, 5]);
    expect(telemetry.exporterCircuitState.get(labels)).toBe(0);
    await exporter.shutdown();
  });

  it('resolves consume before delivery and keeps accepted = sent + failed + queued', async () => {
    const { backend, exporter, stats } = setup(helperConfig({ sending_queue: { queue_size: 50 } }), { shutdownTimeoutMs: 10 });
    await exporter.start(testHost());
    backend.fallback = 'hang';
    for (let i = 0; i < 10; i++) await exporter.consume(gaugeBatch(10, i * 10));
    const s = stats();
    expect(s.sent + s.failed + s.queued).toBe(100);
    expect(s.queued).toBe(50);
    await exporter.shutdown();
  });

  it('with a memory queue, shutdown drains within the deadline and counts the rest as failed(shutdown)', async () => {
    const { backend, exporter, telemetry, labels, stats } = setup(helperConfig(), { shutdownTimeoutMs: 50 });
    await exporter.start(testHost());
    backend.fallback = retryableError('down');
    await exporter.consume(gaugeBatch(7));
    await exporter.shutdown();
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'shutdown' })).toBe(7);
    expect(stats().sent).toBe(0);
    // Gauges are removed at shutdown (the exporter may be rebuilt by a reload).
    expect(telemetry.exporterQueueSize.get(labels)).toBeUndefined();
    expect(telemetry.exporterCircuitState.get(labels)).toBeUndefined();
    await exporter.consume(gaugeBatch(1));
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'shutdown' })).toBe(8);
  });

  it('shutdown flushes a healthy queue', async () => {
    const { backend, exporter, stats } = setup();
    await exporter.start(testHost());
    for (let i = 0; i < 20; i++) await exporter.consume(gaugeBatch(5, i * 5));
    await exporter.shutdown();
    expect(stats().sent).toBe(100);
    expect(backend.received.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('calls prepare once per batch, not per attempt', async () => {
    const telemetry = new PipelineTelemetry();
    let prepared = 0;
    const backend = new ScriptedBackend();
    backend.script = [retryableError('x'), retryableError('y')];
    const sender: Sender = { send: (b, s) => backend.send(b, s), prepare: (b) => (prepared++, b) };
    const exporter = createExporter(testSettings('exporter', 'x', '', telemetry), helperConfig(), sender);
    await exporter.start(testHost());
    await exporter.consume(gaugeBatch(1));
    await until(() => backend.received.length === 1);
    expect(prepared).toBe(1);
    await exporter.shutdown();
  });

  it('without a queue, delivers inline and fails fast while the breaker is open', async () => {
    const cfg = helperConfig({ sending_queue: { enabled: false }, circuit_breaker: { enabled: true, failure_threshold: 1, open_duration: 60_000 }, retry_on_failure: { enabled: false } });
    const { backend, exporter, telemetry, labels, stats } = setup(cfg);
    await exporter.start(testHost());
    await exporter.consume(gaugeBatch(2));
    expect(stats().sent).toBe(2);
    backend.fallback = retryableError('down', { reason: 'network' });
    await exporter.consume(gaugeBatch(2));
    await exporter.consume(gaugeBatch(3));
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'network' })).toBe(2);
    expect(telemetry.exporterFailed.get({ ...labels, reason: 'circuit_open' })).toBe(3);
    await exporter.shutdown();
  });
});

describe('per-pipeline accounting (one exporter named by several pipelines)', () => {
  const a = { pipeline: 'metrics/a' };
  const b = { pipeline: 'metrics/b' };
  /** Sent, failed by reason and retries of one pipeline, and the same for batches consumed without one. */
  const countsOf = (telemetry: PipelineTelemetry, pipeline?: string) => {
    const labels: Record<string, string> = pipeline ? { exporter: 'otlp_http/test', pipeline } : { exporter: 'otlp_http/test' };
    const failed: Record<string, number> = {};
    for (const s of telemetry.exporterFailed.samples()) if (s.labels.pipeline === pipeline && s.labels.exporter === labels.exporter) failed[s.labels.reason] = s.value;
    return { sent: telemetry.exporterSent.get(labels), retries: telemetry.exporterRetries.get(labels), failed };
  };

  it('counts sent, failed and retries in the pipeline each batch came in through; prepare keeps it', async () => {
    const telemetry = new PipelineTelemetry();
    const backend = new ScriptedBackend();
    // Prepare drops the last point of every batch (as a delta → cumulative conversion drops a first delta).
    const sender: Sender = { send: (batch, signal) => backend.send(batch, signal), prepare: (batch) => (batch.resourceMetrics[0].scopeMetrics[0].metrics[0].points.pop(), batch) };
    const exporter = createExporter(testSettings('exporter', 'otlp_http/test', '', telemetry), helperConfig({ sending_queue: { num_consumers: 1 } }), sender);
    await exporter.start(testHost());
    // One consumer, so the script meets the batches in order: a retried once; b partly rejected, then refused.
    backend.script = [retryableError('down', { reason: 'http_503' }), {} as SendOutcome, { rejectedPoints: 1, reason: 'partial_success' }, errorFromHttpStatus(400, 'bad')];
    await exporter.consume(gaugeBatch(6, 0), a);
    await exporter.consume(gaugeBatch(4, 10), b);
    await exporter.consume(gaugeBatch(3, 20), b);
    await until(() => backend.script.length === 0 && (telemetry.exporterQueueSize.get({ exporter: 'otlp_http/test' }) ?? 0) === 0);
    expect(countsOf(telemetry, 'metrics/a')).toEqual({ sent: 5, retries: 1, failed: { unsupported: 1 } });
    expect(countsOf(telemetry, 'metrics/b')).toEqual({ sent: 2, retries: 0, failed: { unsupported: 2, partial_success: 1, http_400: 2 } });
    // Accounting per pipeline (CONTRACT §6): 6 = 5 + 1 and 7 = 2 + 5, nothing queued, nothing counted without a pipeline.
    expect(countsOf(telemetry)).toEqual({ sent: 0, retries: 0, failed: {} });
    // The prepared batches reached the backend (it took 10..12 and said it rejected one of them).
    expect(backend.received).toEqual([0, 1, 2, 3, 4, 10, 11, 12]);
    await exporter.shutdown();
  });

  it('counts queue_full drops and what shutdown gives up on in each batch’s pipeline', async () => {
    const telemetry = new PipelineTelemetry();
    const backend = new ScriptedBackend();
    backend.fallback = 'hang';
    const cfg = helperConfig({ sending_queue: { queue_size: 10, num_consumers: 1 } });
    const exporter = createExporter({ ...testSettings('exporter', 'otlp_http/test', '', telemetry), shutdownTimeoutMs: 20 }, cfg, backend);
    await exporter.start(testHost());
    await exporter.consume(gaugeBatch(4, 0), a); // taken by the consumer, hangs in flight
    await until(() => backend.attempts === 1);
    await exporter.consume(gaugeBatch(3, 10), b);
    await exporter.consume(gaugeBatch(3, 20), a);
    await exporter.consume(gaugeBatch(2, 30), b); // evicts b's waiting 3 (drop_oldest)
    await exporter.shutdown();
    expect(countsOf(telemetry, 'metrics/a').failed).toEqual({ shutdown: 7 });
    expect(countsOf(telemetry, 'metrics/b').failed).toEqual({ queue_full: 3, shutdown: 2 });
  });

  it('without a queue (pull exporters, debug) counts inline deliveries per pipeline too', async () => {
    const telemetry = new PipelineTelemetry();
    const backend = new ScriptedBackend();
    const exporter = createExporter(testSettings('exporter', 'otlp_http/test', '', telemetry), undefined, backend);
    await exporter.start(testHost());
    backend.script = [{} as SendOutcome, { rejectedPoints: 2, reason: 'out_of_order' }, retryableError('down', { reason: 'network' })];
    await exporter.consume(gaugeBatch(3), a);
    await exporter.consume(gaugeBatch(5), b);
    await exporter.consume(gaugeBatch(1), b);
    await exporter.shutdown();
    await exporter.consume(gaugeBatch(2), a);
    expect(countsOf(telemetry, 'metrics/a')).toEqual({ sent: 3, retries: 0, failed: { shutdown: 2 } });
    expect(countsOf(telemetry, 'metrics/b')).toEqual({ sent: 3, retries: 0, failed: { out_of_order: 2, network: 1 } });
  });

  it('a disk queue keeps each batch’s pipeline across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-dq-'));
    try {
      const cfg = helperConfig({ sending_queue: { storage: 'disk', directory: dir } });
      const first = setup(cfg, { shutdownTimeoutMs: 30, diskCodec: jsonCodec });
      await first.exporter.start(testHost());
      first.backend.fallback = retryableError('down');
      await first.exporter.consume(gaugeBatch(4, 0), a);
      await first.exporter.consume(gaugeBatch(2, 4), b);
      await first.exporter.consume(gaugeBatch(1, 6));
      await first.exporter.shutdown();
      expect(first.telemetry.exporterSent.sum()).toBe(0);

      const second = setup(cfg, { diskCodec: jsonCodec });
      await second.exporter.start(testHost());
      await until(() => second.telemetry.exporterSent.sum() === 7);
      expect(countsOf(second.telemetry, 'metrics/a').sent).toBe(4);
      expect(countsOf(second.telemetry, 'metrics/b').sent).toBe(2);
      expect(countsOf(second.telemetry).sent).toBe(1);
      await second.exporter.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('disk queue through the exporter', () => {
  it('keeps what the backend did not take across a restart and sends it after the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-dq-'));
    try {
      const cfg = helperConfig({ sending_queue: { storage: 'disk', directory: dir, sync_interval: 10 } });
      const first = setup(cfg, { shutdownTimeoutMs: 30, diskCodec: jsonCodec });
      await first.exporter.start(testHost());
      first.backend.fallback = retryableError('down');
      for (let i = 0; i < 5; i++) await first.exporter.consume(gaugeBatch(4, i * 4));
      await first.exporter.shutdown();
      expect(first.stats().sent).toBe(0);
      expect(first.stats().failed).toBe(0);

      const second = setup(cfg, { diskCodec: jsonCodec });
      await second.exporter.start(testHost());
      expect(second.stats().queued).toBeGreaterThan(0);
      await until(() => second.stats().sent === 20);
      expect(second.backend.received).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await second.exporter.shutdown();

      // Sent entries were removed: a third start has nothing to resend.
      const third = setup(cfg, { diskCodec: jsonCodec });
      await third.exporter.start(testHost());
      expect(third.stats().queued).toBe(0);
      await third.exporter.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands entries left by a draining exporter to its replacement on the same directory (live reload)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-dq-'));
    try {
      const cfg = helperConfig({ sending_queue: { storage: 'disk', directory: dir } });
      const old = setup(cfg, { shutdownTimeoutMs: 20, diskCodec: jsonCodec });
      await old.exporter.start(testHost());
      old.backend.fallback = retryableError('down');
      await old.exporter.consume(gaugeBatch(3, 0));
      const replacement = setup(cfg, { diskCodec: jsonCodec });
      await replacement.exporter.start(testHost());
      await replacement.exporter.consume(gaugeBatch(3, 3));
      await old.exporter.shutdown();
      await until(() => replacement.stats().sent === 6);
      expect(replacement.backend.received.sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(old.backend.received).toEqual([]);
      await replacement.exporter.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
