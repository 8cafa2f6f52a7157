/**
 * Live reload of a queued exporter: the exporter replacing it (same ID, new
 * config) takes its queued batches and its retries, and whatever still
 * reaches it; every point arrives once, through the successor where it had
 * not been sent yet, counted once in sent/failed and in the queue gauge.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exporter } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { retryableError } from '../../errors.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import type { ExporterHelperConfig } from './config.ts';
import { createExporter, type Sender } from './exporter.ts';
import { gaugeBatch, helperConfig, jsonCodec, until, valuesOf } from './testing.ts';

/** One backend shared by the old and the new exporter; it records which sender (config version) delivered each value. */
class Backend {
  up = false;
  delivered: Array<{ value: number; via: string }> = [];
  /** While set, sends wait for it (a request in flight); it resolves to whether the backend accepts. */
  gate: Promise<boolean> | undefined;
  inFlight = 0;
  sender(via: string, log?: string[]): Sender {
    return {
      send: async (batch: MetricsBatch) => {
        this.inFlight++;
        try {
          const accept = this.gate ? await this.gate : this.up;
          if (!accept) throw retryableError('backend down', { reason: 'http_503' });
          for (const value of valuesOf(batch)) this.delivered.push({ value, via });
        } finally {
          this.inFlight--;
        }
      },
      prepare: log ? (b) => (log.push(via), b) : undefined,
    };
  }
  values(): number[] {
    return this.delivered.map((d) => d.value).sort((a, b) => a - b);
  }
}

