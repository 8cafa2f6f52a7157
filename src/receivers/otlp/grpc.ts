/**
 * OTLP/gRPC: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`
 * on @grpc/grpc-js with raw (de)serializers: the request arrives as bytes and
 * is decoded by the codec inside the handler, so a malformed message is
 * answered INVALID_ARGUMENT (a throwing deserializer would give INTERNAL).
 * grpc-js itself handles gzip/deflate message compression and enforces the
 * receive limit, before and after decompression (RESOURCE_EXHAUSTED).
 */
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { MetricsConsumer } from '../../consumer.ts';
import { TributaryError } from '../../errors.ts';
import { decodeExportRequest, newDecodeIssues } from '../../otlp/decode.ts';
import { encodeExportResponse, type ExportResult } from '../../otlp/encode.ts';
import { METRICS_EXPORT_PATH } from '../../otlp/schema.ts';
import { encodeStatus } from '../../otlp/status.ts';
import type { ReceiverObs } from '../obs.ts';
import { bearerChecker, type BearerCheck } from './auth.ts';
import type { GrpcSettings } from './config.ts';
import { exportBatch } from './export.ts';

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

export class OtlpGrpcServer {
  private readonly settings: GrpcSettings;
  private readonly obs: ReceiverObs;
  private readonly next: MetricsConsumer;
  private readonly logger: Logger;
  private readonly checkBearer: BearerCheck | undefined;
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private closing: Promise<void> | undefined;

  constructor(settings: GrpcSettings, obs: ReceiverObs, next: MetricsConsumer, logger: Logger) {
    this.settings = settings;
    this.obs = obs;
    this.next = next;
    this.logger = logger;
    this.checkBearer = bearerChecker(settings.bearerToken);
  }

  async start(): Promise<void> {
    const options: grpc.ServerOptions = {
      'grpc.max_receive_message_length': this.settings.maxBodyBytes,
    };
    if (this.settings.maxConcurrentStreams) options['grpc.max_concurrent_streams'] = this.settings.maxConcurrentStreams;
    const server = new grpc.Server(options);
    server.addService(metricsServiceDefinition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, ExportResult>, callback: grpc.sendUnaryData<ExportResult>) => {
        this.export(call, callback).catch((err) => {
          this.logger.error({ err }, 'otlp grpc handler failed');
          callback({ code: grpc.status.INTERNAL, details: 'internal error' });
        });
      },
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
  }

  /** The bound port (the real one when the endpoint asked for port 0). */
  port(): number {
    return this.boundPort;
  }

  shutdown(): Promise<void> {
    if (this.closing) return this.closing;
    const server = this.server;
    if (!server) return (this.closing = Promise.resolve());
    this.closing = new Promise<void>((resolve) => {
      // tryShutdown lets in-flight calls finish; past the grace period, cut them.
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
    return this.closing;
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
