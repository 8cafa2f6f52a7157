/**
 * Sends batches as remote write 1.0 requests: convert → split by size →
 * protobuf → snappy → POST. Retries follow the remote write spec: 5xx and
 * 429 are retried (honouring `Retry-After`), every other 4xx is permanent.
 */
import type { Sender, SendOutcome } from '../helper/exporter.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { parseRetryAfter, permanentError, retryableError } from '../../errors.ts';
import { HttpClient, mergeHeaders } from '../otlp_common/http-client.ts';
import type { RemoteWriteConfig } from './config.ts';
import { RemoteWriteConverter } from './convert.ts';
import { DeltaToCumulative } from './cumulative.ts';
import { REMOTE_WRITE_HEADERS } from './proto.ts';
import { encodeSeries, type SeriesSample } from './wire.ts';
import snappy from 'snappyjs';

/** A rough upper bound of a series' encoded size, to split requests without encoding twice. */
function estimateBytes(e: SeriesSample): number {
  let n = 28;
  for (const [name, value] of e.pairs) n += name.length + value.length + 6;
  return n;
}

export function splitBySize(series: SeriesSample[], maxBytes: number): SeriesSample[][] {
  const out: SeriesSample[][] = [];
  let current: SeriesSample[] = [];
  let bytes = 0;
  for (const ts of series) {
    const b = estimateBytes(ts);
    if (current.length > 0 && bytes + b > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(ts);
    bytes += b;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export class RemoteWriteSender implements Sender {
  private readonly cfg: RemoteWriteConfig;
  private readonly url: URL;
  private readonly http: HttpClient;
  private readonly converter: RemoteWriteConverter;
  private readonly cumulative = new DeltaToCumulative();
  private readonly headers: Record<string, string>;

  constructor(cfg: RemoteWriteConfig) {
    this.cfg = cfg;
    this.url = new URL(cfg.endpoint);
    this.http = new HttpClient(cfg.tls);
    this.converter = new RemoteWriteConverter({
      namespace: cfg.namespace,
      addMetricSuffixes: cfg.add_metric_suffixes,
      resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
      externalLabels: cfg.external_labels,
      targetInfo: cfg.target_info.enabled,
      convertToBaseUnits: cfg.convert_to_base_units,
    });
    this.headers = mergeHeaders(cfg.headers, { ...REMOTE_WRITE_HEADERS, 'User-Agent': 'tributary' });
  }

  async start(): Promise<void> {
    await this.http.start();
  }

  prepare(batch: MetricsBatch): MetricsBatch {
    return this.cumulative.apply(batch);
  }

  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    const series = this.converter.convert(batch).samples();
    // Pieces go one after another: a retry resends all of them, which
    // Prometheus takes as duplicates of samples it already has (same time, same value).
    for (const piece of splitBySize(series, this.cfg.max_batch_size_bytes)) {
      const res = await this.http.post(this.url, snappy.compress(encodeSeries(piece)), this.headers, signal);
      if (res.status >= 200 && res.status < 300) continue;
      const message = `remote write answered ${res.status}: ${res.body.toString('utf8', 0, 512).trim()}`;
      if (res.status >= 500 || res.status === 429) {
        throw retryableError(message, { status: res.status, retryAfterMs: parseRetryAfter(res.headers['retry-after']), reason: res.status === 429 ? 'throttled' : `http_${res.status}` });
      }
      throw permanentError(message, { status: res.status, reason: `http_${res.status}` });
    }
  }

  async shutdown(): Promise<void> {
    this.http.close();
  }
}