const dirs: string[] = [];
const running: Exporter[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.shutdown();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pair(oldCfg: ExporterHelperConfig, newCfg: ExporterHelperConfig, prepared?: string[]) {
  const telemetry = new PipelineTelemetry();
  const backend = new Backend();
  const settings = () => ({ ...testSettings('exporter', 'otlp_http/up', '', telemetry), shutdownTimeoutMs: 500 });
  const old = createExporter(settings(), oldCfg, backend.sender('old', prepared), { diskCodec: jsonCodec });
  const successor = createExporter(settings(), newCfg, backend.sender('new', prepared), { diskCodec: jsonCodec });
  running.push(old, successor);
  const labels = { exporter: 'otlp_http/up' };
  // Summed over pipelines: batches consumed with a pipeline are counted under it.
  const stats = () => ({
    sent: telemetry.exporterSent.sum(labels),
    failed: telemetry.exporterFailed.sum(labels),
    queued: telemetry.exporterQueueSize.get(labels) ?? 0,
  });
  return { backend, old, successor, stats, telemetry };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('queued exporter handover', () => {
  it('moves queued batches and pending retries to the successor; the old one sends nothing more', async () => {
    const { backend, old, successor, stats } = pair(helperConfig(), helperConfig({ timeout: 500 }));
    const host = testHost();
    await old.start(host);
    for (let i = 0; i < 10; i++) await old.consume(gaugeBatch(10, i * 10));
    // Backend down: two batches are retrying (num_consumers 2), eight wait.
    await until(() => stats().queued === 100);
    await successor.start(host);
    await old.handOverTo!(successor);
    // Reaching the old exporter from now on means reaching the successor.
    await old.consume(gaugeBatch(5, 100));
    const shut = old.shutdown();
    await shut;
    // Counted once: in the successor's queue, not also in the old one's, and neither sent nor failed.
    expect(stats()).toEqual({ sent: 0, failed: 0, queued: 105 });
    backend.up = true;
    await until(() => stats().sent === 105);
    expect(backend.values()).toEqual(range(105));
    expect(new Set(backend.delivered.map((d) => d.via))).toEqual(new Set(['new']));
    expect(stats()).toEqual({ sent: 105, failed: 0, queued: 0 });
  });

  it('lets a send in flight finish: delivered by the old sender once, never re-sent', async () => {
    const { backend, old, successor, stats } = pair(helperConfig({ sending_queue: { num_consumers: 1 } }), helperConfig());
    const host = testHost();
    let answer!: (ok: boolean) => void;
    backend.gate = new Promise((r) => (answer = r));
    await old.start(host);
    await old.consume(gaugeBatch(3, 0));
    await old.consume(gaugeBatch(3, 3));
    await until(() => backend.inFlight === 1);
    await successor.start(host);
    await old.handOverTo!(successor);
    const shut = old.shutdown();
    backend.up = true;
    answer(true);
    backend.gate = undefined;
    await shut;
    await until(() => stats().sent === 6);
    expect(backend.delivered).toEqual([0, 1, 2].map((value) => ({ value, via: 'old' })).concat([3, 4, 5].map((value) => ({ value, via: 'new' }))));
    expect(stats()).toEqual({ sent: 6, failed: 0, queued: 0 });
  });

  it('a send in flight that fails afterwards is retried by the successor, once', async () => {
    const { backend, old, successor, stats } = pair(helperConfig({ sending_queue: { num_consumers: 1 } }), helperConfig());
    const host = testHost();
    let answer!: (ok: boolean) => void;
    backend.gate = new Promise((r) => (answer = r));
    await old.start(host);
    await old.consume(gaugeBatch(4, 0));
    await until(() => backend.inFlight === 1);
    await successor.start(host);
    await old.handOverTo!(successor);
    const shut = old.shutdown();
    answer(false);
    await shut;
    expect(stats()).toEqual({ sent: 0, failed: 0, queued: 4 });
    backend.gate = undefined;
    backend.up = true;
    await until(() => stats().sent === 4);
    expect(backend.delivered).toEqual([0, 1, 2, 3].map((value) => ({ value, via: 'new' })));
    expect(stats()).toEqual({ sent: 4, failed: 0, queued: 0 });
  });

  it('prepares each batch once: forwarded batches are prepared by the successor only', async () => {
    const prepared: string[] = [];
    const { backend, old, successor, stats } = pair(helperConfig(), helperConfig(), prepared);
    const host = testHost();
    await old.start(host);
    await old.consume(gaugeBatch(2, 0));
    await successor.start(host);
    await old.handOverTo!(successor);
    await old.consume(gaugeBatch(2, 2));
    backend.up = true;
    await old.shutdown();
    await until(() => stats().sent === 4);
    expect(prepared).toEqual(['old', 'new']);
    expect(backend.values()).toEqual([0, 1, 2, 3]);
  });

  it('disk queue on the same directory: entries change owner, the old shutdown neither fails nor waits for the backend', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'trib-handover-'));
    dirs.push(directory);
    const disk = { storage: 'disk' as const, directory };
    const { backend, old, successor, stats } = pair(helperConfig({ sending_queue: disk }), helperConfig({ timeout: 700, sending_queue: disk }));
    const host = testHost();
    await old.start(host);
    for (let i = 0; i < 5; i++) await old.consume(gaugeBatch(4, i * 4));
    await until(() => stats().queued === 20);
    await successor.start(host);
    await old.handOverTo!(successor);
    await old.shutdown();
    expect(stats()).toEqual({ sent: 0, failed: 0, queued: 20 });
    backend.up = true;
    await until(() => stats().sent === 20);
    expect(backend.values()).toEqual(range(20));
    expect(backend.delivered.every((d) => d.via === 'new')).toBe(true);
  });

  it('disk queue moved to another directory: batches are copied there and removed from the old one', async () => {
    const [dirA, dirB] = [mkdtempSync(join(tmpdir(), 'trib-handover-a-')), mkdtempSync(join(tmpdir(), 'trib-handover-b-'))];
    dirs.push(dirA, dirB);
    const { backend, old, successor, stats } = pair(
      helperConfig({ sending_queue: { storage: 'disk', directory: dirA } }),
      helperConfig({ sending_queue: { storage: 'disk', directory: dirB } }),
    );
    const host = testHost();
    await old.start(host);
    for (let i = 0; i < 5; i++) await old.consume(gaugeBatch(4, i * 4));
    await until(() => stats().queued === 20);
    await successor.start(host);
    await old.handOverTo!(successor);
    await old.shutdown();
    // Stop the successor with the backend still down: everything is on disk in the new directory.
    await successor.shutdown();
    expect(stats().sent).toBe(0);

    const telemetry = new PipelineTelemetry();
    const settings = testSettings('exporter', 'otlp_http/up', '', telemetry);
    const fromA = createExporter(settings, helperConfig({ sending_queue: { storage: 'disk', directory: dirA } }), backend.sender('a'), { diskCodec: jsonCodec });
    const fromB = createExporter(settings, helperConfig({ sending_queue: { storage: 'disk', directory: dirB } }), backend.sender('b'), { diskCodec: jsonCodec });
    running.push(fromA, fromB);
    backend.up = true;
    await fromA.start(host);
    expect(telemetry.exporterQueueSize.get({ exporter: 'otlp_http/up' })).toBe(0);
    await fromA.shutdown();
    await fromB.start(host);
    await until(() => telemetry.exporterSent.get({ exporter: 'otlp_http/up' }) === 20);
    expect(backend.values()).toEqual(range(20));
    expect(backend.delivered.every((d) => d.via === 'b')).toBe(true);
  });

  it.each(['memory', 'same disk directory', 'another disk directory'])('keeps each batch’s pipeline through the handover (%s)', async (where) => {
    const [dirA, dirB] = [mkdtempSync(join(tmpdir(), 'trib-handover-a-')), mkdtempSync(join(tmpdir(), 'trib-handover-b-'))];
    dirs.push(dirA, dirB);
    const queueAt = (directory: string) => (where === 'memory' ? {} : { storage: 'disk' as const, directory });
    const cfg = (directory: string) => helperConfig({ sending_queue: { num_consumers: 1, ...queueAt(directory) } });
    const { backend, old, successor, stats, telemetry } = pair(cfg(dirA), cfg(where === 'another disk directory' ? dirB : dirA));
    const host = testHost();
    await old.start(host);
    // Backend down: the first batch is retrying (in flight), the others wait.
    await old.consume(gaugeBatch(2, 0), { pipeline: 'a' });
    await old.consume(gaugeBatch(3, 2), { pipeline: 'b' });
    await old.consume(gaugeBatch(4, 5), { pipeline: 'a' });
    await until(() => stats().queued === 9 && telemetry.exporterRetries.sum() > 0);
    await successor.start(host);
    await old.handOverTo!(successor);
    await old.consume(gaugeBatch(5, 9), { pipeline: 'b' });
    await old.shutdown();
    backend.up = true;
    await until(() => stats().sent === 14);
    expect(backend.values()).toEqual(range(14));
    expect(telemetry.exporterSent.get({ exporter: 'otlp_http/up', pipeline: 'a' })).toBe(6);
    expect(telemetry.exporterSent.get({ exporter: 'otlp_http/up', pipeline: 'b' })).toBe(8);
    expect(telemetry.exporterFailed.sum()).toBe(0);
  });

  it('a successor without a queue gets what is consumed from then on; the old one drains its own queue', async () => {
    const { backend, old, successor, stats } = pair(helperConfig(), helperConfig({ sending_queue: { enabled: false } }));
    const host = testHost();
    await old.start(host);
    await old.consume(gaugeBatch(3, 0));
    await successor.start(host);
    await old.handOverTo!(successor);
    backend.up = true;
    await old.consume(gaugeBatch(3, 3));
    await old.shutdown();
    await until(() => stats().sent === 6);
    const byValue = [...backend.delivered].sort((a, b) => a.value - b.value);
    expect(byValue).toEqual([0, 1, 2].map((value) => ({ value, via: 'old' })).concat([3, 4, 5].map((value) => ({ value, via: 'new' }))));
  });
});
