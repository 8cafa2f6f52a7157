/**
 * Packs encoded series and sketches into request bodies that stay under the
 * intake's limits: at most 512,000 bytes on the wire and 5 MiB once
 * decompressed. Items are packed greedily up to a raw size predicted from the
 * compression ratio seen so far; a body that still compresses too large is
 * split in half and tried again, so no request is ever refused for its size.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { encodeSeries, encodeSketchEntry, SERIES_PREFIX, SERIES_SUFFIX } from './encode.ts';
import type { Translation } from './translate.ts';

export const SERIES_PATH = '/api/v2/series';
export const SKETCHES_PATH = '/api/beta/sketches';

export interface PayloadLimits {
  /** Bytes on the wire (after compression). */
  maxCompressed: number;
  /** Bytes after decompression. */
  maxRaw: number;
}

export const DATADOG_LIMITS: PayloadLimits = { maxCompressed: 512_000, maxRaw: 5_242_880 };

export type Compression = 'gzip' | 'zstd' | 'deflate' | 'none';

export interface DdPayload {
  path: typeof SERIES_PATH | typeof SKETCHES_PATH;
  contentType: string;
  encoding: Compression;
  body: Buffer;
  rawBytes: number;
  /** Items (series or sketches) in the body. */
  items: number;
  /** Input data points this payload accounts for. */
  src: number;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const zstd = promisify(zlib.zstdCompress);

async function compress(raw: Buffer, how: Compression): Promise<Buffer> {
  switch (how) {
    case 'gzip':
      return gzip(raw, { level: 6 });
    case 'deflate':
      return deflate(raw, { level: 6 });
    case 'zstd':
      return zstd(raw);
    default:
      return raw;
  }
}

interface Item {
  bytes: Buffer;
  src: number;
}

export interface BuildResult {
  payloads: DdPayload[];
  /** Input points whose single item alone exceeds the limits (never sendable). */
  oversized: number;
}

export class RequestBuilder {
  private readonly compression: Compression;
  private readonly limits: PayloadLimits;
  /** Raw/compressed ratio seen so far, to size the next body before compressing it. */
  private ratio = 5;

  constructor(compression: Compression, limits: PayloadLimits = DATADOG_LIMITS) {
    this.compression = compression;
    this.limits = limits;
  }

  async build(t: Translation): Promise<BuildResult> {
    const result: BuildResult = { payloads: [], oversized: 0 };
    if (t.series.length > 0) {
      const items = t.series.map((s) => ({ bytes: Buffer.from(encodeSeries(s)), src: s.src }));
      await this.pack(items, SERIES_PATH, 'application/json', Buffer.from(SERIES_PREFIX), Buffer.from(','), Buffer.from(SERIES_SUFFIX), result);
    }
    if (t.sketches.length > 0) {
      const items = t.sketches.map((s) => ({ bytes: Buffer.from(encodeSketchEntry(s)), src: s.src }));
      const none = Buffer.alloc(0);
      await this.pack(items, SKETCHES_PATH, 'application/x-protobuf', none, none, none, result);
    }
    return result;
  }

  private async pack(items: Item[], path: DdPayload['path'], contentType: string, prefix: Buffer, sep: Buffer, suffix: Buffer, out: BuildResult): Promise<void> {
    const frame = prefix.length + suffix.length;
    const wireBudget = this.compression === 'none' ? 1 : this.ratio * 0.8;
    const target = Math.min(this.limits.maxRaw, Math.floor(this.limits.maxCompressed * wireBudget)) - frame;
    let start = 0;
    let size = 0;
    for (let i = 0; i < items.length; i++) {
      const len = items[i].bytes.length + sep.length;
      if (size + len > target && i > start) {
        await this.emit(items.slice(start, i), path, contentType, prefix, sep, suffix, out);
        start = i;
        size = 0;
      }
      size += len;
    }
    if (start < items.length) await this.emit(items.slice(start), path, contentType, prefix, sep, suffix, out);
  }

  private async emit(items: Item[], path: DdPayload['path'], contentType: string, prefix: Buffer, sep: Buffer, suffix: Buffer, out: BuildResult): Promise<void> {
    const parts: Buffer[] = [prefix];
    let src = 0;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) parts.push(sep);
      parts.push(items[i].bytes);
      src += items[i].src;
    }
    parts.push(suffix);
    const raw = Buffer.concat(parts);
    const body = raw.length <= this.limits.maxRaw ? await compress(raw, this.compression) : undefined;
    if (body !== undefined && body.length > 0 && this.compression !== 'none') this.ratio = this.ratio * 0.7 + (raw.length / body.length) * 0.3;
    if (body !== undefined && body.length <= this.limits.maxCompressed) {
      out.payloads.push({ path, contentType, encoding: this.compression, body, rawBytes: raw.length, items: items.length, src });
      return;
    }
    if (items.length === 1) {
      out.oversized += src;
      return;
    }
    const half = items.length >> 1;
    await this.emit(items.slice(0, half), path, contentType, prefix, sep, suffix, out);
    await this.emit(items.slice(half), path, contentType, prefix, sep, suffix, out);
  }
}
