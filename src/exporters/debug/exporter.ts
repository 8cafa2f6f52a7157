/**
 * The `debug` exporter: prints what reaches it. Batches past the sampling
 * budget of the current second are still counted as sent (sampling is about
 * log volume, not data), as in otelcol.
 */
import type { CreateSettings } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import type { Sender } from '../helper/exporter.ts';
import type { DebugConfig } from './config.ts';
import { countBatch, formatDetailed, formatNormal, summaryLine } from './format.ts';

export interface TextSink {
  write(text: string): unknown;
}

export class DebugSender implements Sender {
  private readonly settings: CreateSettings;
  private readonly config: DebugConfig;
  private readonly out: TextSink;
  private windowStart = 0;
  private inWindow = 0;

  constructor(settings: CreateSettings, config: DebugConfig, out?: TextSink) {
    this.settings = settings;
    this.config = config;
    this.out = out ?? (config.stream === 'stdout' ? process.stdout : process.stderr);
  }

  async send(batch: MetricsBatch): Promise<void> {
    if (!this.sampled(Date.now())) return;
    const counts = countBatch(batch);
    const { verbosity } = this.config;
    const body = verbosity === 'detailed' ? formatDetailed(batch) : verbosity === 'normal' ? formatNormal(batch) : '';
    if (this.config.use_internal_logger) {
      this.settings.logger.info({ 'resource metrics': counts.resourceMetrics, metrics: counts.metrics, 'data points': counts.dataPoints }, body === '' ? 'Metrics' : 'Metrics\n' + body);
      return;
    }
    this.out.write(summaryLine(counts, this.settings.id.id) + body);
  }

  /** otelcol's zap sampler: the first `initial` per second, then every `thereafter`-th. */
  private sampled(nowMs: number): boolean {
    if (nowMs - this.windowStart >= 1000) {
      this.windowStart = nowMs;
      this.inWindow = 0;
    }
    this.inWindow++;
    const { sampling_initial: initial, sampling_thereafter: thereafter } = this.config;
    return this.inWindow <= initial || (this.inWindow - initial) % thereafter === 0;
  }
}
