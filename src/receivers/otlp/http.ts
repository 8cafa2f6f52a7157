/**
 * OTLP/HTTP: `POST /v1/metrics` with `application/x-protobuf` or
 * `application/json` bodies, optionally gzip/deflate-compressed. Responses
 * follow the OTLP spec: ExportMetricsServiceResponse (in the request's
 * encoding) on success, a google.rpc.Status body on 400/401/413/429/503,
 * `Retry-After` when the client should come back later.
 *
 * On a live reload that keeps the endpoint, the server (and its keep-alive
 * connections) moves to the new receiver: only the 'request' handler changes
 * (`../../service/handover.ts`), so no connection is refused and no request lost.
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Host } from '../../component.ts';
import type { MetricsConsumer } from '../../consumer.ts';
import { parseHostPort } from '../../config/types.ts';
import { TributaryError } from '../../errors.ts';
import { decodeExportRequest, decodeExportRequestJson, newDecodeIssues } from '../../otlp/decode.ts';
import { encodeExportResponse, encodeExportResponseJson } from '../../otlp/encode.ts';
import { encodeStatus, encodeStatusJson, GrpcCode } from '../../otlp/status.ts';
import { handoverKey, park, parkWanted, ParkedListener, takeParked } from '../../service/handover.ts';
import type { ReceiverObs } from '../obs.ts';
import { bearerChecker, type BearerCheck } from './auth.ts';
import { parseContentEncoding, readBody, tooLarge } from './body.ts';
import type { HttpSettings } from './config.ts';
import { exportBatch } from './export.ts';
import { InFlight } from '../../service/in-flight.ts';

/** Slow clients (slowloris) are cut off: headers within 10 s, the whole request within 30 s. */
const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long in-flight requests may take to finish on shutdown before their sockets are closed. */
const SHUTDOWN_GRACE_MS = 5_000;
/** After refusing an oversized body, how long the client gets to read the 413 before the socket is closed. */
const LINGER_AFTER_REFUSAL_MS = 1_000;

/**
 * Sockets Node closed for the request timeout. A request whose body stalls
 * is cut off by Node ('clientError'); the handler reading its body only sees
 * the connection close, and learns here that it was a timeout, not a client
 * that went away. Module-wide because a server outlives its receiver on a
 * handover; weak, so a closed socket leaves no trace.
 */
const timedOutSockets = new WeakSet<object>();

