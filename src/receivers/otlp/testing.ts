/** Helpers for the receiver's tests: start it on ephemeral ports, talk raw HTTP to it. */
import http from 'node:http';
import { CollectingConsumer, type MetricsConsumer } from '../../consumer.ts';
import { countPoints, type MetricsBatch } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { otlpConfigSchema } from './config.ts';
import { otlpReceiverFactory } from './factory.ts';
import type { OtlpReceiver } from './receiver.ts';

/** A consumer whose behaviour the test switches: collect, or refuse with a given error. */
export class SwitchableConsumer implements MetricsConsumer {
  readonly collected = new CollectingConsumer();
  refuseWith: Error | undefined;
  async consume(batch: MetricsBatch): Promise<void> {
    if (this.refuseWith) throw this.refuseWith;
    await this.collected.consume(batch);
  }
  points(): number {
    return this.collected.batches.reduce((n, b) => n + countPoints(b), 0);
  }
}

export interface Started {
  receiver: OtlpReceiver;
  telemetry: PipelineTelemetry;
  grpcPort: number;
  httpPort: number;
  refusedRequests(reason: string): number;
  refusedPoints(reason: string): number;
}

/** Start an `otlp` receiver from raw config (both protocols on 127.0.0.1:0 unless given). */
export async function startReceiver(next: MetricsConsumer, raw: Record<string, unknown> = {}): Promise<Started> {
  const config = otlpConfigSchema.parse({
    protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } },
    ...raw,
  });
  const telemetry = new PipelineTelemetry();
  const receiver = otlpReceiverFactory.create(testSettings('receiver', 'otlp', '', telemetry), config, next) as OtlpReceiver;
  await receiver.start(testHost());
  return {
    receiver,
    telemetry,
    grpcPort: receiver.grpc?.port() ?? 0,
    httpPort: receiver.http?.address()?.port ?? 0,
    refusedRequests: (reason) => telemetry.receiverRefusedRequests.get({ receiver: 'otlp', reason }),
    refusedPoints: (reason) => telemetry.receiverRefused.get({ receiver: 'otlp', reason }),
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * POST a body, written in pieces; stop writing as soon as a response arrives
 * (the server may answer 413 early and close), so the answer is never lost to
 * an EPIPE on the rest of the upload.
 */
export function post(
  port: number,
  body: Buffer | string | Buffer[],
  headers: http.OutgoingHttpHeaders = {},
  opts: { path?: string; method?: string } = {},
): Promise<RawResponse> {
  const pieces = Array.isArray(body) ? body : [Buffer.from(body)];
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/v1/metrics', method: opts.method ?? 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    let i = 0;
    const writeNext = () => {
      while (!answered && i < pieces.length) {
        if (!req.write(pieces[i++])) return void req.once('drain', writeNext);
      }
      if (!answered) req.end();
    };
    writeNext();
  });
}
