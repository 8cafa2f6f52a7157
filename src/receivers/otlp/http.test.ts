/** OTLP/HTTP: status codes and accounting for bad input, refusals and partial success; the receiver keeps serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { CollectingConsumer } from '../../consumer.ts';
import { refusedError, TributaryError } from '../../errors.ts';
import { countPoints } from '../../model/metrics.ts';
import { decodeExportResponse, decodeExportResponseJson, encodeExportRequest, encodeExportRequestJson } from '../../otlp/encode.ts';
import net from 'node:net';
import { decodeStatus } from '../../otlp/status.ts';
import { everyTypeBatch, typicalBatch } from '../../otlp/testdata.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { ReceiverObs } from '../obs.ts';
import { OtlpHttpServer } from './http.ts';
import { post, startReceiver, SwitchableConsumer, type Started } from './testing.ts';

const PB = { 'Content-Type': 'application/x-protobuf' };
const JSON_CT = { 'Content-Type': 'application/json; charset=utf-8' };

let consumer: SwitchableConsumer;
let r: Started;

beforeAll(async () => {
  consumer = new SwitchableConsumer();
  r = await startReceiver(consumer, { max_request_body_size: '1MiB' });
});
afterAll(async () => {
  await r.receiver.shutdown();
});

/** A valid request must still be accepted: the receiver survived whatever came before. */
async function expectStillServing(): Promise<void> {
  consumer.refuseWith = undefined;
  const before = consumer.points();
  const res = await post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(3))), PB);
  expect(res.status).toBe(200);
  expect(consumer.points()).toBe(before + 3);
}

