/**
 * OTLP protobuf/JSON decode throughput: `node bench/otlp-decode.ts`.
 * Decodes a typical request (one resource, one scope, one sum metric with
 * `SERIES` points of 4 attributes each) repeatedly and prints points/s and
 * ns/point, for the protobuf decoder and, for comparison, protobufjs's
 * reflection decoder (which yields Long objects) and the OTLP/JSON decoder.
 */
import { decodeExportRequest, decodeExportRequestJson } from '../src/otlp/decode.ts';
import { encodeExportRequest, encodeExportRequestJson } from '../src/otlp/encode.ts';
import { ExportMetricsServiceRequest } from '../src/otlp/schema.ts';
import { typicalBatch } from '../src/otlp/testdata.ts';

const SERIES = Number(process.env.SERIES ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 2);

function measure(name: string, bytes: number, fn: () => unknown): void {
  for (let i = 0; i < 200; i++) fn(); // warm up the JIT
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(SECONDS * 1e9);
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 20; i++) fn();
    iterations += 20;
    now = process.hrtime.bigint();
  }
  const ns = Number(now - start);
  const points = iterations * SERIES;
  const pps = points / (ns / 1e9);
  console.log(
    `${name.padEnd(28)} ${Math.round(pps).toLocaleString('en-US').padStart(12)} points/s  ${(ns / points).toFixed(0).padStart(5)} ns/point  (${bytes} bytes/request, ${SERIES} points)`,
  );
}

const batch = typicalBatch(SERIES);
const pb = Buffer.from(encodeExportRequest(batch));
const json = encodeExportRequestJson(batch);

measure('decode protobuf (tributary)', pb.length, () => decodeExportRequest(pb));
measure('decode protobuf (protobufjs)', pb.length, () => ExportMetricsServiceRequest.decode(pb));
measure('decode OTLP/JSON', Buffer.byteLength(json), () => decodeExportRequestJson(json));
measure('encode protobuf', pb.length, () => encodeExportRequest(batch));
measure('encode OTLP/JSON', Buffer.byteLength(json), () => encodeExportRequestJson(batch));
