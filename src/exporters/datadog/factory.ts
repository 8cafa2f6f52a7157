/**
 * The `datadog` exporter: translate (with cumulative→delta state) → pack under
 * the intake's limits → send, wrapped by the exporter helper for queueing,
 * retry and accounting.
 *
 * Accounting: points dropped in translation (stale timestamps, NaN, …),
 * oversized items and payloads refused permanently are returned to the helper
 * as `SendOutcome.rejectedPoints`, so accepted = sent + failed holds.
 * Cumulative → delta runs in `prepare` (once per batch, in arrival order,
 * before the queue); a batch's payloads are kept until all are delivered, so
 * a retry resumes at the first payload not yet accepted and nothing is sent
 * twice.
 */
import os from 'node:os';
import type { CreateSettings, Exporter, ExporterFactory } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { TributaryError } from '../../errors.ts';
import { createExporter, type Sender, type SendOutcome } from '../helper/exporter.ts';
import { datadogConfigSchema, intakeBaseUrl, validateDatadogConfig, type DatadogConfig } from './config.ts';
import { DatadogTranslator } from './translate.ts';
import { DeltaConverter } from '../common/delta.ts';
import { PendingRequests } from '../common/pending.ts';
import { RequestBuilder, type DdPayload, type PayloadLimits } from './request.ts';
import { DatadogClient } from './client.ts';

export class DatadogSender implements Sender {
  private readonly settings: CreateSettings;
  private readonly deltas: DeltaConverter;
  private readonly translator: DatadogTranslator;
  private readonly builder: RequestBuilder;
  private readonly client: DatadogClient;
  private readonly pending: PendingRequests<DdPayload>;
  private readonly loggedReasons = new Set<string>();

  constructor(settings: CreateSettings, config: DatadogConfig, limits?: PayloadLimits) {
    this.settings = settings;
    const h = config.metrics.histograms;
    this.translator = new DatadogTranslator({
      hostname: config.hostname ?? os.hostname(),
      resourceAttributesAsTags: config.metrics.resource_attributes_as_tags,
      histogramMode: h.mode,
      aggregates: h.aggregates,
      percentiles: h.percentiles,
    });
    this.deltas = new DeltaConverter(config.metrics.delta_ttl);
    this.builder = new RequestBuilder(config.compression, limits);
    this.client = new DatadogClient(intakeBaseUrl(config), config.api.key, settings.logger);
    // A refused key refuses every payload: the rest of the batch is given up at once (common/pending.ts).
    this.pending = new PendingRequests(settings, (p, signal) => this.client.send(p, signal), (reason, err) => this.logOnce(reason, err));
  }

  /** Once per batch, in arrival order: cumulative → delta (see common/delta.ts). */
  prepare(batch: MetricsBatch): MetricsBatch {
    return this.deltas.convert(batch);
  }

  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    if (!this.pending.has(batch)) {
      const t = this.translator.translate(batch);
      const built = await this.builder.build(t);
      const rejected = new Map(t.dropped);
      if (built.oversized > 0) rejected.set('too_large', (rejected.get('too_large') ?? 0) + built.oversized);
      this.pending.add(batch, built.payloads, rejected);
    }
    return this.pending.send(batch, signal);
  }

  private logOnce(reason: string, err: unknown): void {
    if (this.loggedReasons.has(reason)) return;
    this.loggedReasons.add(reason);
    const message = err instanceof TributaryError ? err.message : String(err);
    this.settings.logger.error({ reason }, message);
  }
}

export const datadogExporterFactory: ExporterFactory<DatadogConfig> = {
  kind: 'exporter',
  type: 'datadog',
  configSchema: datadogConfigSchema,
  createDefaultConfig: () => datadogConfigSchema.parse({}),
  validate: validateDatadogConfig,
  create(settings: CreateSettings, config: DatadogConfig): Exporter {
    return createExporter(settings, config, new DatadogSender(settings, config));
  },
};
