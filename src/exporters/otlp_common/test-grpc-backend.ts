/**
 * A local OTLP/gRPC backend for exporter tests: decodes every Export request
 * with the project's codec and answers as scripted (OK, partial success, or a
 * status code, optionally with RetryInfo).
 */
import * as grpc from '@grpc/grpc-js';
import type { MetricsBatch } from '../../model/metrics.ts';
import { decodeExportRequest } from '../../otlp/decode.ts';
import { encodeExportResponse } from '../../otlp/encode.ts';
import { encodeStatus } from '../../otlp/status.ts';
import { METRICS_EXPORT_PATH } from '../../otlp/schema.ts';

export type GrpcReply = { ok: true; rejected?: number } | { code: number; retryAfterMs?: number };

export class TestGrpcBackend {
  readonly received: MetricsBatch[] = [];
  readonly metadata: grpc.Metadata[] = [];
  script: GrpcReply[] = [];
  fallback: GrpcReply = { ok: true };
  attempts = 0;
  port = 0;
  private server: grpc.Server | undefined;

  async start(port = 0): Promise<void> {
    const server = new grpc.Server();
    const id = (b: Buffer) => b;
    server.addService(
      { Export: { path: METRICS_EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          this.attempts++;
          this.metadata.push(call.metadata);
          const reply = this.script.length > 0 ? this.script.shift()! : this.fallback;
          if ('ok' in reply) {
            this.received.push(decodeExportRequest(call.request));
            callback(null, Buffer.from(encodeExportResponse({ rejectedDataPoints: reply.rejected ?? 0, errorMessage: reply.rejected ? 'some points were invalid' : '' })));
            return;
          }
          const md = new grpc.Metadata();
          if (reply.retryAfterMs !== undefined) md.set('grpc-status-details-bin', Buffer.from(encodeStatus(reply.code, 'try later', reply.retryAfterMs)));
          callback({ code: reply.code, details: 'scripted failure', metadata: md });
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    s?.forceShutdown();
  }
}
