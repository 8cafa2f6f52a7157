/**
 * OTLP/HTTP metrics export: encode (protobuf or JSON) → gzip → POST
 * `/v1/metrics`. A 200 may carry a partial success (counted as failed
 * points, not retried). Errors: 408, 429 and 5xx are retried, honouring
 * `Retry-After` (CONTRACT §3 retries 500 too, where the OTLP spec lists only
 * 502–504: a collector answering 500 under load should not cost data); every
 * other 4xx is permanent. The error body is a google.rpc.Status whose message
 * goes to the log.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { MetricsBatch } from '../../model/metrics.ts';
import { errorFromHttpStatus, parseRetryAfter } from '../../errors.ts';
import { decodeExportResponse, decodeExportResponseJson, encodeExportRequest, encodeExportRequestJson } from '../../otlp/encode.ts';
import { decodeStatus } from '../../otlp/status.ts';
import type { Sender, SendOutcome } from '../helper/exporter.ts';
import { HttpClient, mergeHeaders, type HttpResponse } from '../otlp_common/http-client.ts';
import { outcomeOf } from '../otlp_common/outcome.ts';
import { metricsUrl, type OtlpHttpConfig } from './config.ts';

const gzip = promisify(gzipCb);

export class OtlpHttpSender implements Sender {
  private readonly cfg: OtlpHttpConfig;
  private readonly url: URL;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string>;

  constructor(cfg: OtlpHttpConfig) {
    this.cfg = cfg;
    this.url = metricsUrl(cfg);
    this.http = new HttpClient(cfg.tls);
    const own: Record<string, string> = {
      'Content-Type': cfg.encoding === 'json' ? 'application/json' : 'application/x-protobuf',
      'User-Agent': 'tributary',
    };
    if (cfg.compression === 'gzip') own['Content-Encoding'] = 'gzip';
    this.headers = mergeHeaders(cfg.headers, own);
  }

  async start(): Promise<void> {
    await this.http.start();
  }

  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    const raw = this.cfg.encoding === 'json' ? Buffer.from(encodeExportRequestJson(batch)) : encodeExportRequest(batch);
    const body = this.cfg.compression === 'gzip' ? await gzip(raw) : raw;
    const res = await this.http.post(this.url, body, this.headers, signal);
    if (res.status >= 200 && res.status < 300) {
      if (res.body.length === 0) return;
      return outcomeOf(isJson(res) ? decodeExportResponseJson(res.body.toString('utf8')) : decodeExportResponse(res.body));
    }
    throw errorFromHttpStatus(res.status, `OTLP/HTTP export answered ${res.status}: ${statusMessage(res)}`, parseRetryAfter(res.headers['retry-after']));
  }

  async shutdown(): Promise<void> {
    this.http.close();
  }
}

function isJson(res: HttpResponse): boolean {
  return (res.headers['content-type'] ?? '').includes('json');
}

/** The message of a google.rpc.Status body, else the start of the body as text. */
function statusMessage(res: HttpResponse): string {
  if (res.body.length === 0) return '(empty body)';
  try {
    if (isJson(res)) {
      const s = JSON.parse(res.body.toString('utf8'));
      if (typeof s?.message === 'string') return s.message;
    } else if ((res.headers['content-type'] ?? '').includes('protobuf')) {
      return decodeStatus(res.body).message;
    }
  } catch {
    // Not a Status: fall through to the raw text.
  }
  return res.body.toString('utf8', 0, 512).trim();
}
