/**
 * OTLP/gRPC metrics export with @grpc/grpc-js's raw client: the request is
 * encoded by the project's codec and sent as bytes on the Export method, so
 * no generated stubs are needed. Status codes are classified as the OTLP
 * spec says: UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, CANCELLED, OUT_OF_RANGE
 * and DATA_LOSS are retried; RESOURCE_EXHAUSTED only when the server sent a
 * RetryInfo (its delay is honoured); everything else is permanent.
 */
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { MetricsBatch } from '../../model/metrics.ts';
import { permanentError, retryableError } from '../../errors.ts';
import { decodeExportResponse, encodeExportRequest } from '../../otlp/encode.ts';
import { RetryInfo, RpcStatus, METRICS_EXPORT_PATH } from '../../otlp/schema.ts';
import type { Sender, SendOutcome } from '../helper/exporter.ts';
import { outcomeOf } from '../otlp_common/outcome.ts';
import { parseGrpcEndpoint, usesTls, type OtlpGrpcConfig } from './config.ts';

const RETRYABLE = new Set<number>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;

const identity = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class OtlpGrpcSender implements Sender {
  private readonly cfg: OtlpGrpcConfig;
  private client: grpc.Client | undefined;
  private readonly metadata = new grpc.Metadata();

  constructor(cfg: OtlpGrpcConfig) {
    this.cfg = cfg;
    for (const [k, v] of Object.entries(cfg.headers)) this.metadata.set(k.toLowerCase(), v);
  }

  async start(): Promise<void> {
    const { target } = parseGrpcEndpoint(this.cfg.endpoint)!;
    // Reconnect soon after a backend comes back (grpc's default backoff grows to 2 minutes);
    // the circuit breaker, not the channel, is what spares a dead backend.
    const options: grpc.ChannelOptions = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 5000 };
    if (this.cfg.compression === 'gzip') options['grpc.default_compression_algorithm'] = 2;
    const tls = this.cfg.tls;
    if (tls?.server_name_override) options['grpc.ssl_target_name_override'] = tls.server_name_override;
    let creds: grpc.ChannelCredentials;
    if (usesTls(this.cfg)) {
      const read = async (f: string | undefined) => (f ? readFile(f) : null);
      const [ca, cert, key] = await Promise.all([read(tls?.ca_file), read(tls?.cert_file), read(tls?.key_file)]);
      creds = grpc.credentials.createSsl(ca, key, cert, tls?.insecure_skip_verify ? { checkServerIdentity: () => undefined, rejectUnauthorized: false } : undefined);
    } else {
      creds = grpc.credentials.createInsecure();
    }
    this.client = new grpc.Client(target, creds, options);
  }

  send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    const client = this.client;
    if (!client) return Promise.reject(retryableError('otlp_grpc exporter not started'));
    const body = encodeExportRequest(batch);
    return new Promise((resolve, reject) => {
      const call = client.makeUnaryRequest<Uint8Array, Buffer>(
        METRICS_EXPORT_PATH,
        identity,
        (b) => b,
        body,
        this.metadata,
        { deadline: Date.now() + (this.cfg.timeout || 3_600_000) },
        (err, response) => {
          signal.removeEventListener('abort', cancel);
          if (err) return reject(classify(err));
          try {
            resolve(response && response.length > 0 ? outcomeOf(decodeExportResponse(response)) : undefined);
          } catch (e) {
            reject(e);
          }
        },
      );
      const cancel = () => call.cancel();
      signal.addEventListener('abort', cancel, { once: true });
    });
  }

  async shutdown(): Promise<void> {
    this.client?.close();
  }
}

/** gRPC status → retryable/permanent error, with the server's RetryInfo delay when present. */
export function classify(err: grpc.ServiceError): Error {
  const name = CODE_NAMES[err.code] ?? String(err.code);
  const message = `OTLP/gRPC export failed: ${name.toUpperCase()}: ${err.details}`;
  const reason = `grpc_${name}`;
  const retryAfterMs = retryDelayOf(err.metadata);
  if (RETRYABLE.has(err.code) || (err.code === grpc.status.RESOURCE_EXHAUSTED && retryAfterMs !== undefined)) {
    return retryableError(message, { cause: err, reason, retryAfterMs });
  }
  return permanentError(message, { cause: err, reason });
}

function retryDelayOf(md: grpc.Metadata | undefined): number | undefined {
  const bin = md?.get('grpc-status-details-bin')[0];
  if (!(bin instanceof Buffer)) return undefined;
  try {
    const status = RpcStatus.decode(bin) as unknown as { details?: Array<{ typeUrl?: string; value?: Uint8Array }> };
    for (const d of status.details ?? []) {
      if (!d.typeUrl?.endsWith('google.rpc.RetryInfo') || !d.value) continue;
      const info = RetryInfo.decode(d.value) as unknown as { retryDelay?: { seconds?: unknown; nanos?: number } };
      const secs = Number(info.retryDelay?.seconds ?? 0);
      return secs * 1000 + (info.retryDelay?.nanos ?? 0) / 1e6;
    }
  } catch {
    // A malformed detail is no reason to fail the classification.
  }
  return undefined;
}
