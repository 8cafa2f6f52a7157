/**
 * The exporter built by `createExporter` when the shared settings are given:
 * `consume` only queues (the app never waits on a backend), `num_consumers`
 * loops take batches and deliver them with a per-attempt timeout, retries
 * with backoff, and a circuit breaker. Each exporter has its own queue and
 * consumers, so a slow or dead backend never delays another exporter.
 *
 * Accounting (CONTRACT §6): every point given to `consume` ends up counted
 * as sent or failed(reason), or is still in `queue.size`.
 */
import type { CreateSettings, Exporter, Host } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { countPoints } from '../../model/metrics.ts';
import { TributaryError, isPermanent, reasonOf } from '../../errors.ts';
import type { ExporterHelperConfig } from './config.ts';
import type { ExporterOptions, Sender } from './exporter.ts';
import { BatchQueue, type QueueEntry } from './queue.ts';
import { DiskStore } from './disk-queue.ts';
import { CircuitBreaker, BREAKER_STATE_VALUE } from './circuit-breaker.ts';
import { raceAbort, retryDelay, sleep } from './retry.ts';
import { ExporterObs } from './obs.ts';

type Delivery = 'done' | 'abandoned';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

export class QueuedExporter implements Exporter {
  private readonly settings: CreateSettings;
  private readonly cfg: ExporterHelperConfig;
  private readonly sender: Sender;
  private readonly shutdownTimeoutMs: number;
  private readonly obs: ExporterObs;
  private readonly breaker: CircuitBreaker;
  private readonly queue: BatchQueue | undefined;
  /** Aborted when the shutdown deadline passes: in-flight sends, retry sleeps and breaker waits give up. */
  private readonly hardStop = new AbortController();
  private consumers: Promise<void>[] = [];
  /** Batches delivered inline when the queue is disabled. */
  private readonly inline = new Set<Promise<unknown>>();
  private inlinePoints = 0;
  private stopped = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(settings: CreateSettings, cfg: ExporterHelperConfig, sender: Sender, opts: ExporterOptions = {}) {
    this.settings = settings;
    this.cfg = cfg;
    this.sender = sender;
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? settings.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.obs = new ExporterObs(settings);
    this.breaker = new CircuitBreaker(cfg.circuit_breaker);
    this.breaker.onStateChange((s) => settings.logger.info({ state: s }, 'circuit breaker state changed'));
    const q = cfg.sending_queue;
    if (q.enabled) {
      const store =
        q.storage === 'disk'
          ? new DiskStore({
              directory: q.directory!,
              exporterId: settings.id.id,
              syncIntervalMs: q.sync_interval,
              codec: opts.diskCodec,
              onCorrupt: (points, err) => {
                this.obs.failed('corrupt', points);
                this.obs.logFailure('corrupt', points, err, 'skipped a damaged disk queue entry');
              },
            })
          : undefined;
      this.queue = new BatchQueue({
        capacity: q.queue_size,
        whenFull: q.when_full,
        store,
        onDrop: (reason, points) => {
          this.obs.failed(reason, points);
          this.obs.logFailure(reason, points, 'sending queue full', 'dropped points');
        },
        onStoreError: (err) => settings.logger.error({ err: String(err) }, 'disk queue write failed; batch kept in memory only'),
        retryAfterMs: () => (this.breaker.state === 'open' ? cfg.circuit_breaker.open_duration : 1000),
      });
    }
  }

  async start(host: Host): Promise<void> {
    await this.sender.start?.(host);
    const queue = this.queue;
    if (queue) {
      await queue.open();
      if (queue.size > 0) this.settings.logger.info({ points: queue.size }, 'resuming disk queue');
      for (let i = 0; i < this.cfg.sending_queue.num_consumers; i++) this.consumers.push(this.consumeLoop(queue));
    }
    this.obs.observeGauges(
      () => (queue ? queue.size : this.inlinePoints),
      () => (queue ? queue.capacity : 0),
      () => BREAKER_STATE_VALUE[this.breaker.state],
    );
  }

  async consume(batch: MetricsBatch): Promise<void> {
    let n = countPoints(batch);
    if (n === 0) return;
    if (this.stopped) {
      this.obs.failed('shutdown', n);
      return;
    }
    if (this.sender.prepare) {
      batch = this.sender.prepare(batch);
      const kept = countPoints(batch);
      if (kept < n) this.obs.failed('unsupported', n - kept);
      n = kept;
      if (n === 0) return;
    }
    if (this.queue) return this.queue.offer(batch, n);
    // No queue: the caller waits for delivery, and an open breaker fails fast (there is nowhere to wait).
    this.inlinePoints += n;
    const p = this.deliver(batch, n, false).then((r) => {
      if (r === 'abandoned') this.obs.failed('shutdown', n);
    });
    this.inline.add(p);
    try {
      await p;
    } finally {
      this.inline.delete(p);
      this.inlinePoints -= n;
    }
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.drainAndStop();
    return this.shutdownPromise;
  }

