/**
 * The sending queue: bounded in data points, shared by `num_consumers`
 * consumers, optionally backed by a durable store (disk-queue.ts).
 *
 * `size` counts every point the exporter holds, waiting or in flight (a batch
 * being retried is still "queued" for the accounting invariant of
 * CONTRACT §6). When an offer does not fit, `when_full` decides: evict the
 * oldest waiting batches, drop the new one, or refuse it (`block`) so that
 * receivers push back on their clients.
 *
 * Live reload: a replaced exporter's queue hands its batches to the queue of
 * the exporter replacing it (`handOff`, `detach`, `takeOver`): moved, in
 * order, neither sent nor failed, and counted in exactly one queue's `size`.
 */
import type { MetricsBatch } from '../../model/metrics.ts';
import { splitBatch } from '../../model/metrics.ts';
import { refusedError } from '../../errors.ts';

export type WhenFull = 'drop_oldest' | 'drop_newest' | 'block';

export interface QueueEntry {
  id: number;
  points: number;
  /** The pipeline the batch came in through ("" when unknown), so what becomes of it is counted there (CONTRACT §6). */
  pipeline: string;
  /** The batch, while it is in memory; a disk queue reloads it with `QueueStore.read`. */
  batch: MetricsBatch | undefined;
}

/** Durable storage behind a queue: write-ahead on offer, removal once done. */
export interface QueueStore {
  readonly durable: true;
  /** Open and return the entries left by an earlier run, oldest first. */
  open(): Promise<QueueEntry[]>;
  /** A fresh entry ID, unique in the store (IDs order entries across restarts). */
  allocateId(): number;
  /** Persist; resolves once committed (and synced if the store is configured so). */
  write(entry: QueueEntry, batch: MetricsBatch): Promise<void>;
  /** Load an entry's batch; undefined when it is missing or corrupt. */
  read(entry: QueueEntry): MetricsBatch | undefined;
  remove(entry: QueueEntry): void;
  /** Entries this queue gave up on stay stored for the next run (or for another queue on the same store). */
  close(leftover: QueueEntry[]): Promise<void>;
  /** Called by the store when another queue on the same directory left entries behind (live reload). */
  onAdopt?: (entries: QueueEntry[]) => void;
  /** True when `other` stores into the same place, so an entry can change queues without being copied. */
  shares?(other: QueueStore): boolean;
}

export interface QueueOptions {
  capacity: number;
  whenFull: WhenFull;
  store?: QueueStore;
  /** Points dropped to make room, with the reason and the pipeline they came in through. */
  onDrop(reason: string, points: number, pipeline: string): void;
  /** The store could not write: the batch stays queued in memory only. */
  onStoreError?(err: unknown): void;
  /** Suggested client back-off when `block` refuses. */
  retryAfterMs?: () => number;
}

export class BatchQueue {
  readonly capacity: number;
  private readonly opts: QueueOptions;
  private readonly store: QueueStore | undefined;
  /** Waiting entries, oldest first; `head` avoids O(n) shifts. */
  private waiting: QueueEntry[] = [];
  private head = 0;
  private held = 0;
  private nextId = 1;
  private closed = false;
  private takers: Array<(e: QueueEntry | undefined) => void> = [];
  private readonly emptyWaiters: Array<() => void> = [];
  private inFlight = new Set<QueueEntry>();

  constructor(opts: QueueOptions) {
    this.opts = opts;
    this.capacity = opts.capacity;
    this.store = opts.store;
    if (this.store) this.store.onAdopt = (entries) => this.adopt(entries);
  }

  /** Points held: waiting plus in flight. */
  get size(): number {
    return this.held;
  }

  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  get durable(): boolean {
    return this.store !== undefined;
  }

  async open(): Promise<void> {
    if (!this.store) return;
    const resumed = await this.store.open();
    this.adopt(resumed);
  }

  /**
   * Queue a batch. Resolves once it is held (written ahead on disk for a
   * durable queue); rejects with `TRIB_REFUSED` when full and `block`.
   */
  async offer(batch: MetricsBatch, points: number, pipeline: string): Promise<void> {
    if (this.opts.whenFull === 'block') {
      if (this.held > 0 && this.held + points > this.capacity) {
        throw refusedError(`sending queue full (${this.held}/${this.capacity} points)`, { reason: 'queue_full', retryAfterMs: this.opts.retryAfterMs?.() ?? 1000 });
      }
      return this.push(batch, points, pipeline);
    }
    // A batch larger than the whole queue is split so drop_oldest can keep its newest part.
    const pieces = points > this.capacity ? splitBatch(batch, this.capacity) : [batch];
    const writes: Promise<void>[] = [];
    for (const piece of pieces) {
      const n = pieces.length === 1 ? points : countOf(piece);
      if (this.held + n > this.capacity) {
        if (this.opts.whenFull === 'drop_oldest') this.evictFor(n);
        if (this.held + n > this.capacity) {
          this.opts.onDrop('queue_full', n, pipeline);
          continue;
        }
      }
      writes.push(this.push(piece, n, pipeline));
    }
    await Promise.all(writes);
  }

