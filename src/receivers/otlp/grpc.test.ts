/** OTLP/gRPC: status codes for bad input, refusals and auth, raw HTTP/2 abuse; the receiver keeps serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { CollectingConsumer } from '../../consumer.ts';
import { refusedError } from '../../errors.ts';
import { decodeExportResponse, encodeExportRequest } from '../../otlp/encode.ts';
import { METRICS_EXPORT_PATH, RetryInfo, RpcStatus } from '../../otlp/schema.ts';
import { everyTypeBatch, typicalBatch } from '../../otlp/testdata.ts';
import { startReceiver, SwitchableConsumer, type Started } from './testing.ts';

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

  it('answers RESOURCE_EXHAUSTED over the receive limit and counts it', async () => {
    const res = await exportRaw(r.grpcPort, Buffer.alloc(2 * 1024 * 1024));
    expect(res.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.refusedRequests('too_large')).toBe(1);
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

/**
 * Calls grpc-js refuses before the Export handler runs (`grpc-refusals.ts`):
 * each is answered with the OTLP spec's code and counted once with a reason;
 * the handler's own refusals and client cancellations are not counted twice.
 */
describe('otlp receiver over gRPC: refusals by grpc-js itself', () => {
  const REASONS = ['malformed', 'too_large', 'unsupported_encoding', 'timeout', 'other', 'unauthenticated', 'receiver_stopped'];
  let c: CollectingConsumer;
  let s: Started;
  let session: http2.ClientHttp2Session;
  const good = Buffer.from(encodeExportRequest(typicalBatch(2)));

  beforeAll(async () => {
    c = new CollectingConsumer();
    s = await startReceiver(c, { protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 } } });
    session = http2.connect(`http://127.0.0.1:${s.grpcPort}`);
    session.on('error', () => {});
  });
  afterAll(async () => {
    session.close();
    await s.receiver.shutdown();
  });

  const frame = (payload: Buffer, compressed = 0, claimedLength = payload.length) => {
    const header = Buffer.alloc(5);
    header[0] = compressed;
    header.writeUInt32BE(claimedLength, 1);
    return Buffer.concat([header, payload]);
  };

  interface Answer {
    status?: string;
    message?: string;
    headers: http2.IncomingHttpHeaders;
  }

  /** One raw call: `body` pieces written in order; `end: false` leaves the request open (the server must end it). */
  function call(body: Buffer[], headers: Record<string, string> = {}, opts: { end?: boolean } = {}): Promise<Answer> {
    return new Promise((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': METRICS_EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      const answer: Answer = { headers: {} };
      const take = (h: http2.IncomingHttpHeaders) => {
        Object.assign(answer.headers, h);
        if (h['grpc-status'] !== undefined) {
          answer.status = String(h['grpc-status']);
          answer.message = decodeURIComponent(String(h['grpc-message'] ?? ''));
          // Answered: a request left open (`end: false`) is closed by the client now.
          if (opts.end === false) stream.close();
        }
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('error', () => {});
      const timer = setTimeout(() => stream.close(), 10_000);
      stream.on('close', () => {
        clearTimeout(timer);
        resolve(answer);
      });
      stream.resume();
      for (const b of body) stream.write(b);
      if (opts.end !== false) stream.end();
    });
  }

  const counts = () => Object.fromEntries(REASONS.map((reason) => [reason, s.refusedRequests(reason)]).filter(([, n]) => n !== 0));

  /** Runs `fn` and returns how each reason's count moved. */
  async function delta(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = counts() as Record<string, number>;
    await fn();
    const after = counts() as Record<string, number>;
    const moved: Record<string, number> = {};
    for (const reason of REASONS) {
      const d = (after[reason] ?? 0) - (before[reason] ?? 0);
      if (d !== 0) moved[reason] = d;
    }
    return moved;
  }

  async function stillServing(): Promise<void> {
    const before = c.batches.length;
    expect((await call([frame(good)])).status).toBe('0');
    expect(c.batches.length).toBe(before + 1);
  }

  it('a truncated message: INVALID_ARGUMENT (grpc-js says UNIMPLEMENTED), counted malformed', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good.subarray(0, 10), 0, 100)])))).toEqual({ malformed: 1 });
    expect(a.status).toBe(String(grpc.status.INVALID_ARGUMENT));
    expect(a.message).toMatch(/no complete request message/);
    await stillServing();
  });

  it('a truncated frame header and an empty stream: INVALID_ARGUMENT, counted malformed', async () => {
    let a!: Answer;
    let b!: Answer;
    const moved = await delta(async () => {
      a = await call([Buffer.from([0, 0, 0])]);
      b = await call([]);
    });
    expect(moved).toEqual({ malformed: 2 });
    expect([a.status, b.status]).toEqual([String(grpc.status.INVALID_ARGUMENT), String(grpc.status.INVALID_ARGUMENT)]);
    await stillServing();
  });

  it('two messages in a unary call: INVALID_ARGUMENT, counted malformed, nothing exported', async () => {
    const before = c.batches.length;
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good), frame(good)])))).toEqual({ malformed: 1 });
    expect(a.status).toBe(String(grpc.status.INVALID_ARGUMENT));
    expect(c.batches.length).toBe(before);
  });

  it('a frame claiming 2 GiB: RESOURCE_EXHAUSTED, counted too_large', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good.subarray(0, 10), 0, 0x7fffffff)])))).toEqual({ too_large: 1 });
    expect(a.status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(a.headers['grpc-status-details-bin']).toBeUndefined(); // no RetryInfo: OTLP clients do not retry it
    await stillServing();
  });

  it('a gzip bomb under grpc-encoding gzip: RESOURCE_EXHAUSTED, counted too_large', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 << 20));
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(bomb, 1)], { 'grpc-encoding': 'gzip' })))).toEqual({ too_large: 1 });
    expect(a.status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(a.message).toMatch(/decompresses to a size larger than/);
    await stillServing();
  });

  it('a gzip-compressed request within the limit is accepted', async () => {
    const before = c.batches.length;
    expect(await delta(async () => expect((await call([frame(zlib.gzipSync(good), 1)], { 'grpc-encoding': 'gzip' })).status).toBe('0'))).toEqual({});
    expect(c.batches.length).toBe(before + 1);
  });

  it('an unknown grpc-encoding: UNIMPLEMENTED with grpc-accept-encoding (the gRPC compression spec), counted unsupported_encoding', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good, 1)], { 'grpc-encoding': 'lz4' })))).toEqual({ unsupported_encoding: 1 });
    expect(a.status).toBe(String(grpc.status.UNIMPLEMENTED));
    expect(a.headers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    await stillServing();
  });

  it('corrupt gzip data: INVALID_ARGUMENT (grpc-js says INTERNAL), counted malformed', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(Buffer.from('not gzip at all'), 1)], { 'grpc-encoding': 'gzip' })))).toEqual({ malformed: 1 });
    expect(a.status).toBe(String(grpc.status.INVALID_ARGUMENT));
    await stillServing();
  });

  it('an invalid grpc-timeout: INVALID_ARGUMENT, counted malformed', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good)], { 'grpc-timeout': 'soon' })))).toEqual({ malformed: 1 });
    expect(a.status).toBe(String(grpc.status.INVALID_ARGUMENT));
  });

  it('a deadline that passes before the request is complete: DEADLINE_EXCEEDED, counted timeout', async () => {
    let a!: Answer;
    expect(await delta(async () => (a = await call([frame(good).subarray(0, 20)], { 'grpc-timeout': '50m' }, { end: false })))).toEqual({ timeout: 1 });
    expect(a.status).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    await stillServing();
  });

  it("the handler's own refusal is counted once, a success and a client abort not at all", async () => {
    const moved = await delta(async () => {
      expect((await call([frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))])).status).toBe(String(grpc.status.INVALID_ARGUMENT));
      expect((await call([frame(good)])).status).toBe('0');
      // Half a message, then the client drops the connection: nobody to answer, nothing refused.
      const gone = http2.connect(`http://127.0.0.1:${s.grpcPort}`);
      gone.on('error', () => {});
      const stream = gone.request({ ':method': 'POST', ':path': METRICS_EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => {});
      stream.write(frame(good).subarray(0, 20));
      await new Promise<void>((resolve) => stream.once('ready', resolve));
      await call([frame(good)]); // the first stream's data reached the server before this call's answer
      gone.destroy();
      // Half a message, then RST_STREAM without END_STREAM, on a live connection.
      const reset = session.request({ ':method': 'POST', ':path': METRICS_EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      reset.on('error', () => {});
      reset.write(frame(good).subarray(0, 20));
      await call([frame(good)]);
      reset.destroy(); // RST_STREAM (close() would send END_STREAM first)
      // Later calls are answered after the server saw the abort and the reset.
      for (let i = 0; i < 3; i++) expect((await call([frame(good)])).status).toBe('0');
    });
    expect(moved).toEqual({ malformed: 1 });
  });
});
