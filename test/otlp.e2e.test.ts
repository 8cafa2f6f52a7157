/**
 * The `otlp` receiver inside the real daemon: bearer auth from the
 * environment (never logged), OTLP responses for bad input, partial success,
 * and the receiver self-metrics on the admin endpoint accounting for all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { startDaemon, freePort, eventually, type DaemonHandle } from './harness/daemon.ts';
import { decodeExportResponse, encodeExportRequest } from '../src/otlp/encode.ts';
import { everyTypeBatch, typicalBatch } from '../src/otlp/testdata.ts';
import { countPoints } from '../src/model/metrics.ts';
import { post } from '../src/receivers/otlp/testing.ts';

const TOKEN = 'e2e-secret-token-9f3a';
const AUTH = { 'Content-Type': 'application/x-protobuf', Authorization: `Bearer ${TOKEN}` };

let daemon: DaemonHandle;
let httpPort: number;

const refusedRequests = (reason: string) => daemon.selfMetric('tributary_receiver_refused_requests_total', { receiver: 'otlp', reason });

beforeAll(async () => {
  const [grpcPort, promPort] = await Promise.all([freePort(), freePort()]);
  httpPort = await freePort();
  daemon = await startDaemon({
    env: { OTLP_TOKEN: TOKEN },
    config: `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
    max_request_body_size: 2MiB
    auth: { bearer_token: "\${env:OTLP_TOKEN}" }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
`,
  });
});

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
});

describe('otlp receiver in the daemon', () => {
  it('accepts authenticated requests and counts their points', async () => {
    const res = await post(httpPort, Buffer.from(encodeExportRequest(everyTypeBatch())), AUTH);
    expect(res.status).toBe(200);
    const expected = countPoints(everyTypeBatch());
    expect(await eventually(async () => (await daemon.selfMetric('tributary_receiver_accepted_points_total', { receiver: 'otlp' })) === expected)).toBe(true);
  });

  it('refuses and counts: no token, malformed body, gzip bomb; partial success for invalid points', async () => {
    const body = Buffer.from(encodeExportRequest(typicalBatch(5)));
    expect((await post(httpPort, body, { 'Content-Type': 'application/x-protobuf' })).status).toBe(401);
    expect((await post(httpPort, Buffer.from('garbage'), AUTH)).status).toBe(400);
    const member = zlib.gzipSync(Buffer.alloc(1024 * 1024));
    const bomb = Array.from({ length: 200 }, () => member);
    expect((await post(httpPort, bomb, { ...AUTH, 'Content-Encoding': 'gzip' })).status).toBe(413);

    const batch = everyTypeBatch();
    const hist = batch.resourceMetrics[0].scopeMetrics[0].metrics[3];
    if (hist.type !== 'histogram') throw new Error('fixture changed');
    hist.points[0].bucketCounts = [];
    const partial = await post(httpPort, Buffer.from(encodeExportRequest(batch)), AUTH);
    expect(partial.status).toBe(200);
    expect(decodeExportResponse(partial.body).rejectedDataPoints).toBe(1);

    expect(await refusedRequests('unauthenticated')).toBe(1);
    expect(await refusedRequests('malformed')).toBe(1);
    expect(await refusedRequests('too_large')).toBe(1);
    expect(await daemon.selfMetric('tributary_receiver_refused_points_total', { receiver: 'otlp', reason: 'invalid' })).toBe(1);
    // Still serving after all of that.
    expect((await post(httpPort, body, AUTH)).status).toBe(200);
  });

  it('never writes the bearer token to its logs or /config', async () => {
    const config = await (await fetch(`${daemon.adminUrl}/config`)).text();
    expect(config).not.toContain(TOKEN);
    expect(daemon.logs()).not.toContain(TOKEN);
  });
});
