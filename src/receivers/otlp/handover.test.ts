/**
 * Live-reload handover of the OTLP servers: a replaced receiver parks its
 * HTTP and gRPC servers, the new one adopts them. Under a steady stream of
 * requests every one is answered OK and its points reach exactly one of the
 * two receivers; a server parked but never adopted answers what it held with
 * 503 / UNAVAILABLE and closes; a gRPC server whose server-level options
 * changed is closed and bound afresh.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import http2 from 'node:http2';
import { postOtlp } from '../../../test/harness/otlp-http.ts';
import { freePort } from '../../../test/harness/ports.ts';
import { until } from '../../../test/harness/wait.ts';
import { CollectingConsumer } from '../../consumer.ts';
import type { Host } from '../../component.ts';
import { countPoints, type MetricsBatch } from '../../model/metrics.ts';
import { encodeExportRequest } from '../../otlp/encode.ts';
import { METRICS_EXPORT_PATH } from '../../otlp/schema.ts';
import { typicalBatch } from '../../otlp/testdata.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { closeUnadopted, listenKey, ParkedListener, wantParked } from '../../service/handover.ts';
import { otlpConfigSchema } from './config.ts';
import { otlpReceiverFactory } from './factory.ts';
import type { OtlpReceiver } from './receiver.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

class Counting extends CollectingConsumer {
  points(): number {
    return this.batches.reduce((n, b: MetricsBatch) => n + countPoints(b), 0);
  }
}

async function receiver(protocols: Record<string, unknown>, host: Host, extra: Record<string, unknown> = {}) {
  const next = new Counting();
  const config = otlpConfigSchema.parse({ protocols, ...extra });
  const telemetry = new PipelineTelemetry();
  const r = otlpReceiverFactory.create(testSettings('receiver', 'otlp', '', telemetry), config, next) as OtlpReceiver;
  await r.start(host);
  cleanups.push(() => r.shutdown());
  const refused = (reason: string) => telemetry.receiverRefusedRequests.get({ receiver: 'otlp', reason });
  return { r, next, refused };
}

/** A gRPC call cut short (the length prefix promises 100 bytes, 3 follow): grpc-js refuses it before any handler. */
function truncatedCall(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': METRICS_EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    stream.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
    stream.on('trailers', (h) => (status ??= h['grpc-status'] as string | undefined));
    stream.on('error', () => {});
    stream.on('close', () => {
      session.close();
      resolve(status);
    });
    stream.resume();
    stream.end(Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
  });
}

const body = Buffer.from(encodeExportRequest(typicalBatch(2)));
const pointsPerRequest = countPoints(typicalBatch(2));

const raw = (b: Buffer) => b;
const ExportClient = grpc.makeGenericClientConstructor(
  { Export: { path: METRICS_EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
  'MetricsService',
);

function grpcOnce(client: grpc.Client): Promise<grpc.status> {
  return new Promise((resolve) => {
    (client as any).Export(body, new grpc.Metadata(), (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK));
  });
}

/** `workers` clients sending one request after another until stopped; collects every answer. */
function steady<T>(workers: number, once: () => Promise<T>) {
  let running = true;
  const answers: T[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running && answers.length < 50_000) answers.push(await once());
    }),
  );
  return { answers, stop: async () => ((running = false), await done, answers) };
}

