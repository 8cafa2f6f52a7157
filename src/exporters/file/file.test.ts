import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../component.ts';
import { countPoints, splitBatch, type MetricsBatch } from '../../model/metrics.ts';
import { decodeExportRequest, decodeExportRequestJson } from '../../otlp/decode.ts';
import { encodeExportRequestJson } from '../../otlp/encode.ts';
import { everyTypeBatch } from '../../otlp/testdata.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { gaugeBatch, until, valuesOf } from '../helper/testing.ts';
import { fileConfigSchema, validateFileConfig } from './config.ts';
import { MAX_POINTS_PER_MESSAGE, splitLengthPrefixed } from './encode.ts';
import { fileExporterFactory } from './factory.ts';
import { backupPath, formatBackupStamp, listBackups, parseBackupStamp } from './rotation.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-file-'));
  dirs.push(d);
  return d;
}

const running: Exporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.shutdown()));
});

interface Started {
  exporter: Exporter;
  telemetry: PipelineTelemetry;
  logs: Array<{ level: number; msg: string; reason?: string }>;
}

async function startExporter(raw: Record<string, unknown>, id = 'file', telemetry = new PipelineTelemetry()): Promise<Started> {
  const parsed = fileConfigSchema.parse(raw);
  expect(validateFileConfig(parsed)).toEqual([]);
  const logs: Started['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const settings = { ...testSettings('exporter', id, '', telemetry), logger };
  const exporter = fileExporterFactory.create(settings, parsed);
  running.push(exporter);
  await exporter.start(testHost());
  return { exporter, telemetry, logs };
}

async function stop(exporter: Exporter): Promise<void> {
  await exporter.shutdown();
  running.splice(running.indexOf(exporter), 1);
}

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

/** gaugeBatch as the decoders give it back (they fill in the point's `flags` and `isInt`). */
function decodedGauge(n: number, first = 0): MetricsBatch {
  const b = gaugeBatch(n, first);
  for (const p of b.resourceMetrics[0].scopeMetrics[0].metrics[0].points) Object.assign(p, { flags: 0, isInt: false });
  return b;
}

/** A batch whose one line is about `bytes` long (a long attribute value), tagged with `seq`. */
function bigBatch(seq: number, bytes: number): MetricsBatch {
  const b = gaugeBatch(1, seq);
  b.resourceMetrics[0].resource.attributes.padding = 'x'.repeat(bytes);
  return b;
}

const sent = (s: Started, id = 'file') => s.telemetry.exporterSent.get({ exporter: id });
const failed = (s: Started, reason: string, id = 'file') => s.telemetry.exporterFailed.get({ exporter: id, reason });

describe('file exporter config', () => {
  it('follows otelcol: json, no rotation unless the key is present, rotation defaults 100 MiB / 100 backups, flush 1s', () => {
    const c = fileConfigSchema.parse({ path: 'out.json' });
    expect(c).toMatchObject({ path: 'out.json', format: 'json', compression: '', append: false, flush_interval: 1000, create_directory: false });
    expect(c.rotation).toBeUndefined();
    expect(c.sending_queue.num_consumers).toBe(1);
    // `rotation:` with nothing after it is YAML null: rotation on, with its defaults.
    expect(fileConfigSchema.parse({ path: 'x', rotation: null }).rotation).toEqual({ max_megabytes: 100, max_days: 0, max_backups: 100, localtime: false });
    expect(fileConfigSchema.parse({ path: 'x', rotation: { max_megabytes: 5 } }).rotation?.max_megabytes).toBe(5);
  });

  it('rejects what otelcol rejects', () => {
    expect(fileConfigSchema.safeParse({}).success).toBe(false);
    expect(fileConfigSchema.safeParse({ path: '' }).success).toBe(false);
    expect(fileConfigSchema.safeParse({ path: 'x', format: 'yaml' }).success).toBe(false);
    expect(fileConfigSchema.safeParse({ path: 'x', compression: 'gzip' }).success).toBe(false);
    expect(fileConfigSchema.safeParse({ path: 'x', rotation: { max_megabytes: 0 } }).success).toBe(false);
    expect(fileConfigSchema.safeParse({ path: 'x', timeout: '5s' }).success).toBe(false);
    expect(validateFileConfig(fileConfigSchema.parse({ path: 'x', append: true, rotation: null }))).toEqual([['append', 'append and rotation enabled at the same time is not supported']]);
    expect(validateFileConfig(fileConfigSchema.parse({ path: 'x', append: true, compression: 'zstd' }))).toEqual([['append', 'append and compression enabled at the same time is not supported']]);
    expect(validateFileConfig(fileConfigSchema.parse({ path: 'x', directory_permissions: '0700' }))).toEqual([['directory_permissions', 'directory_permissions requires create_directory: true']]);
  });
});

describe('file exporter writes', () => {
  it('writes one OTLP/JSON request per line, exactly the encoder output, and counts the points as sent', async () => {
    const path = join(tempDir(), 'metrics.json');
    const s = await startExporter({ path });
    await s.exporter.consume(everyTypeBatch());
    await s.exporter.consume(gaugeBatch(3, 10));
    await stop(s.exporter);
    const got = lines(path);
    expect(got).toEqual([encodeExportRequestJson(everyTypeBatch()), encodeExportRequestJson(gaugeBatch(3, 10))]);
    expect(decodeExportRequestJson(got[0])).toEqual(everyTypeBatch());
    expect(decodeExportRequestJson(got[1])).toEqual(decodedGauge(3, 10));
    expect(sent(s)).toBe(countPoints(everyTypeBatch()) + 3);
    expect(s.telemetry.exporterFailed.sum({ exporter: 'file' })).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('a batch larger than MAX_POINTS_PER_MESSAGE becomes several lines, each a whole request, together and in order', async () => {
    const path = join(tempDir(), 'split.json');
    const s = await startExporter({ path });
    const n = MAX_POINTS_PER_MESSAGE * 2 + 5;
    await s.exporter.consume(gaugeBatch(n));
    await s.exporter.consume(gaugeBatch(1, n));
    await stop(s.exporter);
    const expected = [...splitBatch(gaugeBatch(n), MAX_POINTS_PER_MESSAGE), gaugeBatch(1, n)].map(encodeExportRequestJson);
    expect(expected).toHaveLength(4);
    expect(lines(path)).toEqual(expected);
    expect(lines(path).flatMap((l) => valuesOf(decodeExportRequestJson(l)))).toEqual(Array.from({ length: n + 1 }, (_, i) => i));
    expect(sent(s)).toBe(n + 1);
  });

  it('proto: each message behind a 4-byte big-endian length; zstd compresses each message', async () => {
    const dir = tempDir();
    const proto = await startExporter({ path: join(dir, 'm.pb'), format: 'proto' }, 'file/pb');
    const zstd = await startExporter({ path: join(dir, 'm.json.zst'), compression: 'zstd' }, 'file/zstd');
    for (const s of [proto, zstd]) {
      await s.exporter.consume(everyTypeBatch());
      await s.exporter.consume(gaugeBatch(2, 5));
      await stop(s.exporter);
    }
    const pb = splitLengthPrefixed(readFileSync(join(dir, 'm.pb')));
    expect(pb.map((m) => decodeExportRequest(m))).toEqual([everyTypeBatch(), decodedGauge(2, 5)]);
    const zs = splitLengthPrefixed(readFileSync(join(dir, 'm.json.zst')));
    expect(zs.map((m) => decodeExportRequestJson(zstdDecompressSync(m).toString('utf8')))).toEqual([everyTypeBatch(), decodedGauge(2, 5)]);
  });

  it('truncates an existing file at start by default, keeps it with append: true', async () => {
    const dir = tempDir();
    const truncated = join(dir, 'truncated.json');
    const appended = join(dir, 'appended.json');
    writeFileSync(truncated, 'from an earlier run\n');
    writeFileSync(appended, 'from an earlier run\n');
    const a = await startExporter({ path: truncated }, 'file/a');
    const b = await startExporter({ path: appended, append: true }, 'file/b');
    for (const s of [a, b]) {
      await s.exporter.consume(gaugeBatch(1, 7));
      await stop(s.exporter);
    }
    expect(lines(truncated)).toEqual([encodeExportRequestJson(gaugeBatch(1, 7))]);
    expect(lines(appended)).toEqual(['from an earlier run', encodeExportRequestJson(gaugeBatch(1, 7))]);
  });

  it('with rotation, continues an existing file as lumberjack does', async () => {
    const path = join(tempDir(), 'rot.json');
    writeFileSync(path, 'from an earlier run\n');
    const s = await startExporter({ path, rotation: null });
    await s.exporter.consume(gaugeBatch(1, 1));
    await stop(s.exporter);
    expect(lines(path)).toEqual(['from an earlier run', encodeExportRequestJson(gaugeBatch(1, 1))]);
  });

  it('shutdown writes everything still queued and leaves whole lines', async () => {
    const path = join(tempDir(), 'drain.json');
    const s = await startExporter({ path });
    const n = 200;
    // consume only queues; shutdown must drain the queue into the file and fsync it.
    for (let i = 0; i < n; i++) await s.exporter.consume(gaugeBatch(5, i * 5));
    await stop(s.exporter);
    const got = lines(path).map((l) => valuesOf(decodeExportRequestJson(l)));
    expect(got.flat()).toEqual(Array.from({ length: n * 5 }, (_, i) => i));
    expect(sent(s)).toBe(n * 5);
    await expect(s.exporter.consume(gaugeBatch(2))).resolves.toBeUndefined();
    expect(failed(s, 'shutdown')).toBe(2);
  });

  it('two instances on one path (a reload) share the open file: no truncation, no lost line', async () => {
    const path = join(tempDir(), 'shared.json');
    const old = await startExporter({ path });
    await old.exporter.consume(gaugeBatch(1, 1));
    await until(() => sent(old) === 1);
    const next = await startExporter({ path, flush_interval: '2s' }, 'file', old.telemetry);
    await old.exporter.consume(gaugeBatch(1, 2));
    await stop(old.exporter);
    await next.exporter.consume(gaugeBatch(1, 3));
    await stop(next.exporter);
    expect(lines(path).map((l) => valuesOf(decodeExportRequestJson(l))[0])).toEqual([1, 2, 3]);
  });
});

describe('file exporter rotation', () => {
  it('names backups as lumberjack does', () => {
    const t = Date.UTC(2026, 10, 22, 19, 22, 12, 123);
    expect(formatBackupStamp(t, false)).toBe('2026-11-22T19-22-12.123');
    expect(backupPath('/var/log/data.json', t, false)).toBe('/var/log/data-2026-11-22T19-22-12.123.json');
    expect(backupPath('/var/log/data', t, false)).toBe('/var/log/data-2026-11-22T19-22-12.123');
    expect(parseBackupStamp('2026-11-22T19-22-12.123', false)).toBe(t);
    expect(parseBackupStamp(formatBackupStamp(t, true), true)).toBe(t);
    expect(parseBackupStamp('2026-11-22T19:22:12.123', false)).toBeUndefined();
  });

  it('rotates by size, keeps every line whole and in order, and prunes beyond max_backups', async () => {
    const dir = tempDir();
    const path = join(dir, 'out.json');
    writeFileSync(join(dir, 'unrelated.json'), 'keep me\n');
    const s = await startExporter({ path, rotation: { max_megabytes: 1, max_backups: 2 } });
    // Lines of ~400 KB: two fit in 1 MiB, a third would not.
    for (let i = 1; i <= 9; i++) await s.exporter.consume(bigBatch(i, 400_000));
    await stop(s.exporter);
    expect(sent(s)).toBe(9);

    const backups = await listBackups(path, false);
    expect(backups).toHaveLength(2);
    const seqs = (p: string) => lines(p).map((l) => valuesOf(decodeExportRequestJson(l))[0]);
    // Files of 2, 2, 2, 2, 1 lines; the two oldest backups were pruned.
    expect(seqs(path)).toEqual([9]);
    expect(seqs(backups[0].path)).toEqual([7, 8]);
    expect(seqs(backups[1].path)).toEqual([5, 6]);
    for (const b of backups) expect(statSync(b.path).size).toBeLessThanOrEqual(1024 * 1024);
    expect(readdirSync(dir).sort()).toEqual([...backups.map((b) => b.path.slice(dir.length + 1)), 'out.json', 'unrelated.json'].sort());
  });

  it('a line larger than max_megabytes is written alone to a fresh file, not dropped', async () => {
    const path = join(tempDir(), 'big.json');
    const s = await startExporter({ path, rotation: { max_megabytes: 1, max_backups: 0 } });
    await s.exporter.consume(bigBatch(1, 100));
    await s.exporter.consume(bigBatch(2, 1_200_000));
    await s.exporter.consume(bigBatch(3, 100));
    await stop(s.exporter);
    expect(sent(s)).toBe(3);
    const all = [...(await listBackups(path, false)).reverse().map((b) => b.path), path].map((p) => lines(p).map((l) => valuesOf(decodeExportRequestJson(l))[0]));
    expect(all).toEqual([[1], [2], [3]]);
  });

  it('deletes backups older than max_days at start and keeps recent ones', async () => {
    const dir = tempDir();
    const path = join(dir, 'aged.json');
    const now = Date.now();
    const old = backupPath(path, now - 10 * 86_400_000, false);
    const recent = backupPath(path, now - 3_600_000, false);
    writeFileSync(old, 'old\n');
    writeFileSync(recent, 'recent\n');
    const s = await startExporter({ path, rotation: { max_days: 1 } });
    await stop(s.exporter);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });
});

describe('file exporter failures', () => {
  it('a missing directory: points counted as failed with the reason, logged once, nothing thrown; writes resume once it exists', async () => {
    const dir = join(tempDir(), 'not-yet');
    const path = join(dir, 'out.json');
    const s = await startExporter({ path });
    for (let i = 0; i < 3; i++) await expect(s.exporter.consume(gaugeBatch(4, i * 4))).resolves.toBeUndefined();
    await until(() => failed(s, 'directory_missing') === 12);
    expect(sent(s)).toBe(0);
    const warnings = s.logs.filter((l) => l.level === 40 && l.reason === 'directory_missing');
    // One at start (cannot open), one for the first failed batch; the rest at debug.
    expect(warnings.map((w) => w.msg)).toEqual(['cannot open the output file; batches will be counted as failed until it can be written', 'backend refused points permanently; dropped']);

    mkdirSync(dir);
    await s.exporter.consume(gaugeBatch(2, 100));
    await until(() => sent(s) === 2);
    await stop(s.exporter);
    expect(lines(path).map((l) => valuesOf(decodeExportRequestJson(l)))).toEqual([[100, 101]]);
  });

  it('create_directory makes the missing directory', async () => {
    const path = join(tempDir(), 'a', 'b', 'out.json');
    const s = await startExporter({ path, create_directory: true, directory_permissions: '0750' });
    await s.exporter.consume(gaugeBatch(1));
    await stop(s.exporter);
    expect(lines(path)).toHaveLength(1);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o750 & ~process.umask());
  });

  it('a full disk (/dev/full) is counted as disk_full', async () => {
    const s = await startExporter({ path: '/dev/full', append: true, retry_on_failure: { enabled: false } });
    await s.exporter.consume(gaugeBatch(3));
    await until(() => failed(s, 'disk_full') === 3);
    expect(sent(s)).toBe(0);
  });

  it('a directory as path, and a path it may not open, are counted with their reasons', async () => {
    const dir = tempDir();
    const s = await startExporter({ path: dir }, 'file/dir');
    await s.exporter.consume(gaugeBatch(2));
    await until(() => failed(s, 'is_directory', 'file/dir') === 2);

    // Root may write anywhere on an ordinary file system; sysfs still says no.
    let denied = join(dir, 'locked', 'out.json');
    if (process.getuid?.() === 0) denied = '/sys/kernel/notes';
    else {
      mkdirSync(join(dir, 'locked'), { mode: 0o500 });
    }
    if (!existsSync(denied) && process.getuid?.() === 0) return;
    const p = await startExporter({ path: denied, append: true }, 'file/denied');
    await p.exporter.consume(gaugeBatch(5));
    await until(() => failed(p, 'permission_denied', 'file/denied') === 5);
  });
});
