import type { MetricsBatch } from './model/metrics.ts';

/**
 * Where a batch comes from, for consumers that count per pipeline. The
 * exporter fan-out of each pipeline passes it to its exporters (one exporter
 * instance serves every pipeline that names it, so it cannot know otherwise);
 * processors and everything else ignore it and do not pass it on.
 */
export interface ConsumeContext {
  /** The pipeline ID (`metrics`, `metrics/backup`). */
  readonly pipeline: string;
}

/**
 * The one interface data flows through (otelcol's consumer.Metrics).
 *
 * `consume` takes ownership of `batch`: after the call the caller must not
 * read or change it. The promise resolves once the callee has accepted the
 * data (an exporter with a queue resolves once it is queued), and rejects with
 * a `TributaryError` when the data was refused (`TRIB_REFUSED` means "try
 * again later", as a memory limiter or a full blocking queue say).
 */
export interface MetricsConsumer {
  consume(batch: MetricsBatch, ctx?: ConsumeContext): Promise<void>;
  /**
   * True when the consumer changes the batch it is given. Fan-out copies the
   * batch only for mutating consumers (all but the last one).
   */
  readonly mutatesData?: boolean;
}

/** Collects what it receives: for tests and for the debug tooling. */
export class CollectingConsumer implements MetricsConsumer {
  readonly batches: MetricsBatch[] = [];
  async consume(batch: MetricsBatch): Promise<void> {
    this.batches.push(batch);
  }
}
