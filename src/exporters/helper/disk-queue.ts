/**
 * The durable store behind `sending_queue.storage: disk`: an LMDB environment
 * per exporter under `directory`. Each batch is written ahead (before
 * `consume` resolves) as the OTLP protobuf of the batch behind a version byte
 * and a CRC-32, keyed by `[id, points, pipeline]` so entries replay in order
 * and can be counted, in the pipeline they came in through, even when their
 * bytes are damaged (the pipeline is left out of the key when it is "", which
 * is also how entries written before pipelines were recorded read back: their
 * `[id, points]` keys resume with pipeline ""). LMDB commits are crash-safe; with
 * `sync_interval` > 0 the fsync happens on a timer instead of per commit, so a
 * process crash loses nothing and a power loss at most that interval.
 *
 * A live reload builds a new exporter while the old one drains into the same
 * directory. LMDB must not be opened twice in one process, so both share one
 * environment here (opened with the first one's sync setting; a store wanting
 * a sync per write gets it explicitly); entries are owned by one queue at a
 * time: the old queue hands its waiting entries over by ID (`shares`), and
 * whatever it still leaves behind at close goes to the new one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { RootDatabase } from 'lmdb';
import type { MetricsBatch } from '../../model/metrics.ts';
import type { QueueEntry, QueueStore } from './queue.ts';

export interface BatchCodec {
  encode(batch: MetricsBatch): Uint8Array;
  decode(buf: Uint8Array): MetricsBatch;
}

export interface DiskStoreOptions {
  directory: string;
  exporterId: string;
  /** 0 = fsync every commit before `write` resolves. */
  syncIntervalMs: number;
  /** Defaults to the OTLP protobuf codec of src/otlp. */
  codec?: BatchCodec;
  /** An entry that could not be read back (bad checksum, undecodable, bad key). */
  onCorrupt?(points: number, err: unknown, pipeline: string): void;
}

/** `[id, points]` (pipeline "") or `[id, points, pipeline]`. */
type EntryKey = [number, number] | [number, number, string];

function keyOf(entry: QueueEntry): EntryKey {
  return entry.pipeline ? [entry.id, entry.points, entry.pipeline] : [entry.id, entry.points];
}

function isEntryKey(key: unknown): key is EntryKey {
  if (!Array.isArray(key) || typeof key[0] !== 'number' || typeof key[1] !== 'number') return false;
  return key.length === 2 || (key.length === 3 && typeof key[2] === 'string' && key[2] !== '');
}

const FORMAT_OTLP_PROTO = 1;
const HEADER_BYTES = 5;

interface SharedEnv {
  path: string;
  db: RootDatabase<Buffer, EntryKey>;
  nextId: number;
  /** IDs some open store is responsible for. */
  owned: Set<number>;
  stores: DiskStore[];
  syncTimer?: NodeJS.Timeout;
  noSync: boolean;
}

const envs = new Map<string, SharedEnv>();

/**
 * lmdb is imported when the first disk queue opens, not with this module: every
 * exporter loads the helper, and lmdb costs ~27 MiB of RSS once imported
 * (native code plus a 16 MiB buffer), which a daemon without a disk queue
 * should not pay (bench/otlp-ingest.ts idle RSS).
 */
let lmdbOpen: (typeof import('lmdb'))['open'] | undefined;

/** lmdb-js has `sync` on the root database but leaves it out of its typings. */
function syncEnv(db: RootDatabase<Buffer, EntryKey>): Promise<void> {
  return new Promise((resolve) => (db as unknown as { sync(cb: (err?: unknown) => void): void }).sync(() => resolve()));
}

/** The directory an exporter's queue lives in: one per exporter ID. */
export function queueDirectory(directory: string, exporterId: string): string {
  return join(directory, 'exporter_' + exporterId.replace(/[^A-Za-z0-9_-]/g, '_'));
}

function openEnv(path: string, syncIntervalMs: number): SharedEnv {
  let env = envs.get(path);
  if (env) return env;
  mkdirSync(path, { recursive: true });
  const noSync = syncIntervalMs > 0;
  const db = lmdbOpen!<Buffer, EntryKey>({ path, encoding: 'binary', noSync });
  let maxId = 0;
  for (const key of db.getKeys()) {
    if (Array.isArray(key) && typeof key[0] === 'number' && key[0] > maxId) maxId = key[0];
  }
  env = { path, db, nextId: maxId + 1, owned: new Set(), stores: [], noSync };
  if (noSync) {
    env.syncTimer = setInterval(() => void syncEnv(db), syncIntervalMs);
    env.syncTimer.unref();
  }
  envs.set(path, env);
  return env;
}

