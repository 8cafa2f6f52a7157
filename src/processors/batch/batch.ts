/**
 * Groups small batches into bigger ones (by size or after a timeout) so
 * exporters make fewer, fuller requests. `consume` returns as soon as the data
 * is buffered, as otelcol's batch processor does; a downstream refusal after
 * that point is counted as dropped with its reason, never lost silently.
 */
import type { CreateSettings, Processor } from '../../component.ts';
import type { MetricsConsumer } from '../../consumer.ts';
import { countPoints, mergeBatches, splitBatch, type MetricsBatch } from '../../model/metrics.ts';
import { reasonOf, errorMessage } from '../../errors.ts';
import { dropCounter, type DropFn } from '../helper.ts';
import type { BatchConfig } from './config.ts';

export class BatchProcessor implements Processor {
  readonly mutatesData = false;
  private readonly config: BatchConfig;
  private readonly next: MetricsConsumer;
  private readonly settings: CreateSettings;
  private readonly drop: DropFn;
  private pending: MetricsBatch[] = [];
  private pendingPoints = 0;
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(settings: CreateSettings, config: BatchConfig, next: MetricsConsumer) {
    this.settings = settings;
    this.config = config;
    this.next = next;
    this.drop = dropCounter(settings);
  }

  async start(): Promise<void> {}

  async consume(batch: MetricsBatch): Promise<void> {
    const n = countPoints(batch);
    if (n === 0) return;
    if (this.stopped || this.config.timeout === 0) {
      // After shutdown began (or with no timeout) data passes straight through.
      this.send(batch);
      return;
    }
    this.pending.push(batch);
    this.pendingPoints += n;
    if (this.pendingPoints >= this.config.send_batch_size) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.config.timeout);
      this.timer.unref();
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const merged = mergeBatches(this.pending);
    this.pending = [];
    this.pendingPoints = 0;
    this.send(merged);
  }

  private send(batch: MetricsBatch): void {
    const pieces = this.config.send_batch_max_size > 0 ? splitBatch(batch, this.config.send_batch_max_size) : [batch];
    for (const piece of pieces) {
      const p = this.next.consume(piece).catch((err) => {
        const n = countPoints(piece);
        this.drop(reasonOf(err), n);
        this.settings.logger.warn({ err: errorMessage(err), points: n }, 'downstream refused a batch; points dropped');
      });
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  /** Flush what is buffered and wait until downstream has taken it. Idempotent. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.flush();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
