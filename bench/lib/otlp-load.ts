/**
 * OTLP load generator, run as its own process so its CPU is not the daemon's.
 *   node otlp-load.ts <grpc|http> <host:port> <payload.bin> <max|paced> <seconds> <concurrency|requestsPerSecond>
 * Sends the same pre-encoded ExportMetricsServiceRequest repeatedly and prints
 * one JSON line: { sent, ok, failed }.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

const [protocol, target, payloadFile, mode, secondsArg, param] = process.argv.slice(2);
const payload = readFileSync(payloadFile);
const deadline = Date.now() + Number(secondsArg) * 1000;
let sent = 0;
let ok = 0;
let failed = 0;

let sendOne: () => Promise<void>;
if (protocol === 'grpc') {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const path = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
  sendOne = () =>
    new Promise((resolve) => {
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, payload, (err) => {
        if (err) failed++;
        else ok++;
        resolve();
      });
    });
} else {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const [host, port] = target.split(':');
  sendOne = () =>
    new Promise((resolve) => {
      const req = http.request(
        { host, port: Number(port), path: '/v1/metrics', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': payload.length } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(payload);
    });
}

async function worker(): Promise<void> {
  while (Date.now() < deadline) {
    sent++;
    await sendOne();
  }
}

async function paced(rps: number): Promise<void> {
  const start = Date.now();
  const inFlight = new Set<Promise<void>>();
  while (Date.now() < deadline) {
    const due = Math.floor(((Date.now() - start) / 1000) * rps);
    while (sent < due) {
      sent++;
      const p = sendOne().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inFlight);
}

if (mode === 'max') await Promise.all(Array.from({ length: Number(param) }, worker));
else await paced(Number(param));
process.stdout.write(JSON.stringify({ sent, ok, failed }) + '\n');
process.exit(0);
