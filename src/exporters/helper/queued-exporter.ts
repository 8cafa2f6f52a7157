/**
 * The exporter built by `createExporter` when the shared settings are given:
 * `consume` only queues (the app never waits on a backend), `num_consumers`
 * loops take batches and deliver them with a per-attempt timeout, retries
 * with backoff, and a circuit breaker. Each exporter has its own queue and
 * consumers, so a slow or dead backend never delays another exporter.
 *
 * Accounting (CONTRACT §6): every point given to `consume` ends up counted
 * as sent or failed(reason), or is still in `queue.size`. Sent, failed and
 * retries carry the pipeline the batch came in through (`ConsumeContext`),
 * which travels with the batch: through `prepare`, the queue (and the disk
 * queue's keys), retries and a handover to a successor.
 *
 * Live reload (`handOverTo`): the exporter replacing this one (same ID, new
 * config) gets the waiting batches, in order, into its own queue — moved,
 * neither sent nor failed — and whatever `consume` receives from then on.
 * A send already in flight finishes here (re-sending it elsewhere while it
 * may still arrive would deliver it twice); if it fails, its retry is the
 * successor's, with the new config, instead of this one's. So a batch has at
 * most one attempt in flight at any time, and reaches the backend twice only
 * where a retry would anyway (an attempt that timed out, or was cut short by
 * the shutdown deadline, may have arrived).
 */
import type { CreateSettings, Exporter, Host } from '../../component.ts';
import type { ConsumeContext } from '../../consumer.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { TributaryError, isPermanent, reasonOf } from '../../errors.ts';
import type { ExporterHelperConfig } from './config.ts';
import type { ExporterOptions, Sender } from './exporter.ts';
import { BatchQueue, pointsByPipeline, type QueueEntry } from './queue.ts';
import { DiskStore } from './disk-queue.ts';
import { CircuitBreaker, BREAKER_STATE_VALUE } from './circuit-breaker.ts';
import { raceAbort, retryDelay, sleep } from './retry.ts';
import { ExporterObs } from './obs.ts';
import { admittedPoints, prepareOnce } from './admission.ts';
import { handOverSender } from './succession.ts';

