/**
 * Exporter self-metrics (CONTRACT §6): sent, failed by reason and retries per
 * pipeline, and the queue/breaker gauges per exporter instance. Handles are
 * bound once per pipeline; gauges are callbacks read at scrape time and
 * removed at shutdown, because a live reload rebuilds the exporter and the
 * old instance must not keep reporting.
 */
import type { CreateSettings } from '../../component.ts';
import type { CounterHandle, Labels } from '../../telemetry/self-metrics.ts';
import { errorMessage } from '../../errors.ts';

/**
 * The labels of an exporter's counters: `{exporter, pipeline}`. One exporter
 * instance serves every pipeline that names it, so CONTRACT §6's accounting
 * (accepted into a pipeline = sent + failed + dropped + queued) is checked per
 * pipeline. A batch consumed outside a pipeline (unit tests, disk queue entries
 * written before pipelines were recorded) has pipeline "" and no `pipeline`
 * label: Prometheus treats an empty label as absent, and rendering both forms
 * would expose one series twice.
 */
export function exporterLabels(exporter: string, pipeline: string): Labels {
  return pipeline ? { exporter, pipeline } : { exporter };
}

/** The counter handles of one pipeline, bound once. */
interface PipelineHandles {
  readonly sent: CounterHandle;
  readonly retries: CounterHandle;
  readonly failed: Map<string, CounterHandle>;
}

export class ExporterObs {
  private readonly settings: CreateSettings;
  private readonly pipelines = new Map<string, PipelineHandles>();
  private readonly loggedReasons = new Set<string>();
  private readonly loggedRetryReasons = new Set<string>();
  private disposers: Array<() => void> = [];

  constructor(settings: CreateSettings) {
    this.settings = settings;
  }

  sent(pipeline: string, points: number): void {
    if (points > 0) this.handles(pipeline).sent.add(points);
  }

  retried(pipeline: string): void {
    this.handles(pipeline).retries.add(1);
  }

  failed(pipeline: string, reason: string, points: number): void {
    if (points <= 0) return;
    const handles = this.handles(pipeline);
    let h = handles.failed.get(reason);
    if (!h) {
      h = this.settings.telemetry.exporterFailed.bind({ ...exporterLabels(this.settings.id.id, pipeline), reason });
      handles.failed.set(reason, h);
    }
    h.add(points);
  }

  private handles(pipeline: string): PipelineHandles {
    let h = this.pipelines.get(pipeline);
    if (!h) {
      const labels = exporterLabels(this.settings.id.id, pipeline);
      const t = this.settings.telemetry;
      h = { sent: t.exporterSent.bind(labels), retries: t.exporterRetries.bind(labels), failed: new Map() };
      this.pipelines.set(pipeline, h);
    }
    return h;
  }

  /** Warn the first time a reason shows up; later ones go to debug so an outage does not flood the log. */
  logFailure(reason: string, points: number, err: unknown, what: string): void {
    const fields = { reason, points, err: errorMessage(err) };
    if (this.loggedReasons.has(reason)) {
      this.settings.logger.debug(fields, what);
    } else {
      this.loggedReasons.add(reason);
      this.settings.logger.warn(fields, what);
    }
  }

  /**
   * The first retryable failure of each reason at warn, with the error: while a
   * backend is down the retries (and an open breaker, which pauses them) can last
   * much longer than max_elapsed_time, and the default log level must say why.
   * Later attempts go to debug.
   */
  logRetry(reason: string, err: unknown, fields: Record<string, unknown>): void {
    const line = { reason, err: errorMessage(err), ...fields };
    if (this.loggedRetryReasons.has(reason)) {
      this.settings.logger.debug(line, 'export attempt failed; retrying');
    } else {
      this.loggedRetryReasons.add(reason);
      this.settings.logger.warn(line, 'export attempt failed; retrying (further failures for this reason are logged at debug)');
    }
  }

  observeGauges(queueSize: () => number, queueCapacity: () => number, circuitState: () => number): void {
    const labels = { exporter: this.settings.id.id };
    const t = this.settings.telemetry;
    this.disposers.push(
      t.exporterQueueSize.observe(labels, queueSize),
      t.exporterQueueCapacity.observe(labels, queueCapacity),
      t.exporterCircuitState.observe(labels, circuitState),
    );
  }

  disposeGauges(): void {
    for (const d of this.disposers) d();
    this.disposers = [];
  }
}