describe('otlp receiver over HTTP', () => {
  it('accepts protobuf and JSON and answers in the request encoding', async () => {
    const pb = await post(r.httpPort, Buffer.from(encodeExportRequest(everyTypeBatch())), PB);
    expect(pb.status).toBe(200);
    expect(pb.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeExportResponse(pb.body)).toEqual({ rejectedDataPoints: 0, errorMessage: '' });
    const js = await post(r.httpPort, encodeExportRequestJson(everyTypeBatch()), JSON_CT);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('application/json');
    expect(JSON.parse(js.body.toString())).toEqual({});
    const batches = consumer.collected.batches.slice(-2);
    expect(batches).toEqual([everyTypeBatch(), everyTypeBatch()]);
  });

  it('accepts gzip and deflate bodies', async () => {
    const before = consumer.points();
    const raw = Buffer.from(encodeExportRequest(typicalBatch(10)));
    expect((await post(r.httpPort, zlib.gzipSync(raw), { ...PB, 'Content-Encoding': 'gzip' })).status).toBe(200);
    expect((await post(r.httpPort, zlib.deflateSync(raw), { ...PB, 'Content-Encoding': 'deflate' })).status).toBe(200);
    expect(consumer.points()).toBe(before + 20);
  });

  it('reports invalid points as partial success and counts them', async () => {
    const batch = everyTypeBatch();
    const hist = batch.resourceMetrics[0].scopeMetrics[0].metrics[3];
    if (hist.type !== 'histogram') throw new Error('fixture changed');
    hist.points[0].bucketCounts = [1];
    const before = consumer.points();
    const res = await post(r.httpPort, encodeExportRequestJson(batch), JSON_CT);
    expect(res.status).toBe(200);
    expect(decodeExportResponseJson(res.body.toString())).toEqual({
      rejectedDataPoints: 1,
      errorMessage: 'histogram data point has 1 bucket counts for 3 bounds',
    });
    expect(consumer.points()).toBe(before + countPoints(everyTypeBatch()) - 1);
    expect(r.refusedPoints('invalid')).toBe(1);
  });

  it('answers 400 with a Status on malformed protobuf and JSON', async () => {
    const pb = await post(r.httpPort, Buffer.from('definitely not protobuf'), PB);
    expect(pb.status).toBe(400);
    expect(pb.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeStatus(pb.body)).toMatchObject({ code: 3, message: expect.stringMatching(/malformed OTLP request/) });
    const js = await post(r.httpPort, '{"resourceMetrics": [', JSON_CT);
    expect(js.status).toBe(400);
    expect(JSON.parse(js.body.toString())).toMatchObject({ code: 3, message: expect.stringMatching(/malformed/) });
    const gz = await post(r.httpPort, Buffer.from('not gzip'), { ...PB, 'Content-Encoding': 'gzip' });
    expect(gz.status).toBe(400);
    expect(r.refusedRequests('malformed')).toBe(3);
    await expectStillServing();
  });

  it('writes the decoder\'s message into the Status without an `Error: ` prefix', async () => {
    const before = r.refusedRequests('malformed');
    const shape = await post(r.httpPort, '{"resourceMetrics": 5}', JSON_CT);
    expect(shape.status).toBe(400);
    expect(JSON.parse(shape.body.toString())).toEqual({ code: 3, message: 'malformed OTLP request: resourceMetrics is not an array' });
    const notObject = await post(r.httpPort, 'null', JSON_CT);
    expect(JSON.parse(notObject.body.toString())).toEqual({ code: 3, message: 'malformed OTLP request: request is not a JSON object' });
    const pb = await post(r.httpPort, Buffer.from('definitely not protobuf'), PB);
    expect(decodeStatus(pb.body).message).not.toMatch(/Error: /);
    expect(r.refusedRequests('malformed')).toBe(before + 3);
  });

  it('answers 415 on other content types and encodings, 404 and 405 elsewhere', async () => {
    expect((await post(r.httpPort, 'x', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post(r.httpPort, 'x', {})).status).toBe(415);
    expect((await post(r.httpPort, 'x', { ...PB, 'Content-Encoding': 'br' })).status).toBe(415);
    expect(r.refusedRequests('unsupported_media_type')).toBe(3);
    expect((await post(r.httpPort, 'x', PB, { path: '/v1/traces' })).status).toBe(404);
    const get = await post(r.httpPort, '', PB, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    await expectStillServing();
  });

  it('answers 413 on a declared oversize body without reading it', async () => {
    // Declares 50 MiB but sends 64 KiB: the answer must come from the header alone.
    const res = await post(r.httpPort, [Buffer.alloc(64 * 1024)], { ...PB, 'Content-Length': String(50 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(decodeStatus(res.body).message).toMatch(/exceeds the maximum of 1048576 bytes/);
    await expectStillServing();
  });

  it('answers 413 on a chunked body as soon as it exceeds the cap', async () => {
    const before = r.refusedRequests('too_large');
    const pieces = Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 1)); // 4 MiB in 64 KiB chunks
    const res = await post(r.httpPort, pieces, PB);
    expect(res.status).toBe(413);
    expect(r.refusedRequests('too_large')).toBe(before + 1);
    await expectStillServing();
  });

  it('answers 413 on a gzip bomb, inflating no more than the cap', async () => {
    const before = r.refusedRequests('too_large');
    // Concatenated gzip members: 10 MiB of gzip that would inflate to 10 GiB.
    const member = zlib.gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const members = Math.floor((10 * 1024 * 1024) / member.length);
    const bomb = Array.from({ length: members }, () => member);
    const rssBefore = process.memoryUsage().rss;
    const res = await post(r.httpPort, bomb, { ...PB, 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(decodeStatus(res.body).message).toMatch(/decompressed request body exceeds/);
    expect(r.refusedRequests('too_large')).toBe(before + 1);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    await expectStillServing();
  });

  it('answers 503 with Retry-After when the pipeline is unavailable, 429 when a queue is full or memory is short', async () => {
    consumer.refuseWith = refusedError('pipeline unavailable', { reason: 'shutdown', retryAfterMs: 2500 });
    const a = await post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(2))), PB);
    expect(a.status).toBe(503);
    expect(a.headers['retry-after']).toBe('3');
    expect(decodeStatus(a.body)).toEqual({ code: 14, message: 'pipeline unavailable' });

    consumer.refuseWith = refusedError('memory limit reached', { reason: 'memory_limit', retryAfterMs: 2500 });
    const m = await post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(2))), PB);
    expect(m.status).toBe(429);
    expect(m.headers['retry-after']).toBe('3');

    consumer.refuseWith = refusedError('sending queue full', { reason: 'queue_full' });
    const b = await post(r.httpPort, encodeExportRequestJson(typicalBatch(2)), JSON_CT);
    expect(b.status).toBe(429);
    expect(b.headers['retry-after']).toBe('1');
    expect(JSON.parse(b.body.toString())).toMatchObject({ code: 8, message: 'sending queue full' });

    consumer.refuseWith = new TributaryError('TRIB_PERMANENT', 'cannot ever take this');
    expect((await post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(2))), PB)).status).toBe(400);
    await expectStillServing();
  });

  it('survives a client that aborts mid-body, and does not count it as refused', async () => {
    await new Promise<void>((resolve) => {
      const s = net.connect(r.httpPort, '127.0.0.1', () => {
        s.write('POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\nabc');
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 50);
      });
    });
    await expectStillServing();
    expect(r.refusedRequests('timeout')).toBe(0);
  });
});

