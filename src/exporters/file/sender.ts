/**
 * The `file` exporter's sender: encode the batch as one record and append it
 * to the shared output file (target.ts). The exporter helper around it
 * queues, retries and counts; this only encodes, writes and names failures.
 */
import type { CreateSettings } from '../../component.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { TributaryError } from '../../errors.ts';
import type { Sender } from '../helper/exporter.ts';
import { directoryMode, flushIntervalMs, type FileConfig } from './config.ts';
import { encodeRecord } from './encode.ts';
import { fileError } from './fs-errors.ts';
import { acquireTarget, type TargetLease } from './target.ts';

export class FileSender implements Sender {
  private readonly settings: CreateSettings;
  private readonly config: FileConfig;
  private lease: TargetLease | undefined;

  constructor(settings: CreateSettings, config: FileConfig) {
    this.settings = settings;
    this.config = config;
  }

  async start(): Promise<void> {
    const c = this.config;
    this.lease = acquireTarget({
      path: c.path,
      // lumberjack (otelcol's rotation) always continues an existing file; only a plain file is truncated.
      truncate: !c.append && !c.rotation,
      rotation: c.rotation,
      flushIntervalMs: flushIntervalMs(c),
      createDirectory: c.create_directory,
      directoryMode: directoryMode(c),
      logger: this.settings.logger,
    });
    // Opened now so a bad path shows in the log at start. It does not fail the start: the
    // file is tried again for every batch (a volume mounted late, a directory created later),
    // and until then the points are counted as failed with the reason.
    try {
      await this.lease.target.open();
    } catch (err) {
      const e = fileError(err);
      this.settings.logger.warn({ path: this.lease.target.path, reason: e.reason, err: e.message }, 'cannot open the output file; batches will be counted as failed until it can be written');
    }
  }

  async send(batch: MetricsBatch): Promise<void> {
    const lease = this.lease;
    if (!lease) throw new TributaryError('TRIB_SHUTTING_DOWN', 'file exporter is not running');
    const record = await encodeRecord(batch, this.config);
    try {
      await lease.target.write(record.parts, record.bytes);
    } catch (err) {
      throw fileError(err);
    }
  }

  async shutdown(): Promise<void> {
    await this.lease?.release();
  }
}
