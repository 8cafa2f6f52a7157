/**
 * The `prometheus` pull exporter: batches update the series store; scrapers
 * read it over the exporter's own HTTP server. Nothing is sent anywhere, so
 * the exporter helper runs it inline (no queue, no retry).
 *
 * Live reload with the endpoint unchanged: the new instance starts without
 * binding, and the old one hands it the HTTP server (only the 'request'
 * handler changes, so keep-alive scrapers stay connected and no scrape is
 * refused or held) and, when series are named and labelled alike, the
 * series store, so cumulative counters carry on (`handOverTo`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { isDeepStrictEqual } from 'node:util';
import type { CreateSettings, Host } from '../../component.ts';
import { TributaryError } from '../../errors.ts';
import { parseHostPort } from '../../config/types.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { handoverKey, handoverPending, park, ParkedListener, takeParked } from '../../service/handover.ts';
import type { Sender, SendOutcome } from '../helper/exporter.ts';
import type { PrometheusConfig } from './config.ts';
import { negotiate, OPENMETRICS_CONTENT_TYPE, serializeToBuffer, TEXT_CONTENT_TYPE } from './serialize.ts';
import { SeriesStore, type StoreOptions } from './store.ts';

const gzip = promisify(zlib.gzip);

/** How often stale series are swept: often enough to bound memory, at most every 30s. */
export function sweepIntervalMs(expirationMs: number): number {
  return Math.max(10, Math.min(expirationMs / 2, 30_000));
}

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** What a parked metrics server is; only another exporter's server of this kind adopts it. */
const LISTENER_KIND = 'prometheus-http';

/**
 * Everything that decides a series' name and labels. Equal between two
 * configs, the old store is valid as it is for the new one; render-time
 * settings (`metric_expiration`, `send_timestamps`, `enable_open_metrics`,
 * `path`) do not matter.
 */
function storeOptions(config: PrometheusConfig): StoreOptions {
  return {
    namespace: config.namespace,
    constLabels: config.const_labels,
    resourceToTelemetry: config.resource_to_telemetry_conversion.enabled,
    addMetricSuffixes: config.add_metric_suffixes,
    convertToBaseUnits: config.convert_to_base_units,
  };
}

export class PrometheusSender implements Sender {
  private series: SeriesStore;
  private readonly settings: CreateSettings;
  private readonly config: PrometheusConfig;
  private readonly handoverKey: string | undefined;
  private host: Host | undefined;
  private server: http.Server | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** Started without binding: the instance this one replaces hands the server over (live reload). */
  private awaitingServer = false;
  private readonly onRequest: RequestHandler = (req, res) => {
    this.handle(req, res).catch((err) => {
      this.settings.logger.warn({ err: String(err) }, 'scrape failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  constructor(settings: CreateSettings, config: PrometheusConfig) {
    this.settings = settings;
    this.config = config;
    this.series = new SeriesStore(storeOptions(config));
    this.handoverKey = handoverKey({ transport: 'tcp', address: config.endpoint });
  }

  get store(): SeriesStore {
    return this.series;
  }

  /** The bound address once started (tests listen on port 0). */
  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async start(host: Host): Promise<void> {
    this.host = host;
    // Expire stale series even when nobody scrapes, so memory stays bounded.
    this.sweeper = setInterval(() => this.series.expire(Date.now(), this.config.metric_expiration), sweepIntervalMs(this.config.metric_expiration));
    this.sweeper.unref();
    if (handoverPending(host, this.handoverKey)) {
      this.awaitingServer = true;
      return;
    }
    await this.listen();
  }

  private async listen(): Promise<void> {
    const { host, port } = parseHostPort(this.config.endpoint)!;
    const server = http.createServer(this.onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new TributaryError('TRIB_START_FAILED', `listen ${this.config.endpoint}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }));
      });
      server.listen(port, host === '' ? undefined : host, () => resolve());
    });
    server.on('error', (err) => this.settings.logger.error({ err: String(err) }, 'metrics server error'));
    this.server = server;
  }

  /**
   * Live reload: `successor` replaces this exporter. The series store moves
   * first, synchronously (the helper starts forwarding batches to the
   * successor in the same tick, and nothing has reached it before), then the
   * server: parked under its listen key while this handler still answers,
   * and adopted by the successor in one step, so every scrape is answered by
   * one instance or the other with the whole exposition.
   */
  async handOverTo(successor: Sender): Promise<void> {
    if (!(successor instanceof PrometheusSender) || successor === this) return;
    if (isDeepStrictEqual(storeOptions(this.config), storeOptions(successor.config)) && successor.series.size === 0) {
      successor.series = this.series;
      // Expiry of the shared store is the successor's (its metric_expiration) from now on.
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    // Otherwise names or labels change (namespace, suffixes, base units,
    // const_labels, resource_to_telemetry_conversion): the old series would
    // be exposed under the old names next to the new ones, so the successor
    // starts from an empty store and its counters restart, as a Prometheus
    // server sees when the metric names change anyway.
    const server = this.server;
    try {
      if (server && this.host && successor.awaitingServer && this.handoverKey === successor.handoverKey) {
        this.server = undefined;
        park(this.host, this.handoverKey!, this.parked(server));
      }
    } finally {
      await successor.takeServer();
    }
  }

  /** Successor side: adopt the server the predecessor parked, or bind afresh when there is none. */
  private async takeServer(): Promise<void> {
    if (!this.awaitingServer) return;
    this.awaitingServer = false;
    const parked = await takeParked<http.Server, RequestHandler>(this.host, this.handoverKey, LISTENER_KIND);
    if (parked) this.server = parked.adopt(this.onRequest);
    else await this.listen();
  }

  /** The server between owners. Unlike a receiver's, it keeps answering with the old handler until adopted (scrapes only read). */
  private parked(server: http.Server): ParkedListener<http.Server, RequestHandler> {
    return new ParkedListener<http.Server, RequestHandler>({
      kind: LISTENER_KIND,
      resource: server,
      route: (handler) => {
        server.removeAllListeners('request');
        server.on('request', handler);
      },
      refuse: (req, res) => {
        req.resume();
        res.writeHead(503, { 'retry-after': '1', connection: 'close' }).end();
      },
      close: () => closeServer(server),
    });
  }

  async send(batch: MetricsBatch): Promise<SendOutcome | void> {
    const result = this.series.ingest(batch, Date.now());
    if (result.rejected > 0) return { rejectedPoints: result.rejected, reason: result.reason };
  }

  /** The exposition as a scraper asking with these headers would get it. */
  render(accept?: string): { body: Buffer; contentType: string } {
    this.series.expire(Date.now(), this.config.metric_expiration);
    const format = negotiate(accept, this.config.enable_open_metrics);
    const body = serializeToBuffer(this.series, { format, sendTimestamps: this.config.send_timestamps });
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
    this.awaitingServer = false;
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }
}

function closeServer(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Scrapers keep connections alive; cut them so close() does not wait for their idle timeout.
  server.closeAllConnections();
  return closed;
}
