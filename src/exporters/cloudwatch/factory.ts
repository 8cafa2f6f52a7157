/**
 * The `cloudwatch` exporter: cumulative → delta (in `prepare`, once per batch
 * in arrival order) → datums → requests under the API limits → PutMetricData
 * (or EMF lines), wrapped by the exporter helper for queueing, retry (throttling
 * is retried with backoff) and accounting.
 *
 * Accounting: points dropped in translation (NaN/±Inf, out of range, stale)
 * and requests refused permanently are returned as `SendOutcome.rejectedPoints`
 * (the largest group names the reason), so accepted = sent + failed holds. A
 * batch's requests are kept until all are delivered: a retry resumes at the
 * first request not yet accepted, so no datum is sent twice.
 */
import type { CreateSettings, Exporter, ExporterFactory, Host } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { TributaryError } from '../../errors.ts';
import { createExporter, type Sender, type SendOutcome } from '../helper/exporter.ts';
import { DeltaConverter } from '../common/delta.ts';
import { outcomeOf } from '../common/outcome.ts';
import { PendingRequests } from '../common/pending.ts';
import { cloudwatchConfigSchema, validateCloudWatchConfig, type CloudWatchConfig } from './config.ts';
import { CloudWatchTranslator } from './translate.ts';
import { buildRequests, type PutRequest } from './request.ts';
import { CloudWatchService } from './service.ts';
import { EmfWriter, encodeEmf } from './emf.ts';

export class CloudWatchSender implements Sender {
  private readonly settings: CreateSettings;
  private readonly config: CloudWatchConfig;
  private readonly deltas: DeltaConverter;
  private readonly translator: CloudWatchTranslator;
  private readonly service: CloudWatchService | undefined;
  private readonly emf: EmfWriter | undefined;
  private readonly pending: PendingRequests<PutRequest>;
  private readonly logged = new Set<string>();

  constructor(settings: CreateSettings, config: CloudWatchConfig) {
    this.settings = settings;
    this.config = config;
    this.deltas = new DeltaConverter(config.delta_ttl);
    const d = config.dimensions;
    this.translator = new CloudWatchTranslator({
      storageResolution: config.storage_resolution,
      histogramMode: config.histograms.mode,
      include: d.include,
      exclude: d.exclude,
      resourceAttributes: d.resource_attributes,
      // EMF expresses rollups as dimension sets of one document, not as extra datums.
      rollup: config.format === 'emf' ? 'NoDimensionRollup' : d.rollup,
    });
    if (config.format === 'emf') this.emf = new EmfWriter(config.emf.output);
    else this.service = new CloudWatchService({ namespace: config.namespace, region: config.region, endpoint: config.endpoint, compression: config.compression });
    const service = this.service;
    this.pending = new PendingRequests(
      settings,
      (req, signal) => service!.put(req, signal),
      (reason, err) => this.logOnce(reason, err instanceof TributaryError ? err.message : String(err)),
    );
  }

  async start(_host: Host): Promise<void> {
    if (this.emf) {
      try {
        await this.emf.open();
      } catch (err) {
        throw new TributaryError('TRIB_START_FAILED', `cannot open EMF output ${this.config.emf.output}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  prepare(batch: MetricsBatch): MetricsBatch {
    return this.deltas.convert(batch);
  }

  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    if (!this.pending.has(batch)) {
      const t = this.translator.translate(batch);
      if (t.truncatedDimensions > 0) this.logOnce('dimensions', `cloudwatch: ${t.truncatedDimensions} points had more than 30 dimensions; the first 30 by name were kept (set dimensions.include)`);
      if (this.emf) {
        await this.emf.write(encodeEmf(t.datums, this.config.namespace, this.config.dimensions.rollup));
        return outcomeOf(t.dropped, this.settings);
      }
      this.pending.add(batch, buildRequests(t, this.config.namespace), new Map(t.dropped));
    }
    return this.pending.send(batch, signal);
  }

  async shutdown(): Promise<void> {
    this.service?.destroy();
    await this.emf?.close();
  }

  private logOnce(reason: string, message: string): void {
    if (this.logged.has(reason)) return;
    this.logged.add(reason);
    this.settings.logger.error({ reason }, message);
  }
}

export const cloudwatchExporterFactory: ExporterFactory<CloudWatchConfig> = {
  kind: 'exporter',
  type: 'cloudwatch',
  configSchema: cloudwatchConfigSchema,
  createDefaultConfig: () => cloudwatchConfigSchema.parse({}),
  validate: validateCloudWatchConfig,
  create(settings: CreateSettings, config: CloudWatchConfig): Exporter {
    return createExporter(settings, config, new CloudWatchSender(settings, config));
  },
};
