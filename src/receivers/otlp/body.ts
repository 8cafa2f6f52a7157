/**
 * Read an HTTP request body with a size cap enforced twice: on the bytes
 * received (the request fails as soon as they exceed the cap, the rest is
 * never buffered) and on the bytes a streaming inflate produces (it is
 * stopped at the cap, so a gzip bomb costs at most `maxBytes` of memory).
 */
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { TributaryError } from '../../errors.ts';

export type ContentEncoding = 'identity' | 'gzip' | 'deflate';

/** The encoding named by a `Content-Encoding` header, or undefined when unsupported. */
export function parseContentEncoding(header: string | undefined): ContentEncoding | undefined {
  const v = (header ?? '').trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  return undefined;
}

export function tooLarge(what: string, maxBytes: number): TributaryError {
  return new TributaryError('TRIB_TOO_LARGE', `${what} exceeds the maximum of ${maxBytes} bytes`, { reason: 'too_large' });
}

/** Rejections: `TRIB_TOO_LARGE`, `TRIB_BAD_REQUEST` (corrupt compressed data), or an Error when the client went away. */
export function readBody(req: IncomingMessage, encoding: ContentEncoding, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let produced = 0;
    let settled = false;
    const inflater = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : undefined;

    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
      if (inflater) inflater.destroy();
      if (err) {
        chunks.length = 0;
        // Keep the stream flowing into nothing, so the response can still be written on this socket.
        req.resume();
        reject(err);
      } else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, produced));
    };

    const onOutput = (chunk: Buffer) => {
      if (settled) return;
      produced += chunk.length;
      if (produced > maxBytes) settle(tooLarge(inflater ? 'decompressed request body' : 'request body', maxBytes));
      else chunks.push(chunk);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) return settle(tooLarge('request body', maxBytes));
      if (!inflater) return onOutput(chunk);
      // Backpressure: a small compressed chunk can inflate to a lot; wait for the inflater.
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once('drain', () => {
          if (!settled) req.resume();
        });
      }
    };
    const onEnd = () => {
      if (inflater) inflater.end();
      else settle(undefined);
    };
    const onClose = () => {
      if (!req.complete) settle(new Error('client closed the connection before the body was complete'));
    };
    const onError = (err: Error) => settle(err);

    if (inflater) {
      inflater.on('data', onOutput);
      inflater.on('end', () => settle(undefined));
      inflater.on('error', (err) =>
        settle(new TributaryError('TRIB_BAD_REQUEST', `invalid ${encoding} body: ${err.message}`, { reason: 'malformed', cause: err })),
      );
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}