/** 'abandoned': a shutdown or a handover cut the delivery short; the caller keeps the batch or moves it to the successor. */
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
  /** Aborted when queued batches move to a successor: retry sleeps and breaker waits end so their batch moves too. */
  private readonly handedOver = new AbortController();
  /** What queued deliveries wait on: the shutdown deadline or the handover. */
  private readonly waitSignal = AbortSignal.any([this.hardStop.signal, this.handedOver.signal]);
  /** Live reload: the exporter that replaced this one; `consume` forwards to it. */
  private successor: Exporter | undefined;
  /** The successor's queue, when both have one: batches this exporter still holds move there. */
  private heir: BatchQueue | undefined;
  /** The exporter this one replaced, while it finishes its in-flight sends (they count in this one's queue gauge: last observer wins). */
  private predecessor: QueuedExporter | undefined;
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
              onCorrupt: (points, err, pipeline) => {
                this.obs.failed(pipeline, 'corrupt', points);
                this.obs.logFailure('corrupt', points, err, 'skipped a damaged disk queue entry');
              },
            })
          : undefined;
      this.queue = new BatchQueue({
        capacity: q.queue_size,
        whenFull: q.when_full,
        store,
        onDrop: (reason, points, pipeline) => {
          this.obs.failed(pipeline, reason, points);
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
      () => this.heldPoints(),
      () => (queue ? queue.capacity : 0),
      () => BREAKER_STATE_VALUE[this.breaker.state],
    );
  }

  /** Points this exporter answers for: queued or in flight here, or in flight at the exporter it replaced. */
  private heldPoints(): number {
    return (this.queue ? this.queue.size : this.inlinePoints) + (this.predecessor?.heldPoints() ?? 0);
  }

  async consume(batch: MetricsBatch, ctx?: ConsumeContext): Promise<void> {
    // Replaced pipelines still draining into this exporter feed its successor (which prepares and counts).
    if (this.successor) return this.successor.consume(batch, ctx);
    const pipeline = ctx?.pipeline ?? '';
    let n = admittedPoints(this.obs, this.stopped, batch, pipeline);
    if (n === 0) return;
    ({ batch, points: n } = prepareOnce(this.sender, this.obs, batch, n, pipeline));
    if (n === 0) return;
    if (this.queue) return this.queue.offer(batch, n, pipeline);
    // No queue: the caller waits for delivery, and an open breaker fails fast (there is nowhere to wait).
    this.inlinePoints += n;
    const p = this.deliver(batch, n, pipeline, false).then((r) => {
      if (r === 'abandoned') this.obs.failed(pipeline, 'shutdown', n);
    });
    this.inline.add(p);
    try {
      await p;
    } finally {
      this.inline.delete(p);
      this.inlinePoints -= n;
    }
  }

  /**
   * Live reload: `successor` (started, same ID) takes over. Called before
   * `shutdown`; the switch to forwarding and the move of the waiting batches
   * happen in one synchronous step, so nothing consumed meanwhile overtakes them.
   */
  async handOverTo(successor: Exporter): Promise<void> {
    if (this.successor || successor === this || this.stopped) return;
    this.successor = successor;
    const sending = handOverSender(this.sender, successor);
    const queue = this.queue;
    // Without a queue on both sides there is nowhere to move batches to: this one drains its own on shutdown.
    if (queue && successor instanceof QueuedExporter && successor.queue && !successor.stopped) {
      this.heir = successor.queue;
      successor.predecessor = this;
      this.handedOver.abort();
      await successor.queue.takeOver(queue, queue.handOff());
    }
    await sending;
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
    // (After a handover only in-flight attempts are left, and they finish or move on their own.)
    if (queue?.durable && !this.heir) waits.push(this.untilBreakerOpen(deadline.signal));
    await Promise.race(waits);
    deadline.abort();
    this.hardStop.abort(new TributaryError('TRIB_SHUTTING_DOWN', 'exporter shutting down'));
    await drained;
    if (queue) {
      const left = await queue.release();
      let points = 0;
      for (const e of left) points += e.points;
      if (points > 0) {
        if (queue.durable) this.settings.logger.info({ points }, 'left in the disk queue for the next start');
        else {
          for (const [pipeline, n] of pointsByPipeline(left)) this.obs.failed(pipeline, 'shutdown', n);
          this.obs.logFailure('shutdown', points, 'shutdown deadline passed', 'dropped queued points at shutdown');
        }
      }
    }
    this.breaker.dispose();
    this.obs.disposeGauges();
    if (this.successor instanceof QueuedExporter && this.successor.predecessor === this) this.successor.predecessor = undefined;
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
    const result = await this.deliver(batch, entry.points, entry.pipeline, true);
    if (result === 'done') queue.complete(entry);
    // Handed over: the successor retries it. Otherwise it stays held; `release` accounts for it at shutdown.
    else if (this.heir && queue.detach(entry)) await this.heir.takeOver(queue, [entry]);
  }

  /**
   * Send one batch until it is delivered, permanently refused, or out of
   * retry budget; 'abandoned' when shutdown cut it short (the caller keeps it).
   */
  private async deliver(batch: MetricsBatch, points: number, pipeline: string, waitForBreaker: boolean): Promise<Delivery> {
    const retry = this.cfg.retry_on_failure;
    const stop = this.hardStop.signal;
    const startedAt = Date.now();
    let pausedMs = 0;
    // Queued batches can move to a successor, so their waits also end at the handover; inline ones cannot.
    const wait = waitForBreaker ? this.waitSignal : stop;
    for (let attempt = 0; ; attempt++) {
      // Handed over before this attempt: the successor makes it, with the new config.
      if (waitForBreaker && this.heir) return 'abandoned';
      let permit;
      if (waitForBreaker) {
        const t0 = Date.now();
        permit = await this.breaker.acquire(wait);
        pausedMs += Date.now() - t0;
        if (!permit) return 'abandoned';
      } else {
        permit = this.breaker.tryAcquire();
        if (!permit) {
          this.obs.failed(pipeline, 'circuit_open', points);
          return 'done';
        }
      }
      const signal = this.cfg.timeout > 0 ? AbortSignal.any([AbortSignal.timeout(this.cfg.timeout), stop]) : stop;
      try {
        const outcome = await raceAbort(Promise.resolve().then(() => this.sender.send(batch, signal)), signal);
        this.breaker.release(permit, true);
        const rejected = Math.min(points, Math.max(0, Number(outcome?.rejectedPoints) || 0));
        this.obs.sent(pipeline, points - rejected);
        if (rejected > 0) {
          const reason = outcome?.reason ?? 'rejected';
          this.obs.failed(pipeline, reason, rejected);
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
          this.obs.failed(pipeline, reason, points);
          this.obs.logFailure(reason, points, err, 'backend refused points permanently; dropped');
          return 'done';
        }
        this.breaker.release(permit, false);
        // Handed over meanwhile: the retry is the successor's (new config, fresh retry budget).
        if (waitForBreaker && this.heir) return 'abandoned';
        const retryAfterMs = err instanceof TributaryError ? err.retryAfterMs : undefined;
        const delay = retryDelay(retry, attempt, retryAfterMs);
        const elapsed = Date.now() - startedAt - pausedMs;
        if (!retry.enabled || (retry.max_elapsed_time > 0 && elapsed + delay > retry.max_elapsed_time)) {
          this.obs.failed(pipeline, reason, points);
          this.obs.logFailure(reason, points, err, retry.enabled ? 'gave up after retrying' : 'export failed');
          return 'done';
        }
        this.obs.logRetry(reason, err, { delay, attempt });
        this.obs.retried(pipeline);
        if (!(await sleep(delay, wait))) return 'abandoned';
      }
    }
  }
}