  /** Next entry, waiting for one; undefined once the queue is closed and empty. */
  take(): Promise<QueueEntry | undefined> {
    const e = this.shift();
    if (e) return Promise.resolve(e);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Load a stored entry's batch (disk queue); undefined when it is damaged. */
  reload(entry: QueueEntry): MetricsBatch | undefined {
    return this.store?.read(entry);
  }

  /** The entry was sent or given up on: forget it (and remove it from disk). */
  complete(entry: QueueEntry): void {
    if (!this.inFlight.delete(entry)) return;
    this.held -= entry.points;
    this.store?.remove(entry);
    this.checkEmpty();
  }

  /** Stop accepting; consumers drain what is left and then get undefined. */
  close(): void {
    this.closed = true;
    const t = this.takers;
    this.takers = [];
    for (const resolve of t) resolve(this.shift());
  }

  /** Resolves when nothing is held any more. */
  whenEmpty(): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  /**
   * Shutdown: hand back everything still held (waiting and in flight) and
   * close the store; a durable store keeps them for the next start.
   * Returns the entries that were left, oldest first.
   */
  async release(): Promise<QueueEntry[]> {
    this.close();
    const left = this.waiting.slice(this.head).concat([...this.inFlight]);
    this.waiting = [];
    this.head = 0;
    this.inFlight.clear();
    this.held = 0;
    left.sort((a, b) => a.id - b.id);
    await this.store?.close(left);
    this.checkEmpty();
    return left;
  }

  /**
   * Live reload, old side: stop handing out entries (consumers get undefined
   * once they ask again) and give up every waiting one, oldest first, for
   * the successor's `takeOver`. In-flight entries stay until `complete` or `detach`.
   */
  handOff(): QueueEntry[] {
    const waiting = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const e of waiting) this.held -= e.points;
    this.close();
    this.checkEmpty();
    return waiting;
  }

  /** Give up an in-flight entry without completing it (it moves to another queue); false when it was not in flight. */
  detach(entry: QueueEntry): boolean {
    if (!this.inFlight.delete(entry)) return false;
    this.held -= entry.points;
    this.checkEmpty();
    return true;
  }

  /**
   * Live reload, new side: take entries `from` gave up (`handOff`/`detach`)
   * ahead of what waits here, ignoring capacity (they were accepted once
   * already; dropping them because the new config is smaller would lose
   * data to the reload). On the same store they change owner only; otherwise
   * each is copied here (written ahead when this queue is durable) and then
   * removed from `from`'s store, so a crash in between replays it twice,
   * never loses it.
   */
  async takeOver(from: BatchQueue, entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const source = from.store;
    if (this.store && source && this.store.shares?.(source)) {
      this.adopt(entries.map((e) => ({ id: e.id, points: e.points, pipeline: e.pipeline, batch: e.batch })));
      return;
    }
    const copies: QueueEntry[] = [];
    const originals: QueueEntry[] = [];
    for (const e of entries) {
      const batch = e.batch ?? source?.read(e);
      if (!batch) {
        // Damaged on disk: `from`'s store counted it (onCorrupt); forget it.
        source?.remove(e);
        continue;
      }
      copies.push({ id: this.store ? this.store.allocateId() : this.nextId++, points: e.points, pipeline: e.pipeline, batch });
      originals.push(e);
    }
    this.adopt(copies);
    if (this.store) await Promise.all(copies.map((c) => this.persist(c, c.batch!)));
    for (const e of originals) source?.remove(e);
  }

  private async push(batch: MetricsBatch, points: number, pipeline: string): Promise<void> {
    const entry: QueueEntry = { id: this.store ? this.store.allocateId() : this.nextId++, points, pipeline, batch };
    this.held += points;
    this.enqueue(entry);
    await this.persist(entry, batch);
  }

  private async persist(entry: QueueEntry, batch: MetricsBatch): Promise<void> {
    if (!this.store) return;
    try {
      await this.store.write(entry, batch);
    } catch (err) {
      // Disk full or an I/O error: the batch is still queued in memory, so nothing is lost unless we crash now.
      this.opts.onStoreError?.(err);
      return;
    }
    // Written: a consumer that has not taken it yet will reload it from disk, so memory stays bounded.
    if (!this.inFlight.has(entry)) entry.batch = undefined;
  }

  private enqueue(entry: QueueEntry): void {
    const taker = this.takers.shift();
    if (taker) {
      this.inFlight.add(entry);
      taker(entry);
    } else {
      this.waiting.push(entry);
    }
  }

  private shift(): QueueEntry | undefined {
    if (this.head >= this.waiting.length) return undefined;
    const e = this.waiting[this.head];
    this.waiting[this.head++] = undefined as unknown as QueueEntry;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    this.inFlight.add(e);
    return e;
  }

  private evictFor(points: number): void {
    // The evicted entries may come from several pipelines: each is counted in its own.
    let dropped: Map<string, number> | undefined;
    while (this.held + points > this.capacity) {
      if (this.head >= this.waiting.length) break;
      const e = this.waiting[this.head];
      this.waiting[this.head++] = undefined as unknown as QueueEntry;
      this.held -= e.points;
      dropped ??= new Map();
      dropped.set(e.pipeline, (dropped.get(e.pipeline) ?? 0) + e.points);
      this.store?.remove(e);
    }
    if (dropped) for (const [pipeline, n] of dropped) this.opts.onDrop('queue_full', n, pipeline);
  }

  private adopt(entries: QueueEntry[]): void {
    if (entries.length === 0) return;
    for (const e of entries) this.held += e.points;
    // Left-over entries are older than anything new: they go first.
    const rest = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const e of entries) this.enqueue(e);
    for (const e of rest) this.waiting.push(e);
  }

  private checkEmpty(): void {
    if (this.held !== 0) return;
    const w = this.emptyWaiters.splice(0);
    for (const resolve of w) resolve();
  }
}

/** Points per pipeline in `entries` (what `release` left, for the shutdown accounting). */
export function pointsByPipeline(entries: QueueEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries) out.set(e.pipeline, (out.get(e.pipeline) ?? 0) + e.points);
  return out;
}

function countOf(batch: MetricsBatch): number {
  let n = 0;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.points.length;
  return n;
}