describe('otlp receiver over HTTP: a request whose body stalls', () => {
  it('is closed after the request timeout and counted `timeout`; the server keeps serving', async () => {
    const telemetry = new PipelineTelemetry();
    const next = new CollectingConsumer();
    const obs = new ReceiverObs(testSettings('receiver', 'otlp', '', telemetry));
    const server = new OtlpHttpServer({ endpoint: '127.0.0.1:0', maxBodyBytes: 1 << 20, metricsPath: '/v1/metrics', requestTimeoutMs: 300 }, obs, next, silentLogger());
    await server.start();
    try {
      const port = server.address()!.port;
      const timeouts = () => telemetry.receiverRefusedRequests.get({ receiver: 'otlp', reason: 'timeout' });
      // Headers and 3 of the 1000 declared bytes, then nothing: the server must close the connection.
      const answer = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write('POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\nabc');
        });
        let received = '';
        s.on('data', (d) => (received += d.toString()));
        s.on('error', () => {});
        s.on('close', () => resolve(received));
        setTimeout(() => reject(new Error('the stalled request was never closed')), 10_000).unref();
      });
      expect(answer).toBe('');
      // The handler learns of the close right after the socket goes; bounded wait.
      for (let i = 0; i < 200 && timeouts() === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(timeouts()).toBe(1);
      expect(telemetry.receiverRefusedRequests.get({ receiver: 'otlp', reason: 'malformed' })).toBe(0);
      const ok = await post(port, Buffer.from(encodeExportRequest(typicalBatch(3))), PB);
      expect(ok.status).toBe(200);
      expect(next.batches).toHaveLength(1);
      expect(timeouts()).toBe(1);
    } finally {
      await server.shutdown();
    }
  });
});

describe('otlp receiver over HTTP with a bearer token', () => {
  it('answers 401 without the right token and counts it', async () => {
    const c = new CollectingConsumer();
    const s = await startReceiver(c, { auth: { bearer_token: 'right-token' } });
    try {
      const body = Buffer.from(encodeExportRequest(typicalBatch(1)));
      const none = await post(s.httpPort, body, PB);
      expect(none.status).toBe(401);
      expect(decodeStatus(none.body).code).toBe(16);
      expect((await post(s.httpPort, body, { ...PB, Authorization: 'Bearer wrong-token' })).status).toBe(401);
      expect((await post(s.httpPort, body, { ...PB, Authorization: 'Basic cmlnaHQtdG9rZW4=' })).status).toBe(401);
      expect(s.refusedRequests('unauthenticated')).toBe(3);
      expect(c.batches).toHaveLength(0);
      expect((await post(s.httpPort, body, { ...PB, Authorization: 'Bearer right-token' })).status).toBe(200);
      expect(c.batches).toHaveLength(1);
    } finally {
      await s.receiver.shutdown();
    }
  });
});
