/**
 * Exporter self-metrics (CONTRACT §6): sent, failed by reason, retries, and
 * the queue/breaker gauges. Handles are bound once; gauges are callbacks read
 * at scrape time and removed at shutdown, because a live reload rebuilds the
 * exporter and the old instance must not keep reporting.
 */
import type { CreateSettings } from '../../component.ts';
import type { CounterHandle } from '../../telemetry/self-metrics.ts';

export class ExporterObs {
  private readonly settings: CreateSettings;
  private readonly sentHandle: CounterHandle;
  private readonly retryHandle: CounterHandle;
  private readonly failedHandles = new Map<string, CounterHandle>();
  private readonly loggedReasons = new Set<string>();
  private readonly loggedRetryReasons = new Set<string>();
  private disposers: Array<() => void> = [];

  constructor(settings: CreateSettings) {
    this.settings = settings;
    const exporter = settings.id.id;
    this.sentHandle = settings.telemetry.exporterSent.bind({ exporter });
    this.retryHandle = settings.telemetry.exporterRetries.bind({ exporter });
  }

  sent(points: number): void {
    if (points > 0) this.sentHandle.add(points);
  }

  retried(): void {
    this.retryHandle.add(1);
  }

  failed(reason: string, points: number): void {
    if (points <= 0) return;
    let h = this.failedHandles.get(reason);
    if (!h) {
      h = this.settings.telemetry.exporterFailed.bind({ exporter: this.settings.id.id, reason });
      this.failedHandles.set(reason, h);
    }
    h.add(points);
  }

  /** Warn the first time a reason shows up; later ones go to debug so an outage does not flood the log. */
  logFailure(reason: string, points: number, err: unknown, what: string): void {
    const fields = { reason, points, err: err instanceof Error ? err.message : String(err) };
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
    const line = { reason, err: err instanceof Error ? err.message : String(err), ...fields };
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