describe('otlp server handover', () => {
  it('HTTP: requests on open keep-alive connections and new ones all succeed across the handover', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = await receiver({ http: { endpoint } }, host);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    const load = steady(4, () => postOtlp(port, body, agent));
    await until(() => load.answers.length > 50, 'requests before the handover', 5000);

    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    const b = await receiver({ http: { endpoint, max_request_body_size: '4MiB' } }, host);
    expect(host.sockets.size).toBe(0);
    expect(b.r.http!.address()!.port).toBe(port);

    const atHandover = load.answers.length;
    await until(() => load.answers.length > atHandover + 50, 'requests after the handover', 5000);
    const answers = await load.stop();
    expect(answers.filter((s) => s !== 200)).toEqual([]);
    expect(a.next.points()).toBeGreaterThan(0);
    expect(b.next.points()).toBeGreaterThan(0);
    expect(a.next.points() + b.next.points()).toBe(answers.length * pointsPerRequest);
  });

  it('gRPC: calls on an open channel all succeed across the handover; the grpc server object survives', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = await receiver({ grpc: { endpoint } }, host);
    const client = new ExportClient(endpoint, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const load = steady(4, () => grpcOnce(client));
    await until(() => load.answers.length > 50, 'calls before the handover', 5000);

    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    // Another bearer token is per call, so the server is still handed over.
    const b = await receiver({ grpc: { endpoint } }, host);
    expect(host.sockets.size).toBe(0);
    expect(b.r.grpc!.port()).toBe(port);

    const atHandover = load.answers.length;
    await until(() => load.answers.length > atHandover + 50, 'calls after the handover', 5000);
    const answers = await load.stop();
    expect(answers.filter((s) => s !== grpc.status.OK)).toEqual([]);
    expect(a.next.points() + b.next.points()).toBe(answers.length * pointsPerRequest);
    expect(b.next.points()).toBeGreaterThan(0);
  });

  it('gRPC: calls grpc-js refuses on its own are counted by the receiver that owns the server, before and after the handover', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = await receiver({ grpc: { endpoint } }, host);
    expect(await truncatedCall(port)).toBe(String(grpc.status.INVALID_ARGUMENT));
    expect(a.refused('malformed')).toBe(1);

    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    const b = await receiver({ grpc: { endpoint } }, host);
    expect(host.sockets.size).toBe(0);
    expect(await truncatedCall(port)).toBe(String(grpc.status.INVALID_ARGUMENT));
    expect(await truncatedCall(port)).toBe(String(grpc.status.INVALID_ARGUMENT));
    expect([a.refused('malformed'), b.refused('malformed')]).toEqual([1, 2]);
  });

  it('a server parked but never adopted answers what it held with 503 / UNAVAILABLE, then closes', async () => {
    const [hp, gp] = await Promise.all([freePort(), freePort()]);
    const host = testHost();
    const a = await receiver({ http: { endpoint: `127.0.0.1:${hp}` }, grpc: { endpoint: `127.0.0.1:${gp}` } }, host);
    wantParked(host, [listenKey('tcp', `127.0.0.1:${hp}`), listenKey('tcp', `127.0.0.1:${gp}`)]);
    await a.r.shutdown();
    const agent = new http.Agent({ keepAlive: false });
    const client = new ExportClient(`127.0.0.1:${gp}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const httpAnswer = postOtlp(hp, body, agent);
    const grpcAnswer = grpcOnce(client);
    // Both requests are held by the parked servers before they are closed.
    const held = (port: number) => (host.sockets.get(listenKey('tcp', `127.0.0.1:${port}`)) as ParkedListener).heldCount;
    await until(() => held(hp) === 1 && held(gp) === 1, 'both requests held', 5000);
    expect((await closeUnadopted(host)).sort()).toEqual([listenKey('tcp', `127.0.0.1:${gp}`), listenKey('tcp', `127.0.0.1:${hp}`)].sort());
    expect(await httpAnswer).toBe(503);
    expect(await grpcAnswer).toBe(grpc.status.UNAVAILABLE);
    expect(a.next.points()).toBe(0);
    // The addresses are free again.
    const b = await receiver({ http: { endpoint: `127.0.0.1:${hp}` }, grpc: { endpoint: `127.0.0.1:${gp}` } }, testHost());
    expect(b.r.http!.address()!.port).toBe(hp);
  });

  it('gRPC: a changed receive limit is fixed in the server, so the old one closes and a new one binds the address', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = await receiver({ grpc: { endpoint } }, host);
    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    const b = await receiver({ grpc: { endpoint, max_recv_msg_size_mib: 1 } }, host);
    expect(host.sockets.size).toBe(0);
    const client = new ExportClient(endpoint, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    expect(await grpcOnce(client)).toBe(grpc.status.OK);
    expect(b.next.points()).toBe(pointsPerRequest);
  });
});