type Format = 'protobuf' | 'json';
type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function formatOf(contentType: string | undefined): Format | undefined {
  const mediaType = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  if (mediaType === 'application/x-protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

export class OtlpHttpServer {
  private readonly settings: HttpSettings;
  private readonly obs: ReceiverObs;
  private readonly next: MetricsConsumer;
  private readonly logger: Logger;
  private readonly checkBearer: BearerCheck | undefined;
  private server: http.Server | undefined;
  private closing: Promise<void> | undefined;
  private readonly handoverKey: string | undefined;
  private readonly inFlight = new InFlight();
  private readonly onRequest: RequestHandler = (req, res) => this.handle(req, res);

  constructor(settings: HttpSettings, obs: ReceiverObs, next: MetricsConsumer, logger: Logger) {
    this.settings = settings;
    this.obs = obs;
    this.next = next;
    this.logger = logger;
    this.checkBearer = bearerChecker(settings.bearerToken);
    this.handoverKey = handoverKey({ transport: 'tcp', address: settings.endpoint });
  }

  /** Plain and TLS servers are not interchangeable; everything else is per request, so it follows the handler. */
  private get kind(): string {
    return this.settings.tls ? 'otlp-https' : 'otlp-http';
  }

  async start(host?: Host): Promise<void> {
    const requestTimeout = this.settings.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const options: http.ServerOptions = {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      requestTimeout,
      connectionsCheckingInterval: 1_000,
    };
    const tls = this.settings.tls ? await Promise.all([readFile(this.settings.tls.cert_file!), readFile(this.settings.tls.key_file!)]) : undefined;
    const parked = await takeParked<http.Server, RequestHandler>(host, this.handoverKey, this.kind);
    if (parked) {
      // The certificate may have changed: new handshakes use the new one.
      if (tls) (parked.resource as https.Server).setSecureContext({ cert: tls[0], key: tls[1] });
      this.server = parked.adopt(this.onRequest);
      return;
    }
    let server: http.Server;
    if (tls) {
      server = https.createServer({ ...options, cert: tls[0], key: tls[1] }, this.onRequest);
    } else {
      server = http.createServer(options, this.onRequest);
    }
    // A malformed request line or headers: answer 400 and close, never crash.
    server.on('clientError', (err, socket) => {
      const timedOut = (err as NodeJS.ErrnoException).code?.startsWith('ERR_HTTP_REQUEST_TIMEOUT');
      if (timedOut) timedOutSockets.add(socket);
      else if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    });
    const { host: bindHost, port } = parseHostPort(this.settings.endpoint)!;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: bindHost || undefined, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      throw new TributaryError('TRIB_START_FAILED', `listen ${this.settings.endpoint}: ${err.message}`, { cause: err });
    });
    server.on('error', (err) => this.logger.error({ err }, 'otlp http server error'));
    this.server = server;
  }

  /** The bound address (the real port when the endpoint asked for port 0). */
  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Stop taking requests and let those in flight finish. When `host` asks
   * for it (a reload keeps the endpoint), the server is parked for the
   * successor instead of closed.
   */
  shutdown(host?: Host): Promise<void> {
    if (this.closing) return this.closing;
    const server = this.server;
    if (!server) return (this.closing = Promise.resolve());
    if (parkWanted(host, this.handoverKey)) {
      park(host!, this.handoverKey!, this.parked(server));
      this.closing = this.inFlight.idle();
    } else {
      this.closing = closeServer(server);
    }
    return this.closing;
  }

  /** The server, detached from this receiver: requests arriving are held for the successor. */
  private parked(server: http.Server): ParkedListener<http.Server, RequestHandler> {
    const route = (handler: RequestHandler) => {
      server.removeAllListeners('request');
      server.on('request', handler);
    };
    const parked = new ParkedListener<http.Server, RequestHandler>({
      kind: this.kind,
      resource: server,
      route,
      refuse: (req, res) => {
        this.obs.refusedRequest('receiver_stopped');
        req.resume();
        res.setHeader('Retry-After', '1');
        res.setHeader('Connection', 'close');
        this.replyStatus(res, formatOf(req.headers['content-type']) ?? 'json', 503, GrpcCode.UNAVAILABLE, 'receiver stopped', 1000);
      },
      close: () => closeServer(server),
    });
    route((req, res) => parked.hold((h) => h(req, res)));
    return parked;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.inFlight.begin();
    this.route(req, res)
      .catch((err) => {
        // Not reachable by design (route handles its own errors); a last line of defence against a crash.
        this.logger.error({ err }, 'otlp http handler failed');
        if (!res.headersSent) this.replyText(res, 500, 'internal error');
        else res.destroy();
      })
      .finally(() => this.inFlight.end());
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== this.settings.metricsPath) return this.replyText(res, 404, '404 page not found');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.replyText(res, 405, `${req.method} method not allowed, supported: [POST]`);
    }
    const format = formatOf(req.headers['content-type']);
    // Errors before the format is known are written as JSON, the readable choice.
    if (this.checkBearer && !this.checkBearer(req.headers.authorization)) {
      this.obs.refusedRequest('unauthenticated');
      res.setHeader('WWW-Authenticate', 'Bearer');
      return this.replyStatus(res, format ?? 'json', 401, GrpcCode.UNAUTHENTICATED, 'missing or invalid bearer token');
    }
    if (format === undefined) {
      this.obs.refusedRequest('unsupported_media_type');
      return this.replyText(res, 415, `415 unsupported media type, supported: [application/json, application/x-protobuf]`);
    }
    const encoding = parseContentEncoding(req.headers['content-encoding']);
    if (encoding === undefined) {
      this.obs.refusedRequest('unsupported_media_type');
      return this.replyText(res, 415, `unsupported Content-Encoding: ${req.headers['content-encoding']}, supported: [gzip, deflate]`);
    }
    const max = this.settings.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return this.refuseTooLarge(req, res, format, tooLarge('request body', max));

    let body: Buffer;
    try {
      body = await readBody(req, encoding, max);
    } catch (err) {
      if (err instanceof TributaryError && err.code === 'TRIB_TOO_LARGE') return this.refuseTooLarge(req, res, format, err);
      if (err instanceof TributaryError) {
        this.obs.refusedRequest('malformed');
        return this.replyStatus(res, format, 400, GrpcCode.INVALID_ARGUMENT, err.message);
      }
      // Cut off by the request timeout (the body stalled), or the client went away mid-body: nobody to answer.
      if (timedOutSockets.has(req.socket)) this.obs.refusedRequest('timeout');
      res.destroy();
      return;
    }

    const issues = newDecodeIssues();
    let batch;
    try {
      batch = format === 'protobuf' ? decodeExportRequest(body, issues) : decodeExportRequestJson(body.toString('utf8'), issues);
    } catch (err) {
      this.obs.refusedRequest('malformed');
      return this.replyStatus(res, format, 400, GrpcCode.INVALID_ARGUMENT, (err as Error).message);
    }

    const outcome = await exportBatch(this.next, this.obs, batch, issues);
    if (outcome.kind === 'ok') {
      const payload = format === 'protobuf' ? encodeExportResponse(outcome.result) : encodeExportResponseJson(outcome.result);
      return this.reply(res, 200, format, payload);
    }
    if (outcome.kind === 'permanent') return this.replyStatus(res, format, 400, GrpcCode.INVALID_ARGUMENT, outcome.message);
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))));
    if (outcome.exhausted) return this.replyStatus(res, format, 429, GrpcCode.RESOURCE_EXHAUSTED, outcome.message, outcome.retryAfterMs);
    return this.replyStatus(res, format, 503, GrpcCode.UNAVAILABLE, outcome.message, outcome.retryAfterMs);
  }

  /** 413, then close the connection rather than read an oversized body to its end. */
  private refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse, format: Format, err: TributaryError): void {
    this.obs.refusedRequest('too_large');
    res.setHeader('Connection', 'close');
    res.once('finish', () => {
      setTimeout(() => req.socket.destroy(), LINGER_AFTER_REFUSAL_MS).unref();
    });
    req.resume(); // discard whatever still arrives; nothing is buffered
    this.replyStatus(res, format, 413, GrpcCode.INVALID_ARGUMENT, err.message);
  }

  private replyStatus(res: http.ServerResponse, format: Format, httpStatus: number, code: number, message: string, retryAfterMs?: number): void {
    const body = format === 'protobuf' ? encodeStatus(code, message, retryAfterMs) : encodeStatusJson(code, message, retryAfterMs);
    this.reply(res, httpStatus, format, body);
  }

  private reply(res: http.ServerResponse, status: number, format: Format, body: Uint8Array | string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', format === 'protobuf' ? 'application/x-protobuf' : 'application/json');
    res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    res.end(body);
  }

  private replyText(res: http.ServerResponse, status: number, text: string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }
}

/** Close a server, letting in-flight requests finish for a grace period. */
function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Keep-alive connections with no request in flight would otherwise hold close() open.
    server.closeIdleConnections();
  });
}
