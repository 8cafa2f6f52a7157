/**
 * The `prometheus` pull exporter: batches update the series store; scrapers
 * read it over the exporter's own HTTP server. Nothing is sent anywhere, so
 * the exporter helper runs it inline (no queue, no retry).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CreateSettings, Host } from '../../component.ts';
import { TributaryError } from '../../errors.ts';
import { parseHostPort } from '../../config/types.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import type { Sender, SendOutcome } from '../helper/exporter.ts';
import type { PrometheusConfig } from './config.ts';
import { negotiate, OPENMETRICS_CONTENT_TYPE, serializeToBuffer, TEXT_CONTENT_TYPE } from './serialize.ts';
import { SeriesStore } from './store.ts';

const gzip = promisify(zlib.gzip);

/** How often stale series are swept: often enough to bound memory, at most every 30s. */
export function sweepIntervalMs(expirationMs: number): number {
  return Math.max(10, Math.min(expirationMs / 2, 30_000));
}

export class PrometheusSender implements Sender {
  readonly store: SeriesStore;
  private readonly settings: CreateSettings;
  private readonly config: PrometheusConfig;
  private server: http.Server | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(settings: CreateSettings, config: PrometheusConfig) {
    this.settings = settings;
    this.config = config;
    this.store = new SeriesStore({
      namespace: config.namespace,
      constLabels: config.const_labels,
      resourceToTelemetry: config.resource_to_telemetry_conversion.enabled,
      addMetricSuffixes: config.add_metric_suffixes,
      convertToBaseUnits: config.convert_to_base_units,
    });
  }

  /** The bound address once started (tests listen on port 0). */
  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async start(_host: Host): Promise<void> {
    const { host, port } = parseHostPort(this.config.endpoint)!;
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.settings.logger.warn({ err: String(err) }, 'scrape failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new TributaryError('TRIB_START_FAILED', `listen ${this.config.endpoint}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }));
      });
      server.listen(port, host === '' ? undefined : host, () => resolve());
    });
    server.on('error', (err) => this.settings.logger.error({ err: String(err) }, 'metrics server error'));
    this.server = server;
    // Expire stale series even when nobody scrapes, so memory stays bounded.
    this.sweeper = setInterval(() => this.store.expire(Date.now(), this.config.metric_expiration), sweepIntervalMs(this.config.metric_expiration));
    this.sweeper.unref();
  }

  async send(batch: MetricsBatch): Promise<SendOutcome | void> {
    const result = this.store.ingest(batch, Date.now());
    if (result.rejected > 0) return { rejectedPoints: result.rejected, reason: result.reason };
  }

  /** The exposition as a scraper asking with these headers would get it. */
  render(accept?: string): { body: Buffer; contentType: string } {
    this.store.expire(Date.now(), this.config.metric_expiration);
    const format = negotiate(accept, this.config.enable_open_metrics);
    const body = serializeToBuffer(this.store, { format, sendTimestamps: this.config.send_timestamps });
    return { body, contentType: format === 'text' ? TEXT_CONTENT_TYPE : OPENMETRICS_CONTENT_TYPE };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== this.config.path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const { body, contentType } = this.render(req.headers.accept);
    const headers: http.OutgoingHttpHeaders = { 'content-type': contentType, vary: 'Accept, Accept-Encoding' };
    let payload = body;
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      payload = await gzip(payload);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = payload.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  async shutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Scrapers keep connections alive; cut them so close() does not wait for their idle timeout.
    server.closeAllConnections();
    await closed;
  }
}
