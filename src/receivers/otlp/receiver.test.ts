/** Lifecycle: start failures name the address, shutdown lets in-flight requests finish, is idempotent, and stops accepting. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { METRICS_EXPORT_PATH } from '../../otlp/schema.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import type { MetricsConsumer } from '../../consumer.ts';
import { CollectingConsumer } from '../../consumer.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import { encodeExportRequest } from '../../otlp/encode.ts';
import { typicalBatch } from '../../otlp/testdata.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { otlpConfigSchema } from './config.ts';
import { otlpReceiverFactory } from './factory.ts';
import { post, startReceiver } from './testing.ts';

const PB = { 'Content-Type': 'application/x-protobuf' };

describe('otlp receiver lifecycle', () => {
  it('fails to start with the address and cause when the port is taken, leaving nothing open', async () => {
    const first = await startReceiver(new CollectingConsumer());
    try {
      const config = otlpConfigSchema.parse({
        protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: `127.0.0.1:${first.httpPort}` } },
      });
      const second = otlpReceiverFactory.create(testSettings('receiver', 'otlp/second'), config, new CollectingConsumer());
      await expect(second.start(testHost())).rejects.toMatchObject({
        code: 'TRIB_START_FAILED',
        message: expect.stringMatching(new RegExp(`listen 127.0.0.1:${first.httpPort}: .*EADDRINUSE`)),
      });
      await second.shutdown();
    } finally {
      await first.receiver.shutdown();
    }
  });

  it('shutdown lets an in-flight request finish, then refuses connections; twice is fine', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const received: MetricsBatch[] = [];
    const slow: MetricsConsumer = {
      async consume(batch) {
        received.push(batch);
        await gate;
      },
    };
    const r = await startReceiver(slow);
    const inflight = post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(2))), PB);
    for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(received).toHaveLength(1);
    const stopping = r.receiver.shutdown();
    expect(r.receiver.shutdown()).toBe(stopping);
    release();
    expect((await inflight).status).toBe(200);
    await stopping;
    await expect(post(r.httpPort, Buffer.from(encodeExportRequest(typicalBatch(1))), PB)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('shutdown before start is a no-op', async () => {
    const r = otlpReceiverFactory.create(testSettings('receiver', 'otlp'), otlpReceiverFactory.createDefaultConfig(), new CollectingConsumer());
    await r.shutdown();
    await r.shutdown();
  });

  it('serves HTTPS and gRPC over TLS when tls is configured', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'otlp-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
        stdio: 'ignore',
      });
    } catch {
      ctx.skip(); // no openssl binary on this machine
    }
    const c = new CollectingConsumer();
    const r = await startReceiver(c, {
      protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } },
      tls: { cert_file: cert, key_file: key },
    });
    try {
      const body = Buffer.from(encodeExportRequest(typicalBatch(2)));
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: r.httpPort, path: '/v1/metrics', method: 'POST', headers: PB, rejectUnauthorized: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
      expect(c.batches).toHaveLength(1);

      const client = new grpc.Client(`127.0.0.1:${r.grpcPort}`, grpc.credentials.createSsl(readFileSync(cert)));
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(METRICS_EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, (e) => resolve(e));
      });
      client.close();
      expect(err).toBeNull();
      expect(c.batches).toHaveLength(2);
    } finally {
      await r.receiver.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
