/**
 * The exporter helper: turns "send this batch" into a full exporter with
 * accounting (sent/failed by reason, per pipeline), and — when given the shared settings —
 * timeout, retry, sending queue and circuit breaker (otelcol's exporterhelper).
 *
 * An exporter implementation only encodes and sends; it signals failures by
 * throwing `TributaryError`s (permanent vs retryable) and partial success by
 * returning how many points the backend rejected.
 */
import type { CreateSettings, Exporter, Host } from '../../component.ts';
import type { ConsumeContext } from '../../consumer.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { reasonOf } from '../../errors.ts';
import type { ExporterHelperConfig } from './config.ts';
import type { BatchCodec } from './disk-queue.ts';
import { ExporterObs } from './obs.ts';
import { admittedPoints, prepareOnce } from './admission.ts';
import { QueuedExporter } from './queued-exporter.ts';
import { handOverSender, registerSender } from './succession.ts';

export interface SendOutcome {
  /** Points the backend refused (partial success); counted as failed. */
  rejectedPoints: number;
  reason?: string;
  message?: string;
}

export interface Sender {
  /** Deliver one batch; `signal` aborts at the per-attempt timeout or at shutdown. */
  send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void>;
  start?(host: Host): Promise<void>;
  /**
   * Called once per batch as it is accepted, before it is queued (never per
   * attempt): for stateful conversions such as delta → cumulative, which must
   * not run again on a retry. Points it removes are counted as failed
   * (`unsupported`).
   */
  prepare?(batch: MetricsBatch): MetricsBatch;
  /** Release resources; called after the queue is drained. */
  shutdown?(): Promise<void>;
  /**
   * Live reload: `successor`, the sender of the exporter replacing this one
   * (same ID, new config), has started. Pass on what should outlive this
   * instance (a listener, accumulated state). Batches reaching the old
   * exporter from now on are forwarded to the new one, not to this sender.
   * State moved before the first `await` moves in the same tick as that switch.
   */
  handOverTo?(successor: Sender): Promise<void>;
}

export interface ExporterOptions {
  /** How long `shutdown` may spend draining the queue (the service's `shutdown_timeout`); default 20 s. */
  shutdownTimeoutMs?: number;
  /** How the disk queue encodes batches; default the OTLP protobuf codec. */
  diskCodec?: BatchCodec;
}

/**
 * Build an exporter around a sender. Without `helperConfig` (pull exporters
 * such as `prometheus`, or `debug`) batches are handed to the sender inline;
 * with it, the queue/retry/breaker machinery applies (queued-exporter.ts).
 */
export function createExporter(settings: CreateSettings, helperConfig: ExporterHelperConfig | undefined, sender: Sender, options?: ExporterOptions): Exporter {
  const exporter = helperConfig ? new QueuedExporter(settings, helperConfig, sender, options) : new InlineExporter(settings, sender, undefined);
  registerSender(exporter, sender);
  return exporter;
}

class InlineExporter implements Exporter {
  private readonly settings: CreateSettings;
  private readonly sender: Sender;
  private readonly timeoutMs: number | undefined;
  private readonly obs: ExporterObs;
  private stopped = false;
  /** Set by a live reload: what still reaches this exporter goes there. */
  private successor: Exporter | undefined;

  constructor(settings: CreateSettings, sender: Sender, timeoutMs: number | undefined) {
    this.settings = settings;
    this.sender = sender;
    this.timeoutMs = timeoutMs;
    this.obs = new ExporterObs(settings);
  }

  async start(host: Host): Promise<void> {
    await this.sender.start?.(host);
  }

  async consume(batch: MetricsBatch, ctx?: ConsumeContext): Promise<void> {
    // Replaced pipelines still draining into this exporter feed its successor (which counts them).
    if (this.successor) return this.successor.consume(batch, ctx);
    const pipeline = ctx?.pipeline ?? '';
    let n = admittedPoints(this.obs, this.stopped, batch, pipeline);
    if (n === 0) return;
    const signal = this.timeoutMs ? AbortSignal.timeout(this.timeoutMs) : new AbortController().signal;
    try {
      ({ batch, points: n } = prepareOnce(this.sender, this.obs, batch, n, pipeline));
      if (n === 0) return;
      const outcome = await this.sender.send(batch, signal);
      const rejected = Math.min(n, Math.max(0, Number(outcome?.rejectedPoints) || 0));
      this.obs.sent(pipeline, n - rejected);
      if (rejected > 0) this.obs.failed(pipeline, outcome?.reason ?? 'rejected', rejected);
    } catch (err) {
      this.obs.failed(pipeline, reasonOf(err), n);
      this.settings.logger.warn({ err: String(err), points: n }, 'export failed');
    }
  }

  /** Forward from now on, and let the sender pass its state on in the same tick (see `Sender.handOverTo`). */
  handOverTo(successor: Exporter): Promise<void> {
    if (this.successor || successor === this) return Promise.resolve();
    this.successor = successor;
    return handOverSender(this.sender, successor);
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.sender.shutdown?.();
  }
}
