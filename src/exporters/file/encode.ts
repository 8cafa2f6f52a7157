/**
 * A batch → the bytes of one record in the file, framed as otelcol's
 * fileexporter frames them so its readers work on ours:
 * - `json`: one OTLP/JSON ExportMetricsServiceRequest per line;
 * - `proto`, or any format with `compression`: each message behind its length
 *   as a 4-byte big-endian unsigned integer.
 * zstd runs on libuv's thread pool, off the event loop.
 *
 * Encoding is the one part that runs on the event loop (about 4 µs a point
 * for JSON), so a batch larger than `MAX_POINTS_PER_MESSAGE` is written as
 * several messages, each a valid request of its own, with a turn of the event
 * loop between them: receivers keep answering while a big batch is encoded.
 * The messages of one batch still land together, in one file.
 */
import { promisify } from 'node:util';
import { zstdCompress } from 'node:zlib';
import { countPoints, splitBatch, type MetricsBatch } from '../../model/metrics.ts';
import { encodeExportRequest, encodeExportRequestJson } from '../../otlp/encode.ts';
import type { FileConfig } from './config.ts';

const zstd = promisify(zstdCompress);
const NEWLINE = Buffer.from('\n');
/** About 8 ms of JSON encoding at a time. */
export const MAX_POINTS_PER_MESSAGE = 2048;

export interface EncodedRecord {
  parts: Uint8Array[];
  bytes: number;
}

export type RecordFormat = Pick<FileConfig, 'format' | 'compression'>;

export async function encodeRecord(batch: MetricsBatch, cfg: RecordFormat): Promise<EncodedRecord> {
  if (countPoints(batch) <= MAX_POINTS_PER_MESSAGE) return encodeMessage(batch, cfg);
  const record: EncodedRecord = { parts: [], bytes: 0 };
  for (const piece of splitBatch(batch, MAX_POINTS_PER_MESSAGE)) {
    if (record.bytes > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const m = await encodeMessage(piece, cfg);
    record.parts.push(...m.parts);
    record.bytes += m.bytes;
  }
  return record;
}

async function encodeMessage(batch: MetricsBatch, cfg: RecordFormat): Promise<EncodedRecord> {
  let body: Uint8Array = cfg.format === 'proto' ? encodeExportRequest(batch) : Buffer.from(encodeExportRequestJson(batch), 'utf8');
  if (cfg.format === 'json' && !cfg.compression) return { parts: [body, NEWLINE], bytes: body.byteLength + 1 };
  if (cfg.compression === 'zstd') body = await zstd(body);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.byteLength, 0);
  return { parts: [header, body], bytes: body.byteLength + 4 };
}

/** Split a length-prefixed file back into its messages (for tests and tools). */
export function splitLengthPrefixed(buf: Uint8Array): Uint8Array[] {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off + 4 <= view.length) {
    const len = view.readUInt32BE(off);
    if (off + 4 + len > view.length) throw new Error(`truncated message at byte ${off}`);
    out.push(view.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (off !== view.length) throw new Error(`trailing ${view.length - off} bytes`);
  return out;
}
