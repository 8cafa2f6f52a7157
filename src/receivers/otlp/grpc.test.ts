/** OTLP/gRPC: status codes for bad input, refusals and auth, raw HTTP/2 abuse; the receiver keeps serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { CollectingConsumer, type MetricsConsumer } from '../../consumer.ts';
import { refusedError } from '../../errors.ts';
import { countPoints, type MetricsBatch } from '../../model/metrics.ts';
import { decodeExportResponse, encodeExportRequest } from '../../otlp/encode.ts';
import { METRICS_EXPORT_PATH, RetryInfo, RpcStatus } from '../../otlp/schema.ts';
import { everyTypeBatch, typicalBatch } from '../../otlp/testdata.ts';
import { startReceiver, type Started } from './testing.ts';

class SwitchableConsumer implements MetricsConsumer {
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

const raw = (b: Buffer) => b;
const ExportClient = grpc.makeGenericClientConstructor(
  {
    Export: {
      path: METRICS_EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  },
  'MetricsService',
);

interface CallResult {
  error?: grpc.ServiceError;
  response?: Buffer;
}

function exportRaw(port: number, body: Uint8Array, metadata = new grpc.Metadata(), options: grpc.ClientOptions = {}): Promise<CallResult> {
  const client = new ExportClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  return new Promise((resolve) => {
    (client as any).Export(Buffer.from(body), metadata, (error: grpc.ServiceError | null, response: Buffer) => {
      client.close();
      resolve(error ? { error } : { response });
    });
  });
}

let consumer: SwitchableConsumer;
let r: Started;

beforeAll(async () => {
  consumer = new SwitchableConsumer();
  r = await startReceiver(consumer, { protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 } } });
});
afterAll(async () => {
  await r.receiver.shutdown();
});

async function expectStillServing(): Promise<void> {
  consumer.refuseWith = undefined;
  const before = consumer.points();
  const res = await exportRaw(r.grpcPort, encodeExportRequest(typicalBatch(3)));
  expect(res.error).toBeUndefined();
  expect(consumer.points()).toBe(before + 3);
}

describe('otlp receiver over gRPC', () => {
  it('opens only the protocols configured', () => {
    expect(r.receiver.http).toBeUndefined();
    expect(r.grpcPort).toBeGreaterThan(0);
  });

  it('accepts a request and answers an empty ExportMetricsServiceResponse', async () => {
    const res = await exportRaw(r.grpcPort, encodeExportRequest(everyTypeBatch()), undefined, { 'grpc.default_compression_algorithm': 2 });
    expect(res.error).toBeUndefined();
    expect(decodeExportResponse(res.response!)).toEqual({ rejectedDataPoints: 0, errorMessage: '' });
    expect(consumer.collected.batches.at(-1)).toEqual(everyTypeBatch());
  });

  it('reports invalid points as partial success', async () => {
    const batch = everyTypeBatch();
    const hist = batch.resourceMetrics[0].scopeMetrics[0].metrics[3];
    if (hist.type !== 'histogram') throw new Error('fixture changed');
    hist.points[1].explicitBounds = [1, 2];
    const res = await exportRaw(r.grpcPort, encodeExportRequest(batch));
    expect(decodeExportResponse(res.response!)).toEqual({ rejectedDataPoints: 1, errorMessage: 'histogram data point has 1 bucket counts for 2 bounds' });
    expect(r.refusedPoints('invalid')).toBe(1);
  });

  it('answers INVALID_ARGUMENT on a malformed message and counts it', async () => {
    const res = await exportRaw(r.grpcPort, Buffer.from('garbage that is not protobuf'));
    expect(res.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.refusedRequests('malformed')).toBe(1);
    await expectStillServing();
  });

  it('answers RESOURCE_EXHAUSTED over the receive limit', async () => {
    const res = await exportRaw(r.grpcPort, Buffer.alloc(2 * 1024 * 1024));
    expect(res.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await expectStillServing();
  });

  it('answers UNAVAILABLE / RESOURCE_EXHAUSTED with RetryInfo when the pipeline refuses', async () => {
    consumer.refuseWith = refusedError('pipeline unavailable', { reason: 'shutdown', retryAfterMs: 2500 });
    const a = await exportRaw(r.grpcPort, encodeExportRequest(typicalBatch(2)));
    expect(a.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(a.error?.details).toBe('pipeline unavailable');
    const details = a.error!.metadata.get('grpc-status-details-bin')[0] as Buffer;
    const status = RpcStatus.toObject(RpcStatus.decode(details), { longs: Number }) as any;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details[0].typeUrl).toBe('type.googleapis.com/google.rpc.RetryInfo');
    expect(RetryInfo.toObject(RetryInfo.decode(status.details[0].value), { longs: Number })).toEqual({ retryDelay: { seconds: 2, nanos: 500_000_000 } });

    consumer.refuseWith = refusedError('sending queue full', { reason: 'queue_full' });
    const b = await exportRaw(r.grpcPort, encodeExportRequest(typicalBatch(2)));
    expect(b.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    // Load shed by the memory limiter: RESOURCE_EXHAUSTED as well (issue: memory_limiter).
    consumer.refuseWith = refusedError('memory limit reached', { reason: 'memory_limit', retryAfterMs: 2500 });
    const c = await exportRaw(r.grpcPort, encodeExportRequest(typicalBatch(2)));
    expect(c.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await expectStillServing();
  });

  it('survives truncated and garbage frames from a raw HTTP/2 client', async () => {
    const session = http2.connect(`http://127.0.0.1:${r.grpcPort}`);
    session.on('error', () => {});
    const call = (frame: Buffer) =>
      new Promise<{ status?: string }>((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': METRICS_EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
        let status: string | undefined;
        stream.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
        stream.on('trailers', (h) => (status ??= h['grpc-status'] as string | undefined));
        stream.on('error', () => {});
        stream.on('close', () => resolve({ status }));
        stream.resume();
        stream.end(frame);
      });
    // Length prefix says 100 bytes, 10 follow, then the stream ends.
    const truncated = Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(10, 7)]);
    const t = await call(truncated);
    expect(t.status).toBeDefined();
    expect(t.status).not.toBe('0');
    // A frame flagged compressed with no grpc-encoding, and plain garbage.
    expect((await call(Buffer.from([1, 0, 0, 0, 3, 1, 2, 3]))).status).not.toBe('0');
    expect((await call(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).status).not.toBe('0');
    session.close();
    await expectStillServing();
  });
});

describe('otlp receiver over gRPC with a bearer token', () => {
  it('answers UNAUTHENTICATED without the right token and counts it', async () => {
    const c = new CollectingConsumer();
    const s = await startReceiver(c, { protocols: { grpc: { endpoint: '127.0.0.1:0', auth: { bearer_token: 'grpc-token' } } } });
    try {
      const body = encodeExportRequest(typicalBatch(1));
      expect((await exportRaw(s.grpcPort, body)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
      const wrong = new grpc.Metadata();
      wrong.set('authorization', 'Bearer nope');
      expect((await exportRaw(s.grpcPort, body, wrong)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(s.refusedRequests('unauthenticated')).toBe(2);
      const right = new grpc.Metadata();
      right.set('authorization', 'Bearer grpc-token');
      expect((await exportRaw(s.grpcPort, body, right)).error).toBeUndefined();
      expect(c.batches).toHaveLength(1);
    } finally {
      await s.receiver.shutdown();
    }
  });
});
