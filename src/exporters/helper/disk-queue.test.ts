import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { DiskStore, queueDirectory } from './disk-queue.ts';
import { gaugeBatch, valuesOf } from './testing.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'trib-disk-'));
  dirs.push(d);
  return d;
}

describe('DiskStore', () => {
  it('stores batches with the OTLP codec and resumes them, in order, after a reopen', async () => {
    const directory = tempDir();
    const a = new DiskStore({ directory, exporterId: 'otlp_http/up', syncIntervalMs: 0 });
    expect(await a.open()).toEqual([]);
    const entries = [];
    for (let i = 0; i < 3; i++) {
      const e = { id: a.allocateId(), points: 2, pipeline: '', batch: undefined };
      await a.write(e, gaugeBatch(2, i * 2));
      entries.push(e);
    }
    a.remove(entries[0]);
    await a.close(entries.slice(1));

    const b = new DiskStore({ directory, exporterId: 'otlp_http/up', syncIntervalMs: 1000 });
    const resumed = await b.open();
    expect(resumed.map((e) => [e.id, e.points])).toEqual([[2, 2], [3, 2]]);
    expect(resumed.map((e) => valuesOf(b.read(e)!))).toEqual([[2, 3], [4, 5]]);
    // New IDs continue after the stored ones, so order survives restarts.
    expect(b.allocateId()).toBe(4);
    await b.close(resumed);
  });

  it('keys entries by [id, points, pipeline], and resumes entries written without a pipeline with pipeline ""', async () => {
    const directory = tempDir();
    const a = new DiskStore({ directory, exporterId: 'x', syncIntervalMs: 0 });
    await a.open();
    // Pipeline "" is stored as [id, points], the key every entry had before pipelines were recorded.
    const legacy = { id: a.allocateId(), points: 2, pipeline: '', batch: undefined };
    const tagged = { id: a.allocateId(), points: 3, pipeline: 'metrics/b', batch: undefined };
    await a.write(legacy, gaugeBatch(2));
    await a.write(tagged, gaugeBatch(3, 2));
    await a.close([legacy, tagged]);

    const db = open({ path: queueDirectory(directory, 'x'), encoding: 'binary' });
    expect([...db.getKeys()]).toEqual([[1, 2], [2, 3, 'metrics/b']]);
    await db.close();

    const b = new DiskStore({ directory, exporterId: 'x', syncIntervalMs: 0 });
    const resumed = await b.open();
    expect(resumed.map((e) => [e.id, e.points, e.pipeline])).toEqual([[1, 2, ''], [2, 3, 'metrics/b']]);
    expect(resumed.map((e) => valuesOf(b.read(e)!))).toEqual([[0, 1], [2, 3, 4]]);
    // Removed under their own keys: nothing is left for the next start.
    b.remove(resumed[0]);
    b.remove(resumed[1]);
    await b.close([]);
    const reopened = new DiskStore({ directory, exporterId: 'x', syncIntervalMs: 0 });
    expect(await reopened.open()).toEqual([]);
    await reopened.close([]);
  });

  it('counts and skips an entry whose bytes were damaged', async () => {
    const directory = tempDir();
    const a = new DiskStore({ directory, exporterId: 'x', syncIntervalMs: 0 });
    await a.open();
    const good = { id: a.allocateId(), points: 3, pipeline: '', batch: undefined };
    const bad = { id: a.allocateId(), points: 4, pipeline: 'metrics/b', batch: undefined };
    await a.write(good, gaugeBatch(3));
    await a.write(bad, gaugeBatch(4));
    await a.close([good, bad]);

    // Flip bytes in the stored payload, as a torn write or bit rot would.
    const db = open({ path: queueDirectory(directory, 'x'), encoding: 'binary' });
    const value = Buffer.from(db.getBinary([bad.id, bad.points, bad.pipeline])!);
    value[value.length - 1] ^= 0xff;
    await db.put([bad.id, bad.points, bad.pipeline], value);
    await db.close();

    const corrupt: Array<[number, string]> = [];
    const b = new DiskStore({ directory, exporterId: 'x', syncIntervalMs: 0, onCorrupt: (points, _err, pipeline) => corrupt.push([points, pipeline]) });
    const resumed = await b.open();
    expect(valuesOf(b.read(resumed[0])!)).toEqual([0, 1, 2]);
    expect(b.read(resumed[1])).toBeUndefined();
    // Counted in the pipeline it came in through: the key holds it, the damaged bytes are not needed.
    expect(corrupt).toEqual([[4, 'metrics/b']]);
    for (const e of resumed) b.remove(e);
    await b.close([]);
  });
});
