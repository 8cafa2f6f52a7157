/**
 * OTLP/gRPC: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`
 * on @grpc/grpc-js with raw (de)serializers: the request arrives as bytes and
 * is decoded by the codec inside the handler, so a malformed message is
 * answered INVALID_ARGUMENT (a throwing deserializer would give INTERNAL).
 * grpc-js itself handles gzip/deflate message compression and enforces the
 * receive limit, before and after decompression (RESOURCE_EXHAUSTED); what it
 * refuses on its own is counted by an interceptor (`grpc-refusals.ts`).
 *
 * The service's Export handler and that refusal counter go through a route
 * object, so on a live reload that keeps the endpoint (and the server options)
 * the grpc Server survives and only the route moves to the new receiver
 * (`../../service/handover.ts`).
 */
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Host } from '../../component.ts';
import type { MetricsConsumer } from '../../consumer.ts';
import { TributaryError } from '../../errors.ts';
import { decodeExportRequest, newDecodeIssues } from '../../otlp/decode.ts';
import { encodeExportResponse, type ExportResult } from '../../otlp/encode.ts';
import { METRICS_EXPORT_PATH } from '../../otlp/schema.ts';
import { encodeStatus } from '../../otlp/status.ts';
import { handoverKey, park, parkWanted, ParkedListener, takeParked } from '../../service/handover.ts';
import type { ReceiverObs } from '../obs.ts';
import { bearerChecker, type BearerCheck } from './auth.ts';
import type { GrpcSettings } from './config.ts';
import { exportBatch } from './export.ts';
import { refusalInterceptor } from './grpc-refusals.ts';
import { InFlight } from '../../service/in-flight.ts';

const SHUTDOWN_GRACE_MS = 5_000;

const identity = (buf: Buffer) => buf;

const metricsServiceDefinition: grpc.ServiceDefinition = {
  Export: {
    path: METRICS_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: (result: ExportResult) => Buffer.from(encodeExportResponse(result)),
    responseDeserialize: identity,
  },
};

type ExportHandler = (call: grpc.ServerUnaryCall<Buffer, ExportResult>, callback: grpc.sendUnaryData<ExportResult>) => void;

/** What moves between receivers on a reload: the server, and the indirection its Export handler and refusal counter call through. */
interface GrpcListener {
  server: grpc.Server;
  route: { current: ExportHandler; refused: (reason: string) => void };
  port: number;
}

export class OtlpGrpcServer {
  private readonly settings: GrpcSettings;
  private readonly obs: ReceiverObs;
  private readonly next: MetricsConsumer;
  private readonly logger: Logger;
  private readonly checkBearer: BearerCheck | undefined;
  private server: grpc.Server | undefined;
  private route: GrpcListener['route'] | undefined;
  private boundPort = 0;
  private closing: Promise<void> | undefined;
  private readonly handoverKey: string | undefined;
  private readonly inFlight = new InFlight();

  constructor(settings: GrpcSettings, obs: ReceiverObs, next: MetricsConsumer, logger: Logger) {
    this.settings = settings;
    this.obs = obs;
    this.next = next;
    this.logger = logger;
    this.checkBearer = bearerChecker(settings.bearerToken);
    this.handoverKey = handoverKey({ transport: 'tcp', address: settings.endpoint });
  }

  /**
   * The server-level settings, fixed when a grpc Server is created and bound:
   * a server is handed over only to a receiver wanting the same (a change
   * here means binding afresh). Auth is per call, so it is not part of it.
   */
  private get kind(): string {
    const tls = this.settings.tls ? `${this.settings.tls.cert_file}|${this.settings.tls.key_file}` : '';
    return `otlp-grpc max=${this.settings.maxBodyBytes} streams=${this.settings.maxConcurrentStreams ?? 0} tls=${tls}`;
  }

  /** Calls grpc-js refused before any handler ran. */
  private readonly onRefused = (reason: string): void => this.obs.refusedRequest(reason);

  private readonly onExport: ExportHandler = (call, callback) => {
    this.inFlight.begin();
    this.export(call, callback)
      .catch((err) => {
        this.logger.error({ err }, 'otlp grpc handler failed');
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      })
      .finally(() => this.inFlight.end());
  };