async function loadOtlpCodec(): Promise<BatchCodec> {
  const enc = await import('../../otlp/encode.ts');
  const dec = await import('../../otlp/decode.ts');
  return { encode: (b) => enc.encodeExportRequest(b), decode: (buf) => dec.decodeExportRequest(buf) };
}

export class DiskStore implements QueueStore {
  readonly durable = true as const;
  onAdopt?: (entries: QueueEntry[]) => void;
  private readonly opts: DiskStoreOptions;
  private env: SharedEnv | undefined;
  private codec: BatchCodec | undefined;
  private closed = false;

  constructor(opts: DiskStoreOptions) {
    this.opts = opts;
  }

  get path(): string {
    return queueDirectory(this.opts.directory, this.opts.exporterId);
  }

  async open(): Promise<QueueEntry[]> {
    this.codec = this.opts.codec ?? (await loadOtlpCodec());
    lmdbOpen ??= (await import('lmdb')).open;
    const env = openEnv(this.path, this.opts.syncIntervalMs);
    this.env = env;
    env.stores.push(this);
    const resumed: QueueEntry[] = [];
    for (const key of env.db.getKeys()) {
      if (!isEntryKey(key)) {
        this.opts.onCorrupt?.(0, new Error('malformed queue key'), '');
        env.db.remove(key);
        continue;
      }
      if (env.owned.has(key[0])) continue;
      env.owned.add(key[0]);
      resumed.push({ id: key[0], points: key[1], pipeline: key[2] ?? '', batch: undefined });
    }
    return resumed;
  }

  /** Same directory: one LMDB environment, so entries can change queues by ID alone. */
  shares(other: QueueStore): boolean {
    return other instanceof DiskStore && other.env !== undefined && other.env === this.env;
  }

  allocateId(): number {
    const env = this.mustEnv();
    const id = env.nextId++;
    env.owned.add(id);
    return id;
  }

  async write(entry: QueueEntry, batch: MetricsBatch): Promise<void> {
    const env = this.mustEnv();
    const payload = this.codec!.encode(batch);
    const value = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    value[0] = FORMAT_OTLP_PROTO;
    value.writeUInt32BE(crc32(payload), 1);
    value.set(payload, HEADER_BYTES);
    await env.db.put(keyOf(entry), value);
    if (!env.noSync) await env.db.flushed;
    else if (this.opts.syncIntervalMs === 0) await syncEnv(env.db);
  }

  read(entry: QueueEntry): MetricsBatch | undefined {
    const env = this.mustEnv();
    try {
      const value = env.db.getBinary(keyOf(entry));
      if (!value) throw new Error(`queue entry ${entry.id} missing`);
      if (value.length < HEADER_BYTES || value[0] !== FORMAT_OTLP_PROTO) throw new Error(`queue entry ${entry.id} has an unknown format`);
      const payload = value.subarray(HEADER_BYTES);
      if (crc32(payload) !== value.readUInt32BE(1)) throw new Error(`queue entry ${entry.id} fails its checksum`);
      return this.codec!.decode(payload);
    } catch (err) {
      this.opts.onCorrupt?.(entry.points, err, entry.pipeline);
      return undefined;
    }
  }

  remove(entry: QueueEntry): void {
    const env = this.env;
    if (!env || this.closed) return;
    env.owned.delete(entry.id);
    env.db.remove(keyOf(entry));
  }

  async close(leftover: QueueEntry[]): Promise<void> {
    const env = this.env;
    if (!env || this.closed) return;
    this.closed = true;
    env.stores = env.stores.filter((s) => s !== this);
    const heir = env.stores[env.stores.length - 1];
    if (heir) {
      // Another queue on this directory (the exporter rebuilt by a reload) sends what we could not.
      heir.onAdopt?.(leftover.map((e) => ({ id: e.id, points: e.points, pipeline: e.pipeline, batch: undefined })));
      return;
    }
    for (const e of leftover) env.owned.delete(e.id);
    envs.delete(env.path);
    clearInterval(env.syncTimer);
    await env.db.committed;
    if (env.noSync) await syncEnv(env.db);
    await env.db.close();
  }

  private mustEnv(): SharedEnv {
    if (!this.env) throw new Error('disk queue is not open');
    return this.env;
  }
}
