/**
 * The two fan-out points of the graph, in one place (otelcol's fanoutconsumer).
 *
 * - `ReceiverFanout`: one per receiver, feeding every pipeline that lists it.
 *   It counts accepted/refused points per pipeline (CONTRACT §6) and can be
 *   re-pointed on live reload, so a receiver that did not change keeps its
 *   sockets and simply starts feeding the new pipelines.
 * - `ExporterFanout`: one per pipeline, feeding its exporters. Exporters are
 *   called side by side; one that is slow or throws never delays or breaks
 *   delivery to the others. It tells each exporter the pipeline
 *   (`ConsumeContext`): an exporter named by several pipelines is one
 *   instance, and counts sent/failed per pipeline (CONTRACT §6).
 */
import type { ConsumeContext, MetricsConsumer } from '../consumer.ts';
import { cloneBatch, countPoints, type MetricsBatch } from '../model/metrics.ts';
import { isRefused, reasonOf, errorMessage } from '../errors.ts';
import { InFlight } from './in-flight.ts';
import { handlePerValue, type CounterHandle, type PipelineTelemetry } from '../telemetry/self-metrics.ts';
import type { Logger } from '../telemetry/logger.ts';

/** A pipeline's entry point as a receiver sees it, with in-flight tracking so a reload can wait for it to go quiet. */
export class PipelineEntry implements MetricsConsumer {
  readonly pipelineId: string;
  readonly head: MetricsConsumer;
  private readonly inFlight = new InFlight();

  constructor(pipelineId: string, head: MetricsConsumer) {
    this.pipelineId = pipelineId;
    this.head = head;
  }

  get mutatesData(): boolean {
    return this.head.mutatesData ?? true;
  }

  async consume(batch: MetricsBatch): Promise<void> {
    this.inFlight.begin();
    try {
      await this.head.consume(batch);
    } finally {
      this.inFlight.end();
    }
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    return this.inFlight.idle();
  }
}

interface Target {
  entry: PipelineEntry;
  accepted: CounterHandle;
  refused: (reason: string) => CounterHandle;
}

export class ReceiverFanout implements MetricsConsumer {
  readonly receiverId: string;
  private readonly telemetry: PipelineTelemetry;
  private targets: Target[] = [];

  constructor(receiverId: string, telemetry: PipelineTelemetry) {
    this.receiverId = receiverId;
    this.telemetry = telemetry;
  }

  /** Point the receiver at a new set of pipelines (at build time and on reload). */
  setPipelines(entries: PipelineEntry[]): void {
    this.targets = entries.map((entry) => ({
      entry,
      accepted: this.telemetry.receiverAccepted.bind({ receiver: this.receiverId, pipeline: entry.pipelineId }),
      refused: handlePerValue((reason) => this.telemetry.receiverRefused.bind({ receiver: this.receiverId, pipeline: entry.pipelineId, reason })),
    }));
  }

  get pipelines(): PipelineEntry[] {
    return this.targets.map((t) => t.entry);
  }

  async consume(batch: MetricsBatch): Promise<void> {
    const targets = this.targets;
    const points = countPoints(batch);
    if (targets.length === 1) {
      await this.deliver(targets[0], batch, points);
      return;
    }
    // Ownership passes with each call: every target but the last gets its own copy
    // when it may mutate; read-only targets can share.
    const results = await Promise.allSettled(
      targets.map((t, i) => this.deliver(t, i === targets.length - 1 || !t.entry.mutatesData ? batch : cloneBatch(batch), points)),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }

  private async deliver(t: Target, batch: MetricsBatch, points: number): Promise<void> {
    try {
      await t.entry.consume(batch);
      t.accepted.add(points);
    } catch (err) {
      t.refused(reasonOf(err)).add(points);
      throw err;
    }
  }
}

export interface ExporterRef {
  id: string;
  consumer: MetricsConsumer;
}

export class ExporterFanout implements MetricsConsumer {
  readonly pipelineId: string;
  private readonly ctx: ConsumeContext;
  private readonly exporters: ExporterRef[];
  private readonly telemetry: PipelineTelemetry;
  private readonly logger: Logger;
  /** Exporters read batches and never change them, so one batch is shared. */
  readonly mutatesData = false;

  constructor(pipelineId: string, exporters: ExporterRef[], telemetry: PipelineTelemetry, logger: Logger) {
    this.pipelineId = pipelineId;
    this.ctx = { pipeline: pipelineId };
    this.exporters = exporters;
    this.telemetry = telemetry;
    this.logger = logger;
  }

  async consume(batch: MetricsBatch): Promise<void> {
    if (this.exporters.length === 1) return this.deliver(this.exporters[0], batch);
    // Every exporter is handed the batch before any is awaited, so a slow one delays nobody.
    const results = await Promise.allSettled(this.exporters.map((e) => this.deliver(e, batch)));
    const refusal = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refusal) throw refusal.reason;
  }

  private async deliver(e: ExporterRef, batch: MetricsBatch): Promise<void> {
    try {
      await e.consumer.consume(batch, this.ctx);
    } catch (err) {
      // A refusal (a full queue in `block` mode) is back-pressure the receivers must see.
      if (isRefused(err)) throw err;
      // Anything else is a bug in an exporter: count the points so nothing disappears, and keep going.
      const n = countPoints(batch);
      this.telemetry.exporterFailed.add({ exporter: e.id, pipeline: this.pipelineId, reason: 'internal' }, n);
      this.logger.error({ exporter: e.id, err: errorMessage(err), points: n }, 'exporter threw; points counted as failed');
    }
  }
}