  async start(host?: Host): Promise<void> {
    const parked = await takeParked<GrpcListener, ExportHandler>(host, this.handoverKey, this.kind);
    if (parked) {
      const adopted = parked.adopt(this.onExport);
      this.server = adopted.server;
      this.route = adopted.route;
      this.route.refused = this.onRefused;
      this.boundPort = adopted.port;
      return;
    }
    const route: GrpcListener['route'] = { current: this.onExport, refused: this.onRefused };
    const options: grpc.ServerOptions = {
      'grpc.max_receive_message_length': this.settings.maxBodyBytes,
      interceptors: [refusalInterceptor((reason) => route.refused(reason))],
    };
    if (this.settings.maxConcurrentStreams) options['grpc.max_concurrent_streams'] = this.settings.maxConcurrentStreams;
    const server = new grpc.Server(options);
    server.addService(metricsServiceDefinition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, ExportResult>, callback: grpc.sendUnaryData<ExportResult>) => route.current(call, callback),
    });
    let credentials = grpc.ServerCredentials.createInsecure();
    if (this.settings.tls) {
      const [cert, key] = await Promise.all([readFile(this.settings.tls.cert_file!), readFile(this.settings.tls.key_file!)]);
      credentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
    }
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.settings.endpoint, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    }).catch((err: Error) => {
      server.forceShutdown();
      throw new TributaryError('TRIB_START_FAILED', `listen ${this.settings.endpoint}: ${err.message}`, { cause: err });
    });
    this.server = server;
    this.route = route;
  }

  /** The bound port (the real one when the endpoint asked for port 0). */
  port(): number {
    return this.boundPort;
  }

  /**
   * Stop taking calls and let those in flight finish. When `host` asks for it
   * (a reload keeps the endpoint), the server is parked for the successor
   * instead of shut down.
   */
  shutdown(host?: Host): Promise<void> {
    if (this.closing) return this.closing;
    const server = this.server;
    if (!server) return (this.closing = Promise.resolve());
    if (parkWanted(host, this.handoverKey)) {
      park(host!, this.handoverKey!, this.parked({ server, route: this.route!, port: this.boundPort }));
      this.closing = this.inFlight.idle();
    } else {
      this.closing = closeServer(server);
    }
    return this.closing;
  }

  /** The server, detached from this receiver: calls arriving are held for the successor. */
  private parked(listener: GrpcListener): ParkedListener<GrpcListener, ExportHandler> {
    const parked = new ParkedListener<GrpcListener, ExportHandler>({
      kind: this.kind,
      resource: listener,
      route: (handler) => {
        listener.route.current = handler;
      },
      refuse: (_call, callback) => {
        this.obs.refusedRequest('receiver_stopped');
        callback({ code: grpc.status.UNAVAILABLE, details: 'receiver stopped' });
      },
      close: () => closeServer(listener.server),
    });
    listener.route.current = (call, callback) => parked.hold((h) => h(call, callback));
    return parked;
  }

  private async export(call: grpc.ServerUnaryCall<Buffer, ExportResult>, callback: grpc.sendUnaryData<ExportResult>): Promise<void> {
    if (this.checkBearer) {
      const auth = call.metadata.get('authorization')[0];
      if (!this.checkBearer(typeof auth === 'string' ? auth : undefined)) {
        this.obs.refusedRequest('unauthenticated');
        return callback({ code: grpc.status.UNAUTHENTICATED, details: 'missing or invalid bearer token' });
      }
    }
    const issues = newDecodeIssues();
    let batch;
    try {
      batch = decodeExportRequest(call.request, issues);
    } catch (err) {
      this.obs.refusedRequest('malformed');
      return callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
    }
    const outcome = await exportBatch(this.next, this.obs, batch, issues);
    if (outcome.kind === 'ok') return callback(null, outcome.result);
    if (outcome.kind === 'permanent') return callback({ code: grpc.status.INVALID_ARGUMENT, details: outcome.message });
    const code = outcome.exhausted ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.UNAVAILABLE;
    // google.rpc.RetryInfo in grpc-status-details-bin: OTLP clients wait that long before retrying.
    const metadata = new grpc.Metadata();
    metadata.set('grpc-status-details-bin', Buffer.from(encodeStatus(code, outcome.message, outcome.retryAfterMs)));
    callback({ code, details: outcome.message, metadata });
  }
}

/** tryShutdown lets in-flight calls finish; past the grace period, cut them. */
function closeServer(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