  private async drainAndStop(): Promise<void> {
    this.stopped = true;
    const queue = this.queue;
    queue?.close();
    const drained = Promise.all([...this.consumers, ...this.inline]);
    const deadline = new AbortController();
    const waits: Promise<unknown>[] = [drained, sleep(this.shutdownTimeoutMs, deadline.signal)];
    // A durable queue keeps what it holds: no point waiting for a backend the breaker says is down.
    if (queue?.durable) waits.push(this.untilBreakerOpen(deadline.signal));
    await Promise.race(waits);
    deadline.abort();
    this.hardStop.abort(new TributaryError('TRIB_SHUTTING_DOWN', 'exporter shutting down'));
    await drained;
    if (queue) {
      const left = await queue.release();
      if (left > 0) {
        if (queue.durable) this.settings.logger.info({ points: left }, 'left in the disk queue for the next start');
        else {
          this.obs.failed('shutdown', left);
          this.obs.logFailure('shutdown', left, 'shutdown deadline passed', 'dropped queued points at shutdown');
        }
      }
    }
    this.breaker.dispose();
    this.obs.disposeGauges();
    await this.sender.shutdown?.();
  }

  private untilBreakerOpen(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.breaker.state === 'open') return resolve();
      this.breaker.onStateChange((s) => s === 'open' && resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  private async consumeLoop(queue: BatchQueue): Promise<void> {
    for (;;) {
      if (this.hardStop.signal.aborted) return;
      const entry = await queue.take();
      if (!entry) return;
      await this.process(queue, entry);
    }
  }

  private async process(queue: BatchQueue, entry: QueueEntry): Promise<void> {
    const batch = entry.batch ?? queue.reload(entry);
    if (!batch) {
      // Damaged on disk: counted by the store's onCorrupt, never a crash.
      queue.complete(entry);
      return;
    }
    // Keep the batch in memory while it is being retried (it was loaded anyway).
    entry.batch = batch;
    const result = await this.deliver(batch, entry.points, true);
    if (result === 'done') queue.complete(entry);
  }

  /**
   * Send one batch until it is delivered, permanently refused, or out of
   * retry budget; 'abandoned' when shutdown cut it short (the caller keeps it).
   */
  private async deliver(batch: MetricsBatch, points: number, waitForBreaker: boolean): Promise<Delivery> {
    const retry = this.cfg.retry_on_failure;
    const stop = this.hardStop.signal;
    const startedAt = Date.now();
    let pausedMs = 0;
    for (let attempt = 0; ; attempt++) {
      let permit;
      if (waitForBreaker) {
        const t0 = Date.now();
        permit = await this.breaker.acquire(stop);
        pausedMs += Date.now() - t0;
        if (!permit) return 'abandoned';
      } else {
        permit = this.breaker.tryAcquire();
        if (!permit) {
          this.obs.failed('circuit_open', points);
          return 'done';
        }
      }
      const signal = this.cfg.timeout > 0 ? AbortSignal.any([AbortSignal.timeout(this.cfg.timeout), stop]) : stop;
      try {
        const outcome = await raceAbort(Promise.resolve().then(() => this.sender.send(batch, signal)), signal);
        this.breaker.release(permit, true);
        const rejected = Math.min(points, Math.max(0, Number(outcome?.rejectedPoints) || 0));
        this.obs.sent(points - rejected);
        if (rejected > 0) {
          const reason = outcome?.reason ?? 'rejected';
          this.obs.failed(reason, rejected);
          this.obs.logFailure(reason, rejected, outcome?.message ?? 'partial success', 'backend rejected points');
        }
        return 'done';
      } catch (thrown) {
        if (stop.aborted) {
          this.breaker.release(permit, true);
          return 'abandoned';
        }
        const err = signal.aborted ? new TributaryError('TRIB_TIMEOUT', `no answer within ${this.cfg.timeout}ms`, { cause: thrown }) : thrown;
        const reason = reasonOf(err);
        if (isPermanent(err)) {
          this.breaker.release(permit, true);
          this.obs.failed(reason, points);
          this.obs.logFailure(reason, points, err, 'backend refused points permanently; dropped');
          return 'done';
        }
        this.breaker.release(permit, false);
        const retryAfterMs = err instanceof TributaryError ? err.retryAfterMs : undefined;
        const delay = retryDelay(retry, attempt, retryAfterMs);
        const elapsed = Date.now() - startedAt - pausedMs;
        if (!retry.enabled || (retry.max_elapsed_time > 0 && elapsed + delay > retry.max_elapsed_time)) {
          this.obs.failed(reason, points);
          this.obs.logFailure(reason, points, err, retry.enabled ? 'gave up after retrying' : 'export failed');
          return 'done';
        }
        this.settings.logger.debug({ reason, delay, attempt }, 'export attempt failed; retrying');
        this.obs.retried();
        if (!(await sleep(delay, stop))) return 'abandoned';
      }
    }
  }
}
