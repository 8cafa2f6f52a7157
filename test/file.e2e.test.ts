/**
 * The `file` exporter inside the real daemon: an OTel SDK app sends over
 * OTLP/HTTP, the daemon writes OTLP/JSON lines (and length-prefixed protobuf
 * beside them), a live reload that changes the exporter's settings keeps the
 * file, an unwritable path only counts failures, and the self-metrics account
 * for every point.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, startDaemon, type DaemonHandle } from './harness/daemon.ts';
import { createOtelApp, type OtelApp } from './harness/otel-app.ts';
import { decodeExportRequest, decodeExportRequestJson } from '../src/otlp/decode.ts';
import type { MetricsBatch, NumberPoint } from '../src/model/metrics.ts';
import { splitLengthPrefixed } from '../src/exporters/file/encode.ts';

let daemon: DaemonHandle;
let app: OtelApp;
let dir: string;
let httpPort: number;

function config(flushInterval: string): string {
  return `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  file:
    path: ${join(dir, 'metrics.json')}
    flush_interval: ${flushInterval}
  file/proto:
    path: ${join(dir, 'metrics.pb')}
    format: proto
    rotation:
      max_megabytes: 1
      max_backups: 3
  file/broken:
    path: ${join(dir, 'no-such-dir', 'metrics.json')}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [file, file/proto, file/broken]
`;
}

const accepted = () => daemon.selfMetric('tributary_receiver_accepted_points_total', { receiver: 'otlp' });
const sent = (exporter: string) => daemon.selfMetric('tributary_exporter_sent_points_total', { exporter });
const failed = (exporter: string) => daemon.selfMetric('tributary_exporter_failed_points_total', { exporter });

/** The `requests` counter's points, in file order. */
function requestPoints(batches: MetricsBatch[]): NumberPoint[] {
  const out: NumberPoint[] = [];
  for (const b of batches) {
    for (const rm of b.resourceMetrics) {
      expect(rm.resource.attributes['service.name']).toBe('e2e-app');
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.name === 'requests' && m.type === 'sum') out.push(...m.points);
    }
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-file-e2e-'));
  httpPort = await freePort();
  // Left from an earlier run: a plain file (no rotation, no append) is truncated at start.
  writeFileSync(join(dir, 'metrics.json'), 'from an earlier run\n');
  daemon = await startDaemon({ config: config('1s') });
  app = createOtelApp({ protocol: 'http/json', endpoint: `127.0.0.1:${httpPort}` });
});

afterAll(async () => {
  if (daemon && daemon.process.exitCode === null) await daemon.stop();
});

describe('file exporter in the daemon', () => {
  it('writes what the app sent, survives a reload that changes its settings, and accounts for every point', async () => {
    const requests = app.meter.createCounter('requests');
    const latency = app.meter.createHistogram('latency', { unit: 'ms' });
    requests.add(5, { route: '/a' });
    latency.record(12, { route: '/a' });
    await app.flush();
    expect(await eventually(async () => (await accepted()) > 0 && (await sent('file')) === (await accepted()))).toBe(true);

    // A live reload that changes the exporter's settings rebuilds it on the same path: truncating
    // happens once per process, so what the old instance wrote stays.
    const reloadsBefore = await daemon.selfMetric('tributary_config_reloads_total', { result: 'success' });
    writeFileSync(daemon.configPath, config('2s'));
    expect(await eventually(async () => (await daemon.selfMetric('tributary_config_reloads_total', { result: 'success' })) > reloadsBefore)).toBe(true);

    requests.add(3, { route: '/a' });
    // Shutting the app down exports once more: the second and last export.
    await app.shutdown();
    expect(await eventually(async () => (await sent('file')) === (await accepted()) && (await sent('file/proto')) === (await accepted()))).toBe(true);

    const total = await accepted();
    expect(total).toBe(4); // two exports, each one counter and one histogram point
    expect(await failed('file')).toBe(0);
    expect(await failed('file/proto')).toBe(0);
    // The unwritable path: every point counted as failed with its reason; the daemon kept running.
    expect(await eventually(async () => (await daemon.selfMetric('tributary_exporter_failed_points_total', { exporter: 'file/broken', reason: 'directory_missing' })) === total)).toBe(true);
    expect(await sent('file/broken')).toBe(0);
    expect((await fetch(`${daemon.adminUrl}/healthz`)).status).toBe(200);

    expect(await daemon.stop()).toBe(0);
    expect(daemon.logs()).toContain('cannot open the output file');

    const text = readFileSync(join(dir, 'metrics.json'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const fromJson = text.slice(0, -1).split('\n').map((l) => decodeExportRequestJson(l));
    expect(fromJson).toHaveLength(2);
    const points = requestPoints(fromJson);
    // Cumulative, as the SDK sends by default: 5, then 5 + 3.
    expect(points.map((p) => [p.value, p.attributes.route])).toEqual([
      [5, '/a'],
      [8, '/a'],
    ]);

    const fromProto = splitLengthPrefixed(readFileSync(join(dir, 'metrics.pb'))).map((m) => decodeExportRequest(m));
    expect(fromProto).toEqual(fromJson);
  });
});
